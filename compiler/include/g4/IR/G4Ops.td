//===- G4Ops.td - ops of the Gemma 4 forward pass ------------*- tablegen -*-===//
//
// Every op names the reference step it models (architecture spec §2-§3). Shapes: activations
// are `tensor<?xN>` rows of N features per token; weights are in GGUF ne order ([in, out] for
// matrices). Verifiers reject inconsistent shapes and attributes with a message naming the op,
// the operand and both sizes.
//
//===----------------------------------------------------------------------===//
#ifndef G4_OPS_TD
#define G4_OPS_TD

include "g4/IR/G4Base.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/CallInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

class G4_Op<string mnemonic, list<Trait> traits = []>
    : Op<G4_Dialect, mnemonic, traits>;

// Ops that compute a value from their operands alone. They are Pure so that CSE and DCE apply,
// and none has a folder, so no canonicalization can rewrite their numerics.
class G4_ComputeOp<string mnemonic, list<Trait> traits = []>
    : G4_Op<mnemonic, !listconcat([Pure], traits)> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Weights and embeddings
//===----------------------------------------------------------------------===//

def G4_WeightOp : G4_Op<"weight", [Pure]> {
  let summary = "a tensor of the GGUF file, by name";
  let description = [{
    `%w = g4.weight "blk.{i}.attn_q.weight" : !g4.weight<1536x2048 : bf16|q8_0>` binds a GGUF
    tensor. Inside a layer-kind function `{i}` stands for the layer index and is substituted by
    `g4-expand-layers`; after expansion every name is concrete and becomes a weight binding of
    the plan (name, shape, accepted dtypes).
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs G4_WeightType:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def G4_EmbedOp : G4_ComputeOp<"embed"> {
  let summary = "token embedding lookup: out[t] = table[:, tokens[t]]";
  let description = [{
    Rows of a `[W, V]` table (ne order: W features, V tokens) gathered by token id, exactly as
    stored (dequantized to f32). Used for `token_embd` (W = H) and for the per-layer token
    embeddings `per_layer_token_embd` (W = L*P).
  }];
  let arguments = (ins G4_Indices:$tokens, G4_WeightType:$table);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_ScaleOp : G4_ComputeOp<"scale", [SameOperandsAndResultType]> {
  let summary = "multiply by a compile-time constant";
  let description = [{
    `factor` holds the exact value of the constant (e.g. sqrt(1536) = 39.1918...); `role` says
    which constant of the reference it is, which decides whether the precision pass rounds it to
    bf16 (embedding scale) or keeps it fp32 (H^-1/2, 2^-1/2). After rounding, the original value
    is kept in `exact_factor`.
  }];
  let arguments = (ins G4_Activation:$input, F64Attr:$factor, G4_ConstRole:$role,
                       OptionalAttr<F64Attr>:$exact_factor);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Normalization and linear algebra
//===----------------------------------------------------------------------===//

def G4_RMSNormOp : G4_ComputeOp<"rms_norm"> {
  let summary = "RMSNorm over groups of `width` features, scaled when a weight is given";
  let description = [{
    y = x * (mean(x^2) + eps)^-1/2 [* w], computed per group of `width` consecutive features
    (width = the row for hidden-state norms, the head dim for q/k/v norms, P for the PLE norm).
    Without a weight it is the unscaled norm (V-norm, router input norm).
  }];
  let arguments = (ins G4_Activation:$input, Optional<G4_WeightType>:$weight,
                       F64Attr:$eps, I64Attr:$width);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_LinearOp : G4_ComputeOp<"linear"> {
  let summary = "y = x @ W^T with W a GGUF matrix of ne [in, out]";
  let arguments = (ins G4_Activation:$input, G4_WeightType:$weight);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_RopeOp : G4_ComputeOp<"rope"> {
  let summary = "rotary position embedding, NeoX (rotate-half) pairing, per head";
  let description = [{
    Element i < d/2 of each head pairs with i + d/2 (d = head_dim). `default`: every pair
    rotates with inv_freq[i] = theta^(-2i/d). `proportional`: only the first rotary_dims/2
    pairs rotate (with the same exponent over the full d); the rest pass through. The optional
    `freqs` operand is llama.cpp's `rope_freqs` tensor ([d/2] divisors: 1 or 1e30) that encodes
    the same layout; the runtime checks it against the attributes.
  }];
  let arguments = (ins G4_Activation:$input, G4_Indices:$positions,
                       Optional<G4_WeightType>:$freqs, G4_RopeMode:$mode, F64Attr:$theta,
                       I64Attr:$head_dim, I64Attr:$rotary_dims);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_AttentionOp : G4_ComputeOp<"attention", [AttrSizedOperandSegments]> {
  let summary = "causal GQA attention over the KV cache, full or sliding window";
  let description = [{
    Q is `[T, num_heads*head_dim]`; K and V of the new tokens are `[T, num_kv_heads*head_dim]`
    and are appended to the layer's cache. A KV-shared layer has no K/V operands and reads the
    cache of layer `kv_layer`. `window` = 0 means full causal attention; otherwise key position
    k is visible from query position q when q - window < k <= q. Score scale `scale` (1.0 in
    Gemma 4). `k_eq_v` documents that V was derived from the raw K projection (full layers of
    the 26B/31B). `kv_layer` is filled by g4-expand-layers.
  }];
  let arguments = (ins G4_Activation:$q, Optional<G4_Activation>:$k,
                       Optional<G4_Activation>:$v, G4_Indices:$positions,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       I64Attr:$window, DefaultValuedAttr<F64Attr, "1.0">:$scale,
                       OptionalAttr<I64Attr>:$kv_layer, UnitAttr:$k_eq_v);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = [{
    $q (`kv` `(` $k^ `,` $v `)`)? `at` $positions attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def G4_GeluTanhOp : G4_ComputeOp<"gelu_tanh", [SameOperandsAndResultType]> {
  let summary = "GELU, tanh approximation";
  let arguments = (ins G4_Activation:$input);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def G4_MulOp : G4_ComputeOp<"mul", [SameOperandsAndResultType, Commutative]> {
  let summary = "elementwise product";
  let arguments = (ins G4_Activation:$lhs, G4_Activation:$rhs);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def G4_AddOp : G4_ComputeOp<"add", [SameOperandsAndResultType, Commutative]> {
  let summary = "elementwise sum (residual adds, MoE d1 + d2, PLE combine)";
  let arguments = (ins G4_Activation:$lhs, G4_Activation:$rhs);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def G4_ChannelMulOp : G4_ComputeOp<"channel_mul"> {
  let summary = "multiply each row by a per-feature weight vector (the router's scale)";
  let arguments = (ins G4_Activation:$input, G4_WeightType:$weight);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_LayerScalarOp : G4_ComputeOp<"layer_scalar"> {
  let summary = "multiply the residual stream by the layer's scalar (`layer_output_scale`)";
  let arguments = (ins G4_Activation:$input, G4_WeightType:$weight);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_SoftcapOp : G4_ComputeOp<"softcap", [SameOperandsAndResultType]> {
  let summary = "final logit softcap: cap * tanh(x / cap)";
  let arguments = (ins G4_Activation:$input, F64Attr:$cap);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

def G4_SoftmaxOp : G4_ComputeOp<"softmax", [SameOperandsAndResultType]> {
  let summary = "softmax over the last dimension (router probabilities)";
  let arguments = (ins G4_Activation:$input);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def G4_TopKOp : G4_ComputeOp<"top_k"> {
  let summary = "the k largest values of each row and their indices, largest first";
  let arguments = (ins G4_Activation:$input, I64Attr:$k);
  let results = (outs G4_Activation:$values, G4_Indices:$indices);
  let hasVerifier = 1;
}

def G4_RenormalizeOp : G4_ComputeOp<"renormalize", [SameOperandsAndResultType]> {
  let summary = "divide each row by its sum (top-k weights to a distribution)";
  let arguments = (ins G4_Activation:$input);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def G4_ExpertScaleOp : G4_ComputeOp<"expert_scale"> {
  let summary = "w[t, j] * per_expert_scale[indices[t, j]]";
  let arguments = (ins G4_Activation:$weights, G4_Indices:$indices, G4_WeightType:$scale);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

def G4_ExpertFFNOp : G4_ComputeOp<"expert_ffn"> {
  let summary = "routed experts on the fused gate_up tensor, weighted and summed";
  let description = [{
    For each token and each of its top_k experts e with weight w:
    gu = x @ gate_up[e]^T ([2*expert_ff]; first half gate, second half up);
    y = (gelu_tanh(gate) * up) @ down[e]^T; out += w * y.
    gate_up has ne [H, 2*expert_ff, E]; down has ne [expert_ff, H, E].
  }];
  let arguments = (ins G4_Activation:$input, G4_Activation:$weights, G4_Indices:$indices,
                       G4_WeightType:$gate_up, G4_WeightType:$down,
                       I64Attr:$num_experts, I64Attr:$top_k, I64Attr:$expert_ff);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Per-layer embeddings
//===----------------------------------------------------------------------===//

def G4_PleSliceOp : G4_ComputeOp<"ple_slice"> {
  let summary = "layer `layer`'s per-layer-embedding input: columns [layer*P, (layer+1)*P)";
  let description = [{
    The packed PLE input is `[T, L*P]`; each layer reads its P-wide slice. Inside a layer-kind
    function `layer` is absent and g4-expand-layers sets it to the layer index.
  }];
  let arguments = (ins G4_Activation:$input, OptionalAttr<I64Attr>:$layer);
  let results = (outs G4_Activation:$result);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Structure: layers instantiated from per-kind functions
//===----------------------------------------------------------------------===//

def G4_DecoderLayerOp : G4_Op<"decoder_layer",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "decoder layer `index`, an instance of a layer-kind function";
  let description = [{
    `%h1 = g4.decoder_layer 3 @sliding_kv(%h0, %ple, %pos) : (...) -> tensor<?x1536xf32>`
    instantiates the layer-kind function `@sliding_kv` for layer 3. `kv_source` names the layer
    whose KV cache a KV-shared layer reads. g4-expand-layers inlines the function, substitutes
    `{i}` in weight names and fills the layer-dependent attributes.
  }];
  let arguments = (ins I64Attr:$index, FlatSymbolRefAttr:$kind,
                       Variadic<AnyType>:$operands, OptionalAttr<I64Attr>:$kv_source);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = [{
    $index $kind `(` $operands `)` attr-dict `:` functional-type($operands, $result)
  }];
}

//===----------------------------------------------------------------------===//
// Precision (written by g4-bf16-islands)
//===----------------------------------------------------------------------===//

def G4_RoundBf16Op : G4_Op<"round_bf16", [SameOperandsAndResultType]> {
  let summary = "round to the nearest bf16 value (ties to even); an island's rounding point";
  let description = [{
    The result holds f32 values that are exactly bf16-representable. `rule` names the
    reference behaviour that requires this rounding (docs/precision.md) and `island` numbers
    the island. The op has no folder and no canonicalization: it is never removed as a
    redundant round trip. It is deliberately not Pure, so that no generic pass moves it or
    merges it away.
  }];
  let arguments = (ins G4_Activation:$input, G4_RoundRule:$rule, I64Attr:$island);
  let results = (outs G4_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Fusion (written by g4-fuse; docs/fusion.md)
//===----------------------------------------------------------------------===//

def G4_FusedOp : G4_Op<"fused", [IsolatedFromAbove, SingleBlock]> {
  let summary = "a fused region: ops that run as one kernel";
  let description = [{
    ```mlir
    %h, %n = g4.fused(%x, %attn, %w1, %w2) {kernel = "g4k_attn_out_3"}
        : (tensor<?x512xf32>, tensor<?x128xf32>, !g4.weight<512x128 : ...>, !g4.weight<128 : ...>)
        -> (tensor<?x128xf32>, tensor<?x128xf32>) {
    ^bb0(%a: tensor<?x512xf32>, %r: tensor<?x128xf32>, %wo: !g4.weight<...>, %wn: !g4.weight<...>):
      ...
      g4.yield %sum, %normed : tensor<?x128xf32>, tensor<?x128xf32>
    }
    ```
    The region's single block takes the region's inputs (activations and weights, in the order
    of the operands) as arguments and ends with `g4.yield` of the values that escape: those
    used after the region. Values used only inside stay inside (the emitted kernel keeps them
    per row). The ops keep their attributes, so every `g4.round_bf16` of an island stays
    visible inside the region that rounds in its epilogue.

    `kernel` names the emitted C function (`g4k_...`, kernel_abi.h) that computes the whole
    region; it is empty when the region holds an op the runtime implements itself (attention,
    experts, embedding, router steps), and the runtime then interprets the body op by op.
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, DefaultValuedStrAttr<StrAttr, "">:$kernel);
  let results = (outs Variadic<G4_Activation>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    Block &getBlock() { return getBody().front(); }
    /// The g4.yield that ends the body.
    Operation *getYield() { return getBlock().getTerminator(); }
    /// Values inside the body, other than the yielded ones, that need a whole-batch buffer:
    /// with a kernel, each linear's output (its rounding when the linear rounds in its
    /// epilogue); without, every value, since the runtime runs the body op by op.
    ::llvm::SmallVector<::mlir::Value> getInnerBuffers();
  }];
}

def G4_YieldOp : G4_Op<"yield", [Pure, Terminator, ReturnLike, HasParent<"FusedOp">]> {
  let summary = "the values that escape a g4.fused region";
  let arguments = (ins Variadic<G4_Activation>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // G4_OPS_TD
