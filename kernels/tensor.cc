#include "kernels/tensor.h"

namespace lemma {
namespace {

template <typename T>
double SumLogical(const Tensor<T>& t) {
  double sum = 0;
  for (int64_t offset : PhysicalOffsets(t.type))
    sum += static_cast<double>(t.data[static_cast<size_t>(offset)]);
  return sum;
}

}  // namespace

std::vector<int64_t> RowMajorStrides(std::span<const int64_t> dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t step = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = step;
    step *= dims[i];
  }
  return strides;
}

std::vector<int64_t> PhysicalStrides(const TensorType& type) {
  const std::vector<int> perm = LayoutPermutation(type.layout, type.rank());
  Dims physical_dims(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) physical_dims[i] = type.dim(perm[i]);
  const std::vector<int64_t> physical_strides = RowMajorStrides(physical_dims);
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    strides[static_cast<size_t>(perm[i])] = physical_strides[i];
  }
  return strides;
}

int64_t PhysicalOffset(const TensorType& type, std::span<const int64_t> index) {
  const std::vector<int64_t> strides = PhysicalStrides(type);
  int64_t offset = 0;
  for (size_t d = 0; d < strides.size(); ++d) offset += index[d] * strides[d];
  return offset;
}

std::vector<int64_t> PhysicalOffsets(const TensorType& type) {
  const std::vector<int64_t> strides = PhysicalStrides(type);
  const int64_t n = type.num_elements();
  std::vector<int64_t> offsets(static_cast<size_t>(n));
  Dims index(strides.size(), 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    offsets[static_cast<size_t>(i)] = offset;
    // Advance the logical index like an odometer, keeping `offset` in step.
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < type.dims[d]) {
        offset += strides[d];
        break;
      }
      offset -= (index[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
  return offsets;
}

double Checksum(const Tensor<double>& t) { return SumLogical(t); }
double Checksum(const Tensor<float>& t) { return SumLogical(t); }

}  // namespace lemma
