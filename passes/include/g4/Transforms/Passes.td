//===- Passes.td - the g4 passes -----------------------------*- tablegen -*-===//
#ifndef G4_TRANSFORMS_PASSES_TD
#define G4_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def G4ExpandLayers : Pass<"g4-expand-layers", "mlir::ModuleOp"> {
  let summary = "Instantiate every g4.decoder_layer from its layer-kind function";
  let description = [{
    A spec states each distinct layer body once, as a `func.func private` layer-kind function
    whose weight names contain `{i}`, and lists the layers as `g4.decoder_layer` ops. This pass
    inlines each instance, substitutes the layer index for `{i}` in weight names, sets
    `g4.ple_slice`'s layer and `g4.attention`'s `kv_layer` (the layer itself when it owns K/V,
    else the instance's `kv_source`), and erases the layer-kind functions.

    Guarantees: afterwards no `g4.decoder_layer` remains, every weight name is concrete, and
    every attention op names its KV-cache layer. A KV-shared instance without `kv_source`, a
    `kv_source` that does not own its KV, or a `{` left in a weight name is an error; so is,
    when the module carries `g4.model`, a layer index outside `[0, layers)`, a layer
    instantiated twice, or fewer instances than the model declares.
  }];
  let dependentDialects = ["mlir::g4::G4Dialect", "mlir::func::FuncDialect"];
}

def G4Bf16Islands : Pass<"g4-bf16-islands", "mlir::ModuleOp"> {
  let summary = "Mark where the reference rounds to bf16 (islands) and round its bf16 constants";
  let description = [{
    The reference (transformers in bfloat16, architecture spec section 3) keeps every tensor
    between PyTorch ops in bf16 while computing each op in fp32. This pass makes those rounding
    points explicit so that the fused kernels can round in their epilogues, and so that a test
    or a person can see them. What it writes (docs/precision.md has the full table):

    * a rounding of an op's output becomes `g4.round_bf16 %v {rule = #g4.rule<...>, island = N}`
      right after the producer, and every other use of `%v` reads the rounded value. `rule`
      names the reference behaviour (`linear_out`, `norm_out`, `residual_add`, `router`, ...);
      `island` numbers the rounding points in program order;
    * roundings inside a composite op (RoPE, softcap, the expert FFN, the renormalization of
      the top-k weights, eager attention) become the discardable attribute
      `g4.rounding = #g4.rounding<kind>` on that op; attention records its KV-cache storage
      in `g4.kv_storage = #g4.kv_storage<bf16>`;
    * `g4.scale` constants that the reference holds as bf16 buffers (embedding scale sqrt(H),
      PLE token scale 16) get `factor` = bf16(factor), round-to-nearest-even, and keep the exact
      value in `exact_factor`. Python-float constants (H^-1/2, 2^-1/2, the softcap) stay fp32.

    Policies: `f32` changes nothing. `minimal` rounds only the systematic divergences: the
    embedding-scale constant and product, the MoE router chain and the PLE scale products.
    `reference` rounds every point of the reference (spec section 3.9) with the router
    semantics of transformers 5.13 and later, checked against 5.24.0: softmax, top-k weights and
    per-expert scaling in fp32, experts summed in fp32 and rounded once (grouped_mm).
    `router=bf16` selects the older router that rounds those steps too. Attention
    (docs/attention.md): `attention=sdpa` (default) marks `#g4.rounding<attention_sdpa>`,
    torch's CPU flash kernel (bf16 exp(S - m) per 512-key block before P.V); `attention=eager`
    marks `#g4.rounding<attention_eager>` (bf16 scores and probabilities); `attention=exact`
    marks nothing (exact fp32 softmax).

    Guarantees: norm internals are never rounded; the pass is idempotent (a value that already
    feeds a `g4.round_bf16` and a constant that already has `exact_factor` are left alone, and
    islands are renumbered in program order); `g4.round_bf16` is neither Pure nor foldable, so
    canonicalization and CSE keep every rounding point.
  }];
  let options = [
    Option<"policy", "policy", "::mlir::g4::PrecisionPolicy",
           /*default=*/"::mlir::g4::PrecisionPolicy::reference", "Precision policy",
           [{::llvm::cl::values(
             clEnumValN(::mlir::g4::PrecisionPolicy::f32, "f32", "no rounding (fp32 everywhere)"),
             clEnumValN(::mlir::g4::PrecisionPolicy::minimal, "minimal",
                        "only the systematic divergences (embedding scale, router, PLE scales)"),
             clEnumValN(::mlir::g4::PrecisionPolicy::reference, "reference",
                        "every rounding point of the reference"))}]>,
    Option<"attention", "attention", "::mlir::g4::AttentionSemantics",
           /*default=*/"::mlir::g4::AttentionSemantics::sdpa",
           "Attention rounding under `reference`",
           [{::llvm::cl::values(
             clEnumValN(::mlir::g4::AttentionSemantics::sdpa, "sdpa",
                        "torch's CPU flash kernel (transformers' SDPA)"),
             clEnumValN(::mlir::g4::AttentionSemantics::eager, "eager",
                        "bf16 scores and probabilities"),
             clEnumValN(::mlir::g4::AttentionSemantics::exact, "exact",
                        "exact fp32 softmax"))}]>,
    Option<"router", "router", "::mlir::g4::RouterSemantics",
           /*default=*/"::mlir::g4::RouterSemantics::fp32",
           "Router softmax, top-k weights and per-expert scale",
           [{::llvm::cl::values(
             clEnumValN(::mlir::g4::RouterSemantics::fp32, "fp32",
                        "in fp32 (transformers >= 5.13)"),
             clEnumValN(::mlir::g4::RouterSemantics::bf16, "bf16",
                        "each step rounded (transformers <= 5.12)"))}]>,
  ];
  let dependentDialects = ["mlir::g4::G4Dialect"];
}

def G4Fuse : Pass<"g4-fuse", "mlir::ModuleOp"> {
  let summary = "Group row ops with their producers into g4.fused regions";
  let description = [{
    Walks each function body in program order. A `g4.linear` starts a region (its input comes
    from outside, the emitted kernel calls the runtime's matrix product on it); a row op (norm,
    scale, add, mul, GELU, channel/layer scale, softcap, RoPE, PLE slice) joins the regions of
    its producers when they are in the same layer and the union stays convex, else the region
    of its latest producer; a `g4.round_bf16` always joins its producer's region, as that op's
    epilogue. An op only the runtime implements (embedding, attention, experts, router steps)
    heads a region with the rounding that follows it, and such a region has no kernel.

    So regions are: linear + norm + round (+ residual add + next norm), gate/up linears + GELU +
    mul, q/k projections + norm + RoPE, the LM head + softcap. Nothing joins an attention's
    consumers, and a region never spans layers.

    Guarantees: every op keeps its attributes and every `g4.round_bf16` survives, inside the
    region of the op it rounds; a value used outside its region escapes through `g4.yield`
    (the residual stream, the attention inputs and output, every norm feeding a projection);
    one-op regions are not created (the op stays as it is). Emittable regions get
    `kernel = "g4k_<name>_<layer>"`, unique in the module.
  }];
  let dependentDialects = ["mlir::g4::G4Dialect"];
}

def G4PlanMemory : Pass<"g4-plan-memory", "mlir::ModuleOp"> {
  let summary = "Assign activation buffer slots by liveness";
  let description = [{
    Every activation @forward materializes gets a buffer slot: the results of top-level ops,
    and inside fused regions the values an emitted kernel needs whole (a linear's output, or
    its rounding when the linear rounds in its epilogue) and every value of a region the
    runtime interprets. A linear scan in program order frees a slot after the last reader of
    its value has run and reuses free slots (best fit by width; a slot grows to its widest
    value). An op's results never share a slot with its inputs. The function's arguments
    (tokens, positions) get slots of their own that are never reused.

    Writes `g4.slots = [..]` (one slot per result, -1 for a value kept per row inside a
    kernel) on every op that materializes a value, and the module attribute
    `g4.slot_widths = [..]` (floats per token of each slot).
  }];
  let dependentDialects = ["mlir::g4::G4Dialect"];
}

#endif // G4_TRANSFORMS_PASSES_TD
