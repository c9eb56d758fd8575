// Every verifier error of the g4 dialect, one case each.
// RUN: gemma4c-opt %s -split-input-file -verify-diagnostics

func.func @weight_empty_name() {
  // expected-error @+1 {{needs a non-empty GGUF tensor name}}
  %w = g4.weight "" : !g4.weight<4 : f32>
  return
}

// -----

func.func @weight_unknown_dtype() {
  // expected-error @+1 {{unknown weight dtype 'iq2_xxs'}}
  %w = g4.weight "x" : !g4.weight<4 : iq2_xxs>
  return
}

// -----

func.func @weight_rank_five() {
  // expected-error @+1 {{weight must have 1 to 4 dimensions, got 5}}
  %w = g4.weight "x" : !g4.weight<1x1x1x1x1 : f32>
  return
}

// -----

func.func @weight_zero_dim() {
  // expected-error @+1 {{weight dimensions must be positive, got 0}}
  %w = g4.weight "x" : !g4.weight<0 : f32>
  return
}

// -----

func.func @embed_table_not_matrix(%t: tensor<?xi32>) {
  %w = g4.weight "token_embd.weight" : !g4.weight<8 : f32>
  // expected-error @+1 {{table must be a matrix [width, vocab], got rank 1}}
  %e = g4.embed %t, %w : (tensor<?xi32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @embed_width_mismatch(%t: tensor<?xi32>) {
  %w = g4.weight "token_embd.weight" : !g4.weight<8x100 : f32>
  // expected-error @+1 {{result width 16 differs from the table's row width 8}}
  %e = g4.embed %t, %w : (tensor<?xi32>, !g4.weight<8x100 : f32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @embed_tokens_rank(%t: tensor<?x2x2xi32>) {
  %w = g4.weight "token_embd.weight" : !g4.weight<8x100 : f32>
  // expected-error @+1 {{tokens must be a rank-1 or rank-2 i32 tensor}}
  %e = g4.embed %t, %w : (tensor<?x2x2xi32>, !g4.weight<8x100 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @activation_rank(%x: tensor<8xf32>) {
  // expected-error @+1 {{input must be tensor<?xNxf32> (tokens x features), got 'tensor<8xf32>'}}
  %y = g4.rms_norm %x {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @norm_width_does_not_divide(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{width 4 must divide the feature width 10}}
  %y = g4.rms_norm %x {eps = 1.0e-06 : f64, width = 4 : i64} : (tensor<?x10xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @norm_result_type(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{result type must equal the input type}}
  %y = g4.rms_norm %x {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @norm_bad_eps(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{eps must be in (0, 1e-2], got 0}}
  %y = g4.rms_norm %x {eps = 0.0 : f64, width = 8 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @norm_weight_shape(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.attn_norm.weight" : !g4.weight<4 : f32>
  // expected-error @+1 {{norm weight shape must be [8], got [4]}}
  %y = g4.rms_norm %x, %w {eps = 1.0e-06 : f64, width = 8 : i64} : (tensor<?x8xf32>, !g4.weight<4 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.attn_q.weight" : !g4.weight<8 : f32>
  // expected-error @+1 {{weight must be a matrix [in, out], got rank 1}}
  %y = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_input_width(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.attn_q.weight" : !g4.weight<16x4 : f32>
  // expected-error @+1 {{input width 8 differs from the weight's ne0 16}}
  %y = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<16x4 : f32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_output_width(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.attn_q.weight" : !g4.weight<8x4 : f32>
  // expected-error @+1 {{result width 5 differs from the weight's ne1 4}}
  %y = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x4 : f32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @linear_token_counts(%x: tensor<3x8xf32>) {
  %w = g4.weight "blk.0.attn_q.weight" : !g4.weight<8x4 : f32>
  // expected-error @+1 {{token counts differ: 3 vs 4}}
  %y = g4.linear %x, %w : (tensor<3x8xf32>, !g4.weight<8x4 : f32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @rope_head_dim(%x: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{head_dim 300 must be even and divide the width 512}}
  %y = g4.rope %x, %p {mode = #g4.rope<default>, theta = 1.0e4 : f64, head_dim = 300 : i64, rotary_dims = 300 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @rope_rotary_dims(%x: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rotary_dims 600 must be even and in (0, head_dim 512]}}
  %y = g4.rope %x, %p {mode = #g4.rope<proportional>, theta = 1.0e6 : f64, head_dim = 512 : i64, rotary_dims = 600 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @rope_default_partial(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{default RoPE rotates the whole head: rotary_dims 128 != head_dim 256}}
  %y = g4.rope %x, %p {mode = #g4.rope<default>, theta = 1.0e4 : f64, head_dim = 256 : i64, rotary_dims = 128 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{theta must be > 1, got 1}}
  %y = g4.rope %x, %p {mode = #g4.rope<default>, theta = 1.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_result_type(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{result type must equal the input type}}
  %y = g4.rope %x, %p {mode = #g4.rope<default>, theta = 1.0e4 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @rope_freqs_shape(%x: tensor<?x512xf32>, %p: tensor<?xi32>) {
  %f = g4.weight "rope_freqs.weight" : !g4.weight<512 : f32>
  // expected-error @+1 {{rope_freqs weight shape must be [256], got [512]}}
  %y = g4.rope %x, %p, %f {mode = #g4.rope<proportional>, theta = 1.0e6 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64} : (tensor<?x512xf32>, tensor<?xi32>, !g4.weight<512 : f32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @rope_unknown_mode(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+2 {{expected ::mlir::g4::RopeMode to be one of: default, proportional}}
  // expected-error @+1 {{failed to parse G4_RopeMode parameter 'value'}}
  %y = g4.rope %x, %p {mode = #g4.rope<linear>, theta = 1.0e4 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<?x200xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{head_dim must be a multiple of 32 in [32, 512], got 100}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 100 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x200xf32>, tensor<?xi32>) -> tensor<?x200xf32>
  return
}

// -----

func.func @attention_head_dim_too_large(%q: tensor<?x2048xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{head_dim must be a multiple of 32 in [32, 512], got 1024}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 1024 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x2048xf32>, tensor<?xi32>) -> tensor<?x2048xf32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<?x768xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{num_heads 3 must be a positive multiple of num_kv_heads 2}}
  %o = g4.attention %q at %p {num_heads = 3 : i64, num_kv_heads = 2 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x768xf32>, tensor<?xi32>) -> tensor<?x768xf32>
  return
}

// -----

func.func @attention_q_width(%q: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{q width 256 != num_heads*head_dim 512}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_result_width(%q: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{result width 256 != num_heads*head_dim 512}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_window(%q: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{window must be >= 0, got -1}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = -1 : i64, kv_layer = 0 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @attention_kv_width(%q: tensor<?x512xf32>, %k: tensor<?x512xf32>, %v: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{k width 512 != num_kv_heads*head_dim 256}}
  %o = g4.attention %q kv(%k, %v) at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64} : (tensor<?x512xf32>, tensor<?x512xf32>, tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @attention_k_eq_v_shared(%q: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{k_eq_v describes how K/V are made: a KV-shared layer has none}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, k_eq_v, kv_layer = 0 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @attention_kv_layer(%q: tensor<?x512xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{kv_layer must be >= 0, got -2}}
  %o = g4.attention %q at %p {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = -2 : i64} : (tensor<?x512xf32>, tensor<?xi32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @channel_mul_shape(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.ffn_gate_inp.scale" : !g4.weight<4 : f32>
  // expected-error @+1 {{channel weight shape must be [8], got [4]}}
  %y = g4.channel_mul %x, %w : (tensor<?x8xf32>, !g4.weight<4 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @layer_scalar_shape(%x: tensor<?x8xf32>) {
  %w = g4.weight "blk.0.layer_output_scale.weight" : !g4.weight<8 : f32>
  // expected-error @+1 {{layer scalar weight shape must be [1], got [8]}}
  %y = g4.layer_scalar %x, %w : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @softcap_cap(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{cap must be positive, got 0}}
  %y = g4.softcap %x {cap = 0.0 : f64} : tensor<?x8xf32>
  return
}

// -----

func.func @top_k_too_large(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{k must be in [1, 8], got 9}}
  %v, %i = g4.top_k %x {k = 9 : i64} : (tensor<?x8xf32>) -> (tensor<?x9xf32>, tensor<?x9xi32>)
  return
}

// -----

func.func @top_k_result_shape(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{values and indices must be [tokens, 2]}}
  %v, %i = g4.top_k %x {k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @expert_scale_shapes(%w: tensor<?x2xf32>, %i: tensor<?x3xi32>) {
  %s = g4.weight "blk.0.ffn_down_exps.scale" : !g4.weight<8 : f32>
  // expected-error @+1 {{weights and indices must have the same shape}}
  %y = g4.expert_scale %w, %i, %s : (tensor<?x2xf32>, tensor<?x3xi32>, !g4.weight<8 : f32>) -> tensor<?x2xf32>
  return
}

// -----

func.func @expert_scale_vector(%w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  %s = g4.weight "blk.0.ffn_down_exps.scale" : !g4.weight<8x2 : f32>
  // expected-error @+1 {{per-expert scale must be a vector [num_experts]}}
  %y = g4.expert_scale %w, %i, %s : (tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<8x2 : f32>) -> tensor<?x2xf32>
  return
}

// -----

func.func @expert_ffn_top_k(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : f32>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : f32>
  // expected-error @+1 {{need 0 < top_k <= num_experts and expert_ff > 0, got top_k 5, num_experts 4, expert_ff 4}}
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 5 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x8x4 : f32>, !g4.weight<4x16x4 : f32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @expert_ffn_routing_shape(%x: tensor<?x16xf32>, %w: tensor<?x3xf32>, %i: tensor<?x3xi32>) {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : f32>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : f32>
  // expected-error @+1 {{routing weights and indices must be [tokens, 2]}}
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x3xf32>, tensor<?x3xi32>, !g4.weight<16x8x4 : f32>, !g4.weight<4x16x4 : f32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @expert_ffn_gate_up_shape(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x4x4 : f32>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : f32>
  // expected-error @+1 {{gate_up weight shape must be [16, 8, 4], got [16, 4, 4]}}
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x4x4 : f32>, !g4.weight<4x16x4 : f32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @expert_ffn_down_shape(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : f32>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<16x4x4 : f32>
  // expected-error @+1 {{down weight shape must be [4, 16, 4], got [16, 4, 4]}}
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x8x4 : f32>, !g4.weight<16x4x4 : f32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @expert_ffn_result(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  %gu = g4.weight "blk.0.ffn_gate_up_exps.weight" : !g4.weight<16x8x4 : f32>
  %dn = g4.weight "blk.0.ffn_down_exps.weight" : !g4.weight<4x16x4 : f32>
  // expected-error @+1 {{result type must equal the input type}}
  %y = g4.expert_ffn %x, %w, %i, %gu, %dn {num_experts = 4 : i64, top_k = 2 : i64, expert_ff = 4 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !g4.weight<16x8x4 : f32>, !g4.weight<4x16x4 : f32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @ple_slice_width(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{slice width 4 must divide the packed width 10}}
  %y = g4.ple_slice %x {layer = 0 : i64} : (tensor<?x10xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @ple_slice_layer(%x: tensor<?x12xf32>) {
  // expected-error @+1 {{layer 3 is outside the packed input of 3 layers}}
  %y = g4.ple_slice %x {layer = 3 : i64} : (tensor<?x12xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @scale_role(%x: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::g4::ConstRole to be one of: embed_scale, ple_token_scale, ple_proj_scale, ple_combine_scale, router_root_scale}}
  // expected-error @+1 {{failed to parse G4_ConstRole parameter 'value'}}
  %y = g4.scale %x {factor = 2.0 : f64, role = #g4.role<magic>} : tensor<?x8xf32>
  return
}

// -----

func.func @decoder_layer_unknown_kind(%h: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{layer kind 'nope' is not a func.func in this module}}
  %y = g4.decoder_layer 0 @nope(%h, %p) : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

func.func private @kind(%h: tensor<?x8xf32>, %p: tensor<?xi32>) -> tensor<?x8xf32>
func.func @decoder_layer_signature(%h: tensor<?x4xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{operands and result must match the signature of 'kind'}}
  %y = g4.decoder_layer 0 @kind(%h, %p) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

func.func private @kind(%h: tensor<?x8xf32>, %p: tensor<?xi32>) -> tensor<?x8xf32>
func.func @decoder_layer_kv_source(%h: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{kv_source 3 must be an earlier layer than 3}}
  %y = g4.decoder_layer 3 @kind(%h, %p) {kv_source = 3 : i64} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

func.func private @kind(%h: tensor<?x8xf32>, %p: tensor<?xi32>) -> tensor<?x8xf32>
func.func @decoder_layer_index(%h: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{layer index must be >= 0}}
  %y = g4.decoder_layer -1 @kind(%h, %p) : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

// expected-error @+1 {{'g4.model' needs an integer 'hidden'}}
module attributes {g4.model = {name = "m", vocab = 8 : i64, layers = 1 : i64, heads = 1 : i64, context_length = 8 : i64, sliding_window = 4 : i64}} {
}

// -----

// expected-error @+1 {{'g4.model' key 'vocab' must be positive, got 0}}
module attributes {g4.model = {name = "m", vocab = 0 : i64, hidden = 8 : i64, layers = 1 : i64, heads = 1 : i64, context_length = 8 : i64, sliding_window = 4 : i64}} {
}

// -----

// expected-error @+1 {{'g4.model' needs a string 'name'}}
module attributes {g4.model = {vocab = 8 : i64, hidden = 8 : i64, layers = 1 : i64, heads = 1 : i64, context_length = 8 : i64, sliding_window = 4 : i64}} {
}

// -----

// expected-error @+1 {{'g4.model' must be a dictionary}}
module attributes {g4.model = 3 : i64} {
}

// -----

func.func @model_attr_on_func() attributes {g4.model = {}} {
  // expected-error @-1 {{'g4.model' must be attached to the module}}
  return
}

// -----

func.func @unknown_attr() attributes {g4.magic = 1 : i64} {
  // expected-error @-1 {{unknown g4 attribute 'g4.magic'}}
  return
}

// -----

func.func @layer_attr(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.layer' must be a non-negative integer}}
  %y = g4.gelu_tanh %x {g4.layer = -1 : i64} : tensor<?x8xf32>
  return
}

// -----

func.func @rounding_unknown_kind(%x: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::g4::RoundingKind to be one of: rope_bf16, softcap_bf16, experts_bf16, experts_bf16_weighted, renormalize_bf16, attention_eager, attention_sdpa}}
  // expected-error @+1 {{failed to parse G4_RoundingKind parameter 'value'}}
  %y = g4.softcap %x {cap = 30.0 : f64, g4.rounding = #g4.rounding<tanh_bf16>} : tensor<?x8xf32>
  return
}

// -----

func.func @rounding_string(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.rounding' must be a #g4.rounding<...> attribute, got "softcap_bf16"}}
  %y = g4.softcap %x {cap = 30.0 : f64, g4.rounding = "softcap_bf16"} : tensor<?x8xf32>
  return
}

// -----

func.func @rounding_wrong_op(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.rounding' = #g4.rounding<rope_bf16> does not describe g4.softcap}}
  %y = g4.softcap %x {cap = 30.0 : f64, g4.rounding = #g4.rounding<rope_bf16>} : tensor<?x8xf32>
  return
}

// -----

func.func @kv_storage_unknown(%q: tensor<?x256xf32>, %pos: tensor<?xi32>) {
  // expected-error @+2 {{expected ::mlir::g4::KvStorage to be one of: bf16, f32}}
  // expected-error @+1 {{failed to parse G4_KvStorage parameter 'value'}}
  %a = g4.attention %q kv(%q, %q) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, g4.kv_storage = #g4.kv_storage<f16>} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @kv_storage_string(%q: tensor<?x256xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{'g4.kv_storage' must be a #g4.kv_storage<...> attribute, got "bf16"}}
  %a = g4.attention %q kv(%q, %q) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, g4.kv_storage = "bf16"} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @round_rule_unknown(%x: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::g4::RoundRule to be one of: embed_scale, ple_scale, router, linear_out, norm_out, residual_add, moe_add, ple_add, gelu_out, gelu_mul, layer_scalar, attn_out, expert_sum}}
  // expected-error @+1 {{failed to parse G4_RoundRule parameter 'value'}}
  %y = g4.round_bf16 %x {rule = #g4.rule<softmax_out>, island = 0 : i64} : tensor<?x8xf32>
  return
}

// -----

func.func @round_rule_string(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.round_bf16' op attribute 'rule' failed to satisfy constraint}}
  %y = g4.round_bf16 %x {rule = "linear_out", island = 0 : i64} : tensor<?x8xf32>
  return
}

// -----

func.func @kv_storage_not_attention(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.kv_storage' belongs on g4.attention}}
  %y = g4.gelu_tanh %x {g4.kv_storage = #g4.kv_storage<bf16>} : tensor<?x8xf32>
  return
}

// -----

func.func @name_empty(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.name' must be a non-empty tensor name without '/'}}
  %y = g4.gelu_tanh %x {g4.name = ""} : tensor<?x8xf32>
  return
}

// -----

func.func @name_two_results(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.name' names the result of a one-result op}}
  %v, %i = g4.top_k %x {k = 2 : i64, g4.name = "top"} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @fused_arg_count(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.fused' op has 1 inputs but its block takes 2 arguments}}
  %y = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>):
    %g = g4.gelu_tanh %a : tensor<?x8xf32>
    g4.yield %g : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}

// -----

func.func @fused_arg_type(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'g4.fused' op input #0 has type 'tensor<?x8xf32>' but block argument #0 has type 'tensor<?x4xf32>'}}
  %y = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x4xf32>):
    %g = g4.gelu_tanh %a : tensor<?x4xf32>
    g4.yield %g : tensor<?x4xf32>
  }
  return %y : tensor<?x4xf32>
}

// -----

func.func @fused_yield_type(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'g4.fused' op yields 'tensor<?x8xf32>' as result #0 of type 'tensor<?x4xf32>'}}
  %y = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x8xf32>):
    %g = g4.gelu_tanh %a : tensor<?x8xf32>
    g4.yield %g : tensor<?x8xf32>
  }
  return %y : tensor<?x4xf32>
}

// -----

func.func @fused_yield_input(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.fused' op yields its input unchanged as result #0}}
  %y = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x8xf32>):
    g4.yield %a : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}

// -----

func.func @fused_kernel_name(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.fused' op kernel 'norm-3' must be a C identifier starting with 'g4k_'}}
  %y = g4.fused(%x) {kernel = "norm-3"} : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x8xf32>):
    %g = g4.gelu_tanh %a : tensor<?x8xf32>
    g4.yield %g : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}

// -----

func.func @fused_kernel_with_interpreted_op(%q: tensor<?x256xf32>, %pos: tensor<?xi32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{'g4.fused' op has kernel 'g4k_attn_0' but its body holds 'g4.attention', which only the runtime implements}}
  %y = g4.fused(%q, %pos) {kernel = "g4k_attn_0"} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32> {
  ^bb0(%a: tensor<?x256xf32>, %p: tensor<?xi32>):
    %o = g4.attention %a kv(%a, %a) at %p {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 0 : i64, kv_layer = 0 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    %r = g4.round_bf16 %o {rule = #g4.rule<attn_out>, island = 0 : i64} : tensor<?x256xf32>
    g4.yield %r : tensor<?x256xf32>
  }
  return %y : tensor<?x256xf32>
}

// -----

func.func @fused_kernel_inner_linear(%x: tensor<?x8xf32>, %w: !g4.weight<8x4 : f32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'g4.fused' op has kernel 'g4k_ffn_0' but a g4.linear inside reads a value of the region}}
  %y = g4.fused(%x, %w) {kernel = "g4k_ffn_0"} : (tensor<?x8xf32>, !g4.weight<8x4 : f32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x8xf32>, %b: !g4.weight<8x4 : f32>):
    %g = g4.gelu_tanh %a : tensor<?x8xf32>
    %l = g4.linear %g, %b : (tensor<?x8xf32>, !g4.weight<8x4 : f32>) -> tensor<?x4xf32>
    g4.yield %l : tensor<?x4xf32>
  }
  return %y : tensor<?x4xf32>
}

// -----

func.func @fused_weight_inside(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.fused' op may not contain 'g4.weight'}}
  %y = g4.fused(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x8xf32>):
    %w = g4.weight "w" : !g4.weight<8 : f32>
    %g = g4.channel_mul %a, %w : (tensor<?x8xf32>, !g4.weight<8 : f32>) -> tensor<?x8xf32>
    g4.yield %g : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}

// -----

func.func @yield_outside(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'g4.yield' op expects parent op 'g4.fused'}}
  g4.yield %x : tensor<?x8xf32>
}

// -----

func.func @slots_count(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.slots' has 2 slots for 1 results}}
  %y = g4.gelu_tanh %x {g4.slots = array<i64: 0, 1>} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @slots_negative(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'g4.slots' must be an array<i64> of values >= -1}}
  %y = g4.gelu_tanh %x {g4.slots = array<i64: -2>} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
