// GGUF reader: maps a file, parses and validates the header, metadata and tensor infos.
//
// Every byte read goes through GgufParser's bounds-checked cursor, and every count from the
// header is checked against the bytes that remain before anything is reserved, so a hostile or
// truncated file costs at most O(file size) memory and time and ends in an absl::Status of the
// shape "<path>: <subject>: <problem>", where the subject is "header", "key 'k'" or
// "tensor 't'".
#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace g4::gguf {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint64_t kMaxKeyLength = 65535;  // the spec's bound on key length
constexpr int kMaxArrayDepth = 8;          // nested arrays; bounds recursion on hostile input
// Each decoded Value takes ~100 bytes however small its encoding (1 byte for a u8), so the
// number of values is capped separately from the file size. Real vocabularies use ~1M.
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;
// Smallest possible encodings, to check header counts against the remaining bytes.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }

// Bytes of a scalar of type `t`; 0 for string and array.
uint64_t ScalarBytes(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: case ValueType::kArray: return 0;
  }
  return 0;
}

// Smallest encoding of one array element of type `t` (string: its length; array: type+count).
uint64_t MinElementBytes(ValueType t) {
  if (t == ValueType::kString) return 8;
  if (t == ValueType::kArray) return 12;
  return ScalarBytes(t);
}

bool IsUnsignedType(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64 || t == ValueType::kBool;
}
bool IsSignedType(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}

std::string Quoted(absl::string_view s) { return absl::StrCat("'", s, "'"); }

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). Keys and tensor
// names must be (the spec says UTF-8, and they are printed in every message); string values are
// kept as bytes (the tokenizer reproduces any bytes).
bool IsValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return false;
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Names of the ggml type ids we do not read, so "unsupported type" says which one it is.
const char* KnownGgmlTypeName(uint32_t id) {
  static constexpr const char* kNames[] = {
      "f32", "f16", "q4_0", "q4_1", nullptr, nullptr, "q5_0", "q5_1", "q8_0", "q8_1",
      "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
      "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m", "bf16",
      nullptr, nullptr, nullptr, "tq1_0", "tq2_0", nullptr, nullptr, nullptr, "mxfp4"};
  return id < sizeof(kNames) / sizeof(kNames[0]) ? kNames[id] : nullptr;
}

// "f32, f16, q4_0, ..." : the types GetTypeTraits knows, in id order.
std::string SupportedTypeNames() {
  std::vector<std::string> names;
  for (GgmlType t : kAllGgmlTypes) names.push_back(Traits(t).name);
  return absl::StrJoin(names, ", ");
}

std::string DimsString(const std::vector<int64_t>& ne) {
  return absl::StrCat("[", absl::StrJoin(ne, ", "), "]");
}

}  // namespace

// Parses and validates the image at file->base_ (file->size_ bytes) into `file`.
class GgufParser {
 public:
  explicit GgufParser(GgufFile* file) : f_(*file) {}

  absl::Status Parse() {
    subject_ = "header";
    G4_RETURN_IF_ERROR(ParseHeader());
    for (uint64_t i = 0; i < n_kv_; ++i) {
      G4_RETURN_IF_ERROR(ParseKeyValue(i));
    }
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      G4_RETURN_IF_ERROR(ParseTensorInfo(i));
    }
    return PlaceTensorData();
  }

 private:
  // --- errors --------------------------------------------------------------------------------
  absl::Status Invalid(absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(f_.path_, ": ", subject_, ": ", problem));
  }
  absl::Status Unsupported(absl::string_view problem) const {
    return absl::UnimplementedError(absl::StrCat(f_.path_, ": ", subject_, ": ", problem));
  }

  // --- bounds-checked cursor -----------------------------------------------------------------
  uint64_t Remaining() const { return f_.size_ - pos_; }

  absl::Status Need(uint64_t n, absl::string_view field) const {
    if (n <= Remaining()) return absl::OkStatus();
    return Invalid(absl::StrCat(field, " at offset ", pos_, " needs ", n, " bytes but only ",
                                Remaining(), " remain (truncated file)"));
  }
  template <typename T>
  absl::Status Read(T* out, absl::string_view field) {
    G4_RETURN_IF_ERROR(Need(sizeof(T), field));
    std::memcpy(out, f_.base_ + pos_, sizeof(T));  // little-endian host assumed (x86, arm64)
    pos_ += sizeof(T);
    return absl::OkStatus();
  }
  absl::Status ReadString(std::string* out, absl::string_view field, uint64_t max_len) {
    uint64_t len;
    G4_RETURN_IF_ERROR(Read(&len, absl::StrCat(field, " length")));
    if (len > max_len) {
      return Invalid(absl::StrCat(field, " length ", len, " exceeds the limit of ", max_len));
    }
    G4_RETURN_IF_ERROR(Need(len, absl::StrCat(field, " (", len, " bytes)")));
    out->assign(reinterpret_cast<const char*>(f_.base_ + pos_), len);
    pos_ += len;
    return absl::OkStatus();
  }

  // --- header --------------------------------------------------------------------------------
  absl::Status ParseHeader() {
    if (f_.size_ < 4) {
      return Invalid(absl::StrCat("file is ", f_.size_, " bytes, too short for the GGUF magic"));
    }
    if (std::memcmp(f_.base_, kMagic, 4) != 0) {
      return Invalid(absl::StrCat("bad magic '", absl::CHexEscape(absl::string_view(
                                      reinterpret_cast<const char*>(f_.base_), 4)),
                                  "' (expected 'GGUF'): not a GGUF file"));
    }
    pos_ = 4;
    G4_RETURN_IF_ERROR(Read(&f_.version_, "version"));
    if (f_.version_ == 1) {
      return Unsupported("GGUF version 1 (32-bit counts) is not supported; re-convert the model "
                         "with a current llama.cpp to get version 3");
    }
    if (f_.version_ != 2 && f_.version_ != 3) {
      const uint32_t swapped = __builtin_bswap32(f_.version_);
      return Unsupported(absl::StrCat("unsupported GGUF version ", f_.version_,
                                      swapped == 2 || swapped == 3 ? " (a big-endian file?)" : "",
                                      "; supported: 2, 3"));
    }
    G4_RETURN_IF_ERROR(Read(&n_tensors_, "tensor count"));
    G4_RETURN_IF_ERROR(Read(&n_kv_, "metadata count"));
    // Counts must be payable by the bytes left, so the reserves below are bounded by file size.
    if (n_kv_ > Remaining() / kMinKvBytes) {
      return Invalid(absl::StrCat("metadata count ", n_kv_, " is implausible for the ",
                                  Remaining(), " bytes after the header"));
    }
    if (n_tensors_ > (Remaining() - n_kv_ * kMinKvBytes) / kMinTensorInfoBytes) {
      return Invalid(absl::StrCat("tensor count ", n_tensors_, " is implausible for the ",
                                  Remaining(), " bytes after the header"));
    }
    // Capped: entries decode to ~10x their minimal encoding; beyond this, growth is paid for
    // by bytes actually parsed.
    f_.kv_.reserve(std::min<uint64_t>(n_kv_, 4096));
    f_.tensors_.reserve(std::min<uint64_t>(n_tensors_, 4096));
    return absl::OkStatus();
  }

  // --- metadata ------------------------------------------------------------------------------
  absl::Status ParseKeyValue(uint64_t index) {
    subject_ = absl::StrCat("metadata entry #", index);
    KeyValue kv;
    G4_RETURN_IF_ERROR(ReadString(&kv.key, "key", kMaxKeyLength));
    if (!IsValidUtf8(kv.key)) {
      subject_ = absl::StrCat("key ", Quoted(absl::CHexEscape(kv.key)));
      return Invalid("key is not valid UTF-8");
    }
    subject_ = absl::StrCat("key ", Quoted(kv.key));
    if (f_.kv_index_.count(kv.key)) return Invalid("duplicate key");
    uint32_t type;
    G4_RETURN_IF_ERROR(Read(&type, "value type"));
    if (!IsValidValueType(type)) return Invalid(absl::StrCat("unknown value type id ", type));
    G4_RETURN_IF_ERROR(ReadValue(static_cast<ValueType>(type), &kv.value, 0));
    if (kv.key == "general.alignment") {
      G4_RETURN_IF_ERROR(CheckAlignment(kv.value));
    }
    f_.kv_index_.emplace(kv.key, f_.kv_.size());
    f_.kv_.push_back(std::move(kv));
    return absl::OkStatus();
  }

  absl::Status ReadValue(ValueType type, Value* v, int depth) {
    if (++n_values_ > kMaxMetadataValues) {
      return Invalid(absl::StrCat("metadata holds more than ", kMaxMetadataValues,
                                  " values in all; refusing to decode"));
    }
    v->type = type;
    switch (type) {
      case ValueType::kUint8: return ReadUnsigned<uint8_t>(v);
      case ValueType::kUint16: return ReadUnsigned<uint16_t>(v);
      case ValueType::kUint32: return ReadUnsigned<uint32_t>(v);
      case ValueType::kUint64: return ReadUnsigned<uint64_t>(v);
      case ValueType::kInt8: return ReadSigned<int8_t>(v);
      case ValueType::kInt16: return ReadSigned<int16_t>(v);
      case ValueType::kInt32: return ReadSigned<int32_t>(v);
      case ValueType::kInt64: return ReadSigned<int64_t>(v);
      case ValueType::kFloat32: {
        float x;
        G4_RETURN_IF_ERROR(Read(&x, "f32 value"));
        v->f = x;
        return absl::OkStatus();
      }
      case ValueType::kFloat64: return Read(&v->f, "f64 value");
      case ValueType::kBool: {
        uint8_t b;
        G4_RETURN_IF_ERROR(Read(&b, "bool value"));
        if (b > 1) return Invalid(absl::StrCat("bool value ", int{b}, " is neither 0 nor 1"));
        v->u = b;
        return absl::OkStatus();
      }
      case ValueType::kString:
        return ReadString(&v->s, "string value", std::numeric_limits<uint64_t>::max());
      case ValueType::kArray: return ReadArray(v, depth);
    }
    return Invalid("unknown value type");  // unreachable: types are checked by the callers
  }

  template <typename T>
  absl::Status ReadUnsigned(Value* v) {
    T x;
    G4_RETURN_IF_ERROR(Read(&x, absl::StrCat(ValueTypeName(v->type), " value")));
    v->u = x;
    return absl::OkStatus();
  }
  template <typename T>
  absl::Status ReadSigned(Value* v) {
    T x;
    G4_RETURN_IF_ERROR(Read(&x, absl::StrCat(ValueTypeName(v->type), " value")));
    v->i = x;
    return absl::OkStatus();
  }

  absl::Status ReadArray(Value* v, int depth) {
    if (depth >= kMaxArrayDepth) {
      return Invalid(absl::StrCat("arrays nested deeper than ", kMaxArrayDepth));
    }
    uint32_t elem_type;
    G4_RETURN_IF_ERROR(Read(&elem_type, "array element type"));
    if (!IsValidValueType(elem_type)) {
      return Invalid(absl::StrCat("unknown array element type id ", elem_type));
    }
    v->elem_type = static_cast<ValueType>(elem_type);
    uint64_t count;
    G4_RETURN_IF_ERROR(Read(&count, "array length"));
    const uint64_t min_bytes = MinElementBytes(v->elem_type);
    if (count > Remaining() / min_bytes) {
      return Invalid(absl::StrCat("array length ", count, " of ", ValueTypeName(v->elem_type),
                                  " at offset ", pos_ - 8, " exceeds the ", Remaining(),
                                  " bytes that remain"));
    }
    if (count > kMaxMetadataValues - n_values_) {
      return Invalid(absl::StrCat("array length ", count, " would exceed the limit of ",
                                  kMaxMetadataValues, " metadata values in all"));
    }
    v->array.resize(count);
    for (Value& elem : v->array) {
      G4_RETURN_IF_ERROR(ReadValue(v->elem_type, &elem, depth + 1));
    }
    return absl::OkStatus();
  }

  absl::Status CheckAlignment(const Value& v) {
    if (v.type != ValueType::kUint32) {
      return Invalid(absl::StrCat("alignment must be of type u32, found ", ValueTypeName(v.type)));
    }
    if (v.u == 0 || (v.u & (v.u - 1)) != 0) {
      return Invalid(absl::StrCat("alignment ", v.u, " is not a power of two"));
    }
    f_.alignment_ = v.u;
    return absl::OkStatus();
  }

  // --- tensor infos --------------------------------------------------------------------------
  absl::Status ParseTensorInfo(uint64_t index) {
    subject_ = absl::StrCat("tensor info #", index);
    TensorInfo t;
    G4_RETURN_IF_ERROR(ReadString(&t.name, "tensor name", kMaxKeyLength));
    if (!IsValidUtf8(t.name)) {
      subject_ = absl::StrCat("tensor ", Quoted(absl::CHexEscape(t.name)));
      return Invalid("tensor name is not valid UTF-8");
    }
    subject_ = absl::StrCat("tensor ", Quoted(t.name));
    if (t.name.empty()) return Invalid("empty tensor name");
    if (f_.tensor_index_.count(t.name)) return Invalid("duplicate tensor name");
    uint32_t n_dims;
    G4_RETURN_IF_ERROR(Read(&n_dims, "n_dims"));
    if (n_dims < 1 || n_dims > 4) {
      return Invalid(absl::StrCat("n_dims ", n_dims, " is outside 1..4"));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      G4_RETURN_IF_ERROR(Read(&ne, absl::StrCat("ne[", d, "]")));
      if (ne < 1 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid(absl::StrCat("dimension ne[", d, "] = ", ne, " is not in 1..2^63-1"));
      }
      if (__builtin_mul_overflow(elements, ne, &elements) ||
          elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid(absl::StrCat("element count overflows at ne[", d, "] = ", ne));
      }
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    uint32_t type_id;
    G4_RETURN_IF_ERROR(Read(&type_id, "ggml type"));
    const std::optional<TypeTraits> traits = GetTypeTraits(type_id);
    if (!traits) {
      const char* known = KnownGgmlTypeName(type_id);
      return Unsupported(absl::StrCat("ggml type id ", type_id,
                                      known ? absl::StrCat(" (", known, ")") : " (unknown)",
                                      " is not supported (supported: ", SupportedTypeNames(),
                                      ")"));
    }
    t.type = traits->type;
    if (t.ne[0] % traits->block_elems != 0) {
      return Invalid(absl::StrCat("ne[0] = ", t.ne[0], " is not a multiple of the ", traits->name,
                                  " block size ", traits->block_elems));
    }
    const std::optional<uint64_t> row = RowBytes(t.type, t.ne[0]);  // nullopt only on overflow
    if (!row ||
        __builtin_mul_overflow(*row, elements / static_cast<uint64_t>(t.ne[0]), &t.nbytes)) {
      return Invalid(absl::StrCat("byte size of shape ", DimsString(t.ne), " overflows"));
    }
    G4_RETURN_IF_ERROR(Read(&t.offset, "data offset"));
    if (t.offset % f_.alignment_ != 0) {
      return Invalid(absl::StrCat("data offset ", t.offset, " is not aligned to ", f_.alignment_));
    }
    f_.tensor_index_.emplace(t.name, f_.tensors_.size());
    f_.tensors_.push_back(std::move(t));
    return absl::OkStatus();
  }

  // --- data section --------------------------------------------------------------------------
  absl::Status PlaceTensorData() {
    subject_ = "header";
    const uint64_t a = f_.alignment_;
    if (pos_ > std::numeric_limits<uint64_t>::max() - (a - 1)) return Invalid("size overflow");
    f_.data_offset_ = (pos_ + a - 1) / a * a;
    if (f_.tensors_.empty()) return absl::OkStatus();  // nothing to place; padding may be absent
    if (f_.data_offset_ > f_.size_) {
      return Invalid(absl::StrCat("data section at offset ", f_.data_offset_,
                                  " starts past end of file (", f_.size_, " bytes)"));
    }
    for (TensorInfo& t : f_.tensors_) {
      subject_ = absl::StrCat("tensor ", Quoted(t.name));
      const uint64_t room = f_.size_ - f_.data_offset_;
      if (t.offset > room) {
        return Invalid(absl::StrCat("data offset ", t.offset, " lies past end of file (",
                                    f_.size_, " bytes; data section starts at ", f_.data_offset_,
                                    ")"));
      }
      if (t.nbytes > room - t.offset) {
        const uint64_t begin = f_.data_offset_ + t.offset;  // <= size_: no overflow
        uint64_t end;
        const std::string end_text = __builtin_add_overflow(begin, t.nbytes, &end)
                                         ? absl::StrCat(begin, " + ", t.nbytes)
                                         : absl::StrCat(end);
        return Invalid(absl::StrCat("data [", begin, ", ", end_text,
                                    ") extends past end of file (", f_.size_, " bytes)"));
      }
      t.data = f_.base_ + f_.data_offset_ + t.offset;
    }
    return CheckNoOverlap();
  }

  absl::Status CheckNoOverlap() {
    std::vector<size_t> order(f_.tensors_.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return f_.tensors_[x].offset < f_.tensors_[y].offset;
    });
    for (size_t k = 1; k < order.size(); ++k) {
      const TensorInfo& prev = f_.tensors_[order[k - 1]];
      const TensorInfo& t = f_.tensors_[order[k]];
      if (prev.offset + prev.nbytes > t.offset) {  // both in the file: no overflow
        subject_ = absl::StrCat("tensor ", Quoted(t.name));
        const uint64_t base = f_.data_offset_;
        return Invalid(absl::StrCat("data [", base + t.offset, ", ", base + t.offset + t.nbytes,
                                    ") overlaps tensor ", Quoted(prev.name), " [",
                                    base + prev.offset, ", ", base + prev.offset + prev.nbytes,
                                    ")"));
      }
    }
    return absl::OkStatus();
  }

  GgufFile& f_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t n_values_ = 0;
  std::string subject_;  // what is being parsed, for error messages
};

// ---------------------------------------------------------------------------------------------

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "unknown";
}

bool Value::IsInteger() const { return IsUnsignedType(type) || IsSignedType(type); }

int64_t Value::AsInt() const {
  if (IsSignedType(type)) return i;
  if (IsUnsignedType(type)) return static_cast<int64_t>(u);
  return 0;
}

double Value::AsFloat() const {
  if (type == ValueType::kFloat32 || type == ValueType::kFloat64) return f;
  if (IsSignedType(type)) return static_cast<double>(i);
  if (IsUnsignedType(type)) return static_cast<double>(u);
  return 0;
}

int64_t TensorInfo::NumElements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated against overflow when parsed
  return n;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) munmap(mapping_, size_);
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot stat"));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": header: not a regular file"));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {  // mmap of 0 bytes fails; the parser reports the short file instead
    void* m = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot mmap ", file->size_, " bytes"));
    }
    file->mapping_ = m;
    file->base_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);  // the mapping keeps the file alive
  G4_RETURN_IF_ERROR(GgufParser(file.get()).Parse());
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBytes(absl::string_view bytes,
                                                              const std::string& display_name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = display_name;
  file->owned_.assign(bytes.begin(), bytes.end());
  file->base_ = file->owned_.data();
  file->size_ = file->owned_.size();
  G4_RETURN_IF_ERROR(GgufParser(file.get()).Parse());
  return file;
}

const Value* GgufFile::Find(absl::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const TensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

absl::Status KeyNotFound(const std::string& path, absl::string_view key) {
  return absl::NotFoundError(absl::StrCat(path, ": key ", Quoted(key), ": not found"));
}
absl::Status WrongType(const std::string& path, absl::string_view key, absl::string_view expected,
                       const Value& found) {
  std::string found_name = ValueTypeName(found.type);
  if (found.type == ValueType::kArray) {
    absl::StrAppend(&found_name, " of ", ValueTypeName(found.elem_type));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": key ", Quoted(key), ": expected ",
                                                 expected, ", found ", found_name));
}

// Integer value of an integer (not bool) scalar when it lies in [lo, hi].
bool IntegerInRange(const Value& v, int64_t lo, uint64_t hi) {
  if (IsSignedType(v.type)) return v.i >= lo && (v.i < 0 || static_cast<uint64_t>(v.i) <= hi);
  if (IsUnsignedType(v.type) && v.type != ValueType::kBool) {
    return v.u <= hi && (lo <= 0 || v.u >= static_cast<uint64_t>(lo));
  }
  return false;
}

}  // namespace

absl::StatusOr<uint32_t> GgufFile::GetU32(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  if (!v->IsInteger() || v->type == ValueType::kBool) {
    return WrongType(path_, key, "an integer", *v);
  }
  if (!IntegerInRange(*v, 0, std::numeric_limits<uint32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": key ", Quoted(key), ": value ",
                     IsSignedType(v->type) ? absl::StrCat(v->i) : absl::StrCat(v->u),
                     " is out of the u32 range"));
  }
  return static_cast<uint32_t>(v->AsInt());
}

absl::StatusOr<float> GgufFile::GetF32(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  const bool is_float = v->type == ValueType::kFloat32 || v->type == ValueType::kFloat64;
  if (!is_float && (!v->IsInteger() || v->type == ValueType::kBool)) {
    return WrongType(path_, key, "a float or integer", *v);
  }
  return static_cast<float>(v->AsFloat());
}

absl::StatusOr<bool> GgufFile::GetBool(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  if (v->type != ValueType::kBool) return WrongType(path_, key, "bool", *v);
  return v->u != 0;
}

absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  if (v->type != ValueType::kString) return WrongType(path_, key, "string", *v);
  return v->s;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntOrArray(absl::string_view key,
                                                             size_t n) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  const bool unsigned_too_big = IsUnsignedType(v->type) &&
                                v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (v->IsInteger()) {
    if (unsigned_too_big) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", Quoted(key), ": value ",
                                                     v->u, " is out of the i64 range"));
    }
    return std::vector<int64_t>(n, v->AsInt());
  }
  if (v->type != ValueType::kArray || !(IsUnsignedType(v->elem_type) ||
                                        IsSignedType(v->elem_type))) {
    return WrongType(path_, key, "an integer or an integer/bool array", *v);
  }
  if (v->array.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", Quoted(key), ": array has ",
                                                   v->array.size(), " elements, expected ", n));
  }
  std::vector<int64_t> out;
  out.reserve(n);
  for (const Value& e : v->array) {
    if (IsUnsignedType(e.type) && e.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", Quoted(key), ": element ",
                                                     e.u, " is out of the i64 range"));
    }
    out.push_back(e.AsInt());
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyNotFound(path_, key);
  if (v->type != ValueType::kArray || v->elem_type != ValueType::kString) {
    return WrongType(path_, key, "array of string", *v);
  }
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const Value& e : v->array) out.push_back(e.s);
  return out;
}

absl::StatusOr<std::vector<float>> GgufFile::ReadAsF32(const TensorInfo& t) const {
  const bool ours = !tensors_.empty() && &t >= tensors_.data() && &t < tensors_.data() + tensors_.size();
  if (!ours || t.data == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": tensor ", Quoted(t.name),
                                                   ": not a tensor of this file"));
  }
  const int64_t n = t.NumElements();
  std::vector<float> out;
  if (static_cast<uint64_t>(n) > out.max_size()) {
    return absl::ResourceExhaustedError(absl::StrCat(path_, ": tensor ", Quoted(t.name), ": ", n,
                                                     " elements do not fit in memory"));
  }
  out.resize(static_cast<size_t>(n));
  Dequantize(t.type, t.data, out.data(), n);
  return out;
}

}  // namespace g4::gguf
