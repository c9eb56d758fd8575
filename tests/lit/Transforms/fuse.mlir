// g4-fuse: row ops join their producer's region, roundings stay in the region of the op they
// round, attention and the other interpreted-only ops never take consumers. docs/fusion.md.
// RUN: gemma4c-opt %s -split-input-file -g4-fuse | FileCheck %s

// Islands survive fusion: the same roundings before and after, none left alone at top level.
// RUN: gemma4c-opt %specs/tiny-e2b.mlir -g4-expand-layers -g4-bf16-islands | grep -c g4.round_bf16 > %t.before
// RUN: gemma4c-opt %specs/tiny-e2b.mlir -g4-expand-layers -g4-bf16-islands -g4-fuse | grep -c g4.round_bf16 > %t.after
// RUN: diff %t.before %t.after
// RUN: gemma4c-opt %specs/tiny-moe.mlir -g4-expand-layers -g4-bf16-islands -g4-fuse | FileCheck %s --check-prefix=SPEC --strict-whitespace
// SPEC-NOT: {{^    %[^ ]+ = g4.round_bf16}}
// SPEC-NOT: {{^    %[^ ]+ = g4.(rms_norm|scale|add|mul|gelu_tanh|softcap|rope)}}

// CHECK-LABEL: func.func @norm_scale_round
// CHECK: %[[F:.*]] = g4.fused(%{{.*}}, %{{.*}}) {kernel = "g4k_norm"}
// CHECK: g4.rms_norm
// CHECK-NEXT: g4.round_bf16 {{.*}}rule = #g4.rule<norm_out>
// CHECK-NEXT: g4.scale
// CHECK-NEXT: %[[OUT:.*]] = g4.round_bf16 {{.*}}rule = #g4.rule<ple_scale>
// CHECK-NEXT: g4.yield %[[OUT]]
// CHECK: return %[[F]]
func.func @norm_scale_round(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = g4.weight "norm.weight" : !g4.weight<8 : f32>
  %n = g4.rms_norm %x, %w {eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  %r = g4.round_bf16 %n {rule = #g4.rule<norm_out>, island = 0 : i64} : tensor<?x8xf32>
  %s = g4.scale %r {factor = 0.5 : f64, role = #g4.role<ple_proj_scale>} : tensor<?x8xf32>
  %o = g4.round_bf16 %s {rule = #g4.rule<ple_scale>, island = 1 : i64} : tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}

// -----

// Gate and up projections, GELU and the product: one region, two linears rounded in their
// epilogues, the product escaping to the down projection.
// CHECK-LABEL: func.func @gate_up_gelu_mul
// CHECK: %[[F:.*]] = g4.fused(%{{.*}}, %{{.*}}, %{{.*}}) {g4.layer = 0 : i64, kernel = "g4k_ffn_gate_0"}
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<?x8xf32>, %[[WG:.*]]: !g4.weight<8x16 : f32>, %[[WU:.*]]: !g4.weight<8x16 : f32>):
// CHECK-NEXT: %[[G:.*]] = g4.linear %[[X]], %[[WG]]
// CHECK-NEXT: %[[GR:.*]] = g4.round_bf16 %[[G]]
// CHECK-NEXT: %[[U:.*]] = g4.linear %[[X]], %[[WU]]
// CHECK-NEXT: %[[UR:.*]] = g4.round_bf16 %[[U]]
// CHECK-NEXT: %[[A:.*]] = g4.gelu_tanh %[[GR]]
// CHECK-NEXT: %[[AR:.*]] = g4.round_bf16 %[[A]]
// CHECK-NEXT: %[[M:.*]] = g4.mul %[[AR]], %[[UR]]
// CHECK-NEXT: %[[MR:.*]] = g4.round_bf16 %[[M]]
// CHECK-NEXT: g4.yield %[[MR]] : tensor<?x16xf32>
// CHECK: g4.linear %[[F]]
func.func @gate_up_gelu_mul(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wg = g4.weight "blk.0.ffn_gate.weight" : !g4.weight<8x16 : f32>
  %wu = g4.weight "blk.0.ffn_up.weight" : !g4.weight<8x16 : f32>
  %wd = g4.weight "blk.0.ffn_down.weight" : !g4.weight<16x8 : f32>
  %g = g4.linear %x, %wg {g4.layer = 0 : i64} : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %gr = g4.round_bf16 %g {g4.layer = 0 : i64, rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x16xf32>
  %u = g4.linear %x, %wu {g4.layer = 0 : i64} : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %ur = g4.round_bf16 %u {g4.layer = 0 : i64, rule = #g4.rule<linear_out>, island = 1 : i64} : tensor<?x16xf32>
  %a = g4.gelu_tanh %gr {g4.layer = 0 : i64} : tensor<?x16xf32>
  %ar = g4.round_bf16 %a {g4.layer = 0 : i64, rule = #g4.rule<gelu_out>, island = 2 : i64} : tensor<?x16xf32>
  %m = g4.mul %ar, %ur {g4.layer = 0 : i64} : tensor<?x16xf32>
  %mr = g4.round_bf16 %m {g4.layer = 0 : i64, rule = #g4.rule<gelu_mul>, island = 3 : i64} : tensor<?x16xf32>
  %d = g4.linear %mr, %wd {g4.layer = 0 : i64} : (tensor<?x16xf32>, !g4.weight<16x8 : f32>) -> tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}

// -----

// Residual add + norm: the output projection, its norm, the residual add and the next norm in
// one region; both the residual stream and the normed value escape.
// CHECK-LABEL: func.func @residual_add_norm
// CHECK: %[[F:.*]]:2 = g4.fused(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {kernel = "g4k_attn_out"}
// CHECK: %[[S:.*]] = g4.add
// CHECK: %[[N:.*]] = g4.rms_norm %[[S]]
// CHECK-NEXT: g4.yield %[[S]], %[[N]]
// CHECK: return %[[F]]#0, %[[F]]#1
func.func @residual_add_norm(%attn: tensor<?x16xf32>, %h: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %wo = g4.weight "blk.0.attn_output.weight" : !g4.weight<16x8 : f32>
  %wp = g4.weight "blk.0.post_attention_norm.weight" : !g4.weight<8 : f32>
  %wf = g4.weight "blk.0.ffn_norm.weight" : !g4.weight<8 : f32>
  %p = g4.linear %attn, %wo : (tensor<?x16xf32>, !g4.weight<16x8 : f32>) -> tensor<?x8xf32>
  %pn = g4.rms_norm %p, %wp {eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  %s = g4.add %h, %pn {g4.name = "attn_out"} : tensor<?x8xf32>
  %n = g4.rms_norm %s, %wf {eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  return %s, %n : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// The second residual add reads the first region's residual and the down projection's region,
// which depends on the first through the MLP: it joins the down projection (the union would
// not be convex).
// CHECK-LABEL: func.func @residual_joins_latest_producer
// CHECK: %[[A:.*]]:2 = g4.fused
// CHECK: g4.yield
// CHECK: %[[B:.*]] = g4.fused(%[[A]]#1, %{{.*}}, %[[A]]#0)
// CHECK-NEXT: ^bb0(%[[F:.*]]: tensor<?x8xf32>, %[[W:.*]]: !g4.weight<8x8 : f32>, %[[S:.*]]: tensor<?x8xf32>):
// CHECK-NEXT: %[[D:.*]] = g4.linear %[[F]], %[[W]]
// CHECK-NEXT: %[[S2:.*]] = g4.add %[[S]], %[[D]]
// CHECK-NEXT: g4.yield %[[S2]]
func.func @residual_joins_latest_producer(%x: tensor<?x8xf32>, %h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w1 = g4.weight "blk.0.attn_output.weight" : !g4.weight<8x8 : f32>
  %w2 = g4.weight "blk.0.ffn_down.weight" : !g4.weight<8x8 : f32>
  %p = g4.linear %x, %w1 : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  %s = g4.add %h, %p : tensor<?x8xf32>
  %f = g4.rms_norm %s {eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %d = g4.linear %f, %w2 : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  %s2 = g4.add %s, %d : tensor<?x8xf32>
  return %s2 : tensor<?x8xf32>
}

// -----

// q norm + RoPE with the projection; the positions are an input of the region.
// CHECK-LABEL: func.func @q_norm_rope
// CHECK: %[[Q:.*]] = g4.fused(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {g4.layer = 2 : i64, kernel = "g4k_Qcur_2"}
// CHECK: g4.linear
// CHECK-NEXT: g4.round_bf16
// CHECK-NEXT: g4.rms_norm
// CHECK-NEXT: g4.round_bf16
// CHECK-NEXT: %[[R:.*]] = g4.rope {{.*}}g4.rounding = #g4.rounding<rope_bf16>
// CHECK-NEXT: g4.yield %[[R]]
// CHECK: g4.attention %[[Q]]
func.func @q_norm_rope(%x: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %wq = g4.weight "blk.2.attn_q.weight" : !g4.weight<8x256 : f32>
  %wn = g4.weight "blk.2.attn_q_norm.weight" : !g4.weight<256 : f32>
  %q = g4.linear %x, %wq {g4.layer = 2 : i64} : (tensor<?x8xf32>, !g4.weight<8x256 : f32>) -> tensor<?x256xf32>
  %qr = g4.round_bf16 %q {g4.layer = 2 : i64, rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x256xf32>
  %qn = g4.rms_norm %qr, %wn {g4.layer = 2 : i64, eps = 1.0e-6 : f64, width = 256 : i64} : (tensor<?x256xf32>, !g4.weight<256 : f32>) -> tensor<?x256xf32>
  %qnr = g4.round_bf16 %qn {g4.layer = 2 : i64, rule = #g4.rule<norm_out>, island = 1 : i64} : tensor<?x256xf32>
  %qp = g4.rope %qnr, %pos {g4.layer = 2 : i64, g4.name = "Qcur", g4.rounding = #g4.rounding<rope_bf16>, mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %a = g4.attention %qp kv(%qp, %qp) at %pos {g4.layer = 2 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 2 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}

// -----

// The LM head and the final softcap.
// CHECK-LABEL: func.func @lm_head_softcap
// CHECK: g4.fused(%{{.*}}, %{{.*}}) {kernel = "g4k_result_output"}
// CHECK: g4.linear
// CHECK-NEXT: g4.round_bf16
// CHECK-NEXT: g4.softcap
// CHECK-NEXT: g4.yield
func.func @lm_head_softcap(%x: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %w = g4.weight "token_embd.weight" : !g4.weight<8x32 : f32>
  %l = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x32 : f32>) -> tensor<?x32xf32>
  %r = g4.round_bf16 %l {rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x32xf32>
  %c = g4.softcap %r {cap = 30.0 : f64, g4.name = "result_output", g4.rounding = #g4.rounding<softcap_bf16>} : tensor<?x32xf32>
  return %c : tensor<?x32xf32>
}

// -----

// A linear whose output has a reader outside keeps it: the region yields it.
// CHECK-LABEL: func.func @linear_two_uses
// CHECK: %[[F:.*]]:2 = g4.fused
// CHECK: %[[L:.*]] = g4.linear
// CHECK-NEXT: %[[G:.*]] = g4.gelu_tanh %[[L]]
// CHECK-NEXT: g4.yield %[[L]], %[[G]]
// CHECK: g4.linear %[[F]]#0
func.func @linear_two_uses(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = g4.weight "a.weight" : !g4.weight<8x8 : f32>
  %l = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  %g = g4.gelu_tanh %l : tensor<?x8xf32>
  %m = g4.linear %l, %w : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  return %g, %m : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Attention heads a region with its rounding only, without a kernel; its consumers start a
// region of their own.
// CHECK-LABEL: func.func @attention_not_fused
// CHECK: %[[A:.*]] = g4.fused(%{{.*}}, %{{.*}}) : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32> {
// CHECK: g4.attention
// CHECK-NEXT: %[[R:.*]] = g4.round_bf16
// CHECK-NEXT: g4.yield %[[R]]
// CHECK: g4.fused(%[[A]], %{{.*}}) {kernel = "g4k_attn_output"}
// CHECK-NEXT: ^bb0
// CHECK-NEXT: g4.linear
// CHECK-NEXT: g4.round_bf16
// CHECK-NEXT: g4.yield
func.func @attention_not_fused(%q: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
  %w = g4.weight "blk.0.attn_output.weight" : !g4.weight<256x8 : f32>
  %a = g4.attention %q kv(%q, %q) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %ar = g4.round_bf16 %a {rule = #g4.rule<attn_out>, island = 0 : i64} : tensor<?x256xf32>
  %p = g4.linear %ar, %w : (tensor<?x256xf32>, !g4.weight<256x8 : f32>) -> tensor<?x8xf32>
  %pr = g4.round_bf16 %p {rule = #g4.rule<linear_out>, island = 1 : i64} : tensor<?x8xf32>
  return %pr : tensor<?x8xf32>
}

// -----

// Nothing worth a region: a lone row op, a rounding of a function argument, an interpreted-only
// op without rounding stay as they are.
// CHECK-LABEL: func.func @nothing_to_fuse
// CHECK-NOT: g4.fused
// CHECK: g4.round_bf16 %arg0
// CHECK: g4.embed
// CHECK: g4.gelu_tanh
func.func @nothing_to_fuse(%x: tensor<?x8xf32>, %tok: tensor<?xi32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %r = g4.round_bf16 %x {rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x8xf32>
  %t = g4.weight "token_embd.weight" : !g4.weight<8x32 : f32>
  %e = g4.embed %tok, %t : (tensor<?xi32>, !g4.weight<8x32 : f32>) -> tensor<?x8xf32>
  %g = g4.gelu_tanh %e : tensor<?x8xf32>
  return %r, %g : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// A region never spans layers: layer 1's norm reads layer 0's output but starts its own.
// CHECK-LABEL: func.func @no_cross_layer
// CHECK: g4.fused{{.*}}kernel = "g4k_gelu_tanh_0"
// CHECK: g4.fused{{.*}}kernel = "g4k_rms_norm_1"
func.func @no_cross_layer(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = g4.gelu_tanh %x {g4.layer = 0 : i64} : tensor<?x8xf32>
  %gr = g4.round_bf16 %g {g4.layer = 0 : i64, rule = #g4.rule<gelu_out>, island = 0 : i64} : tensor<?x8xf32>
  %n = g4.rms_norm %gr {g4.layer = 1 : i64, eps = 1.0e-6 : f64, width = 8 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %nr = g4.round_bf16 %n {g4.layer = 1 : i64, rule = #g4.rule<norm_out>, island = 1 : i64} : tensor<?x8xf32>
  return %nr : tensor<?x8xf32>
}
