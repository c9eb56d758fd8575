// Reading a plan step's attributes by key (the op's MLIR attributes, as the plan writer stores
// them): shared by the CPU executor and the CUDA backend.
#ifndef GEMMA4C_RUNTIME_PLAN_STEP_ATTRS_H_
#define GEMMA4C_RUNTIME_PLAN_STEP_ATTRS_H_

#include <cstdint>
#include <string>

#include "plan/plan_generated.h"

namespace g4::plan {

inline const Attr* FindAttr(const Step& s, const char* key) {
  if (!s.attrs()) return nullptr;
  for (const Attr* a : *s.attrs())
    if (a->key()->str() == key) return a;
  return nullptr;
}

// Integer value of `key` (a float is truncated), or `fallback` when absent.
inline int64_t IntAttr(const Step& s, const char* key, int64_t fallback = 0) {
  const Attr* a = FindAttr(s, key);
  if (!a) return fallback;
  if (auto* i = a->value_as_IntValue()) return i->value();
  if (auto* f = a->value_as_FloatValue()) return int64_t(f->value());
  return fallback;
}

inline double FloatAttr(const Step& s, const char* key, double fallback = 0) {
  const Attr* a = FindAttr(s, key);
  if (!a) return fallback;
  if (auto* f = a->value_as_FloatValue()) return f->value();
  if (auto* i = a->value_as_IntValue()) return double(i->value());
  return fallback;
}

// String value of `key`, or "" when absent or not a string.
inline std::string StringAttr(const Step& s, const char* key) {
  const Attr* a = FindAttr(s, key);
  if (!a) return "";
  if (auto* v = a->value_as_StringValue()) return v->value() ? v->value()->str() : "";
  return "";
}

}  // namespace g4::plan

#endif  // GEMMA4C_RUNTIME_PLAN_STEP_ATTRS_H_
