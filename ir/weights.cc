#include "ir/weights.h"

#include <bit>
#include <cstring>

#include "ir/file_io.h"
#include "ir/strings.h"

namespace lemma {
namespace {

constexpr std::string_view kMagic = "LEMMATNS";
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxRank = 32;
constexpr uint32_t kMaxNameLength = 4096;

template <typename T>
WeightValue Make(DType dtype, Dims dims, std::vector<T> values) {
  return WeightValue{TensorType::Make(dtype, std::move(dims)), std::move(values)};
}

size_t AlternativeOf(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 0;
    case DType::kF64: return 1;
    case DType::kI64: return 2;
  }
  return 3;
}

// Little-endian encoding of fixed-size integers and element arrays. lemma
// builds for little-endian hosts only, so elements are copied as they lie.
static_assert(std::endian::native == std::endian::little, "lemma assumes a little-endian host");

template <typename T>
void Put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

// A cursor over untrusted bytes: every read checks the bytes left.
class Reader {
 public:
  Reader(std::string_view bytes, std::string_view filename) : bytes_(bytes), file_(filename) {}

  template <typename T>
  absl::StatusOr<T> Get(std::string_view what) {
    if (bytes_.size() - pos_ < sizeof(T)) return Truncated(what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  absl::StatusOr<std::string_view> Take(uint64_t n, std::string_view what) {
    if (bytes_.size() - pos_ < n) return Truncated(what);
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t left() const { return bytes_.size() - pos_; }
  absl::Status Error(std::string_view reason) const {
    return absl::InvalidArgumentError(StrCat(file_, ": ", reason));
  }

 private:
  absl::Status Truncated(std::string_view what) const {
    return Error(StrCat("truncated at byte ", pos_, " (reading ", what, ")"));
  }
  std::string_view bytes_;
  std::string_view file_;
  size_t pos_ = 0;
};

#define LEMMA_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                 \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

template <typename T>
std::vector<T> Elements(std::string_view raw) {
  std::vector<T> v(raw.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}

absl::StatusOr<std::pair<std::string, WeightValue>> DecodeRecord(Reader& r, uint32_t index) {
  const std::string what = StrCat("record ", index);
  LEMMA_ASSIGN_OR_RETURN(name_length, r.Get<uint32_t>(what));
  if (name_length > kMaxNameLength) {
    return r.Error(StrCat(what, ": name length ", name_length, " is over ", kMaxNameLength));
  }
  LEMMA_ASSIGN_OR_RETURN(name, r.Take(name_length, what));
  if (!IsValidName(name)) return r.Error(StrCat(what, ": '", name, "' is not a valid name"));
  const std::string where = StrCat("tensor '", name, "'");
  LEMMA_ASSIGN_OR_RETURN(dtype_code, r.Get<uint8_t>(where));
  if (dtype_code > 2) return r.Error(StrCat(where, ": unknown dtype code ", dtype_code));
  const DType dtype = static_cast<DType>(dtype_code);
  LEMMA_ASSIGN_OR_RETURN(rank, r.Get<uint32_t>(where));
  if (rank > kMaxRank) return r.Error(StrCat(where, ": rank ", rank, " is over ", kMaxRank));
  Dims dims;
  for (uint32_t i = 0; i < rank; ++i) {
    LEMMA_ASSIGN_OR_RETURN(d, r.Get<int64_t>(where));
    dims.push_back(d);
  }
  absl::StatusOr<int64_t> count = CheckedNumElements(dims);
  if (!count.ok()) return r.Error(StrCat(where, ": ", count.status().message()));
  const uint64_t size = static_cast<uint64_t>(DTypeSize(dtype));
  if (static_cast<uint64_t>(*count) > r.left() / size) {
    return r.Error(StrCat(where, ": ", DimsToString(dims), " needs ", *count * size,
                          " bytes of data, ", r.left(), " are left"));
  }
  LEMMA_ASSIGN_OR_RETURN(raw, r.Take(static_cast<uint64_t>(*count) * size, where));
  WeightValue value;
  switch (dtype) {
    case DType::kF32: value = WeightValue::Of(dims, Elements<float>(raw)); break;
    case DType::kF64: value = WeightValue::Of(dims, Elements<double>(raw)); break;
    case DType::kI64: value = WeightValue::Of(dims, Elements<int64_t>(raw)); break;
  }
  return std::pair<std::string, WeightValue>(std::string(name), std::move(value));
}

}  // namespace

WeightValue WeightValue::Of(Dims dims, std::vector<float> values) {
  return Make(DType::kF32, std::move(dims), std::move(values));
}
WeightValue WeightValue::Of(Dims dims, std::vector<double> values) {
  return Make(DType::kF64, std::move(dims), std::move(values));
}
WeightValue WeightValue::Of(Dims dims, std::vector<int64_t> values) {
  return Make(DType::kI64, std::move(dims), std::move(values));
}

int64_t WeightValue::size() const {
  return std::visit([](const auto& v) { return static_cast<int64_t>(v.size()); }, data);
}

double WeightValue::AsDouble(int64_t i) const {
  return std::visit([i](const auto& v) { return static_cast<double>(v[static_cast<size_t>(i)]); },
                    data);
}

std::vector<double> WeightValue::ToDoubles() const {
  return std::visit(
      [](const auto& v) {
        std::vector<double> out(v.size());
        for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(v[i]);
        return out;
      },
      data);
}

absl::Status WeightValue::Check() const {
  if (data.index() != AlternativeOf(type.dtype)) {
    return absl::InvalidArgumentError(
        StrCat("holds elements of another dtype than ", DTypeName(type.dtype)));
  }
  absl::StatusOr<int64_t> n = CheckedNumElements(type.dims);
  if (!n.ok()) return n.status();
  if (*n != size()) {
    return absl::InvalidArgumentError(
        StrCat("holds ", size(), " elements but ", type.ToString(), " has ", *n));
  }
  return absl::OkStatus();
}

absl::Status CheckWeightValues(const Graph& g, const WeightValues& weights, bool allow_inputs) {
  for (const auto& [name, value] : weights) {
    std::optional<ValueId> v = g.FindValue(name);
    const bool ok_op = v && (g.node(v->node).op == OpKind::kWeight ||
                             (allow_inputs && g.node(v->node).op == OpKind::kInput));
    if (!ok_op) {
      return absl::InvalidArgumentError(StrCat("data for '", name, "', which is no ",
                                               allow_inputs ? "input or " : "",
                                               "weight of graph '", g.name(), "'"));
    }
    if (absl::Status s = value.Check(); !s.ok()) {
      return absl::InvalidArgumentError(StrCat("data for '", name, "' ", s.message()));
    }
    const TensorType& declared = g.type(*v);
    if (declared.dtype != value.type.dtype || declared.dims != value.type.dims) {
      return absl::InvalidArgumentError(StrCat("data for '", name, "' is ", value.type.ToString(),
                                               " but the graph declares ", declared.ToString()));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> WeightsWithoutData(const Graph& g, const WeightValues& weights) {
  std::vector<std::string> out;
  for (NodeId id : g.WeightNodes()) {
    const std::string& name = g.node(id).names[0];
    if (!weights.contains(name)) out.push_back(name);
  }
  return out;
}

std::string EncodeTensorFile(const WeightValues& values) {
  std::string out(kMagic);
  Put<uint32_t>(out, kVersion);
  Put<uint32_t>(out, static_cast<uint32_t>(values.size()));
  for (const auto& [name, value] : values) {
    Put<uint32_t>(out, static_cast<uint32_t>(name.size()));
    out.append(name);
    Put<uint8_t>(out, static_cast<uint8_t>(value.type.dtype));
    Put<uint32_t>(out, static_cast<uint32_t>(value.type.rank()));
    for (int64_t d : value.type.dims) Put<int64_t>(out, d);
    std::visit(
        [&out](const auto& v) {
          out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
        },
        value.data);
  }
  return out;
}

absl::StatusOr<WeightValues> DecodeTensorFile(std::string_view bytes, std::string_view filename) {
  Reader r(bytes, filename);
  LEMMA_ASSIGN_OR_RETURN(magic, r.Take(kMagic.size(), "the header"));
  if (magic != kMagic) return r.Error("not a lemma tensor file (bad magic)");
  LEMMA_ASSIGN_OR_RETURN(version, r.Get<uint32_t>("the header"));
  if (version != kVersion) {
    return r.Error(StrCat("tensor file version ", version, " (this lemma reads ", kVersion, ")"));
  }
  LEMMA_ASSIGN_OR_RETURN(count, r.Get<uint32_t>("the header"));
  WeightValues values;
  for (uint32_t i = 0; i < count; ++i) {
    LEMMA_ASSIGN_OR_RETURN(record, DecodeRecord(r, i));
    if (values.contains(record.first)) {
      return r.Error(StrCat("tensor '", record.first, "' appears twice"));
    }
    values.emplace(std::move(record));
  }
  if (r.left() != 0) return r.Error(StrCat(r.left(), " bytes after the last record"));
  return values;
}

absl::StatusOr<WeightValues> ReadTensorFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeTensorFile(*bytes, path);
}

absl::Status WriteTensorFile(const std::string& path, const WeightValues& values) {
  return WriteFileAtomically(path, EncodeTensorFile(values));
}

}  // namespace lemma
