// g4-plan-memory: buffer slots by liveness, hand-worked. A value's slot is free again once its
// last reader has run; an op's results never share a slot with its inputs; arguments keep
// their slots. docs/fusion.md.
// RUN: gemma4c-opt %s -split-input-file -g4-plan-memory | FileCheck %s

// A chain needs two slots beside the argument's: each link reads one and writes the other.
// CHECK-LABEL: module attributes {g4.slot_widths = array<i64: 8, 8, 8>}
// CHECK: func.func @chain{{.*}}attributes {g4.arg_slots = array<i64: 0>}
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 1>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 1>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
func.func @chain(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %a = g4.gelu_tanh %x : tensor<?x8xf32>
  %b = g4.gelu_tanh %a : tensor<?x8xf32>
  %c = g4.gelu_tanh %b : tensor<?x8xf32>
  %d = g4.gelu_tanh %c : tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}

// -----

// No reuse while a value is live: %a and %b are both read by the add.
// CHECK-LABEL: func.func @live_values
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 1>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
// CHECK-NEXT: g4.add {{.*}}g4.slots = array<i64: 3>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 1>
func.func @live_values(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %a = g4.gelu_tanh %x : tensor<?x8xf32>
  %b = g4.gelu_tanh %x : tensor<?x8xf32>
  %c = g4.add %a, %b : tensor<?x8xf32>
  %d = g4.gelu_tanh %c : tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}

// -----

// Widths: %b and %c take new 16-wide slots while %a (8) is live; the product finds only
// %a's 8-wide slot free and grows it to 16; the 32-wide output finds %b's and %c's 16-wide
// slots free, none wide enough, and grows the first to 32.
// CHECK-LABEL: module attributes {g4.slot_widths = array<i64: 8, 16, 32, 16>}
// CHECK: %[[A:.*]] = g4.linear {{.*}}g4.slots = array<i64: 1>
// CHECK-NEXT: %[[B:.*]] = g4.linear %[[A]], {{.*}}g4.slots = array<i64: 2>
// CHECK-NEXT: %[[C:.*]] = g4.linear %[[A]], {{.*}}g4.slots = array<i64: 3>
// CHECK-NEXT: %[[D:.*]] = g4.mul %[[B]], %[[C]] {{.*}}g4.slots = array<i64: 1>
// CHECK-NEXT: g4.linear %[[D]], {{.*}}g4.slots = array<i64: 2>
func.func @best_fit(%x: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %w1 = g4.weight "w1" : !g4.weight<8x8 : f32>
  %w2 = g4.weight "w2" : !g4.weight<8x16 : f32>
  %w3 = g4.weight "w3" : !g4.weight<16x32 : f32>
  %a = g4.linear %x, %w1 : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  %b = g4.linear %a, %w2 : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %c = g4.linear %a, %w2 : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %d = g4.mul %b, %c : tensor<?x16xf32>
  %e = g4.linear %d, %w3 : (tensor<?x16xf32>, !g4.weight<16x32 : f32>) -> tensor<?x32xf32>
  return %e : tensor<?x32xf32>
}

// -----

// Arguments keep their slots: %x is dead after the first op but slot 0 is not reused.
// CHECK-LABEL: func.func @arguments_pinned
// CHECK-SAME: g4.arg_slots = array<i64: 0, 1>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 3>
// CHECK-NEXT: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
func.func @arguments_pinned(%x: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
  %a = g4.gelu_tanh %x : tensor<?x8xf32>
  %b = g4.gelu_tanh %a : tensor<?x8xf32>
  %c = g4.gelu_tanh %b : tensor<?x8xf32>
  return %c : tensor<?x8xf32>
}

// -----

// A kernel region: its result and the linear's rounded output (a whole-batch temporary) get
// slots; the per-row values inside get none. The temporary's slot is free after the region.
// CHECK-LABEL: func.func @fused_temporaries
// CHECK: g4.fused{{.*}}g4.slots = array<i64: 1>
// CHECK: g4.linear
// CHECK-NOT: g4.slots
// CHECK-NEXT: g4.round_bf16 {{.*}}g4.slots = array<i64: 2>
// CHECK-NEXT: g4.gelu_tanh
// CHECK-NOT: g4.slots
// CHECK-SAME: : tensor
// CHECK-NEXT: g4.round_bf16
// CHECK-NOT: g4.slots
// CHECK-SAME: : tensor
// CHECK: g4.gelu_tanh {{.*}}g4.slots = array<i64: 2>
func.func @fused_temporaries(%x: tensor<?x8xf32>) -> tensor<?x16xf32> {
  %w = g4.weight "blk.0.ffn_gate.weight" : !g4.weight<8x16 : f32>
  %f = g4.fused(%x, %w) {kernel = "g4k_ffn_gate_0"} : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32> {
  ^bb0(%a: tensor<?x8xf32>, %b: !g4.weight<8x16 : f32>):
    %l = g4.linear %a, %b : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
    %lr = g4.round_bf16 %l {rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x16xf32>
    %g = g4.gelu_tanh %lr : tensor<?x16xf32>
    %gr = g4.round_bf16 %g {rule = #g4.rule<gelu_out>, island = 1 : i64} : tensor<?x16xf32>
    g4.yield %gr : tensor<?x16xf32>
  }
  %o = g4.gelu_tanh %f : tensor<?x16xf32>
  return %o : tensor<?x16xf32>
}

// -----

// A region the runtime interprets (attention) needs a buffer for every value inside.
// CHECK-LABEL: func.func @interpreted_region
// CHECK: g4.fused{{.*}}g4.slots = array<i64: 2>
// CHECK: g4.attention {{.*}}g4.slots = array<i64: 3>
// CHECK-NEXT: g4.round_bf16
// CHECK-NOT: g4.slots
// CHECK-SAME: : tensor
func.func @interpreted_region(%q: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %f = g4.fused(%q, %pos) : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32> {
  ^bb0(%a: tensor<?x256xf32>, %p: tensor<?xi32>):
    %o = g4.attention %a kv(%a, %a) at %p {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    %r = g4.round_bf16 %o {rule = #g4.rule<attn_out>, island = 0 : i64} : tensor<?x256xf32>
    g4.yield %r : tensor<?x256xf32>
  }
  return %f : tensor<?x256xf32>
}
