// Gemma 4 spec 'gemma4-31b', written by `gemma4c spec`. Format: docs/spec-format.md.
// 60 layers, hidden 5376, vocab 262144.
// Layers (S = sliding, F = full, lower case = KV-shared): SSSSSFSSSS SFSSSSSFSS SSSFSSSSSF SSSSSFSSSS SFSSSSSFSS SSSFSSSSSF

!tokens = tensor<?xi32>
!act_2048 = tensor<?x2048xf32>
!act_4096 = tensor<?x4096xf32>
!act_5376 = tensor<?x5376xf32>
!act_8192 = tensor<?x8192xf32>
!act_16384 = tensor<?x16384xf32>
!act_21504 = tensor<?x21504xf32>
!act_262144 = tensor<?x262144xf32>
!vec_1 = !g4.weight<1 : f32|f16|bf16>
!vec_256 = !g4.weight<256 : f32|f16|bf16>
!vec_512 = !g4.weight<512 : f32|f16|bf16>
!vec_5376 = !g4.weight<5376 : f32|f16|bf16>
!mat_5376_2048 = !g4.weight<5376x2048 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_5376_4096 = !g4.weight<5376x4096 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_5376_8192 = !g4.weight<5376x8192 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_5376_16384 = !g4.weight<5376x16384 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_5376_21504 = !g4.weight<5376x21504 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_5376_262144 = !g4.weight<5376x262144 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_8192_5376 = !g4.weight<8192x5376 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_16384_5376 = !g4.weight<16384x5376 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_21504_5376 = !g4.weight<21504x5376 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>

module attributes {g4.model = {
    name = "gemma4-31b",
    vocab = 262144 : i64,
    hidden = 5376 : i64,
    layers = 60 : i64,
    heads = 32 : i64,
    head_dim_sliding = 256 : i64,
    head_dim_full = 512 : i64,
    kv_heads_sliding = 16 : i64,
    kv_heads_full = 4 : i64,
    sliding_window = 1024 : i64,
    shared_kv_layers = 0 : i64,
    ple_dim = 0 : i64,
    experts = 0 : i64,
    experts_used = 0 : i64,
    expert_ff = 0 : i64,
    context_length = 262144 : i64,
    rms_eps = 9.9999999999999995e-07 : f64,
    final_softcap = 30.0 : f64}} {
  func.func @forward(%tokens: !tokens, %pos: !tokens) -> !act_262144 {
    // token embedding, scaled by sqrt(H) (§3.1)
    %w_token_embd = g4.weight "token_embd.weight" : !mat_5376_262144
    %embd = g4.embed %tokens, %w_token_embd : (!tokens, !mat_5376_262144) -> !act_5376
    %inp_scaled = g4.scale %embd {factor = 73.321211119293437 : f64, role = #g4.role<embed_scale>, g4.name = "inp_scaled"} : !act_5376  // sqrt(H)
    // decoder layers
    %l_out0 = g4.decoder_layer 0 @sliding(%inp_scaled, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out1 = g4.decoder_layer 1 @sliding(%l_out0, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out2 = g4.decoder_layer 2 @sliding(%l_out1, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out3 = g4.decoder_layer 3 @sliding(%l_out2, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out4 = g4.decoder_layer 4 @sliding(%l_out3, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out5 = g4.decoder_layer 5 @full(%l_out4, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out6 = g4.decoder_layer 6 @sliding(%l_out5, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out7 = g4.decoder_layer 7 @sliding(%l_out6, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out8 = g4.decoder_layer 8 @sliding(%l_out7, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out9 = g4.decoder_layer 9 @sliding(%l_out8, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out10 = g4.decoder_layer 10 @sliding(%l_out9, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out11 = g4.decoder_layer 11 @full(%l_out10, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out12 = g4.decoder_layer 12 @sliding(%l_out11, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out13 = g4.decoder_layer 13 @sliding(%l_out12, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out14 = g4.decoder_layer 14 @sliding(%l_out13, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out15 = g4.decoder_layer 15 @sliding(%l_out14, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out16 = g4.decoder_layer 16 @sliding(%l_out15, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out17 = g4.decoder_layer 17 @full(%l_out16, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out18 = g4.decoder_layer 18 @sliding(%l_out17, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out19 = g4.decoder_layer 19 @sliding(%l_out18, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out20 = g4.decoder_layer 20 @sliding(%l_out19, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out21 = g4.decoder_layer 21 @sliding(%l_out20, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out22 = g4.decoder_layer 22 @sliding(%l_out21, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out23 = g4.decoder_layer 23 @full(%l_out22, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out24 = g4.decoder_layer 24 @sliding(%l_out23, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out25 = g4.decoder_layer 25 @sliding(%l_out24, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out26 = g4.decoder_layer 26 @sliding(%l_out25, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out27 = g4.decoder_layer 27 @sliding(%l_out26, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out28 = g4.decoder_layer 28 @sliding(%l_out27, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out29 = g4.decoder_layer 29 @full(%l_out28, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out30 = g4.decoder_layer 30 @sliding(%l_out29, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out31 = g4.decoder_layer 31 @sliding(%l_out30, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out32 = g4.decoder_layer 32 @sliding(%l_out31, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out33 = g4.decoder_layer 33 @sliding(%l_out32, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out34 = g4.decoder_layer 34 @sliding(%l_out33, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out35 = g4.decoder_layer 35 @full(%l_out34, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out36 = g4.decoder_layer 36 @sliding(%l_out35, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out37 = g4.decoder_layer 37 @sliding(%l_out36, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out38 = g4.decoder_layer 38 @sliding(%l_out37, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out39 = g4.decoder_layer 39 @sliding(%l_out38, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out40 = g4.decoder_layer 40 @sliding(%l_out39, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out41 = g4.decoder_layer 41 @full(%l_out40, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out42 = g4.decoder_layer 42 @sliding(%l_out41, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out43 = g4.decoder_layer 43 @sliding(%l_out42, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out44 = g4.decoder_layer 44 @sliding(%l_out43, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out45 = g4.decoder_layer 45 @sliding(%l_out44, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out46 = g4.decoder_layer 46 @sliding(%l_out45, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out47 = g4.decoder_layer 47 @full(%l_out46, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out48 = g4.decoder_layer 48 @sliding(%l_out47, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out49 = g4.decoder_layer 49 @sliding(%l_out48, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out50 = g4.decoder_layer 50 @sliding(%l_out49, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out51 = g4.decoder_layer 51 @sliding(%l_out50, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out52 = g4.decoder_layer 52 @sliding(%l_out51, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out53 = g4.decoder_layer 53 @full(%l_out52, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out54 = g4.decoder_layer 54 @sliding(%l_out53, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out55 = g4.decoder_layer 55 @sliding(%l_out54, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out56 = g4.decoder_layer 56 @sliding(%l_out55, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out57 = g4.decoder_layer 57 @sliding(%l_out56, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out58 = g4.decoder_layer 58 @sliding(%l_out57, %pos) : (!act_5376, !tokens) -> !act_5376
    %l_out59 = g4.decoder_layer 59 @full(%l_out58, %pos) : (!act_5376, !tokens) -> !act_5376
    // output: final norm, tied LM head, softcap (§3.8)
    %w_output_norm = g4.weight "output_norm.weight" : !vec_5376
    %result_norm = g4.rms_norm %l_out59, %w_output_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64, g4.name = "result_norm"} : (!act_5376, !vec_5376) -> !act_5376
    %logits_raw = g4.linear %result_norm, %w_token_embd : (!act_5376, !mat_5376_262144) -> !act_262144
    %result_output = g4.softcap %logits_raw {cap = 30.0 : f64, g4.name = "result_output"} : !act_262144
    return %result_output : !act_262144
  }

  // Layer kind 'sliding': sliding window, head dim 256, 16 KV head(s), owns its KV cache, MLP 21504. Layers: 0 1 2 3 4 6 7 8 9 10 12 13 14 15 16 18 19 20 21 22 24 25 26 27 28 30 31 32 33 34 36 37 38 39 40 42 43 44 45 46 48 49 50 51 52 54 55 56 57 58.
  func.func private @sliding(%h: !act_5376, %pos: !tokens) -> !act_5376 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_5376
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64, g4.name = "attn_norm"} : (!act_5376, !vec_5376) -> !act_5376
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_5376_8192
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_5376, !mat_5376_8192) -> !act_8192
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_8192, !vec_256) -> !act_8192
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_8192, !tokens) -> !act_8192
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_5376_4096
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_5376, !mat_5376_4096) -> !act_4096
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_5376_4096
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_5376, !mat_5376_4096) -> !act_4096
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_256
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_4096, !vec_256) -> !act_4096
    %k = g4.rope %k_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Kcur"} : (!act_4096, !tokens) -> !act_4096
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 256 : i64, g4.name = "Vcur"} : (!act_4096) -> !act_4096
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 32 : i64, num_kv_heads = 16 : i64, head_dim = 256 : i64, window = 1024 : i64, g4.name = "kqv_out"} : (!act_8192, !act_4096, !act_4096, !tokens) -> !act_8192
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_8192_5376
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_8192, !mat_8192_5376) -> !act_5376
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_5376
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_5376
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_5376
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_5376_21504
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_5376_21504
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_21504_5376
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_5376, !mat_5376_21504) -> !act_21504
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_5376, !mat_5376_21504) -> !act_21504
    %gate_act = g4.gelu_tanh %gate : !act_21504
    %gate_up = g4.mul %gate_act, %up : !act_21504
    %down = g4.linear %gate_up, %w_ffn_down : (!act_21504, !mat_21504_5376) -> !act_5376
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_5376
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_5376
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_5376, !vec_1) -> !act_5376
    return %out : !act_5376
  }

  // Layer kind 'full': full attention, head dim 512, 4 KV head(s), owns its KV cache, K = V, MLP 21504. Layers: 5 11 17 23 29 35 41 47 53 59.
  func.func private @full(%h: !act_5376, %pos: !tokens) -> !act_5376 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_5376
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64, g4.name = "attn_norm"} : (!act_5376, !vec_5376) -> !act_5376
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_5376_16384
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_5376, !mat_5376_16384) -> !act_16384
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_16384, !vec_512) -> !act_16384
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_16384, !tokens, !vec_256) -> !act_16384
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_5376_2048
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_5376, !mat_5376_2048) -> !act_2048
    // K = V: no attn_v; V starts from the raw K projection
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_512
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_2048, !vec_512) -> !act_2048
    %k = g4.rope %k_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Kcur"} : (!act_2048, !tokens, !vec_256) -> !act_2048
    %v = g4.rms_norm %k_proj {eps = 9.9999999999999995e-07 : f64, width = 512 : i64, g4.name = "Vcur"} : (!act_2048) -> !act_2048
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 32 : i64, num_kv_heads = 4 : i64, head_dim = 512 : i64, window = 0 : i64, k_eq_v, g4.name = "kqv_out"} : (!act_16384, !act_2048, !act_2048, !tokens) -> !act_16384
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_16384_5376
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_16384, !mat_16384_5376) -> !act_5376
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_5376
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_5376
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_5376
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_5376_21504
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_5376_21504
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_21504_5376
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_5376, !mat_5376_21504) -> !act_21504
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_5376, !mat_5376_21504) -> !act_21504
    %gate_act = g4.gelu_tanh %gate : !act_21504
    %gate_up = g4.mul %gate_act, %up : !act_21504
    %down = g4.linear %gate_up, %w_ffn_down : (!act_21504, !mat_21504_5376) -> !act_5376
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_5376
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 5376 : i64} : (!act_5376, !vec_5376) -> !act_5376
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_5376
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_5376, !vec_1) -> !act_5376
    return %out : !act_5376
  }
}
