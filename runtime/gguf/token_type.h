// Values of the GGUF key `tokenizer.ggml.token_type` (llama.cpp's llama_token_type): shared by
// the tokenizer that reads them and the synthetic-vocabulary writer.
#ifndef GEMMA4C_RUNTIME_GGUF_TOKEN_TYPE_H_
#define GEMMA4C_RUNTIME_GGUF_TOKEN_TYPE_H_

#include <cstdint>

namespace g4::gguf {

enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

}  // namespace g4::gguf

#endif  // GEMMA4C_RUNTIME_GGUF_TOKEN_TYPE_H_
