#ifndef LEMMA_KERNELS_TENSOR_H_
#define LEMMA_KERNELS_TENSOR_H_

// A tensor value of the reference evaluator: its type and its elements in
// PHYSICAL order, as type.layout stores them (ir/types.h: physical dim i is
// logical dim LayoutPermutation(layout, rank)[i]). Row-major and NCHW store
// the logical row-major order; column-major and NHWC permute it.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <utility>
#include <vector>

#include "ir/types.h"

namespace lemma {

/// A typed tensor with its elements in physical order.
template <typename T>
struct Tensor {
  TensorType type;
  std::vector<T> data;  // physical order; data.size() == type.num_elements()
};

/// Row-major strides of `dims`: the step in a flat array of one step along each dim.
std::vector<int64_t> RowMajorStrides(std::span<const int64_t> dims);

/// For each LOGICAL dim d, the step in physical storage of one step along d.
std::vector<int64_t> PhysicalStrides(const TensorType& type);

/// The physical offset of the element at logical index `index` (one entry per dim).
int64_t PhysicalOffset(const TensorType& type, std::span<const int64_t> index);

/// For each element in logical row-major order, its physical offset.
std::vector<int64_t> PhysicalOffsets(const TensorType& type);

/// The element at logical index `index`, wherever the layout stores it.
template <typename T>
const T& At(const Tensor<T>& t, std::span<const int64_t> index) {
  return t.data[static_cast<size_t>(PhysicalOffset(t.type, index))];
}
template <typename T>
T& At(Tensor<T>& t, std::span<const int64_t> index) {
  return t.data[static_cast<size_t>(PhysicalOffset(t.type, index))];
}

/// The elements of `t` in logical row-major order.
template <typename T>
std::vector<T> ToLogical(const Tensor<T>& t) {
  const std::vector<int64_t> offsets = PhysicalOffsets(t.type);
  std::vector<T> out(offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) out[i] = t.data[static_cast<size_t>(offsets[i])];
  return out;
}

/// A tensor of `type` holding `logical` (in logical row-major order), stored in
/// type.layout. Precondition: logical.size() == type.num_elements() (checked).
template <typename T>
Tensor<T> FromLogical(TensorType type, std::vector<T> logical) {
  const std::vector<int64_t> offsets = PhysicalOffsets(type);
  if (offsets.size() != logical.size()) {
    std::fprintf(stderr, "lemma: FromLogical: %zu elements for %s\n", logical.size(),
                 type.ToString().c_str());
    std::abort();
  }
  std::vector<T> data(logical.size());
  for (size_t i = 0; i < offsets.size(); ++i) data[static_cast<size_t>(offsets[i])] = logical[i];
  return Tensor<T>{std::move(type), std::move(data)};
}

/// The same logical tensor stored in `layout` (which must fit its rank).
template <typename T>
Tensor<T> WithLayout(const Tensor<T>& t, Layout layout) {
  TensorType type = t.type;
  type.layout = layout;
  return FromLogical(std::move(type), ToLogical(t));
}

/// Sum of the elements in logical order, in double: a layout-independent
/// checksum that `lemma run` prints.
double Checksum(const Tensor<double>& t);
double Checksum(const Tensor<float>& t);

}  // namespace lemma

#endif  // LEMMA_KERNELS_TENSOR_H_
