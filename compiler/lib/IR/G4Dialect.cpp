//===- G4Dialect.cpp - g4 dialect, weight type, model attribute ----------===//
//
// The dialect's registration, the `!g4.weight` type's syntax, and the check of the `g4.model`
// module attribute that carries a spec's hyperparameters.
//
//===----------------------------------------------------------------------===//
#include "g4/IR/G4Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::g4;

#include "g4/IR/G4Dialect.cpp.inc"
#include "g4/IR/G4Enums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "g4/IR/G4Attrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "g4/IR/G4Types.cpp.inc"

void G4Dialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "g4/IR/G4Ops.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "g4/IR/G4Types.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "g4/IR/G4Attrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// DType names
//===----------------------------------------------------------------------===//

static constexpr llvm::StringLiteral kDTypeNames[] = {
    "f32",  "f16",  "bf16", "q8_0", "q4_0", "q4_k",   "q6_k",   "q4_1",
    "q5_0", "q5_1", "q2_k", "q3_k", "q5_k", "iq4_nl", "iq4_xs", "mxfp4"};
static_assert(std::size(kDTypeNames) == static_cast<size_t>(DType::kCount));

StringRef mlir::g4::stringifyDType(DType d) {
  return kDTypeNames[static_cast<unsigned>(d)];
}

std::optional<DType> mlir::g4::symbolizeDType(StringRef name) {
  for (unsigned i = 0; i < static_cast<unsigned>(DType::kCount); ++i)
    if (name == kDTypeNames[i]) return static_cast<DType>(i);
  return std::nullopt;
}

int64_t mlir::g4::featureWidth(Value activation) {
  auto type = cast<RankedTensorType>(activation.getType());
  return type.getShape().back();
}

//===----------------------------------------------------------------------===//
// !g4.weight<1536x2048 : f32|bf16|q8_0>
//===----------------------------------------------------------------------===//

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, uint32_t dtypes) {
  if (shape.empty() || shape.size() > 4)
    return emitError() << "weight must have 1 to 4 dimensions, got " << shape.size();
  for (int64_t d : shape)
    if (d <= 0) return emitError() << "weight dimensions must be positive, got " << d;
  if (dtypes == 0 || (dtypes & ~kAnyDTypes) != 0)
    return emitError() << "weight must accept at least one known dtype";
  return success();
}

Type WeightType::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/false) ||
      parser.parseColon())
    return {};
  uint32_t dtypes = 0;
  do {
    StringRef name;
    SMLoc loc = parser.getCurrentLocation();
    if (parser.parseKeyword(&name)) return {};
    std::optional<DType> d = symbolizeDType(name);
    if (!d) {
      parser.emitError(loc) << "unknown weight dtype '" << name
                            << "' (expected f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q4_1, q5_0, q5_1, "
                               "q2_k, q3_k, q5_k, iq4_nl, iq4_xs or mxfp4)";
      return {};
    }
    dtypes |= dtypeBit(*d);
  } while (succeeded(parser.parseOptionalVerticalBar()));
  if (parser.parseGreater()) return {};
  return parser.getChecked<WeightType>(parser.getContext(), shape, dtypes);
}

void WeightType::print(AsmPrinter &printer) const {
  printer << "<";
  llvm::interleave(getShape(), printer, "x");
  printer << " : ";
  bool first = true;
  for (unsigned i = 0; i < static_cast<unsigned>(DType::kCount); ++i) {
    if (!accepts(i)) continue;
    if (!first) printer << "|";
    printer << stringifyDType(static_cast<DType>(i));
    first = false;
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// The g4.model module attribute
//===----------------------------------------------------------------------===//

// Integer hyperparameters every spec states (docs/spec-format.md).
static constexpr llvm::StringLiteral kRequiredIntKeys[] = {
    "vocab", "hidden", "layers", "heads", "context_length", "sliding_window"};

/// The op each `g4.rounding` kind describes (docs/precision.md).
static bool isRoundingKindOf(Operation *op, RoundingKind kind) {
  switch (kind) {
    case RoundingKind::rope_bf16: return isa<RopeOp>(op);
    case RoundingKind::softcap_bf16: return isa<SoftcapOp>(op);
    case RoundingKind::experts_bf16:
    case RoundingKind::experts_bf16_weighted: return isa<ExpertFFNOp>(op);
    case RoundingKind::renormalize_bf16: return isa<RenormalizeOp>(op);
    case RoundingKind::attention_eager:
    case RoundingKind::attention_sdpa: return isa<AttentionOp>(op);
  }
  llvm_unreachable("unknown RoundingKind");
}

LogicalResult G4Dialect::verifyOperationAttribute(Operation *op, NamedAttribute attr) {
  if (attr.getName() == kLayerAttrName) {
    auto layer = dyn_cast<IntegerAttr>(attr.getValue());
    if (!layer || layer.getInt() < 0)
      return op->emitError() << "'" << kLayerAttrName << "' must be a non-negative integer";
    return success();
  }
  if (attr.getName() == kRoundingAttrName) {
    auto kind = dyn_cast<RoundingKindAttr>(attr.getValue());
    if (!kind)
      return op->emitError() << "'" << kRoundingAttrName
                             << "' must be a #g4.rounding<...> attribute, got " << attr.getValue();
    if (!isRoundingKindOf(op, kind.getValue()))
      return op->emitError() << "'" << kRoundingAttrName << "' = " << kind
                             << " does not describe " << op->getName();
    return success();
  }
  if (attr.getName() == kNameAttrName) {
    auto name = dyn_cast<StringAttr>(attr.getValue());
    if (!name || name.getValue().empty() || name.getValue().contains('/'))
      return op->emitError() << "'" << kNameAttrName
                             << "' must be a non-empty tensor name without '/'";
    if (op->getNumResults() != 1)
      return op->emitError() << "'" << kNameAttrName << "' names the result of a one-result op";
    return success();
  }
  if (attr.getName() == kSlotsAttrName || attr.getName() == kArgSlotsAttrName ||
      attr.getName() == kSlotWidthsAttrName) {
    auto values = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    int64_t least = attr.getName() == kSlotWidthsAttrName ? 1 : -1;
    if (!values || llvm::any_of(values.asArrayRef(), [&](int64_t v) { return v < least; }))
      return op->emitError() << "'" << attr.getName().getValue()
                             << "' must be an array<i64> of values >= " << least;
    if (attr.getName() == kSlotsAttrName && int64_t(values.size()) != op->getNumResults())
      return op->emitError() << "'" << kSlotsAttrName << "' has " << values.size()
                             << " slots for " << op->getNumResults() << " results";
    return success();
  }
  if (attr.getName() == kKvStorageAttrName) {
    if (!isa<KvStorageAttr>(attr.getValue()))
      return op->emitError() << "'" << kKvStorageAttrName
                             << "' must be a #g4.kv_storage<...> attribute, got " << attr.getValue();
    if (!isa<AttentionOp>(op))
      return op->emitError() << "'" << kKvStorageAttrName << "' belongs on g4.attention";
    return success();
  }
  if (attr.getName() != kModelAttrName)
    return op->emitError() << "unknown g4 attribute '" << attr.getName().getValue() << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << kModelAttrName << "' must be attached to the module";
  auto dict = dyn_cast<DictionaryAttr>(attr.getValue());
  if (!dict)
    return op->emitError() << "'" << kModelAttrName << "' must be a dictionary";
  if (!dict.getAs<StringAttr>("name"))
    return op->emitError() << "'" << kModelAttrName << "' needs a string 'name'";
  for (StringRef key : kRequiredIntKeys) {
    auto value = dict.getAs<IntegerAttr>(key);
    if (!value)
      return op->emitError() << "'" << kModelAttrName << "' needs an integer '" << key << "'";
    if (value.getInt() <= 0)
      return op->emitError() << "'" << kModelAttrName << "' key '" << key
                             << "' must be positive, got " << value.getInt();
  }
  return success();
}
