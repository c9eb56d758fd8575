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
    `kv_source` that does not own its KV, or a `{` left in a weight name is an error.
  }];
  let dependentDialects = ["mlir::g4::G4Dialect", "mlir::func::FuncDialect"];
}

#endif // G4_TRANSFORMS_PASSES_TD
