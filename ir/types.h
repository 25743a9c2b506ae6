#ifndef LEMMA_IR_TYPES_H_
#define LEMMA_IR_TYPES_H_

// Element types, shapes, layouts and the type of a tensor value.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lemma {

/// Element type of a tensor.
enum class DType : uint8_t { kF32, kF64, kI64 };

/// The text name of `dtype` ("f32", "f64", "i64").
std::string_view DTypeName(DType dtype);
/// Parses a text name produced by DTypeName; nullopt for anything else.
std::optional<DType> ParseDType(std::string_view name);
/// Every dtype's text name, indexed by DType.
std::span<const std::string_view> DTypeNames();
/// Size of one element in bytes.
int DTypeSize(DType dtype);

/// A tensor's logical dimensions. Rank 0 is a scalar. Dimensions are always in
/// canonical (row-major, NCHW) order; the physical order is the Layout's business.
using Dims = std::vector<int64_t>;

/// Number of elements of `dims` (1 for a scalar). Assumes dims are non-negative
/// and that the product fits; callers validate with CheckedNumElements first.
int64_t NumElements(std::span<const int64_t> dims);
/// The number of elements, or an error when a dimension is negative or the count
/// exceeds `limit` (which guards against shapes too large to allocate).
absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> dims,
                                           int64_t limit = int64_t{1} << 40);
/// "[2,3,4]".
std::string DimsToString(std::span<const int64_t> dims);

/// Physical storage order of a tensor. Row-major and NCHW store the logical
/// order; column-major (rank 2) and NHWC (rank 4) permute it.
enum class Layout : uint8_t { kRowMajor, kColMajor, kNCHW, kNHWC };

/// The text name of `layout` ("row_major", "col_major", "nchw", "nhwc").
std::string_view LayoutName(Layout layout);
std::optional<Layout> ParseLayout(std::string_view name);
/// The layout a tensor of `rank` gets unless told otherwise: NCHW for rank 4,
/// row-major for every other rank.
Layout DefaultLayout(int rank);
/// Whether `layout` can describe a tensor of `rank`.
bool LayoutFitsRank(Layout layout, int rank);
/// Physical dimension order: physical dim i is logical dim perm[i].
std::vector<int> LayoutPermutation(Layout layout, int rank);

/// The type of one tensor value: element type, logical shape and layout.
struct TensorType {
  DType dtype = DType::kF32;
  Dims dims;
  Layout layout = Layout::kRowMajor;

  /// A type with the default layout for the rank of `dims`.
  static TensorType Make(DType dtype, Dims dims);

  int rank() const { return static_cast<int>(dims.size()); }
  int64_t num_elements() const { return NumElements(dims); }
  int64_t dim(int i) const { return dims[static_cast<size_t>(i)]; }

  /// "f32[1,64,56,56]", with "@nhwc" appended when the layout is not the default.
  std::string ToString() const;

  friend bool operator==(const TensorType&, const TensorType&) = default;
};

}  // namespace lemma

#endif  // LEMMA_IR_TYPES_H_
