// GGUF v3 writing, streamed: metadata and tensor infos first, then each tensor's data produced
// in order by the caller, so a multi-GiB model is written with bounded memory.
//
//   GgufWriter w;
//   w.AddU32("gemma4.block_count", 35); ...
//   w.AddTensor("token_embd.weight", {1536, 262144}, GgmlType::kQ8_0);  ...
//   RETURN_IF_ERROR(w.Open(path));           // writes header, kv, tensor infos, padding
//   for each tensor in the order added:
//     RETURN_IF_ERROR(w.WriteTensorF32(name, rows...)) // floats, quantized to the declared type
//   RETURN_IF_ERROR(w.Close());              // checks every tensor was written completely
#ifndef GEMMA4C_RUNTIME_GGUF_GGUF_WRITER_H_
#define GEMMA4C_RUNTIME_GGUF_GGUF_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "gguf/gguf.h"

namespace g4::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = 32);
  ~GgufWriter();

  // Metadata, in the order added. Keys must be unique (checked in Open()).
  void AddU8(const std::string& key, uint8_t v);
  void AddI8(const std::string& key, int8_t v);
  void AddU16(const std::string& key, uint16_t v);
  void AddI16(const std::string& key, int16_t v);
  void AddU32(const std::string& key, uint32_t v);
  void AddI32(const std::string& key, int32_t v);
  void AddU64(const std::string& key, uint64_t v);
  void AddI64(const std::string& key, int64_t v);
  void AddF32(const std::string& key, float v);
  void AddF64(const std::string& key, double v);
  void AddBool(const std::string& key, bool v);
  void AddString(const std::string& key, const std::string& v);
  void AddI32Array(const std::string& key, const std::vector<int32_t>& v);
  void AddU32Array(const std::string& key, const std::vector<uint32_t>& v);
  void AddF32Array(const std::string& key, const std::vector<float>& v);
  void AddBoolArray(const std::string& key, const std::vector<bool>& v);
  void AddStringArray(const std::string& key, const std::vector<std::string>& v);
  void AddValue(const std::string& key, const Value& v);  // any Value, arrays included

  // Declares a tensor (ne[0] innermost). Data offsets are assigned in declaration order.
  void AddTensor(const std::string& name, std::vector<int64_t> ne, GgmlType type);

  // Validates keys (unique), arrays (homogeneous), tensors (unique names, 1..4 dims, ne >= 1,
  // ne[0] a block multiple) and alignment (a power of two; general.alignment is added when it
  // is not 32), then writes the header, metadata, tensor infos and padding. Errors name the path.
  absl::Status Open(const std::string& path);
  // Appends data of the current tensor (tensors are written in declaration order; `name` must
  // be the current one). Floats are quantized to the declared type; the count must be a
  // multiple of the block size. A tensor may be written in several calls (each a multiple of
  // the block size); quantization runs in fixed-size chunks, so memory stays bounded.
  absl::Status WriteTensorF32(const std::string& name, absl::Span<const float> values);
  // Raw bytes already in the declared type (e.g. copied from another GGUF).
  absl::Status WriteTensorBytes(const std::string& name, absl::Span<const uint8_t> bytes);
  // Finishes: checks that every tensor got exactly its bytes, pads, closes the file. On error
  // the file is closed but left on disk, incomplete (the reader rejects it).
  absl::Status Close();

 private:
  struct Pending { std::string name; std::vector<int64_t> ne; GgmlType type; uint64_t nbytes; };
  absl::Status AdvanceTo(const std::string& name);
  uint64_t alignment_;
  std::vector<KeyValue> kv_;
  std::vector<Pending> tensors_;
  std::string path_;
  FILE* file_ = nullptr;
  size_t current_ = 0;          // index of the tensor being written
  uint64_t written_in_current_ = 0;
  std::vector<uint8_t> scratch_;
};

}  // namespace g4::gguf

#endif  // GEMMA4C_RUNTIME_GGUF_GGUF_WRITER_H_
