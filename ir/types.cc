#include "ir/types.h"

#include <array>

#include "absl/status/status.h"
#include "ir/strings.h"

namespace lemma {
namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  int size;
};
constexpr std::array<DTypeEntry, 3> kDTypes = {{
    {DType::kF32, "f32", 4},
    {DType::kF64, "f64", 8},
    {DType::kI64, "i64", 8},
}};

constexpr std::array<std::string_view, 4> kLayoutNames = {"row_major", "col_major", "nchw",
                                                          "nhwc"};

}  // namespace

std::string_view DTypeName(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].name; }

std::optional<DType> ParseDType(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

std::span<const std::string_view> DTypeNames() {
  static constexpr std::array<std::string_view, kDTypes.size()> kNames = {
      kDTypes[0].name, kDTypes[1].name, kDTypes[2].name};
  return kNames;
}

int DTypeSize(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].size; }

int64_t NumElements(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> dims, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          StrCat("negative dimension ", d, " in shape ", DimsToString(dims)));
    }
    if (d != 0 && n > limit / d) {
      return absl::InvalidArgumentError(StrCat(
          "shape ", DimsToString(dims), " has more than ", limit, " elements"));
    }
    n *= d;
  }
  return n;
}

std::string DimsToString(std::span<const int64_t> dims) {
  return StrCat("[", StrJoin(dims, ","), "]");
}

std::string_view LayoutName(Layout layout) {
  return kLayoutNames[static_cast<size_t>(layout)];
}

std::optional<Layout> ParseLayout(std::string_view name) {
  for (size_t i = 0; i < kLayoutNames.size(); ++i) {
    if (kLayoutNames[i] == name) return static_cast<Layout>(i);
  }
  return std::nullopt;
}

Layout DefaultLayout(int rank) { return rank == 4 ? Layout::kNCHW : Layout::kRowMajor; }

bool LayoutFitsRank(Layout layout, int rank) {
  switch (layout) {
    case Layout::kRowMajor:
      return rank != 4;
    case Layout::kColMajor:
      return rank == 2;
    case Layout::kNCHW:
    case Layout::kNHWC:
      return rank == 4;
  }
  return false;
}

std::vector<int> LayoutPermutation(Layout layout, int rank) {
  std::vector<int> perm(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  if (layout == Layout::kColMajor && rank == 2) perm = {1, 0};
  if (layout == Layout::kNHWC && rank == 4) perm = {0, 2, 3, 1};
  return perm;
}

TensorType TensorType::Make(DType dtype, Dims dims) {
  const int rank = static_cast<int>(dims.size());
  return TensorType{dtype, std::move(dims), DefaultLayout(rank)};
}

std::string TensorType::ToString() const {
  std::string s = StrCat(DTypeName(dtype), DimsToString(dims));
  if (layout != DefaultLayout(rank())) StrAppend(&s, "@", LayoutName(layout));
  return s;
}

}  // namespace lemma
