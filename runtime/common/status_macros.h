// The one error-propagation idiom of gemma4c (IREE's IREE_RETURN_IF_ERROR, Abseil's internal
// macros): every function that can fail returns absl::Status or absl::StatusOr<T>, and callers
// pass failures up with these two macros instead of hand-written `if (!s.ok()) return s;`.
//
//   G4_RETURN_IF_ERROR(file->Validate());
//   G4_ASSIGN_OR_RETURN(std::vector<float> v, file->ReadAsF32(tensor));
//   G4_ASSIGN_OR_RETURN(config.vocab, VocabSize(file));   // assigns to an existing lvalue
//
// Header-only; used by the runtime, the compiler's tools and the CUDA backend (which turns a
// cudaError_t into a Status first, runtime/cuda/cuda_status.h).
#ifndef GEMMA4C_RUNTIME_COMMON_STATUS_MACROS_H_
#define GEMMA4C_RUNTIME_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing function unless OK.
#define G4_RETURN_IF_ERROR(expr)                                            \
  do {                                                                      \
    if (::absl::Status g4_status_ = (expr); !g4_status_.ok()) return g4_status_; \
  } while (0)

#define G4_STATUS_CONCAT_INNER_(a, b) a##b
#define G4_STATUS_CONCAT_(a, b) G4_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::StatusOr<T>) once; on error returns its status, else moves the
// value into `lhs`, which may be a declaration (`auto x`, `std::string s`) or an lvalue. It
// expands to several statements (the declaration must stay in scope): brace it under an `if`.
#define G4_ASSIGN_OR_RETURN(lhs, expr) \
  G4_ASSIGN_OR_RETURN_IMPL_(G4_STATUS_CONCAT_(g4_statusor_, __LINE__), lhs, expr)

#define G4_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                              \
  if (!var.ok()) return std::move(var).status();  \
  lhs = std::move(var).value()

#endif  // GEMMA4C_RUNTIME_COMMON_STATUS_MACROS_H_
