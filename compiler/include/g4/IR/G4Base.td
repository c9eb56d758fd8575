//===- G4Base.td - the g4 dialect, its types and enums -------*- tablegen -*-===//
//
// The g4 dialect describes one Gemma 4 text forward pass at the level a person reads in the
// reference model. Activations are builtin ranked tensors `tensor<?xNxf32>` (the dynamic
// dimension is the number of tokens in the batch); weights are `!g4.weight` values that name a
// GGUF tensor, its shape in GGUF `ne` order and the dtypes the compiled code accepts for it.
//
//===----------------------------------------------------------------------===//
#ifndef G4_BASE_TD
#define G4_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def G4_Dialect : Dialect {
  let name = "g4";
  let cppNamespace = "::mlir::g4";
  let summary = "The Gemma 4 graph dialect";
  let description = [{
    Ops of the Gemma 4 text forward pass (embedding, RMSNorm, linear, RoPE, attention, GELU,
    MoE routing and experts, per-layer embeddings, softcap) plus the structural ops that keep a
    spec short (per-layer-kind functions instantiated by `g4.decoder_layer`) and the precision
    ops of the BF16-islands pass. See docs/dialect.md and docs/spec-format.md.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the module attribute holding the model's hyperparameters.
    static constexpr ::llvm::StringLiteral kModelAttrName = "g4.model";
    /// Discardable attribute: the decoder layer an op was instantiated for.
    static constexpr ::llvm::StringLiteral kLayerAttrName = "g4.layer";
    /// Discardable attribute: the stable name of the op's result (llama.cpp's graph name where
    /// the same tensor exists; the plan appends "-<layer>"). Moves to the rounding that
    /// follows the op, since the rounded value is what flows on.
    static constexpr ::llvm::StringLiteral kNameAttrName = "g4.name";
    /// Discardable attribute written by g4-bf16-islands: the bf16 roundings the reference does
    /// inside a composite op, a RoundingKindAttr (#g4.rounding<rope_bf16>; docs/precision.md).
    static constexpr ::llvm::StringLiteral kRoundingAttrName = "g4.rounding";
    /// Discardable attribute on g4.attention: the element type of its KV cache, a KvStorageAttr
    /// (#g4.kv_storage<bf16>).
    static constexpr ::llvm::StringLiteral kKvStorageAttrName = "g4.kv_storage";
    /// Discardable attributes written by g4-plan-memory (docs/fusion.md): the buffer slot of
    /// each result of an op (-1: kept per row inside a kernel), the slots of a function's
    /// arguments, and on the module the width (floats per token) of every slot.
    static constexpr ::llvm::StringLiteral kSlotsAttrName = "g4.slots";
    static constexpr ::llvm::StringLiteral kArgSlotsAttrName = "g4.arg_slots";
    static constexpr ::llvm::StringLiteral kSlotWidthsAttrName = "g4.slot_widths";
  }];
}

class G4_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<G4_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

// Bit set of GGUF dtypes a weight accepts (bit = 1 << G4DType).
def G4_WeightType : G4_Type<"Weight", "weight"> {
  let summary = "a GGUF tensor: shape in ne order and the dtypes it may have";
  let description = [{
    `!g4.weight<1536x2048 : f32|f16|bf16|q8_0|q4_0|q4_k|q6_k>` is a matrix with ne0 = 1536 (the
    input dimension, innermost in memory) and ne1 = 2048 (outputs), bound at run time to a GGUF
    tensor of one of the listed dtypes.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape, "uint32_t":$dtypes);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    bool accepts(unsigned dtypeBit) const { return (getDtypes() >> dtypeBit) & 1u; }
  }];
}

// Where a compile-time constant comes from in the reference; the precision pass decides from
// the role whether the reference rounds it to bf16 (see docs/precision.md).
def G4_ConstRoleEnum : I32EnumAttr<"ConstRole", "role of a scale constant", [
    I32EnumAttrCase<"embed_scale", 0>,        // sqrt(H): a bf16 buffer in the reference
    I32EnumAttrCase<"ple_token_scale", 1>,    // sqrt(P) = 16: bf16 buffer (exact)
    I32EnumAttrCase<"ple_proj_scale", 2>,     // H^-1/2: Python float, applied in fp32
    I32EnumAttrCase<"ple_combine_scale", 3>,  // 2^-1/2: Python float, applied in fp32
    I32EnumAttrCase<"router_root_scale", 4>,  // H^-1/2: Python float, applied in fp32
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}
// Printed as #g4.role<embed_scale>.
def G4_ConstRole : EnumAttr<G4_Dialect, G4_ConstRoleEnum, "role"> {
  let assemblyFormat = "`<` $value `>`";
}

def G4_RopeModeEnum : I32EnumAttr<"RopeMode", "RoPE frequency layout", [
    I32EnumAttrCase<"default_", 0, "default">,      // all head dims rotate
    I32EnumAttrCase<"proportional", 1>,             // first rotary_dims/2 pairs rotate
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}
// Printed as #g4.rope<proportional>.
def G4_RopeMode : EnumAttr<G4_Dialect, G4_RopeModeEnum, "rope"> {
  let assemblyFormat = "`<` $value `>`";
}

// The bf16 roundings the reference does inside a composite op; the value of the discardable
// `g4.rounding` attribute written by g4-bf16-islands (docs/precision.md).
def G4_RoundingKindEnum : I32EnumAttr<"RoundingKind", "bf16 roundings inside a composite op", [
    I32EnumAttrCase<"rope_bf16", 0>,              // g4.rope: cos/sin, both products, the sum
    I32EnumAttrCase<"softcap_bf16", 1>,           // g4.softcap: x / cap, tanh, * cap
    I32EnumAttrCase<"experts_bf16", 2>,           // g4.expert_ffn: each expert's steps (E1-E3)
    I32EnumAttrCase<"experts_bf16_weighted", 3>,  // ... and the weighting by w_k (router=bf16)
    I32EnumAttrCase<"renormalize_bf16", 4>,       // g4.renormalize: sum and division (R7)
    I32EnumAttrCase<"attention_eager", 5>,        // g4.attention: scores Q.K^T and P
    I32EnumAttrCase<"attention_sdpa", 6>,         // g4.attention: torch's CPU flash kernel,
                                                  // exp(S - m) per 512-key block (docs/attention.md)
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}
// Printed as #g4.rounding<rope_bf16>.
def G4_RoundingKind : EnumAttr<G4_Dialect, G4_RoundingKindEnum, "rounding"> {
  let assemblyFormat = "`<` $value `>`";
}

// Why the reference rounds a value to bf16: the `rule` of g4.round_bf16 (docs/precision.md
// lists each rule with its spec steps).
def G4_RoundRuleEnum : I32EnumAttr<"RoundRule", "reference behaviour behind a bf16 rounding", [
    I32EnumAttrCase<"embed_scale", 0>,    // the embedding times its bf16 scale (§3.1 step 2)
    I32EnumAttrCase<"ple_scale", 1>,      // the PLE scale products (§3.2 steps 3, 5, 8)
    I32EnumAttrCase<"router", 2>,         // the MoE router chain (R1-R5, R8)
    I32EnumAttrCase<"linear_out", 3>,     // a matrix product's output
    I32EnumAttrCase<"norm_out", 4>,       // an RMSNorm's output
    I32EnumAttrCase<"residual_add", 5>,   // a residual addition (15, 19, 25)
    I32EnumAttrCase<"moe_add", 6>,        // dense MLP plus MoE output (19')
    I32EnumAttrCase<"ple_add", 7>,        // token part plus projection part of the PLE (step 7)
    I32EnumAttrCase<"gelu_out", 8>,       // GELU-tanh's output (17, 21)
    I32EnumAttrCase<"gelu_mul", 9>,       // GELU(gate) * up (17, 22)
    I32EnumAttrCase<"layer_scalar", 10>,  // the per-layer output scalar (26)
    I32EnumAttrCase<"attn_out", 11>,      // attention's P·V (12)
    I32EnumAttrCase<"expert_sum", 12>,    // the sum of the experts (E4)
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}
// Printed as #g4.rule<linear_out>.
def G4_RoundRule : EnumAttr<G4_Dialect, G4_RoundRuleEnum, "rule"> {
  let assemblyFormat = "`<` $value `>`";
}

// Element type of an attention's KV cache: the discardable `g4.kv_storage` attribute.
def G4_KvStorageEnum : I32EnumAttr<"KvStorage", "KV-cache element type", [
    I32EnumAttrCase<"bf16", 0>,  // the reference's cache (policy reference)
    I32EnumAttrCase<"f32", 1>,
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}
// Printed as #g4.kv_storage<bf16>.
def G4_KvStorage : EnumAttr<G4_Dialect, G4_KvStorageEnum, "kv_storage"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Compile options (not attributes): the typed options of g4-bf16-islands and gemma4c compile
//===----------------------------------------------------------------------===//

def G4_PrecisionPolicyEnum : I32EnumAttr<"PrecisionPolicy", "what g4-bf16-islands rounds", [
    I32EnumAttrCase<"f32", 0>,        // nothing: fp32 everywhere
    I32EnumAttrCase<"minimal", 1>,    // the systematic divergences only
    I32EnumAttrCase<"reference", 2>,  // every rounding point of the reference
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}

def G4_AttentionSemanticsEnum : I32EnumAttr<"AttentionSemantics",
                                            "attention rounding under `reference`", [
    I32EnumAttrCase<"sdpa", 0>,   // torch's CPU flash kernel: bf16 exp(S - m) per key block
    I32EnumAttrCase<"eager", 1>,  // bf16 scores and probabilities
    I32EnumAttrCase<"exact", 2>,  // exact fp32 softmax, float64 sums (no internal rounding)
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}

def G4_RouterSemanticsEnum : I32EnumAttr<"RouterSemantics", "MoE router precision", [
    I32EnumAttrCase<"fp32", 0>,  // softmax, top-k weights, expert scale in fp32 (>= 5.13)
    I32EnumAttrCase<"bf16", 1>,  // each of those steps rounded (transformers <= 5.12)
  ]> {
  let cppNamespace = "::mlir::g4";
  let genSpecializedAttr = 0;
}

def G4_Activation : RankedTensorOf<[F32]>;
def G4_Indices : RankedTensorOf<[I32]>;

#endif // G4_BASE_TD
