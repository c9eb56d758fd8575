// Streamed GGUF v3 writer. Memory use is the metadata plus one fixed-size quantization chunk:
// tensor data goes to the file as the caller produces it.
#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace g4::gguf {
namespace {

constexpr uint32_t kVersion = 3;
// Elements quantized per fwrite: a multiple of every block size, 256 KiB of f32 at most.
constexpr int64_t kChunkElems = int64_t{1} << 16;

std::string Quoted(absl::string_view s) { return absl::StrCat("'", s, "'"); }

uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

// Little-endian serialization into a byte string (the header is built in memory: it is small
// next to the tensor data, and building it first lets Open() fail before creating the file).
class ByteSink {
 public:
  template <typename T>
  void Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian host assumed, as in the reader
    out_.append(b, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    out_.append(s);
  }
  // The payload of `v` (without its type tag, which arrays omit for their elements).
  void PutPayload(const Value& v) {
    switch (v.type) {
      case ValueType::kUint8: Put<uint8_t>(static_cast<uint8_t>(v.u)); break;
      case ValueType::kInt8: Put<int8_t>(static_cast<int8_t>(v.i)); break;
      case ValueType::kUint16: Put<uint16_t>(static_cast<uint16_t>(v.u)); break;
      case ValueType::kInt16: Put<int16_t>(static_cast<int16_t>(v.i)); break;
      case ValueType::kUint32: Put<uint32_t>(static_cast<uint32_t>(v.u)); break;
      case ValueType::kInt32: Put<int32_t>(static_cast<int32_t>(v.i)); break;
      case ValueType::kUint64: Put<uint64_t>(v.u); break;
      case ValueType::kInt64: Put<int64_t>(v.i); break;
      case ValueType::kFloat32: Put<float>(static_cast<float>(v.f)); break;
      case ValueType::kFloat64: Put<double>(v.f); break;
      case ValueType::kBool: Put<uint8_t>(v.u != 0 ? 1 : 0); break;
      case ValueType::kString: PutString(v.s); break;
      case ValueType::kArray:
        Put<uint32_t>(static_cast<uint32_t>(v.elem_type));
        Put<uint64_t>(v.array.size());
        for (const Value& e : v.array) PutPayload(e);
        break;
    }
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// Arrays must be homogeneous: every element of the declared elem_type, recursively.
bool IsWellFormed(const Value& v) {
  if (v.type != ValueType::kArray) return true;
  for (const Value& e : v.array) {
    if (e.type != v.elem_type || !IsWellFormed(e)) return false;
  }
  return true;
}

Value Scalar(ValueType type) {
  Value v;
  v.type = type;
  return v;
}

template <typename T, typename Set>
Value MakeArray(ValueType elem_type, const std::vector<T>& items, Set set) {
  Value v = Scalar(ValueType::kArray);
  v.elem_type = elem_type;
  v.array.reserve(items.size());
  for (const T& item : items) {
    Value e = Scalar(elem_type);
    set(e, item);
    v.array.push_back(std::move(e));
  }
  return v;
}

}  // namespace

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {}

GgufWriter::~GgufWriter() {
  if (file_ != nullptr) std::fclose(file_);  // an abandoned write leaves an incomplete file
}

void GgufWriter::AddValue(const std::string& key, const Value& v) { kv_.push_back({key, v}); }

void GgufWriter::AddU8(const std::string& key, uint8_t x) {
  Value v = Scalar(ValueType::kUint8); v.u = x; AddValue(key, v);
}
void GgufWriter::AddI8(const std::string& key, int8_t x) {
  Value v = Scalar(ValueType::kInt8); v.i = x; AddValue(key, v);
}
void GgufWriter::AddU16(const std::string& key, uint16_t x) {
  Value v = Scalar(ValueType::kUint16); v.u = x; AddValue(key, v);
}
void GgufWriter::AddI16(const std::string& key, int16_t x) {
  Value v = Scalar(ValueType::kInt16); v.i = x; AddValue(key, v);
}
void GgufWriter::AddU32(const std::string& key, uint32_t x) {
  Value v = Scalar(ValueType::kUint32); v.u = x; AddValue(key, v);
}
void GgufWriter::AddI32(const std::string& key, int32_t x) {
  Value v = Scalar(ValueType::kInt32); v.i = x; AddValue(key, v);
}
void GgufWriter::AddU64(const std::string& key, uint64_t x) {
  Value v = Scalar(ValueType::kUint64); v.u = x; AddValue(key, v);
}
void GgufWriter::AddI64(const std::string& key, int64_t x) {
  Value v = Scalar(ValueType::kInt64); v.i = x; AddValue(key, v);
}
void GgufWriter::AddF32(const std::string& key, float x) {
  Value v = Scalar(ValueType::kFloat32); v.f = x; AddValue(key, v);
}
void GgufWriter::AddF64(const std::string& key, double x) {
  Value v = Scalar(ValueType::kFloat64); v.f = x; AddValue(key, v);
}
void GgufWriter::AddBool(const std::string& key, bool x) {
  Value v = Scalar(ValueType::kBool); v.u = x ? 1 : 0; AddValue(key, v);
}
void GgufWriter::AddString(const std::string& key, const std::string& x) {
  Value v = Scalar(ValueType::kString); v.s = x; AddValue(key, v);
}
void GgufWriter::AddI32Array(const std::string& key, const std::vector<int32_t>& x) {
  AddValue(key, MakeArray(ValueType::kInt32, x, [](Value& e, int32_t i) { e.i = i; }));
}
void GgufWriter::AddU32Array(const std::string& key, const std::vector<uint32_t>& x) {
  AddValue(key, MakeArray(ValueType::kUint32, x, [](Value& e, uint32_t u) { e.u = u; }));
}
void GgufWriter::AddF32Array(const std::string& key, const std::vector<float>& x) {
  AddValue(key, MakeArray(ValueType::kFloat32, x, [](Value& e, float f) { e.f = f; }));
}
void GgufWriter::AddBoolArray(const std::string& key, const std::vector<bool>& x) {
  std::vector<uint8_t> bytes(x.begin(), x.end());
  AddValue(key, MakeArray(ValueType::kBool, bytes, [](Value& e, uint8_t b) { e.u = b; }));
}
void GgufWriter::AddStringArray(const std::string& key, const std::vector<std::string>& x) {
  AddValue(key,
           MakeArray(ValueType::kString, x, [](Value& e, const std::string& s) { e.s = s; }));
}

void GgufWriter::AddTensor(const std::string& name, std::vector<int64_t> ne, GgmlType type) {
  tensors_.push_back({name, std::move(ne), type, 0});  // nbytes is computed and checked in Open
}

absl::Status GgufWriter::Open(const std::string& path) {
  path_ = path;
  auto error = [&](absl::string_view subject, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", subject, ": ", problem));
  };
  if (file_ != nullptr) return error("writer", "already open");
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 ||
      alignment_ > std::numeric_limits<uint32_t>::max()) {
    return error("writer", absl::StrCat("alignment ", alignment_, " is not a u32 power of two"));
  }

  // Metadata: unique keys, homogeneous arrays, general.alignment consistent with alignment_.
  std::unordered_set<std::string> keys;
  bool has_alignment_key = false;
  for (const KeyValue& kv : kv_) {
    const std::string subject = absl::StrCat("key ", Quoted(kv.key));
    if (!keys.insert(kv.key).second) return error(subject, "duplicate key");
    if (!IsWellFormed(kv.value)) return error(subject, "array elements differ from elem_type");
    if (kv.key == "general.alignment") {
      if (kv.value.type != ValueType::kUint32 || kv.value.u != alignment_) {
        return error(subject, absl::StrCat("must be u32 ", alignment_,
                                           ", the writer's alignment"));
      }
      has_alignment_key = true;
    }
  }
  if (alignment_ != 32 && !has_alignment_key) AddU32("general.alignment", alignment_);

  // Tensors: valid shapes, then offsets in declaration order, each aligned.
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  ByteSink infos;
  for (Pending& t : tensors_) {
    const std::string subject = absl::StrCat("tensor ", Quoted(t.name));
    if (t.name.empty()) return error(subject, "empty tensor name");
    if (!names.insert(t.name).second) return error(subject, "duplicate tensor name");
    if (t.ne.empty() || t.ne.size() > 4) {
      return error(subject, absl::StrCat(t.ne.size(), " dimensions; expected 1..4"));
    }
    uint64_t rows = 1;
    for (size_t d = 0; d < t.ne.size(); ++d) {
      if (t.ne[d] < 1) return error(subject, absl::StrCat("ne[", d, "] = ", t.ne[d], " < 1"));
      if (d > 0 && __builtin_mul_overflow(rows, static_cast<uint64_t>(t.ne[d]), &rows)) {
        return error(subject, "element count overflows");
      }
    }
    const TypeTraits& traits = Traits(t.type);
    if (t.ne[0] % traits.block_elems != 0) {
      return error(subject, absl::StrCat("ne[0] = ", t.ne[0], " is not a multiple of the ",
                                         traits.name, " block size ", traits.block_elems));
    }
    const std::optional<uint64_t> row = RowBytes(t.type, t.ne[0]);  // nullopt only on overflow
    if (!row || __builtin_mul_overflow(*row, rows, &t.nbytes)) {
      return error(subject, "byte size overflows");
    }
    infos.PutString(t.name);
    infos.Put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) infos.Put<uint64_t>(static_cast<uint64_t>(n));
    infos.Put<uint32_t>(static_cast<uint32_t>(t.type));
    infos.Put<uint64_t>(offset);
    offset = AlignUp(offset + t.nbytes, alignment_);
  }

  ByteSink header;
  header.Put<uint32_t>(0x46554747);  // "GGUF" read as little-endian u32
  header.Put<uint32_t>(kVersion);
  header.Put<uint64_t>(tensors_.size());
  header.Put<uint64_t>(kv_.size());
  for (const KeyValue& kv : kv_) {
    header.PutString(kv.key);
    header.Put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    header.PutPayload(kv.value);
  }
  std::string bytes = header.bytes() + infos.bytes();
  bytes.resize(AlignUp(bytes.size(), alignment_), '\0');

  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot create"));
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": writing the header failed"));
  }
  current_ = 0;
  written_in_current_ = 0;
  return absl::OkStatus();
}

// Makes `name` the tensor being written: the current one, or the next once the current one is
// complete (its padding is written then).
absl::Status GgufWriter::AdvanceTo(const std::string& name) {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": tensor ", Quoted(name), ": writer is not open"));
  }
  if (current_ < tensors_.size() && tensors_[current_].name == name) return absl::OkStatus();
  const bool current_done =
      current_ < tensors_.size() && written_in_current_ == tensors_[current_].nbytes;
  if (current_done && current_ + 1 < tensors_.size() && tensors_[current_ + 1].name == name) {
    const Pending& done = tensors_[current_];
    const std::string zeros(AlignUp(done.nbytes, alignment_) - done.nbytes, '\0');
    if (std::fwrite(zeros.data(), 1, zeros.size(), file_) != zeros.size()) {
      return absl::ErrnoToStatus(errno, absl::StrCat(path_, ": tensor ", Quoted(done.name),
                                                     ": writing padding failed"));
    }
    ++current_;
    written_in_current_ = 0;
    return absl::OkStatus();
  }
  const bool declared = std::any_of(tensors_.begin(), tensors_.end(),
                                    [&](const Pending& t) { return t.name == name; });
  if (!declared) {
    return absl::NotFoundError(
        absl::StrCat(path_, ": tensor ", Quoted(name), ": not declared with AddTensor"));
  }
  const Pending& cur = tensors_[current_];
  return absl::FailedPreconditionError(absl::StrCat(
      path_, ": tensor ", Quoted(name), ": written out of order; tensor ", Quoted(cur.name),
      " comes first (", written_in_current_, " of ", cur.nbytes, " bytes written)"));
}

absl::Status GgufWriter::WriteTensorF32(const std::string& name,
                                        absl::Span<const float> values) {
  G4_RETURN_IF_ERROR(AdvanceTo(name));
  const Pending& t = tensors_[current_];
  const TypeTraits& traits = Traits(t.type);
  const int64_t n = static_cast<int64_t>(values.size());
  const uint64_t bytes =
      RowBytes(t.type, n - n % traits.block_elems).value_or(std::numeric_limits<uint64_t>::max());
  if (n % traits.block_elems != 0 || bytes > t.nbytes - written_in_current_) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": tensor ", Quoted(name), ": ", n, " values do not fit: need a multiple of ",
        traits.block_elems, " and at most ", t.nbytes - written_in_current_, " bytes (",
        traits.name, ")"));
  }
  for (int64_t start = 0; start < n; start += kChunkElems) {
    const int64_t count = std::min(kChunkElems, n - start);
    scratch_.resize(*RowBytes(t.type, count));
    if (auto s = Quantize(t.type, values.data() + start, scratch_.data(), count); !s.ok()) {
      return s;
    }
    if (std::fwrite(scratch_.data(), 1, scratch_.size(), file_) != scratch_.size()) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat(path_, ": tensor ", Quoted(name), ": write failed"));
    }
    written_in_current_ += scratch_.size();
  }
  return absl::OkStatus();
}

absl::Status GgufWriter::WriteTensorBytes(const std::string& name,
                                          absl::Span<const uint8_t> bytes) {
  G4_RETURN_IF_ERROR(AdvanceTo(name));
  const Pending& t = tensors_[current_];
  if (bytes.size() > t.nbytes - written_in_current_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": tensor ", Quoted(name), ": ", bytes.size(), " bytes exceed the ",
                     t.nbytes - written_in_current_, " that remain of ", t.nbytes));
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat(path_, ": tensor ", Quoted(name), ": write failed"));
  }
  written_in_current_ += bytes.size();
  return absl::OkStatus();
}

absl::Status GgufWriter::Close() {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": writer is not open"));
  }
  FILE* f = file_;
  file_ = nullptr;
  // Every tensor before current_ was completed by AdvanceTo; the current one must be too.
  if (!tensors_.empty()) {
    const Pending& cur = tensors_[current_];
    if (current_ + 1 < tensors_.size() || written_in_current_ != cur.nbytes) {
      std::fclose(f);
      const std::string first_missing =
          written_in_current_ != cur.nbytes ? cur.name : tensors_[current_ + 1].name;
      const uint64_t got = first_missing == cur.name ? written_in_current_ : 0;
      const uint64_t want = first_missing == cur.name ? cur.nbytes : tensors_[current_ + 1].nbytes;
      return absl::FailedPreconditionError(absl::StrCat(
          path_, ": tensor ", Quoted(first_missing), ": incomplete at Close (", got, " of ", want,
          " bytes written)"));
    }
    const std::string zeros(AlignUp(cur.nbytes, alignment_) - cur.nbytes, '\0');
    if (std::fwrite(zeros.data(), 1, zeros.size(), f) != zeros.size()) {
      const int err = errno;
      std::fclose(f);
      return absl::ErrnoToStatus(err, absl::StrCat(path_, ": writing padding failed"));
    }
  }
  if (std::fclose(f) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path_, ": close failed"));
  }
  return absl::OkStatus();
}

}  // namespace g4::gguf
