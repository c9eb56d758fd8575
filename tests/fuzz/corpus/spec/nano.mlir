// Gemma 4 spec 'nano', written by `gemma4c spec`. Format: docs/spec-format.md.
// 2 layers, hidden 32, vocab 640.
// Layers (S = sliding, F = full, lower case = KV-shared): SF

!tokens = tensor<?xi32>
!act_32 = tensor<?x32xf32>
!act_256 = tensor<?x256xf32>
!act_512 = tensor<?x512xf32>
!act_640 = tensor<?x640xf32>
!vec_1 = !g4.weight<1 : f32|f16|bf16>
!vec_32 = !g4.weight<32 : f32|f16|bf16>
!vec_256 = !g4.weight<256 : f32|f16|bf16>
!vec_512 = !g4.weight<512 : f32|f16|bf16>
!mat_32_32 = !g4.weight<32x32 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_32_256 = !g4.weight<32x256 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_32_512 = !g4.weight<32x512 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_32_640 = !g4.weight<32x640 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_256_32 = !g4.weight<256x32 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_512_32 = !g4.weight<512x32 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>

module attributes {g4.model = {
    name = "nano",
    vocab = 640 : i64,
    hidden = 32 : i64,
    layers = 2 : i64,
    heads = 1 : i64,
    head_dim_sliding = 256 : i64,
    head_dim_full = 512 : i64,
    kv_heads_sliding = 1 : i64,
    kv_heads_full = 1 : i64,
    sliding_window = 8 : i64,
    shared_kv_layers = 0 : i64,
    ple_dim = 0 : i64,
    experts = 0 : i64,
    experts_used = 0 : i64,
    expert_ff = 0 : i64,
    context_length = 64 : i64,
    rms_eps = 9.9999999999999995e-07 : f64,
    final_softcap = 30.0 : f64}} {
  func.func @forward(%tokens: !tokens, %pos: !tokens) -> !act_640 {
    // token embedding, scaled by sqrt(H) (§3.1)
    %w_token_embd = g4.weight "token_embd.weight" : !mat_32_640
    %embd = g4.embed %tokens, %w_token_embd : (!tokens, !mat_32_640) -> !act_32
    %inp_scaled = g4.scale %embd {factor = 5.6568542494923806 : f64, role = #g4.role<embed_scale>, g4.name = "inp_scaled"} : !act_32  // sqrt(H)
    // decoder layers
    %l_out0 = g4.decoder_layer 0 @sliding(%inp_scaled, %pos) : (!act_32, !tokens) -> !act_32
    %l_out1 = g4.decoder_layer 1 @full(%l_out0, %pos) : (!act_32, !tokens) -> !act_32
    // output: final norm, tied LM head, softcap (§3.8)
    %w_output_norm = g4.weight "output_norm.weight" : !vec_32
    %result_norm = g4.rms_norm %l_out1, %w_output_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64, g4.name = "result_norm"} : (!act_32, !vec_32) -> !act_32
    %logits_raw = g4.linear %result_norm, %w_token_embd : (!act_32, !mat_32_640) -> !act_640
    %result_output = g4.softcap %logits_raw {cap = 30.0 : f64, g4.name = "result_output"} : !act_640
    return %result_output : !act_640
  }

  // Layer kind 'sliding': sliding window, head dim 256, 1 KV head(s), owns its KV cache, MLP 32. Layers: 0.
  func.func private @sliding(%h: !act_32, %pos: !tokens) -> !act_32 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_32
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64, g4.name = "attn_norm"} : (!act_32, !vec_32) -> !act_32
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_32_256
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_32, !mat_32_256) -> !act_256
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_256, !vec_256) -> !act_256
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_256, !tokens) -> !act_256
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_32_256
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_32, !mat_32_256) -> !act_256
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_32_256
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_32, !mat_32_256) -> !act_256
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_256
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_256, !vec_256) -> !act_256
    %k = g4.rope %k_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Kcur"} : (!act_256, !tokens) -> !act_256
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 256 : i64, g4.name = "Vcur"} : (!act_256) -> !act_256
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 256 : i64, window = 8 : i64, g4.name = "kqv_out"} : (!act_256, !act_256, !act_256, !tokens) -> !act_256
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_256_32
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_256, !mat_256_32) -> !act_32
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_32
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_32
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_32
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_32_32
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_32_32
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_32_32
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_32, !mat_32_32) -> !act_32
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_32, !mat_32_32) -> !act_32
    %gate_act = g4.gelu_tanh %gate : !act_32
    %gate_up = g4.mul %gate_act, %up : !act_32
    %down = g4.linear %gate_up, %w_ffn_down : (!act_32, !mat_32_32) -> !act_32
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_32
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_32
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_32, !vec_1) -> !act_32
    return %out : !act_32
  }

  // Layer kind 'full': full attention, head dim 512, 1 KV head(s), owns its KV cache, MLP 32. Layers: 1.
  func.func private @full(%h: !act_32, %pos: !tokens) -> !act_32 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_32
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64, g4.name = "attn_norm"} : (!act_32, !vec_32) -> !act_32
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_32_512
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_32, !mat_32_512) -> !act_512
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_512, !vec_512) -> !act_512
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_512, !tokens, !vec_256) -> !act_512
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_32_512
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_32, !mat_32_512) -> !act_512
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_32_512
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_32, !mat_32_512) -> !act_512
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_512
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_512, !vec_512) -> !act_512
    %k = g4.rope %k_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Kcur"} : (!act_512, !tokens, !vec_256) -> !act_512
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 512 : i64, g4.name = "Vcur"} : (!act_512) -> !act_512
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 512 : i64, window = 0 : i64, g4.name = "kqv_out"} : (!act_512, !act_512, !act_512, !tokens) -> !act_512
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_512_32
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_512, !mat_512_32) -> !act_32
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_32
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_32
    // feed-forward half
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_32
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_32_32
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_32_32
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_32_32
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_32, !mat_32_32) -> !act_32
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_32, !mat_32_32) -> !act_32
    %gate_act = g4.gelu_tanh %gate : !act_32
    %gate_up = g4.mul %gate_act, %up : !act_32
    %down = g4.linear %gate_up, %w_ffn_down : (!act_32, !mat_32_32) -> !act_32
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_32
    %ffn_post = g4.rms_norm %down, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 32 : i64} : (!act_32, !vec_32) -> !act_32
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_32
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_32, !vec_1) -> !act_32
    return %out : !act_32
  }
}
