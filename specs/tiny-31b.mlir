// Gemma 4 spec 'tiny-31b', written by `gemma4c spec`. Format: docs/spec-format.md.
// 6 layers, hidden 128, vocab 1024.
// Layers (S = sliding, F = full, lower case = KV-shared): SSSSSF

!tokens = tensor<?xi32>
!act_128 = tensor<?x128xf32>
!act_256 = tensor<?x256xf32>
!act_512 = tensor<?x512xf32>
!act_1024 = tensor<?x1024xf32>
!vec_1 = !g4.weight<1 : f32|f16|bf16>
!vec_128 = !g4.weight<128 : f32|f16|bf16>
!vec_256 = !g4.weight<256 : f32|f16|bf16>
!vec_512 = !g4.weight<512 : f32|f16|bf16>
!mat_128_256 = !g4.weight<128x256 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_128_512 = !g4.weight<128x512 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_128_1024 = !g4.weight<128x1024 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_256_128 = !g4.weight<256x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_512_128 = !g4.weight<512x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_1024_128 = !g4.weight<1024x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>

module attributes {g4.model = {
    name = "tiny-31b",
    vocab = 1024 : i64,
    hidden = 128 : i64,
    layers = 6 : i64,
    heads = 2 : i64,
    head_dim_sliding = 256 : i64,
    head_dim_full = 512 : i64,
    kv_heads_sliding = 2 : i64,
    kv_heads_full = 1 : i64,
    sliding_window = 16 : i64,
    shared_kv_layers = 0 : i64,
    ple_dim = 0 : i64,
    experts = 0 : i64,
    experts_used = 0 : i64,
    expert_ff = 0 : i64,
    context_length = 1024 : i64,
    rms_eps = 9.9999999999999995e-07 : f64,
    final_softcap = 30.0 : f64}} {
  func.func @forward(%tokens: !tokens, %pos: !tokens) -> !act_1024 {
    // token embedding, scaled by sqrt(H) (§3.1)
    %w_token_embd = g4.weight "token_embd.weight" : !mat_128_1024
    %embd = g4.embed %tokens, %w_token_embd : (!tokens, !mat_128_1024) -> !act_128
    %inp_scaled = g4.scale %embd {factor = 11.313708498984761 : f64, role = #g4.role<embed_scale>, g4.name = "inp_scaled"} : !act_128  // sqrt(H)
    // decoder layers
    %l_out0 = g4.decoder_layer 0 @sliding(%inp_scaled, %pos) : (!act_128, !tokens) -> !act_128
    %l_out1 = g4.decoder_layer 1 @sliding(%l_out0, %pos) : (!act_128, !tokens) -> !act_128
    %l_out2 = g4.decoder_layer 2 @sliding(%l_out1, %pos) : (!act_128, !tokens) -> !act_128
    %l_out3 = g4.decoder_layer 3 @sliding(%l_out2, %pos) : (!act_128, !tokens) -> !act_128
    %l_out4 = g4.decoder_layer 4 @sliding(%l_out3, %pos) : (!act_128, !tokens) -> !act_128
    %l_out5 = g4.decoder_layer 5 @full(%l_out4, %pos) : (!act_128, !tokens) -> !act_128
    // output: final norm, tied LM head, softcap (§3.8)
    %w_output_norm = g4.weight "output_norm.weight" : !vec_128
    %result_norm = g4.rms_norm %l_out5, %w_output_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64, g4.name = "result_norm"} : (!act_128, !vec_128) -> !act_128
    %logits_raw = g4.linear %result_norm, %w_token_embd : (!act_128, !mat_128_1024) -> !act_1024
    %result_output = g4.softcap %logits_raw {cap = 30.0 : f64, g4.name = "result_output"} : !act_1024
    return %result_output : !act_1024
  }

  // Layer kind 'sliding': sliding window, head dim 256, 2 KV head(s), owns its KV cache, MLP 256. Layers: 0 1 2 3 4.
  func.func private @sliding(%h: !act_128, %pos: !tokens) -> !act_128 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_128
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64, g4.name = "attn_norm"} : (!act_128, !vec_128) -> !act_128
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_128_512
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_128, !mat_128_512) -> !act_512
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_512, !vec_256) -> !act_512
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_512, !tokens) -> !act_512
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_128_512
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_128, !mat_128_512) -> !act_512
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_128_512
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_128, !mat_128_512) -> !act_512
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_256
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_512, !vec_256) -> !act_512
    %k = g4.rope %k_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Kcur"} : (!act_512, !tokens) -> !act_512
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 256 : i64, g4.name = "Vcur"} : (!act_512) -> !act_512
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 256 : i64, window = 16 : i64, g4.name = "kqv_out"} : (!act_512, !act_512, !act_512, !tokens) -> !act_512
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_512_128
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_512, !mat_512_128) -> !act_128
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_128
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_128
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_128
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_128_256
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_128_256
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_256_128
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_128, !mat_128_256) -> !act_256
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_128, !mat_128_256) -> !act_256
    %gate_act = g4.gelu_tanh %gate : !act_256
    %gate_up = g4.mul %gate_act, %up : !act_256
    %down = g4.linear %gate_up, %w_ffn_down : (!act_256, !mat_256_128) -> !act_128
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_128
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_128
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_128, !vec_1) -> !act_128
    return %out : !act_128
  }

  // Layer kind 'full': full attention, head dim 512, 1 KV head(s), owns its KV cache, K = V, MLP 256. Layers: 5.
  func.func private @full(%h: !act_128, %pos: !tokens) -> !act_128 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_128
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64, g4.name = "attn_norm"} : (!act_128, !vec_128) -> !act_128
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_128_1024
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_128, !mat_128_1024) -> !act_1024
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_1024, !vec_512) -> !act_1024
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_1024, !tokens, !vec_256) -> !act_1024
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_128_512
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_128, !mat_128_512) -> !act_512
    // K = V: no attn_v; V starts from the raw K projection
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_512
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_512, !vec_512) -> !act_512
    %k = g4.rope %k_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Kcur"} : (!act_512, !tokens, !vec_256) -> !act_512
    %v = g4.rms_norm %k_proj {eps = 9.9999999999999995e-07 : f64, width = 512 : i64, g4.name = "Vcur"} : (!act_512) -> !act_512
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 512 : i64, window = 0 : i64, k_eq_v, g4.name = "kqv_out"} : (!act_1024, !act_512, !act_512, !tokens) -> !act_1024
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_1024_128
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_1024, !mat_1024_128) -> !act_128
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_128
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_128
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_128
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_128_256
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_128_256
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_256_128
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_128, !mat_128_256) -> !act_256
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_128, !mat_128_256) -> !act_256
    %gate_act = g4.gelu_tanh %gate : !act_256
    %gate_up = g4.mul %gate_act, %up : !act_256
    %down = g4.linear %gate_up, %w_ffn_down : (!act_256, !mat_256_128) -> !act_128
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_128
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 128 : i64} : (!act_128, !vec_128) -> !act_128
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_128
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_128, !vec_1) -> !act_128
    return %out : !act_128
  }
}
