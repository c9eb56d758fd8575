// Gemma 4 spec 'gemma4-e2b', written by `gemma4c spec`. Format: docs/spec-format.md.
// 35 layers, hidden 1536, vocab 262144, per-layer embeddings.
// Layers (S = sliding, F = full, lower case = KV-shared): SSSSFSSSSF SSSSFssssf ssssfssssf ssssf

!tokens = tensor<?xi32>
!act_256 = tensor<?x256xf32>
!act_512 = tensor<?x512xf32>
!act_1536 = tensor<?x1536xf32>
!act_2048 = tensor<?x2048xf32>
!act_4096 = tensor<?x4096xf32>
!act_6144 = tensor<?x6144xf32>
!act_8960 = tensor<?x8960xf32>
!act_12288 = tensor<?x12288xf32>
!act_262144 = tensor<?x262144xf32>
!vec_1 = !g4.weight<1 : f32|f16|bf16>
!vec_256 = !g4.weight<256 : f32|f16|bf16>
!vec_512 = !g4.weight<512 : f32|f16|bf16>
!vec_1536 = !g4.weight<1536 : f32|f16|bf16>
!mat_256_1536 = !g4.weight<256x1536 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_256 = !g4.weight<1536x256 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_512 = !g4.weight<1536x512 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_2048 = !g4.weight<1536x2048 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_4096 = !g4.weight<1536x4096 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_6144 = !g4.weight<1536x6144 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_8960 = !g4.weight<1536x8960 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_12288 = !g4.weight<1536x12288 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1536_262144 = !g4.weight<1536x262144 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2048_1536 = !g4.weight<2048x1536 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_4096_1536 = !g4.weight<4096x1536 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_6144_1536 = !g4.weight<6144x1536 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_8960_262144 = !g4.weight<8960x262144 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_12288_1536 = !g4.weight<12288x1536 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>

module attributes {g4.model = {
    name = "gemma4-e2b",
    vocab = 262144 : i64,
    hidden = 1536 : i64,
    layers = 35 : i64,
    heads = 8 : i64,
    head_dim_sliding = 256 : i64,
    head_dim_full = 512 : i64,
    kv_heads_sliding = 1 : i64,
    kv_heads_full = 1 : i64,
    sliding_window = 512 : i64,
    shared_kv_layers = 20 : i64,
    ple_dim = 256 : i64,
    experts = 0 : i64,
    experts_used = 0 : i64,
    expert_ff = 0 : i64,
    context_length = 131072 : i64,
    rms_eps = 9.9999999999999995e-07 : f64,
    final_softcap = 30.0 : f64}} {
  func.func @forward(%tokens: !tokens, %pos: !tokens) -> !act_262144 {
    // token embedding, scaled by sqrt(H) (§3.1)
    %w_token_embd = g4.weight "token_embd.weight" : !mat_1536_262144
    %embd = g4.embed %tokens, %w_token_embd : (!tokens, !mat_1536_262144) -> !act_1536
    %inp_scaled = g4.scale %embd {factor = 39.191835884530846 : f64, role = #g4.role<embed_scale>, g4.name = "inp_scaled"} : !act_1536  // sqrt(H)
    // per-layer embedding inputs (§3.2)
    %w_per_layer_token_embd = g4.weight "per_layer_token_embd.weight" : !mat_8960_262144
    %ple_tok_raw = g4.embed %tokens, %w_per_layer_token_embd : (!tokens, !mat_8960_262144) -> !act_8960
    %ple_tok = g4.scale %ple_tok_raw {factor = 16.0 : f64, role = #g4.role<ple_token_scale>} : !act_8960  // sqrt(P)
    %w_per_layer_model_proj = g4.weight "per_layer_model_proj.weight" : !mat_1536_8960
    %ple_ctx_raw = g4.linear %inp_scaled, %w_per_layer_model_proj : (!act_1536, !mat_1536_8960) -> !act_8960
    %ple_ctx_scaled = g4.scale %ple_ctx_raw {factor = 0.025515518153991442 : f64, role = #g4.role<ple_proj_scale>} : !act_8960  // H^-1/2
    %w_per_layer_proj_norm = g4.weight "per_layer_proj_norm.weight" : !vec_256
    %ple_ctx = g4.rms_norm %ple_ctx_scaled, %w_per_layer_proj_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_8960, !vec_256) -> !act_8960
    %ple_sum = g4.add %ple_ctx, %ple_tok : !act_8960
    %ple = g4.scale %ple_sum {factor = 0.70710678118654746 : f64, role = #g4.role<ple_combine_scale>} : !act_8960  // 2^-1/2
    // decoder layers
    %l_out0 = g4.decoder_layer 0 @sliding(%inp_scaled, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out1 = g4.decoder_layer 1 @sliding(%l_out0, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out2 = g4.decoder_layer 2 @sliding(%l_out1, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out3 = g4.decoder_layer 3 @sliding(%l_out2, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out4 = g4.decoder_layer 4 @full(%l_out3, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out5 = g4.decoder_layer 5 @sliding(%l_out4, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out6 = g4.decoder_layer 6 @sliding(%l_out5, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out7 = g4.decoder_layer 7 @sliding(%l_out6, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out8 = g4.decoder_layer 8 @sliding(%l_out7, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out9 = g4.decoder_layer 9 @full(%l_out8, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out10 = g4.decoder_layer 10 @sliding(%l_out9, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out11 = g4.decoder_layer 11 @sliding(%l_out10, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out12 = g4.decoder_layer 12 @sliding(%l_out11, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out13 = g4.decoder_layer 13 @sliding(%l_out12, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out14 = g4.decoder_layer 14 @full(%l_out13, %ple, %pos) : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out15 = g4.decoder_layer 15 @sliding_shared(%l_out14, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out16 = g4.decoder_layer 16 @sliding_shared(%l_out15, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out17 = g4.decoder_layer 17 @sliding_shared(%l_out16, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out18 = g4.decoder_layer 18 @sliding_shared(%l_out17, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out19 = g4.decoder_layer 19 @full_shared(%l_out18, %ple, %pos) {kv_source = 14 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out20 = g4.decoder_layer 20 @sliding_shared(%l_out19, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out21 = g4.decoder_layer 21 @sliding_shared(%l_out20, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out22 = g4.decoder_layer 22 @sliding_shared(%l_out21, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out23 = g4.decoder_layer 23 @sliding_shared(%l_out22, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out24 = g4.decoder_layer 24 @full_shared(%l_out23, %ple, %pos) {kv_source = 14 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out25 = g4.decoder_layer 25 @sliding_shared(%l_out24, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out26 = g4.decoder_layer 26 @sliding_shared(%l_out25, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out27 = g4.decoder_layer 27 @sliding_shared(%l_out26, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out28 = g4.decoder_layer 28 @sliding_shared(%l_out27, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out29 = g4.decoder_layer 29 @full_shared(%l_out28, %ple, %pos) {kv_source = 14 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out30 = g4.decoder_layer 30 @sliding_shared(%l_out29, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out31 = g4.decoder_layer 31 @sliding_shared(%l_out30, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out32 = g4.decoder_layer 32 @sliding_shared(%l_out31, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out33 = g4.decoder_layer 33 @sliding_shared(%l_out32, %ple, %pos) {kv_source = 13 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    %l_out34 = g4.decoder_layer 34 @full_shared(%l_out33, %ple, %pos) {kv_source = 14 : i64} : (!act_1536, !act_8960, !tokens) -> !act_1536
    // output: final norm, tied LM head, softcap (§3.8)
    %w_output_norm = g4.weight "output_norm.weight" : !vec_1536
    %result_norm = g4.rms_norm %l_out34, %w_output_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64, g4.name = "result_norm"} : (!act_1536, !vec_1536) -> !act_1536
    %logits_raw = g4.linear %result_norm, %w_token_embd : (!act_1536, !mat_1536_262144) -> !act_262144
    %result_output = g4.softcap %logits_raw {cap = 30.0 : f64, g4.name = "result_output"} : !act_262144
    return %result_output : !act_262144
  }

  // Layer kind 'sliding': sliding window, head dim 256, 1 KV head(s), owns its KV cache, MLP 6144. Layers: 0 1 2 3 5 6 7 8 10 11 12 13.
  func.func private @sliding(%h: !act_1536, %ple: !act_8960, %pos: !tokens) -> !act_1536 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_1536
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64, g4.name = "attn_norm"} : (!act_1536, !vec_1536) -> !act_1536
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_1536_2048
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_1536, !mat_1536_2048) -> !act_2048
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_2048, !vec_256) -> !act_2048
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_2048, !tokens) -> !act_2048
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_1536_256
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_1536, !mat_1536_256) -> !act_256
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_1536_256
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_1536, !mat_1536_256) -> !act_256
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_256
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_256, !vec_256) -> !act_256
    %k = g4.rope %k_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Kcur"} : (!act_256, !tokens) -> !act_256
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 256 : i64, g4.name = "Vcur"} : (!act_256) -> !act_256
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 8 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 512 : i64, g4.name = "kqv_out"} : (!act_2048, !act_256, !act_256, !tokens) -> !act_2048
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_2048_1536
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_2048, !mat_2048_1536) -> !act_1536
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_1536
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_1536
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_1536
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_1536_6144
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_1536_6144
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_6144_1536
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_1536, !mat_1536_6144) -> !act_6144
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_1536, !mat_1536_6144) -> !act_6144
    %gate_act = g4.gelu_tanh %gate : !act_6144
    %gate_up = g4.mul %gate_act, %up : !act_6144
    %down = g4.linear %gate_up, %w_ffn_down : (!act_6144, !mat_6144_1536) -> !act_1536
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_1536
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_1536
    // per-layer embedding injection
    %ple_in = g4.ple_slice %ple {g4.name = "per_layer_inp"} : (!act_8960) -> !act_256
    %w_inp_gate = g4.weight "blk.{i}.inp_gate.weight" : !mat_1536_256
    %ple_gate = g4.linear %h_ffn, %w_inp_gate : (!act_1536, !mat_1536_256) -> !act_256
    %ple_gate_act = g4.gelu_tanh %ple_gate : !act_256
    %ple_gated = g4.mul %ple_gate_act, %ple_in : !act_256
    %w_proj = g4.weight "blk.{i}.proj.weight" : !mat_256_1536
    %ple_proj = g4.linear %ple_gated, %w_proj : (!act_256, !mat_256_1536) -> !act_1536
    %w_post_norm = g4.weight "blk.{i}.post_norm.weight" : !vec_1536
    %ple_post = g4.rms_norm %ple_proj, %w_post_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ple = g4.add %h_ffn, %ple_post : !act_1536
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ple, %w_layer_output_scale {g4.name = "l_out"} : (!act_1536, !vec_1) -> !act_1536
    return %out : !act_1536
  }

  // Layer kind 'full': full attention, head dim 512, 1 KV head(s), owns its KV cache, MLP 6144. Layers: 4 9 14.
  func.func private @full(%h: !act_1536, %ple: !act_8960, %pos: !tokens) -> !act_1536 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_1536
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64, g4.name = "attn_norm"} : (!act_1536, !vec_1536) -> !act_1536
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_1536_4096
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_1536, !mat_1536_4096) -> !act_4096
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_4096, !vec_512) -> !act_4096
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_4096, !tokens, !vec_256) -> !act_4096
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_1536_512
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_1536, !mat_1536_512) -> !act_512
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_1536_512
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_1536, !mat_1536_512) -> !act_512
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_512
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_512, !vec_512) -> !act_512
    %k = g4.rope %k_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Kcur"} : (!act_512, !tokens, !vec_256) -> !act_512
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 512 : i64, g4.name = "Vcur"} : (!act_512) -> !act_512
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 8 : i64, num_kv_heads = 1 : i64, head_dim = 512 : i64, window = 0 : i64, g4.name = "kqv_out"} : (!act_4096, !act_512, !act_512, !tokens) -> !act_4096
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_4096_1536
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_4096, !mat_4096_1536) -> !act_1536
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_1536
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_1536
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_1536
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_1536_6144
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_1536_6144
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_6144_1536
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_1536, !mat_1536_6144) -> !act_6144
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_1536, !mat_1536_6144) -> !act_6144
    %gate_act = g4.gelu_tanh %gate : !act_6144
    %gate_up = g4.mul %gate_act, %up : !act_6144
    %down = g4.linear %gate_up, %w_ffn_down : (!act_6144, !mat_6144_1536) -> !act_1536
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_1536
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_1536
    // per-layer embedding injection
    %ple_in = g4.ple_slice %ple {g4.name = "per_layer_inp"} : (!act_8960) -> !act_256
    %w_inp_gate = g4.weight "blk.{i}.inp_gate.weight" : !mat_1536_256
    %ple_gate = g4.linear %h_ffn, %w_inp_gate : (!act_1536, !mat_1536_256) -> !act_256
    %ple_gate_act = g4.gelu_tanh %ple_gate : !act_256
    %ple_gated = g4.mul %ple_gate_act, %ple_in : !act_256
    %w_proj = g4.weight "blk.{i}.proj.weight" : !mat_256_1536
    %ple_proj = g4.linear %ple_gated, %w_proj : (!act_256, !mat_256_1536) -> !act_1536
    %w_post_norm = g4.weight "blk.{i}.post_norm.weight" : !vec_1536
    %ple_post = g4.rms_norm %ple_proj, %w_post_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ple = g4.add %h_ffn, %ple_post : !act_1536
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ple, %w_layer_output_scale {g4.name = "l_out"} : (!act_1536, !vec_1) -> !act_1536
    return %out : !act_1536
  }

  // Layer kind 'sliding_shared': sliding window, head dim 256, 1 KV head(s), KV-shared, MLP 12288. Layers: 15 16 17 18 20 21 22 23 25 26 27 28 30 31 32 33.
  func.func private @sliding_shared(%h: !act_1536, %ple: !act_8960, %pos: !tokens) -> !act_1536 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_1536
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64, g4.name = "attn_norm"} : (!act_1536, !vec_1536) -> !act_1536
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_1536_2048
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_1536, !mat_1536_2048) -> !act_2048
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_2048, !vec_256) -> !act_2048
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_2048, !tokens) -> !act_2048
    // KV-shared: reads the cache of the instance's kv_source
    %attn = g4.attention %q at %pos {num_heads = 8 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 512 : i64, g4.name = "kqv_out"} : (!act_2048, !tokens) -> !act_2048
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_2048_1536
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_2048, !mat_2048_1536) -> !act_1536
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_1536
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_1536
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_1536
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_1536_12288
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_1536_12288
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_12288_1536
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_1536, !mat_1536_12288) -> !act_12288
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_1536, !mat_1536_12288) -> !act_12288
    %gate_act = g4.gelu_tanh %gate : !act_12288
    %gate_up = g4.mul %gate_act, %up : !act_12288
    %down = g4.linear %gate_up, %w_ffn_down : (!act_12288, !mat_12288_1536) -> !act_1536
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_1536
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_1536
    // per-layer embedding injection
    %ple_in = g4.ple_slice %ple {g4.name = "per_layer_inp"} : (!act_8960) -> !act_256
    %w_inp_gate = g4.weight "blk.{i}.inp_gate.weight" : !mat_1536_256
    %ple_gate = g4.linear %h_ffn, %w_inp_gate : (!act_1536, !mat_1536_256) -> !act_256
    %ple_gate_act = g4.gelu_tanh %ple_gate : !act_256
    %ple_gated = g4.mul %ple_gate_act, %ple_in : !act_256
    %w_proj = g4.weight "blk.{i}.proj.weight" : !mat_256_1536
    %ple_proj = g4.linear %ple_gated, %w_proj : (!act_256, !mat_256_1536) -> !act_1536
    %w_post_norm = g4.weight "blk.{i}.post_norm.weight" : !vec_1536
    %ple_post = g4.rms_norm %ple_proj, %w_post_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ple = g4.add %h_ffn, %ple_post : !act_1536
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ple, %w_layer_output_scale {g4.name = "l_out"} : (!act_1536, !vec_1) -> !act_1536
    return %out : !act_1536
  }

  // Layer kind 'full_shared': full attention, head dim 512, 1 KV head(s), KV-shared, MLP 12288. Layers: 19 24 29 34.
  func.func private @full_shared(%h: !act_1536, %ple: !act_8960, %pos: !tokens) -> !act_1536 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_1536
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64, g4.name = "attn_norm"} : (!act_1536, !vec_1536) -> !act_1536
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_1536_4096
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_1536, !mat_1536_4096) -> !act_4096
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_4096, !vec_512) -> !act_4096
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_4096, !tokens, !vec_256) -> !act_4096
    // KV-shared: reads the cache of the instance's kv_source
    %attn = g4.attention %q at %pos {num_heads = 8 : i64, num_kv_heads = 1 : i64, head_dim = 512 : i64, window = 0 : i64, g4.name = "kqv_out"} : (!act_4096, !tokens) -> !act_4096
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_4096_1536
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_4096, !mat_4096_1536) -> !act_1536
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_1536
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_1536
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_1536
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_1536_12288
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_1536_12288
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_12288_1536
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_1536, !mat_1536_12288) -> !act_12288
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_1536, !mat_1536_12288) -> !act_12288
    %gate_act = g4.gelu_tanh %gate : !act_12288
    %gate_up = g4.mul %gate_act, %up : !act_12288
    %down = g4.linear %gate_up, %w_ffn_down : (!act_12288, !mat_12288_1536) -> !act_1536
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_1536
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_1536
    // per-layer embedding injection
    %ple_in = g4.ple_slice %ple {g4.name = "per_layer_inp"} : (!act_8960) -> !act_256
    %w_inp_gate = g4.weight "blk.{i}.inp_gate.weight" : !mat_1536_256
    %ple_gate = g4.linear %h_ffn, %w_inp_gate : (!act_1536, !mat_1536_256) -> !act_256
    %ple_gate_act = g4.gelu_tanh %ple_gate : !act_256
    %ple_gated = g4.mul %ple_gate_act, %ple_in : !act_256
    %w_proj = g4.weight "blk.{i}.proj.weight" : !mat_256_1536
    %ple_proj = g4.linear %ple_gated, %w_proj : (!act_256, !mat_256_1536) -> !act_1536
    %w_post_norm = g4.weight "blk.{i}.post_norm.weight" : !vec_1536
    %ple_post = g4.rms_norm %ple_proj, %w_post_norm {eps = 9.9999999999999995e-07 : f64, width = 1536 : i64} : (!act_1536, !vec_1536) -> !act_1536
    %h_ple = g4.add %h_ffn, %ple_post : !act_1536
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ple, %w_layer_output_scale {g4.name = "l_out"} : (!act_1536, !vec_1) -> !act_1536
    return %out : !act_1536
  }
}
