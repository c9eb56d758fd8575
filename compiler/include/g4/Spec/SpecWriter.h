//===- SpecWriter.h - a g4 spec from a ModelConfig --------------*- C++ -*-===//
//
// Writes the spec of one Gemma 4 model as MLIR text in the format of docs/spec-format.md:
// hyperparameters in the module's `g4.model` attribute, type aliases for every shape, one
// `func.func private` per distinct layer kind and one `g4.decoder_layer` line per layer.
// Used by `gemma4c spec` for the checked-in specs and for `--from-gguf`.
//
//===----------------------------------------------------------------------===//
#ifndef G4_SPEC_SPECWRITER_H
#define G4_SPEC_SPECWRITER_H

#include <string>

#include "model/model_config.h"

namespace mlir::g4 {

/// The spec text of `config` (which must be valid).
std::string writeSpec(const ::g4::ModelConfig &config);

}  // namespace mlir::g4

#endif  // G4_SPEC_SPECWRITER_H
