#!/usr/bin/env python3
"""Write a tiny random Gemma 4 transformers checkpoint (for `gemma4c verify` and its test).

    make_checkpoint.py --kind e|moe|dense -o DIR [--seed N] [--window W] [--vocab V]

Kinds (every structural feature of the real variants, at toy sizes):
  e      E2B-like: per-layer embeddings, KV sharing (the last 2 of 6 layers), sliding + full
         layers (head dims 64 / 128), proportional RoPE on full layers, double-wide MLP on the
         KV-shared layers;
  moe    26B-A4B-like: the always-on MLP plus 8 experts, top-2, router scale and per-expert
         scale; K = V on the full layer;
  dense  31B-like: K = V on full layers, no PLE, no MoE.
Norm weights, the layer scalars and the router scales are drawn away from 1 so that every
weight matters. Saved with save_pretrained in bf16 with a small byte-fallback BPE tokenizer
(tokenizer.json) that llama.cpp's convert_hf_to_gguf.py accepts.
"""
import argparse
import json
import os
import sys


def tokenizer_files(out, vocab):
    """A minimal Gemma-style tokenizer: specials, 256 byte tokens, filler pieces; no merges."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    pieces = list(specials) + ["<0x%02X>" % b for b in range(256)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(pieces) < vocab:
        a, b = divmod(i, 26)
        p = ("\u2581" if i % 2 else "") + (letters[a % 26] if a else "") + letters[b]
        if p not in pieces:
            pieces.append(p)
        i += 1
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in enumerate(specials)],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": None, "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": {p: i for i, p in enumerate(pieces)}, "merges": []},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
                   "unk_token": "<unk>", "pad_token": "<pad>", "add_bos_token": True}, f)


def config_for(kind, vocab, window):
    from transformers.models.gemma4.configuration_gemma4 import Gemma4TextConfig
    common = dict(vocab_size=vocab, vocab_size_per_layer_input=vocab, hidden_size=128,
                  num_attention_heads=4, head_dim=64, global_head_dim=128, sliding_window=window,
                  max_position_embeddings=4096, final_logit_softcapping=30.0, rms_norm_eps=1e-6,
                  tie_word_embeddings=True)
    if kind == "e":
        return Gemma4TextConfig(**common, num_hidden_layers=6, intermediate_size=192, num_key_value_heads=1,
                                layer_types=["sliding_attention"] * 2 + ["full_attention"] +
                                ["sliding_attention"] * 2 + ["full_attention"],
                                hidden_size_per_layer_input=32, num_kv_shared_layers=2,
                                use_double_wide_mlp=True)
    if kind == "moe":
        return Gemma4TextConfig(**common, num_hidden_layers=4, intermediate_size=96, num_key_value_heads=2,
                                num_global_key_value_heads=1, attention_k_eq_v=True,
                                layer_types=["sliding_attention"] * 3 + ["full_attention"],
                                hidden_size_per_layer_input=0, enable_moe_block=True, num_experts=8,
                                top_k_experts=2, moe_intermediate_size=64)
    if kind == "dense":
        return Gemma4TextConfig(**common, num_hidden_layers=4, intermediate_size=256, num_key_value_heads=2,
                                num_global_key_value_heads=1, attention_k_eq_v=True,
                                layer_types=["sliding_attention"] * 3 + ["full_attention"],
                                hidden_size_per_layer_input=0)
    raise SystemExit("make_checkpoint: unknown --kind %r (e, moe, dense)" % kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", required=True, choices=["e", "moe", "dense"])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=512)
    a = ap.parse_args()
    import torch
    from transformers.models.gemma4.modeling_gemma4 import Gemma4ForCausalLM
    torch.manual_seed(a.seed)
    cfg = config_for(a.kind, a.vocab, a.window)
    model = Gemma4ForCausalLM(cfg).eval()
    g = torch.Generator().manual_seed(a.seed + 1000)
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("inv_freq") or name.endswith("embed_scale"):
                continue
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * (p.shape[-1] ** -0.5))
                if "embed_tokens" in name:
                    p.mul_(0.05)
            elif "q_norm" in name or "k_norm" in name:
                p.copy_(0.25 + 0.25 * torch.rand(p.shape, generator=g))   # scores of a few units
            elif name.endswith("layer_scalar"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:                                                          # norms, router scales
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
    model = model.to(torch.bfloat16)
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    tokenizer_files(a.out, a.vocab)
    print("wrote %s (%s, seed %d)" % (a.out, a.kind, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
