// g4-expand-layers: layer kinds become explicit layers with concrete weight names.
// RUN: gemma4c-opt %s -split-input-file -g4-expand-layers -verify-diagnostics | FileCheck %s

// Two instances of one kind: names substituted, layers tagged, the kind function erased.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: g4.decoder_layer
// CHECK: g4.weight "blk.0.attn_norm.weight"
// CHECK: g4.rms_norm {{.*}} {eps = {{.*}}, g4.layer = 0 : i64, width = 8 : i64}
// CHECK: g4.weight "blk.1.attn_norm.weight"
// CHECK: g4.rms_norm {{.*}} {eps = {{.*}}, g4.layer = 1 : i64, width = 8 : i64}
// CHECK: return
// CHECK-NOT: func.func private @norm_only
func.func private @norm_only(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = g4.weight "blk.{i}.attn_norm.weight" : !g4.weight<8 : f32>
  %y = g4.rms_norm %h, %w {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @forward(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %a = g4.decoder_layer 0 @norm_only(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %b = g4.decoder_layer 1 @norm_only(%a) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %b : tensor<?x8xf32>
}

// -----

// KV sharing: owners get their own index as kv_layer, shared instances their kv_source; the
// PLE slice gets the layer index.
// CHECK-LABEL: func.func @kv_sharing
// CHECK: g4.ple_slice %{{.*}} {g4.layer = 0 : i64, layer = 0 : i64}
// CHECK: g4.attention %{{.*}} kv(%{{.*}}, %{{.*}}) at %{{.*}} {g4.layer = 0 : i64, head_dim = 256 : i64, kv_layer = 0 : i64
// CHECK: g4.ple_slice %{{.*}} {g4.layer = 1 : i64, layer = 1 : i64}
// CHECK: g4.attention %{{.*}} at %{{.*}} {g4.layer = 1 : i64, head_dim = 256 : i64, kv_layer = 0 : i64
func.func private @owner(%h: tensor<?x256xf32>, %ple: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %s = g4.ple_slice %ple : (tensor<?x8xf32>) -> tensor<?x4xf32>
  %a = g4.attention %h kv(%h, %h) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 4 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}
func.func private @shared(%h: tensor<?x256xf32>, %ple: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %s = g4.ple_slice %ple : (tensor<?x8xf32>) -> tensor<?x4xf32>
  %a = g4.attention %h at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 4 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}
func.func @kv_sharing(%h: tensor<?x256xf32>, %ple: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %a = g4.decoder_layer 0 @owner(%h, %ple, %pos) : (tensor<?x256xf32>, tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %b = g4.decoder_layer 1 @shared(%a, %ple, %pos) {kv_source = 0 : i64} : (tensor<?x256xf32>, tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %b : tensor<?x256xf32>
}

// -----

// Negative: a flat module without layers is left as it is.
// CHECK-LABEL: func.func @no_layers
// CHECK-NEXT: g4.gelu_tanh
// CHECK-NEXT: return
func.func @no_layers(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = g4.gelu_tanh %x : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func private @shared(%h: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %a = g4.attention %h at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 4 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}
func.func @shared_without_source(%h: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{layer 1 instantiates KV-shared kind 'shared' but has no kv_source}}
  %b = g4.decoder_layer 1 @shared(%h, %pos) : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %b : tensor<?x256xf32>
}

// -----

func.func private @shared(%h: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{reads the KV cache of layer 0, which does not own one}}
  %a = g4.attention %h at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 4 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}
func.func @source_without_kv(%h: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %b = g4.decoder_layer 1 @shared(%h, %pos) {kv_source = 0 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %b : tensor<?x256xf32>
}

// -----

func.func private @bad_name(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = g4.weight "blk.{layer}.attn_norm.weight" : !g4.weight<8 : f32>
  %y = g4.rms_norm %h, %w {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @unknown_placeholder(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weight name 'blk.{layer}.attn_norm.weight' has an unknown placeholder}}
  %a = g4.decoder_layer 0 @bad_name(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

func.func private @no_body(%h: tensor<?x8xf32>) -> tensor<?x8xf32>
func.func @external_kind(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{layer kind 'no_body' has no body}}
  %a = g4.decoder_layer 0 @no_body(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// With the model's hyperparameters on the module, every declared layer is instantiated once.
// CHECK-LABEL: func.func @all_declared_layers
// CHECK: g4.weight "blk.0.attn_norm.weight"
// CHECK: g4.weight "blk.1.attn_norm.weight"
module attributes {g4.model = {name = "m", vocab = 16 : i64, hidden = 8 : i64, layers = 2 : i64, heads = 1 : i64, context_length = 64 : i64, sliding_window = 4 : i64}} {
  func.func private @norm_kind2(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %w = g4.weight "blk.{i}.attn_norm.weight" : !g4.weight<8 : f32>
    %y = g4.rms_norm %h, %w {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
  func.func @all_declared_layers(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %a = g4.decoder_layer 0 @norm_kind2(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    %b = g4.decoder_layer 1 @norm_kind2(%a) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %b : tensor<?x8xf32>
  }
}

// -----

// expected-error @+1 {{the model declares 3 layers but the spec instantiates 2}}
module attributes {g4.model = {name = "m", vocab = 16 : i64, hidden = 8 : i64, layers = 3 : i64, heads = 1 : i64, context_length = 64 : i64, sliding_window = 4 : i64}} {
  func.func private @kind(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %h : tensor<?x8xf32>
  }
  func.func @fewer_layers_than_declared(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %a = g4.decoder_layer 0 @kind(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    %b = g4.decoder_layer 1 @kind(%a) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %b : tensor<?x8xf32>
  }
}

// -----

module attributes {g4.model = {name = "m", vocab = 16 : i64, hidden = 8 : i64, layers = 2 : i64, heads = 1 : i64, context_length = 64 : i64, sliding_window = 4 : i64}} {
  func.func private @kind(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %h : tensor<?x8xf32>
  }
  func.func @layer_twice(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %a = g4.decoder_layer 0 @kind(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    // expected-error @+1 {{instantiates layer 0 twice}}
    %b = g4.decoder_layer 0 @kind(%a) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %b : tensor<?x8xf32>
  }
}

// -----

module attributes {g4.model = {name = "m", vocab = 16 : i64, hidden = 8 : i64, layers = 1 : i64, heads = 1 : i64, context_length = 64 : i64, sliding_window = 4 : i64}} {
  func.func private @kind(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %h : tensor<?x8xf32>
  }
  func.func @index_outside(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
    // expected-error @+1 {{has index 4 outside the model's 1 layers}}
    %a = g4.decoder_layer 4 @kind(%h) : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %a : tensor<?x8xf32>
  }
}
