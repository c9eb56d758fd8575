module {
  func.func @forward(%t: tensor<?xi32>) {
    %x = g4.gelu_tanh %t :
