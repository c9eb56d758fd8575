// GGUF v2/v3 reading: a memory-mapped, validated view of a GGUF file.
//
// Format (little-endian), as ggml defines it:
//   magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32) | tensor data (offsets relative to this start)
//   string = u64 length | bytes (no terminator); array = u32 elem_type | u64 count | elems.
// ne[0] is the innermost (fastest) dimension: a matrix of torch shape [out, in] has ne = {in, out}.
//
// Everything is validated in Open() before a caller sees it: magic, version, counts against the
// file size, string and array lengths, key uniqueness, dims (1..4, no zero, no overflow), types,
// row sizes against block sizes, offsets aligned and inside the file, and no two tensors
// overlapping. A malformed file is an absl::Status naming the file, the key or tensor and the
// problem; never a crash, a hang or a read outside the mapping. Messages read
// "<path>: <subject>: <problem>" with subject "header", "key 'k'", "metadata entry #i",
// "tensor 't'" or "tensor info #i". Codes: InvalidArgument for a malformed file, Unimplemented
// for a well-formed one we do not read (GGUF v1, big-endian, an unsupported ggml type), and the
// errno-derived code (NotFound, PermissionDenied, ...) when the file cannot be opened.
// Keys and tensor names must be well-formed UTF-8 (string values are kept as bytes).
// Limits beyond the format's: keys and tensor names <= 65535 bytes, arrays nested <= 8 deep,
// <= 2^24 metadata values in all (each costs ~100 bytes decoded whatever its encoded size).
// The mapping assumes the file is not truncated while open (that would be SIGBUS).
#ifndef GEMMA4C_RUNTIME_GGUF_GGUF_H_
#define GEMMA4C_RUNTIME_GGUF_GGUF_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gguf/ggml_types.h"

namespace g4::gguf {

// Metadata value types, numbered as in the GGUF spec.
enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* ValueTypeName(ValueType type);

// One metadata value. Scalars are held widened; arrays hold their elements (nested arrays are
// allowed by the format and supported).
struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;         // kUint8..kUint64, kBool (0/1)
  int64_t i = 0;          // kInt8..kInt64
  double f = 0;           // kFloat32, kFloat64
  std::string s;          // kString
  ValueType elem_type = ValueType::kUint8;  // kArray
  std::vector<Value> array;                 // kArray

  bool IsInteger() const;  // any of the integer types or bool
  // Integer value of an integer-typed scalar (signed or unsigned, range-checked by the caller).
  int64_t AsInt() const;
  double AsFloat() const;  // float or integer scalar as double
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;   // ne[0] innermost; 1..4 dims
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;       // relative to the data section
  uint64_t nbytes = 0;       // bytes of the data, from ne and type
  const uint8_t* data = nullptr;  // inside the mapping; valid while the GgufFile lives

  int64_t NumElements() const;
};

class GgufFile {
 public:
  // Maps and validates `path`. Errors name the file and what is wrong.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Validates an in-memory image (same checks; used by tests and fuzzing). The bytes are copied.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBytes(absl::string_view bytes,
                                                             const std::string& display_name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  uint64_t file_size() const { return size_; }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* Find(absl::string_view key) const;            // nullptr when absent
  const TensorInfo* FindTensor(absl::string_view name) const; // nullptr when absent

  // Typed getters: NotFound when absent, InvalidArgument (naming file, key, expected and found
  // types) when the type does not fit. Integers of any integer type are accepted when in range.
  absl::StatusOr<uint32_t> GetU32(absl::string_view key) const;
  absl::StatusOr<float> GetF32(absl::string_view key) const;
  absl::StatusOr<bool> GetBool(absl::string_view key) const;
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  // A per-layer list: a scalar integer repeated `n` times, or an integer/bool array of length n.
  absl::StatusOr<std::vector<int64_t>> GetIntOrArray(absl::string_view key, size_t n) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(absl::string_view key) const;

  // Dequantizes a whole tensor to float32 (reference path, for tests and the reference model).
  absl::StatusOr<std::vector<float>> ReadAsF32(const TensorInfo& t) const;

 private:
  GgufFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  uint64_t size_ = 0;
  const uint8_t* base_ = nullptr;
  void* mapping_ = nullptr;            // mmap'ed region, or nullptr when owned_ is used
  std::vector<uint8_t> owned_;         // FromBytes copy
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> kv_index_;      // key -> index in kv_
  std::unordered_map<std::string, size_t> tensor_index_;  // name -> index in tensors_

  friend class GgufParser;
};

}  // namespace g4::gguf

#endif  // GEMMA4C_RUNTIME_GGUF_GGUF_H_
