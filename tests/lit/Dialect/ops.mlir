// Every g4 op parses, verifies and prints back in its own syntax; printing is stable.
// RUN: gemma4c-opt %s | FileCheck %s
// RUN: gemma4c-opt %s | gemma4c-opt | FileCheck %s

// CHECK-LABEL: func.func @dense_layer_ops
func.func @dense_layer_ops(%tok: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  // CHECK: %[[E:.*]] = g4.weight "token_embd.weight" : !g4.weight<256x64 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k>
  %we = g4.weight "token_embd.weight" : !g4.weight<256x64 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k>
  // CHECK: g4.embed %{{.*}}, %[[E]] : (tensor<?xi32>, !g4.weight<256x64 : {{.*}}>) -> tensor<?x256xf32>
  %x = g4.embed %tok, %we : (tensor<?xi32>, !g4.weight<256x64 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k>) -> tensor<?x256xf32>
  // CHECK: g4.scale %{{.*}} {factor = 1.600000e+01 : f64, role = #g4.role<embed_scale>} : tensor<?x256xf32>
  %xs = g4.scale %x {factor = 16.0 : f64, role = #g4.role<embed_scale>} : tensor<?x256xf32>
  %wn = g4.weight "blk.0.attn_norm.weight" : !g4.weight<256 : f32|f16|bf16>
  // CHECK: g4.rms_norm %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64, width = 256 : i64}
  %n = g4.rms_norm %xs, %wn {eps = 1.0e-06 : f64, width = 256 : i64} : (tensor<?x256xf32>, !g4.weight<256 : f32|f16|bf16>) -> tensor<?x256xf32>
  // CHECK: g4.rms_norm %{{.*}} {eps = {{.*}}, width = 256 : i64} : (tensor<?x256xf32>) -> tensor<?x256xf32>
  %un = g4.rms_norm %xs {eps = 1.0e-06 : f64, width = 256 : i64} : (tensor<?x256xf32>) -> tensor<?x256xf32>
  %wq = g4.weight "blk.0.attn_q.weight" : !g4.weight<256x512 : bf16|q8_0>
  // CHECK: g4.linear %{{.*}}, %{{.*}} : (tensor<?x256xf32>, !g4.weight<256x512 : bf16|q8_0>) -> tensor<?x512xf32>
  %q = g4.linear %n, %wq : (tensor<?x256xf32>, !g4.weight<256x512 : bf16|q8_0>) -> tensor<?x512xf32>
  // CHECK: g4.rope %{{.*}}, %{{.*}} {head_dim = 256 : i64, mode = #g4.rope<default>, rotary_dims = 256 : i64, theta = 1.000000e+04 : f64}
  %qr = g4.rope %q, %pos {mode = #g4.rope<default>, theta = 1.0e4 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  %f = g4.weight "rope_freqs.weight" : !g4.weight<256 : f32>
  // CHECK: g4.rope %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 512 : i64, mode = #g4.rope<proportional>, rotary_dims = 128 : i64
  %qf = g4.rope %q, %pos, %f {mode = #g4.rope<proportional>, theta = 1.0e6 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64} : (tensor<?x512xf32>, tensor<?xi32>, !g4.weight<256 : f32>) -> tensor<?x512xf32>
  %wk = g4.weight "blk.0.attn_k.weight" : !g4.weight<256x256 : bf16>
  %k = g4.linear %n, %wk : (tensor<?x256xf32>, !g4.weight<256x256 : bf16>) -> tensor<?x256xf32>
  // CHECK: g4.attention %{{.*}} kv(%{{.*}}, %{{.*}}) at %{{.*}} {head_dim = 256 : i64, kv_layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, window = 16 : i64}
  %a = g4.attention %qr kv(%k, %k) at %pos {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 16 : i64, kv_layer = 0 : i64} : (tensor<?x512xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  // CHECK: g4.attention %{{.*}} at %{{.*}} {head_dim = 256 : i64, kv_layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, window = 0 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  %a2 = g4.attention %qr at %pos {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  // CHECK: g4.gelu_tanh
  %g = g4.gelu_tanh %a : tensor<?x512xf32>
  // CHECK: g4.mul
  %m = g4.mul %g, %a2 : tensor<?x512xf32>
  %wo = g4.weight "blk.0.attn_output.weight" : !g4.weight<512x64 : bf16>
  %o = g4.linear %m, %wo : (tensor<?x512xf32>, !g4.weight<512x64 : bf16>) -> tensor<?x64xf32>
  // CHECK: g4.add
  %r = g4.add %o, %o : tensor<?x64xf32>
  %ws = g4.weight "blk.0.layer_output_scale.weight" : !g4.weight<1 : f32>
  // CHECK: g4.layer_scalar
  %l = g4.layer_scalar %r, %ws : (tensor<?x64xf32>, !g4.weight<1 : f32>) -> tensor<?x64xf32>
  // CHECK: g4.softcap %{{.*}} {cap = 3.000000e+01 : f64}
  %c = g4.softcap %l {cap = 30.0 : f64} : tensor<?x64xf32>
  return %c : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @moe_and_ple_ops
func.func @moe_and_ple_ops(%h: tensor<?x16xf32>, %ple: tensor<?x12xf32>) -> tensor<?x16xf32> {
  %s = g4.weight "blk.0.ffn_gate_inp.scale" : !g4.weight<16 : f32>
  // CHECK: g4.channel_mul
  %hs = g4.channel_mul %h, %s : (tensor<?x16xf32>, !g4.weight<16 : f32>) -> tensor<?x16xf32>
  %wr = g4.weight "blk.0.ffn_gate_inp.weight" : !g4.weight<16x4 : f32>
  %z = g4.linear %hs, %wr : (tensor<?x16xf32>, !g4.weight<16x4 : f32>) -> tensor<?x4xf32>
  // CHECK: g4.softmax
  %p = g4.softmax %z : tensor<?x4xf32>
  // CHECK: %{{.*}}, %{{.*}} = g4.top_k %{{.*}} {k = 2 : i64} : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %w, %i = g4.top_k %p {k = 2 : i64} : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  // CHECK: g4.renormalize
  %wn = g4.renormalize %w : tensor<?x2xf32>
  %es = g4.weight "blk.0.ffn_down_exps.scale" : !g4.weight<4 : f32>
  // CHECK: g4.expert_scale
  %we = g4.expert_scale %wn, %i, %es : (tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<4 : f32>) -> tensor<?x2xf32>
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : q8_0>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : q8_0>
  // CHECK: g4.expert_ffn {{.*}} {expert_ff = 4 : i64, num_experts = 4 : i64, top_k = 2 : i64}
  %y = g4.expert_ffn %h, %we, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x8x4 : q8_0>, !g4.weight<4x16x4 : q8_0>) -> tensor<?x16xf32>
  // CHECK: g4.ple_slice %{{.*}} {layer = 2 : i64} : (tensor<?x12xf32>) -> tensor<?x4xf32>
  %pl = g4.ple_slice %ple {layer = 2 : i64} : (tensor<?x12xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @round
func.func @round(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK: g4.round_bf16 %{{.*}} {island = 3 : i64, rule = #g4.rule<linear_out>} : tensor<?x8xf32>
  %r = g4.round_bf16 %x {rule = #g4.rule<linear_out>, island = 3 : i64} : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @fused
func.func @fused(%x: tensor<?x8xf32>, %h: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = g4.weight "blk.0.attn_norm.weight" : !g4.weight<8 : f32>
  // CHECK: %[[R:.*]]:2 = g4.fused(%{{.*}}, %{{.*}}, %{{.*}}) {kernel = "g4k_attn_out_0"} : (tensor<?x8xf32>, tensor<?x8xf32>, !g4.weight<8 : f32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x8xf32>, %[[B:.*]]: tensor<?x8xf32>, %[[W:.*]]: !g4.weight<8 : f32>):
  // CHECK: g4.yield %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<?x8xf32>
  %r:2 = g4.fused(%x, %h, %w) {kernel = "g4k_attn_out_0"} : (tensor<?x8xf32>, tensor<?x8xf32>, !g4.weight<8 : f32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  ^bb0(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %wn: !g4.weight<8 : f32>):
    %s = g4.add %a, %b : tensor<?x8xf32>
    %n = g4.rms_norm %s, %wn {eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
    g4.yield %s, %n : tensor<?x8xf32>, tensor<?x8xf32>
  }
  // A region without a kernel prints no kernel attribute.
  // CHECK: g4.fused(%{{.*}}) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x8xf32>):
    %e = g4.gelu_tanh %a : tensor<?x8xf32>
    g4.yield %e : tensor<?x8xf32>
  }
  return %r#0, %g : tensor<?x8xf32>, tensor<?x8xf32>
}
