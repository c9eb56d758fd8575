// Gemma 4 spec 'gemma4-26b-a4b', written by `gemma4c spec`. Format: docs/spec-format.md.
// 30 layers, hidden 2816, vocab 262144, MoE.
// Layers (S = sliding, F = full, lower case = KV-shared): SSSSSFSSSS SFSSSSSFSS SSSFSSSSSF

!tokens = tensor<?xi32>
!act_8 = tensor<?x8xf32>
!act_128 = tensor<?x128xf32>
!act_1024 = tensor<?x1024xf32>
!act_2048 = tensor<?x2048xf32>
!act_2112 = tensor<?x2112xf32>
!act_2816 = tensor<?x2816xf32>
!act_4096 = tensor<?x4096xf32>
!act_8192 = tensor<?x8192xf32>
!act_262144 = tensor<?x262144xf32>
!vec_1 = !g4.weight<1 : f32|f16|bf16>
!vec_128 = !g4.weight<128 : f32|f16|bf16>
!vec_256 = !g4.weight<256 : f32|f16|bf16>
!vec_512 = !g4.weight<512 : f32|f16|bf16>
!vec_2816 = !g4.weight<2816 : f32|f16|bf16>
!mat_704_2816_128 = !g4.weight<704x2816x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2112_2816 = !g4.weight<2112x2816 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_128 = !g4.weight<2816x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_1024 = !g4.weight<2816x1024 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_1408_128 = !g4.weight<2816x1408x128 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_2048 = !g4.weight<2816x2048 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_2112 = !g4.weight<2816x2112 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_4096 = !g4.weight<2816x4096 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_8192 = !g4.weight<2816x8192 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_2816_262144 = !g4.weight<2816x262144 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_4096_2816 = !g4.weight<4096x2816 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>
!mat_8192_2816 = !g4.weight<8192x2816 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4>

module attributes {g4.model = {
    name = "gemma4-26b-a4b",
    vocab = 262144 : i64,
    hidden = 2816 : i64,
    layers = 30 : i64,
    heads = 16 : i64,
    head_dim_sliding = 256 : i64,
    head_dim_full = 512 : i64,
    kv_heads_sliding = 8 : i64,
    kv_heads_full = 2 : i64,
    sliding_window = 1024 : i64,
    shared_kv_layers = 0 : i64,
    ple_dim = 0 : i64,
    experts = 128 : i64,
    experts_used = 8 : i64,
    expert_ff = 704 : i64,
    context_length = 262144 : i64,
    rms_eps = 9.9999999999999995e-07 : f64,
    final_softcap = 30.0 : f64}} {
  func.func @forward(%tokens: !tokens, %pos: !tokens) -> !act_262144 {
    // token embedding, scaled by sqrt(H) (§3.1)
    %w_token_embd = g4.weight "token_embd.weight" : !mat_2816_262144
    %embd = g4.embed %tokens, %w_token_embd : (!tokens, !mat_2816_262144) -> !act_2816
    %inp_scaled = g4.scale %embd {factor = 53.065996645686397 : f64, role = #g4.role<embed_scale>, g4.name = "inp_scaled"} : !act_2816  // sqrt(H)
    // decoder layers
    %l_out0 = g4.decoder_layer 0 @sliding_moe(%inp_scaled, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out1 = g4.decoder_layer 1 @sliding_moe(%l_out0, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out2 = g4.decoder_layer 2 @sliding_moe(%l_out1, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out3 = g4.decoder_layer 3 @sliding_moe(%l_out2, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out4 = g4.decoder_layer 4 @sliding_moe(%l_out3, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out5 = g4.decoder_layer 5 @full_moe(%l_out4, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out6 = g4.decoder_layer 6 @sliding_moe(%l_out5, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out7 = g4.decoder_layer 7 @sliding_moe(%l_out6, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out8 = g4.decoder_layer 8 @sliding_moe(%l_out7, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out9 = g4.decoder_layer 9 @sliding_moe(%l_out8, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out10 = g4.decoder_layer 10 @sliding_moe(%l_out9, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out11 = g4.decoder_layer 11 @full_moe(%l_out10, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out12 = g4.decoder_layer 12 @sliding_moe(%l_out11, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out13 = g4.decoder_layer 13 @sliding_moe(%l_out12, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out14 = g4.decoder_layer 14 @sliding_moe(%l_out13, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out15 = g4.decoder_layer 15 @sliding_moe(%l_out14, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out16 = g4.decoder_layer 16 @sliding_moe(%l_out15, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out17 = g4.decoder_layer 17 @full_moe(%l_out16, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out18 = g4.decoder_layer 18 @sliding_moe(%l_out17, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out19 = g4.decoder_layer 19 @sliding_moe(%l_out18, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out20 = g4.decoder_layer 20 @sliding_moe(%l_out19, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out21 = g4.decoder_layer 21 @sliding_moe(%l_out20, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out22 = g4.decoder_layer 22 @sliding_moe(%l_out21, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out23 = g4.decoder_layer 23 @full_moe(%l_out22, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out24 = g4.decoder_layer 24 @sliding_moe(%l_out23, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out25 = g4.decoder_layer 25 @sliding_moe(%l_out24, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out26 = g4.decoder_layer 26 @sliding_moe(%l_out25, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out27 = g4.decoder_layer 27 @sliding_moe(%l_out26, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out28 = g4.decoder_layer 28 @sliding_moe(%l_out27, %pos) : (!act_2816, !tokens) -> !act_2816
    %l_out29 = g4.decoder_layer 29 @full_moe(%l_out28, %pos) : (!act_2816, !tokens) -> !act_2816
    // output: final norm, tied LM head, softcap (§3.8)
    %w_output_norm = g4.weight "output_norm.weight" : !vec_2816
    %result_norm = g4.rms_norm %l_out29, %w_output_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64, g4.name = "result_norm"} : (!act_2816, !vec_2816) -> !act_2816
    %logits_raw = g4.linear %result_norm, %w_token_embd : (!act_2816, !mat_2816_262144) -> !act_262144
    %result_output = g4.softcap %logits_raw {cap = 30.0 : f64, g4.name = "result_output"} : !act_262144
    return %result_output : !act_262144
  }

  // Layer kind 'sliding_moe': sliding window, head dim 256, 8 KV head(s), owns its KV cache, MoE, MLP 2112. Layers: 0 1 2 3 4 6 7 8 9 10 12 13 14 15 16 18 19 20 21 22 24 25 26 27 28.
  func.func private @sliding_moe(%h: !act_2816, %pos: !tokens) -> !act_2816 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_2816
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64, g4.name = "attn_norm"} : (!act_2816, !vec_2816) -> !act_2816
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_2816_4096
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_2816, !mat_2816_4096) -> !act_4096
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_256
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_4096, !vec_256) -> !act_4096
    %q = g4.rope %q_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Qcur"} : (!act_4096, !tokens) -> !act_4096
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_2816_2048
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_2816, !mat_2816_2048) -> !act_2048
    %w_attn_v = g4.weight "blk.{i}.attn_v.weight" : !mat_2816_2048
    %v_proj = g4.linear %attn_norm, %w_attn_v : (!act_2816, !mat_2816_2048) -> !act_2048
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_256
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 256 : i64} : (!act_2048, !vec_256) -> !act_2048
    %k = g4.rope %k_normed, %pos {mode = #g4.rope<default>, theta = 10000.0 : f64, head_dim = 256 : i64, rotary_dims = 256 : i64, g4.name = "Kcur"} : (!act_2048, !tokens) -> !act_2048
    %v = g4.rms_norm %v_proj {eps = 9.9999999999999995e-07 : f64, width = 256 : i64, g4.name = "Vcur"} : (!act_2048) -> !act_2048
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 16 : i64, num_kv_heads = 8 : i64, head_dim = 256 : i64, window = 1024 : i64, g4.name = "kqv_out"} : (!act_4096, !act_2048, !act_2048, !tokens) -> !act_4096
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_4096_2816
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_4096, !mat_4096_2816) -> !act_2816
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_2816
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_2816
    // feed-forward half: shared dense MLP + routed experts
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_2816
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_2816_2112
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_2816_2112
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_2112_2816
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_2816, !mat_2816_2112) -> !act_2112
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_2816, !mat_2816_2112) -> !act_2112
    %gate_act = g4.gelu_tanh %gate : !act_2112
    %gate_up = g4.mul %gate_act, %up : !act_2112
    %down = g4.linear %gate_up, %w_ffn_down : (!act_2112, !mat_2112_2816) -> !act_2816
    %w_post_ffw_norm_1 = g4.weight "blk.{i}.post_ffw_norm_1.weight" : !vec_2816
    %mlp_out = g4.rms_norm %down, %w_post_ffw_norm_1 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    // router (§3.5 R1-R8)
    %router_in = g4.rms_norm %h_attn {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816) -> !act_2816
    %w_ffn_gate_inp_scale = g4.weight "blk.{i}.ffn_gate_inp.scale" : !vec_2816
    %router_scaled = g4.channel_mul %router_in, %w_ffn_gate_inp_scale : (!act_2816, !vec_2816) -> !act_2816
    %router_root = g4.scale %router_scaled {factor = 0.018844459036110227 : f64, role = #g4.role<router_root_scale>} : !act_2816  // H^-1/2
    %w_ffn_gate_inp = g4.weight "blk.{i}.ffn_gate_inp.weight" : !mat_2816_128
    %router_logits = g4.linear %router_root, %w_ffn_gate_inp : (!act_2816, !mat_2816_128) -> !act_128
    %router_probs = g4.softmax %router_logits : !act_128
    %top_w, %top_i = g4.top_k %router_probs {k = 8 : i64} : (!act_128) -> (!act_8, tensor<?x8xi32>)
    %top_w_norm = g4.renormalize %top_w : !act_8
    %w_ffn_down_exps_scale = g4.weight "blk.{i}.ffn_down_exps.scale" : !vec_128
    %expert_w = g4.expert_scale %top_w_norm, %top_i, %w_ffn_down_exps_scale : (!act_8, tensor<?x8xi32>, !vec_128) -> !act_8
    // experts (§3.5 E1-E5)
    %w_pre_ffw_norm_2 = g4.weight "blk.{i}.pre_ffw_norm_2.weight" : !vec_2816
    %experts_in = g4.rms_norm %h_attn, %w_pre_ffw_norm_2 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %w_ffn_gate_up_exps = g4.weight "blk.{i}.ffn_gate_up_exps.weight" : !mat_2816_1408_128
    %w_ffn_down_exps = g4.weight "blk.{i}.ffn_down_exps.weight" : !mat_704_2816_128
    %experts = g4.expert_ffn %experts_in, %expert_w, %top_i, %w_ffn_gate_up_exps, %w_ffn_down_exps {num_experts = 128 : i64, top_k = 8 : i64, expert_ff = 704 : i64} : (!act_2816, !act_8, tensor<?x8xi32>, !mat_2816_1408_128, !mat_704_2816_128) -> !act_2816
    %w_post_ffw_norm_2 = g4.weight "blk.{i}.post_ffw_norm_2.weight" : !vec_2816
    %moe_out = g4.rms_norm %experts, %w_post_ffw_norm_2 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %ffn_sum = g4.add %mlp_out, %moe_out : !act_2816
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_2816
    %ffn_post = g4.rms_norm %ffn_sum, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_2816
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_2816, !vec_1) -> !act_2816
    return %out : !act_2816
  }

  // Layer kind 'full_moe': full attention, head dim 512, 2 KV head(s), owns its KV cache, K = V, MoE, MLP 2112. Layers: 5 11 17 23 29.
  func.func private @full_moe(%h: !act_2816, %pos: !tokens) -> !act_2816 {
    // attention half
    %w_attn_norm = g4.weight "blk.{i}.attn_norm.weight" : !vec_2816
    %attn_norm = g4.rms_norm %h, %w_attn_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64, g4.name = "attn_norm"} : (!act_2816, !vec_2816) -> !act_2816
    %w_attn_q = g4.weight "blk.{i}.attn_q.weight" : !mat_2816_8192
    %q_proj = g4.linear %attn_norm, %w_attn_q : (!act_2816, !mat_2816_8192) -> !act_8192
    %w_attn_q_norm = g4.weight "blk.{i}.attn_q_norm.weight" : !vec_512
    %q_normed = g4.rms_norm %q_proj, %w_attn_q_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_8192, !vec_512) -> !act_8192
    %w_rope_freqs = g4.weight "rope_freqs.weight" : !vec_256
    %q = g4.rope %q_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Qcur"} : (!act_8192, !tokens, !vec_256) -> !act_8192
    %w_attn_k = g4.weight "blk.{i}.attn_k.weight" : !mat_2816_1024
    %k_proj = g4.linear %attn_norm, %w_attn_k : (!act_2816, !mat_2816_1024) -> !act_1024
    // K = V: no attn_v; V starts from the raw K projection
    %w_attn_k_norm = g4.weight "blk.{i}.attn_k_norm.weight" : !vec_512
    %k_normed = g4.rms_norm %k_proj, %w_attn_k_norm {eps = 9.9999999999999995e-07 : f64, width = 512 : i64} : (!act_1024, !vec_512) -> !act_1024
    %k = g4.rope %k_normed, %pos, %w_rope_freqs {mode = #g4.rope<proportional>, theta = 1000000.0 : f64, head_dim = 512 : i64, rotary_dims = 128 : i64, g4.name = "Kcur"} : (!act_1024, !tokens, !vec_256) -> !act_1024
    %v = g4.rms_norm %k_proj {eps = 9.9999999999999995e-07 : f64, width = 512 : i64, g4.name = "Vcur"} : (!act_1024) -> !act_1024
    %attn = g4.attention %q kv(%k, %v) at %pos {num_heads = 16 : i64, num_kv_heads = 2 : i64, head_dim = 512 : i64, window = 0 : i64, k_eq_v, g4.name = "kqv_out"} : (!act_8192, !act_1024, !act_1024, !tokens) -> !act_8192
    %w_attn_output = g4.weight "blk.{i}.attn_output.weight" : !mat_8192_2816
    %attn_proj = g4.linear %attn, %w_attn_output : (!act_8192, !mat_8192_2816) -> !act_2816
    %w_post_attention_norm = g4.weight "blk.{i}.post_attention_norm.weight" : !vec_2816
    %attn_post = g4.rms_norm %attn_proj, %w_post_attention_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %h_attn = g4.add %h, %attn_post {g4.name = "attn_out"} : !act_2816
    // feed-forward half: shared dense MLP + routed experts
    %w_ffn_norm = g4.weight "blk.{i}.ffn_norm.weight" : !vec_2816
    %ffn_in = g4.rms_norm %h_attn, %w_ffn_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %w_ffn_gate = g4.weight "blk.{i}.ffn_gate.weight" : !mat_2816_2112
    %w_ffn_up = g4.weight "blk.{i}.ffn_up.weight" : !mat_2816_2112
    %w_ffn_down = g4.weight "blk.{i}.ffn_down.weight" : !mat_2112_2816
    %gate = g4.linear %ffn_in, %w_ffn_gate : (!act_2816, !mat_2816_2112) -> !act_2112
    %up = g4.linear %ffn_in, %w_ffn_up : (!act_2816, !mat_2816_2112) -> !act_2112
    %gate_act = g4.gelu_tanh %gate : !act_2112
    %gate_up = g4.mul %gate_act, %up : !act_2112
    %down = g4.linear %gate_up, %w_ffn_down : (!act_2112, !mat_2112_2816) -> !act_2816
    %w_post_ffw_norm_1 = g4.weight "blk.{i}.post_ffw_norm_1.weight" : !vec_2816
    %mlp_out = g4.rms_norm %down, %w_post_ffw_norm_1 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    // router (§3.5 R1-R8)
    %router_in = g4.rms_norm %h_attn {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816) -> !act_2816
    %w_ffn_gate_inp_scale = g4.weight "blk.{i}.ffn_gate_inp.scale" : !vec_2816
    %router_scaled = g4.channel_mul %router_in, %w_ffn_gate_inp_scale : (!act_2816, !vec_2816) -> !act_2816
    %router_root = g4.scale %router_scaled {factor = 0.018844459036110227 : f64, role = #g4.role<router_root_scale>} : !act_2816  // H^-1/2
    %w_ffn_gate_inp = g4.weight "blk.{i}.ffn_gate_inp.weight" : !mat_2816_128
    %router_logits = g4.linear %router_root, %w_ffn_gate_inp : (!act_2816, !mat_2816_128) -> !act_128
    %router_probs = g4.softmax %router_logits : !act_128
    %top_w, %top_i = g4.top_k %router_probs {k = 8 : i64} : (!act_128) -> (!act_8, tensor<?x8xi32>)
    %top_w_norm = g4.renormalize %top_w : !act_8
    %w_ffn_down_exps_scale = g4.weight "blk.{i}.ffn_down_exps.scale" : !vec_128
    %expert_w = g4.expert_scale %top_w_norm, %top_i, %w_ffn_down_exps_scale : (!act_8, tensor<?x8xi32>, !vec_128) -> !act_8
    // experts (§3.5 E1-E5)
    %w_pre_ffw_norm_2 = g4.weight "blk.{i}.pre_ffw_norm_2.weight" : !vec_2816
    %experts_in = g4.rms_norm %h_attn, %w_pre_ffw_norm_2 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %w_ffn_gate_up_exps = g4.weight "blk.{i}.ffn_gate_up_exps.weight" : !mat_2816_1408_128
    %w_ffn_down_exps = g4.weight "blk.{i}.ffn_down_exps.weight" : !mat_704_2816_128
    %experts = g4.expert_ffn %experts_in, %expert_w, %top_i, %w_ffn_gate_up_exps, %w_ffn_down_exps {num_experts = 128 : i64, top_k = 8 : i64, expert_ff = 704 : i64} : (!act_2816, !act_8, tensor<?x8xi32>, !mat_2816_1408_128, !mat_704_2816_128) -> !act_2816
    %w_post_ffw_norm_2 = g4.weight "blk.{i}.post_ffw_norm_2.weight" : !vec_2816
    %moe_out = g4.rms_norm %experts, %w_post_ffw_norm_2 {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %ffn_sum = g4.add %mlp_out, %moe_out : !act_2816
    %w_post_ffw_norm = g4.weight "blk.{i}.post_ffw_norm.weight" : !vec_2816
    %ffn_post = g4.rms_norm %ffn_sum, %w_post_ffw_norm {eps = 9.9999999999999995e-07 : f64, width = 2816 : i64} : (!act_2816, !vec_2816) -> !act_2816
    %h_ffn = g4.add %h_attn, %ffn_post {g4.name = "ffn_out"} : !act_2816
    %w_layer_output_scale = g4.weight "blk.{i}.layer_output_scale.weight" : !vec_1
    %out = g4.layer_scalar %h_ffn, %w_layer_output_scale {g4.name = "l_out"} : (!act_2816, !vec_1) -> !act_2816
    return %out : !act_2816
  }
}
