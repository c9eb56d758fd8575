// g4-bf16-islands: the rounding points of the bf16 reference under each policy
// (docs/precision.md). REF = reference (the default), MIN = minimal.
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands | FileCheck %s --check-prefixes=CHECK,REF
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands=policy=minimal | FileCheck %s --check-prefixes=CHECK,MIN
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands="attention=eager router=bf16" | FileCheck %s --check-prefix=OLD
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands=attention=exact | FileCheck %s --check-prefix=EXACT

// f32 changes nothing: the output equals the input, byte for byte.
// RUN: gemma4c-opt %s -split-input-file > %t.input
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands=policy=f32 > %t.f32
// RUN: diff %t.input %t.f32

// Idempotence: twice equals once, under both policies that change something.
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands > %t.once
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands -g4-bf16-islands > %t.twice
// RUN: diff %t.once %t.twice
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands=policy=minimal > %t.min.once
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands=policy=minimal -g4-bf16-islands=policy=minimal > %t.min.twice
// RUN: diff %t.min.once %t.min.twice

// Survival: canonicalize and CSE keep every rounding point.
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands | grep -c 'g4.round_bf16 ' | FileCheck %s --check-prefix=COUNT
// RUN: gemma4c-opt %s -split-input-file -g4-bf16-islands -canonicalize -cse | grep -c 'g4.round_bf16 ' | FileCheck %s --check-prefix=COUNT
// COUNT: 34

// An unknown option value is an option parse error (llvm::cl's, from the options' cl::values).
// RUN: not gemma4c-opt %s -g4-bf16-islands=policy=bf17 2>&1 | FileCheck %s --check-prefix=ERR
// ERR: for the --policy option: Cannot find option named 'bf17'!
// RUN: not gemma4c-opt %s -g4-bf16-islands=attention=flash 2>&1 | FileCheck %s --check-prefix=ERR-ATTN
// ERR-ATTN: for the --attention option: Cannot find option named 'flash'!
// RUN: not gemma4c-opt %s -g4-bf16-islands=router=bf8 2>&1 | FileCheck %s --check-prefix=ERR-ROUTER
// ERR-ROUTER: for the --router option: Cannot find option named 'bf8'!

// The embedding scale is a bf16 buffer in the reference: E2B sqrt(1536) = 39.19 -> 39.25; the
// exact value stays in exact_factor, and the product is rounded.
// CHECK-LABEL: func.func @embed_scale_e2b
// CHECK: %[[S:.*]] = g4.scale %{{.*}} {exact_factor = 39.191835884530846 : f64, factor = 3.925000e+01 : f64, role = #g4.role<embed_scale>}
// CHECK: %[[R:.*]] = g4.round_bf16 %[[S]] {island = 0 : i64, rule = #g4.rule<embed_scale>}
// CHECK: return %[[R]]
func.func @embed_scale_e2b(%e: tensor<?x1536xf32>) -> tensor<?x1536xf32> {
  %s = g4.scale %e {factor = 39.191835884530846 : f64, role = #g4.role<embed_scale>} : tensor<?x1536xf32>
  return %s : tensor<?x1536xf32>
}

// -----

// E4B sqrt(2560) = 50.60 -> 50.5.
// CHECK-LABEL: func.func @embed_scale_e4b
// CHECK: g4.scale %{{.*}} {exact_factor = 50.596442562694072 : f64, factor = 5.050000e+01 : f64
func.func @embed_scale_e4b(%e: tensor<?x2560xf32>) -> tensor<?x2560xf32> {
  %s = g4.scale %e {factor = 50.596442562694072 : f64, role = #g4.role<embed_scale>} : tensor<?x2560xf32>
  return %s : tensor<?x2560xf32>
}

// -----

// 26B-A4B sqrt(2816) = 53.07 -> 53.0.
// CHECK-LABEL: func.func @embed_scale_26b_a4b
// CHECK: g4.scale %{{.*}} {exact_factor = 53.065996645686397 : f64, factor = 5.300000e+01 : f64
func.func @embed_scale_26b_a4b(%e: tensor<?x2816xf32>) -> tensor<?x2816xf32> {
  %s = g4.scale %e {factor = 53.065996645686397 : f64, role = #g4.role<embed_scale>} : tensor<?x2816xf32>
  return %s : tensor<?x2816xf32>
}

// -----

// 31B sqrt(5376) = 73.32 -> 73.5.
// CHECK-LABEL: func.func @embed_scale_31b
// CHECK: g4.scale %{{.*}} {exact_factor = 73.321211119293437 : f64, factor = 7.350000e+01 : f64
func.func @embed_scale_31b(%e: tensor<?x5376xf32>) -> tensor<?x5376xf32> {
  %s = g4.scale %e {factor = 73.321211119293437 : f64, role = #g4.role<embed_scale>} : tensor<?x5376xf32>
  return %s : tensor<?x5376xf32>
}

// -----

// Router chain (spec §3.5, transformers >= 5.13): R1 norm, R2 ·scale, R3 ·H^-1/2 (which stays
// an fp32 constant) and R4 logits are rounded under both policies; softmax, renormalized and
// per-expert-scaled weights stay fp32. With router=bf16 (transformers <= 5.12) they round too.
// CHECK-LABEL: func.func @router_chain
// CHECK: %[[N:.*]] = g4.rms_norm %{{.*}} {eps
// CHECK-NEXT: %[[R1:.*]] = g4.round_bf16 %[[N]] {island = 0 : i64, rule = #g4.rule<router>}
// CHECK: %[[C:.*]] = g4.channel_mul %[[R1]]
// CHECK-NEXT: %[[R2:.*]] = g4.round_bf16 %[[C]] {island = 1 : i64, rule = #g4.rule<router>}
// CHECK-NEXT: %[[S:.*]] = g4.scale %[[R2]] {factor = 0.018844459036110227 : f64, role = #g4.role<router_root_scale>}
// CHECK-NEXT: %[[R3:.*]] = g4.round_bf16 %[[S]] {island = 2 : i64, rule = #g4.rule<router>}
// CHECK: %[[Z:.*]] = g4.linear %[[R3]]
// CHECK-NEXT: %[[R4:.*]] = g4.round_bf16 %[[Z]] {island = 3 : i64, rule = #g4.rule<router>}
// CHECK-NEXT: %[[P:.*]] = g4.softmax %[[R4]]
// CHECK-NOT: g4.round_bf16
// CHECK: %[[W:.*]], %[[I:.*]] = g4.top_k %[[P]]
// CHECK-NEXT: %[[WN:.*]] = g4.renormalize %[[W]] :
// CHECK-NOT: g4.round_bf16
// CHECK: %[[WE:.*]] = g4.expert_scale %[[WN]], %[[I]]
// CHECK-NEXT: return %[[WE]]
// OLD-LABEL: func.func @router_chain
// OLD: %[[P:.*]] = g4.softmax
// OLD-NEXT: %[[RP:.*]] = g4.round_bf16 %[[P]] {island = 4 : i64, rule = #g4.rule<router>}
// OLD-NEXT: %[[W:.*]], %[[I:.*]] = g4.top_k %[[RP]]
// OLD-NEXT: %[[WN:.*]] = g4.renormalize %[[W]] {g4.rounding = #g4.rounding<renormalize_bf16>}
// OLD: %[[WE:.*]] = g4.expert_scale %[[WN]], %[[I]]
// OLD-NEXT: %[[RE:.*]] = g4.round_bf16 %[[WE]] {island = 5 : i64, rule = #g4.rule<router>}
// OLD-NEXT: return %[[RE]]
func.func @router_chain(%h: tensor<?x2816xf32>) -> tensor<?x8xf32> {
  %n = g4.rms_norm %h {eps = 1.0e-06 : f64, width = 2816 : i64} : (tensor<?x2816xf32>) -> tensor<?x2816xf32>
  %ws = g4.weight "blk.0.ffn_gate_inp.scale" : !g4.weight<2816 : f32>
  %c = g4.channel_mul %n, %ws : (tensor<?x2816xf32>, !g4.weight<2816 : f32>) -> tensor<?x2816xf32>
  %s = g4.scale %c {factor = 0.018844459036110227 : f64, role = #g4.role<router_root_scale>} : tensor<?x2816xf32>
  %wr = g4.weight "blk.0.ffn_gate_inp.weight" : !g4.weight<2816x128 : f32>
  %z = g4.linear %s, %wr : (tensor<?x2816xf32>, !g4.weight<2816x128 : f32>) -> tensor<?x128xf32>
  %p = g4.softmax %z : tensor<?x128xf32>
  %w, %i = g4.top_k %p {k = 8 : i64} : (tensor<?x128xf32>) -> (tensor<?x8xf32>, tensor<?x8xi32>)
  %wn = g4.renormalize %w : tensor<?x8xf32>
  %es = g4.weight "blk.0.ffn_down_exps.scale" : !g4.weight<128 : f32>
  %we = g4.expert_scale %wn, %i, %es : (tensor<?x8xf32>, tensor<?x8xi32>, !g4.weight<128 : f32>) -> tensor<?x8xf32>
  return %we : tensor<?x8xf32>
}

// -----

// PLE inputs (spec §3.2): the token scale 16 is a bf16 buffer (exact); H^-1/2 and 2^-1/2 are
// Python floats and stay fp32, but all three products are rounded under both policies. The
// projection, the norm and the sum are rounded only under reference.
// CHECK-LABEL: func.func @ple_scales
// CHECK: %[[T:.*]] = g4.scale %{{.*}} {exact_factor = 1.600000e+01 : f64, factor = 1.600000e+01 : f64, role = #g4.role<ple_token_scale>}
// CHECK-NEXT: %[[TR:.*]] = g4.round_bf16 %[[T]] {{{.*}}rule = #g4.rule<ple_scale>}
// CHECK: %[[C:.*]] = g4.linear
// REF-NEXT: %[[CR:.*]] = g4.round_bf16 %[[C]] {{{.*}}rule = #g4.rule<linear_out>}
// MIN-NOT: g4.round_bf16 %[[C]]
// CHECK: %[[CS:.*]] = g4.scale %{{.*}} {factor = 0.025515518153991442 : f64, role = #g4.role<ple_proj_scale>}
// CHECK-NEXT: %[[CSR:.*]] = g4.round_bf16 %[[CS]] {{{.*}}rule = #g4.rule<ple_scale>}
// CHECK: %[[N:.*]] = g4.rms_norm %[[CSR]]
// REF-NEXT: %[[NR:.*]] = g4.round_bf16 %[[N]] {{{.*}}rule = #g4.rule<norm_out>}
// REF-NEXT: %[[U:.*]] = g4.add %[[NR]], %[[TR]]
// REF-NEXT: %[[UR:.*]] = g4.round_bf16 %[[U]] {{{.*}}rule = #g4.rule<ple_add>}
// REF-NEXT: g4.scale %[[UR]] {factor = 0.70710678118654746 : f64, role = #g4.role<ple_combine_scale>}
// MIN-NEXT: %[[U:.*]] = g4.add %[[N]], %[[TR]]
// MIN-NEXT: g4.scale %[[U]] {factor = 0.70710678118654746 : f64, role = #g4.role<ple_combine_scale>}
// CHECK-NEXT: g4.round_bf16 {{.*}}rule = #g4.rule<ple_scale>
func.func @ple_scales(%tok: tensor<?x8xf32>, %x0: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %t = g4.scale %tok {factor = 16.0 : f64, role = #g4.role<ple_token_scale>} : tensor<?x8xf32>
  %wp = g4.weight "per_layer_model_proj.weight" : !g4.weight<16x8 : f32>
  %c = g4.linear %x0, %wp : (tensor<?x16xf32>, !g4.weight<16x8 : f32>) -> tensor<?x8xf32>
  %cs = g4.scale %c {factor = 0.025515518153991442 : f64, role = #g4.role<ple_proj_scale>} : tensor<?x8xf32>
  %wn = g4.weight "per_layer_proj_norm.weight" : !g4.weight<4 : f32>
  %n = g4.rms_norm %cs, %wn {eps = 1.0e-06 : f64, width = 4 : i64} : (tensor<?x8xf32>, !g4.weight<4 : f32>) -> tensor<?x8xf32>
  %u = g4.add %n, %t : tensor<?x8xf32>
  %ple = g4.scale %u {factor = 0.70710678118654746 : f64, role = #g4.role<ple_combine_scale>} : tensor<?x8xf32>
  return %ple : tensor<?x8xf32>
}

// -----

// Attention half of a layer. Reference: every linear and norm output, the attention output
// (sdpa: torch's flash kernel, g4.rounding<attention_sdpa>; exact: no internal rounding) and the residual add; RoPE's roundings are
// internal; the KV cache is bf16. Minimal touches none of it. Norm internals are never
// rounded: exactly one rounding follows each norm.
// CHECK-LABEL: func.func @attention_half
// REF: %[[A:.*]] = g4.rms_norm
// REF-NEXT: %[[AR:.*]] = g4.round_bf16 %[[A]] {{{.*}}rule = #g4.rule<norm_out>}
// REF-NEXT: g4.weight
// REF-NEXT: %[[Q:.*]] = g4.linear %[[AR]]
// REF-NEXT: %[[QR:.*]] = g4.round_bf16 %[[Q]] {{{.*}}rule = #g4.rule<linear_out>}
// REF-NEXT: %[[QN:.*]] = g4.rms_norm %[[QR]]
// REF-NEXT: %[[QNR:.*]] = g4.round_bf16 %[[QN]] {{{.*}}rule = #g4.rule<norm_out>}
// REF-NEXT: %[[QP:.*]] = g4.rope %[[QNR]], %{{.*}} {g4.rounding = #g4.rounding<rope_bf16>
// REF-NEXT: %[[O:.*]] = g4.attention %[[QP]] kv(%[[QP]], %[[QNR]]) at %{{.*}} {g4.kv_storage = #g4.kv_storage<bf16>, g4.rounding = #g4.rounding<attention_sdpa>, head_dim
// REF-NEXT: %[[OR:.*]] = g4.round_bf16 %[[O]] {{{.*}}rule = #g4.rule<attn_out>}
// REF-NEXT: %[[H:.*]] = g4.add %{{.*}}, %[[OR]]
// REF-NEXT: g4.round_bf16 %[[H]] {{{.*}}rule = #g4.rule<residual_add>}
// MIN-NOT: g4.round_bf16
// MIN-NOT: g4.rounding
// MIN-NOT: g4.kv_storage
// EXACT-LABEL: func.func @attention_half
// EXACT: g4.attention {{.*}} {g4.kv_storage = #g4.kv_storage<bf16>, head_dim
// OLD-LABEL: func.func @attention_half
// OLD: g4.attention {{.*}} {g4.kv_storage = #g4.kv_storage<bf16>, g4.rounding = #g4.rounding<attention_eager>
func.func @attention_half(%h: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  %wn = g4.weight "blk.0.attn_norm.weight" : !g4.weight<256 : f32>
  %a = g4.rms_norm %h, %wn {eps = 1.0e-06 : f64, width = 256 : i64} : (tensor<?x256xf32>, !g4.weight<256 : f32>) -> tensor<?x256xf32>
  %wq = g4.weight "blk.0.attn_q.weight" : !g4.weight<256x256 : f32>
  %q = g4.linear %a, %wq : (tensor<?x256xf32>, !g4.weight<256x256 : f32>) -> tensor<?x256xf32>
  %qn = g4.rms_norm %q {eps = 1.0e-06 : f64, width = 256 : i64} : (tensor<?x256xf32>) -> tensor<?x256xf32>
  %qp = g4.rope %qn, %pos {mode = #g4.rope<default>, theta = 1.0e4 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %o = g4.attention %qp kv(%qp, %qn) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %r = g4.add %h, %o : tensor<?x256xf32>
  return %r : tensor<?x256xf32>
}

// -----

// Dense feed-forward, PLE injection and layer scalar (reference only): GELU output and
// gelu·up (also the PLE gelu and ·ple), the residual add, the layer-scalar product.
// CHECK-LABEL: func.func @ffn_ple_layer_scalar
// REF: %[[G:.*]] = g4.gelu_tanh
// REF-NEXT: %[[GR:.*]] = g4.round_bf16 %[[G]] {{{.*}}rule = #g4.rule<gelu_out>}
// REF-NEXT: %[[M:.*]] = g4.mul %[[GR]], %{{.*}}
// REF-NEXT: g4.round_bf16 %[[M]] {{{.*}}rule = #g4.rule<gelu_mul>}
// REF: %[[H:.*]] = g4.add
// REF-NEXT: %[[HR:.*]] = g4.round_bf16 %[[H]] {{{.*}}rule = #g4.rule<residual_add>}
// REF: %[[L:.*]] = g4.layer_scalar %[[HR]]
// REF-NEXT: %[[LR:.*]] = g4.round_bf16 %[[L]] {{{.*}}rule = #g4.rule<layer_scalar>}
// REF-NEXT: return %[[LR]]
// MIN-NOT: g4.round_bf16
func.func @ffn_ple_layer_scalar(%h: tensor<?x8xf32>, %f: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wg = g4.weight "blk.0.ffn_gate.weight" : !g4.weight<8x16 : f32>
  %wu = g4.weight "blk.0.ffn_up.weight" : !g4.weight<8x16 : f32>
  %wd = g4.weight "blk.0.ffn_down.weight" : !g4.weight<16x8 : f32>
  %g = g4.linear %f, %wg : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %u = g4.linear %f, %wu : (tensor<?x8xf32>, !g4.weight<8x16 : f32>) -> tensor<?x16xf32>
  %ga = g4.gelu_tanh %g : tensor<?x16xf32>
  %m = g4.mul %ga, %u : tensor<?x16xf32>
  %d = g4.linear %m, %wd : (tensor<?x16xf32>, !g4.weight<16x8 : f32>) -> tensor<?x8xf32>
  %h2 = g4.add %h, %d : tensor<?x8xf32>
  %wl = g4.weight "blk.0.layer_output_scale.weight" : !g4.weight<1 : f32>
  %out = g4.layer_scalar %h2, %wl : (tensor<?x8xf32>, !g4.weight<1 : f32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

// Experts (reference only): the per-expert roundings are internal (experts_bf16; the
// weighting is fp32 with the fp32 router, rounded with router=bf16), the sum over the top-k
// experts is rounded once (grouped_mm), and the MoE d1 + d2 sum is its own rule.
// CHECK-LABEL: func.func @experts
// REF: %[[Y:.*]] = g4.expert_ffn {{.*}} {expert_ff = 4 : i64, g4.rounding = #g4.rounding<experts_bf16>
// REF-NEXT: %[[YR:.*]] = g4.round_bf16 %[[Y]] {{{.*}}rule = #g4.rule<expert_sum>}
// REF-NEXT: %[[N1:.*]] = g4.rms_norm %[[YR]]
// REF-NEXT: %[[N1R:.*]] = g4.round_bf16 %[[N1]] {{{.*}}rule = #g4.rule<norm_out>}
// REF: %[[D:.*]] = g4.add %{{.*}}, %[[N1R]]
// REF-NEXT: g4.round_bf16 %[[D]] {{{.*}}rule = #g4.rule<moe_add>}
// MIN-NOT: g4.round_bf16
// MIN-NOT: g4.rounding
// OLD-LABEL: func.func @experts
// OLD: g4.expert_ffn {{.*}} {expert_ff = 4 : i64, g4.rounding = #g4.rounding<experts_bf16_weighted>
func.func @experts(%x: tensor<?x16xf32>, %d1: tensor<?x16xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : q8_0>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : q8_0>
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x8x4 : q8_0>, !g4.weight<4x16x4 : q8_0>) -> tensor<?x16xf32>
  %n = g4.rms_norm %y {eps = 1.0e-06 : f64, width = 16 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %dn1 = g4.rms_norm %d1 {eps = 1.0e-06 : f64, width = 16 : i64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %d = g4.add %dn1, %n : tensor<?x16xf32>
  return %d : tensor<?x16xf32>
}

// -----

// Output: final norm and LM head rounded; the softcap's three roundings are internal and its
// cap 30 stays an fp32 constant.
// CHECK-LABEL: func.func @output
// REF: g4.round_bf16 {{.*}}rule = #g4.rule<norm_out>
// REF: g4.round_bf16 {{.*}}rule = #g4.rule<linear_out>
// REF-NEXT: %[[C:.*]] = g4.softcap %{{.*}} {cap = 3.000000e+01 : f64, g4.rounding = #g4.rounding<softcap_bf16>}
// REF-NEXT: return %[[C]]
// MIN: g4.softcap %{{.*}} {cap = 3.000000e+01 : f64} :
func.func @output(%h: tensor<?x8xf32>) -> tensor<?x32xf32> {
  %wn = g4.weight "output_norm.weight" : !g4.weight<8 : f32>
  %y = g4.rms_norm %h, %wn {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  %we = g4.weight "token_embd.weight" : !g4.weight<8x32 : f32>
  %l = g4.linear %y, %we : (tensor<?x8xf32>, !g4.weight<8x32 : f32>) -> tensor<?x32xf32>
  %c = g4.softcap %l {cap = 30.0 : f64} : tensor<?x32xf32>
  return %c : tensor<?x32xf32>
}

// -----

// Survival: CSE merges the two identical (Pure) linears, but both roundings stay, and so
// does the rounding of the unused one (g4.round_bf16 is not Pure and has no folder). The
// COUNT lines above compare the counts over the whole file.
// CHECK-LABEL: func.func @survives_cleanup
// REF-COUNT-2: g4.round_bf16 {{.*}}rule = #g4.rule<linear_out>
func.func @survives_cleanup(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = g4.weight "blk.0.attn_q.weight" : !g4.weight<8x8 : f32>
  %a = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  %b = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x8 : f32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
