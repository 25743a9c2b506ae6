#include "kernels/weights.h"

#include <type_traits>

#include "absl/status/status.h"
#include "ir/strings.h"
#include "kernels/random.h"

namespace lemma {

template <typename A>
absl::StatusOr<Tensor<typename A::T>> TensorFromData(const WeightValue& value) {
  using T = typename A::T;
  if (absl::Status s = value.Check(); !s.ok()) return s;
  std::vector<T> logical(static_cast<size_t>(value.size()));
  for (int64_t i = 0; i < value.size(); ++i) {
    const double v = value.AsDouble(i);
    if constexpr (A::kExact) {
      absl::StatusOr<T> x = value.type.dtype == DType::kI64
                                ? absl::StatusOr<T>(A::FromInt(std::get<std::vector<int64_t>>(
                                      value.data)[static_cast<size_t>(i)]))
                                : A::FromDouble(v);
      if (!x.ok()) return absl::InvalidArgumentError(StrCat("element ", i, ": ", x.status().message()));
      logical[static_cast<size_t>(i)] = *x;
    } else {
      logical[static_cast<size_t>(i)] = static_cast<T>(v);
    }
  }
  return FromLogical(TensorType::Make(value.type.dtype, value.type.dims), std::move(logical));
}

template <typename A>
WeightValue DataFromTensor(const Tensor<typename A::T>& t) {
  std::vector<typename A::T> logical = ToLogical(t);
  if constexpr (std::is_same_v<A, F64>) {
    return WeightValue::Of(t.type.dims, std::move(logical));
  } else if constexpr (std::is_same_v<A, F32>) {
    return WeightValue::Of(t.type.dims, std::move(logical));
  } else {
    std::vector<int64_t> v;
    v.reserve(logical.size());
    for (uint64_t x : logical) v.push_back(ModP::Signed(x));
    return WeightValue::Of(t.type.dims, std::move(v));
  }
}

template <typename A>
absl::StatusOr<NamedTensors<A>> FeedsFromData(const Graph& g, const WeightValues& data,
                                              uint64_t seed) {
  if (absl::Status s = CheckWeightValues(g, data, /*allow_inputs=*/true); !s.ok()) return s;
  NamedTensors<A> feeds;
  for (const Node& n : g.nodes()) {
    if (!GetOpInfo(n.op).Has(kTraitSource)) continue;
    const std::string& name = n.names[0];
    auto it = data.find(name);
    if (it == data.end()) {
      const double scale = n.op == OpKind::kWeight ? WeightScale(n.outputs[0]) : 1.0;
      feeds.emplace(name, RandomTensor<A>(n.outputs[0], ValueSeed(seed, name), scale));
      continue;
    }
    absl::StatusOr<Tensor<typename A::T>> t = TensorFromData<A>(it->second);
    if (!t.ok()) {
      return absl::InvalidArgumentError(StrCat("data for '", name, "': ", t.status().message()));
    }
    feeds.emplace(name, *std::move(t));
  }
  return feeds;
}

WeightValues WithRandomWeights(const Graph& g, WeightValues data, uint64_t seed) {
  for (NodeId id : g.WeightNodes()) {
    const Node& n = g.node(id);
    const std::string& name = n.names[0];
    if (data.contains(name)) continue;
    const TensorType type = TensorType::Make(n.outputs[0].dtype, n.outputs[0].dims);
    const double scale = WeightScale(type);
    const uint64_t value_seed = ValueSeed(seed, name);
    if (type.dtype == DType::kF32) {
      data.emplace(name, DataFromTensor<F32>(RandomTensor<F32>(type, value_seed, scale)));
      continue;
    }
    WeightValue v = DataFromTensor<F64>(RandomTensor<F64>(type, value_seed, scale));
    if (type.dtype == DType::kI64) {
      std::vector<int64_t> ints;
      for (double x : std::get<std::vector<double>>(v.data)) ints.push_back(static_cast<int64_t>(x));
      v = WeightValue::Of(type.dims, std::move(ints));
    }
    data.emplace(name, std::move(v));
  }
  return data;
}

template absl::StatusOr<Tensor<double>> TensorFromData<F64>(const WeightValue&);
template absl::StatusOr<Tensor<float>> TensorFromData<F32>(const WeightValue&);
template absl::StatusOr<Tensor<uint64_t>> TensorFromData<ModP>(const WeightValue&);
template WeightValue DataFromTensor<F64>(const Tensor<double>&);
template WeightValue DataFromTensor<F32>(const Tensor<float>&);
template WeightValue DataFromTensor<ModP>(const Tensor<uint64_t>&);
template absl::StatusOr<NamedTensors<F64>> FeedsFromData<F64>(const Graph&, const WeightValues&, uint64_t);
template absl::StatusOr<NamedTensors<F32>> FeedsFromData<F32>(const Graph&, const WeightValues&, uint64_t);
template absl::StatusOr<NamedTensors<ModP>> FeedsFromData<ModP>(const Graph&, const WeightValues&, uint64_t);

}  // namespace lemma
