#include "kernels/compare.h"

#include <cmath>

#include "ir/strings.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"

namespace lemma {
namespace {

// Inputs and weights of the same name must have the same dtype and dims.
absl::Status CheckInterfaces(const Graph& a, const Graph& b) {
  for (const Node& na : a.nodes()) {
    if (!GetOpInfo(na.op).Has(kTraitSource)) continue;
    const std::optional<ValueId> vb = b.FindValue(na.names[0]);
    if (!vb || !GetOpInfo(b.node(vb->node).op).Has(kTraitSource)) continue;
    const TensorType& ta = na.outputs[0];
    const TensorType& tb = b.type(*vb);
    if (ta.dtype != tb.dtype || ta.dims != tb.dims) {
      return absl::InvalidArgumentError(StrCat("input '", na.names[0], "' is ", ta.ToString(),
                                               " in one graph and ", tb.ToString(), " in the other"));
    }
  }
  if (a.outputs().size() != b.outputs().size()) {
    return absl::InvalidArgumentError(StrCat("the graphs have ", a.outputs().size(), " and ",
                                             b.outputs().size(), " outputs"));
  }
  for (const GraphOutput& o : a.outputs()) {
    const std::optional<ValueId> vb = b.FindOutput(o.name);
    if (!vb) return absl::InvalidArgumentError(StrCat("output '", o.name, "' is missing"));
    if (a.type(o.value).dims != b.type(*vb).dims) {
      return absl::InvalidArgumentError(StrCat("output '", o.name, "' is ",
                                               a.type(o.value).ToString(), " and ",
                                               b.type(*vb).ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

template <typename A>
absl::StatusOr<Comparison> CompareOnRandomInputs(const Graph& a, const Graph& b, uint64_t seed,
                                                 int draws, double tolerance) {
  if (absl::Status s = CheckInterfaces(a, b); !s.ok()) return s;
  Comparison result;
  for (int d = 0; d < draws; ++d) {
    const uint64_t draw_seed = seed + static_cast<uint64_t>(d);
    absl::StatusOr<NamedTensors<A>> ra = Evaluate<A>(a, RandomFeeds<A>(a, draw_seed));
    if (!ra.ok()) return ra.status();
    absl::StatusOr<NamedTensors<A>> rb = Evaluate<A>(b, RandomFeeds<A>(b, draw_seed));
    if (!rb.ok()) return rb.status();
    for (const auto& [name, ta] : *ra) {
      const std::vector<typename A::T> la = ToLogical(ta);
      const std::vector<typename A::T> lb = ToLogical(rb->at(name));
      for (size_t i = 0; i < la.size(); ++i) {
        bool same;
        if constexpr (A::kExact) {
          same = la[i] == lb[i];
        } else {
          const double x = static_cast<double>(la[i]), y = static_cast<double>(lb[i]);
          const double err = std::isnan(x) && std::isnan(y) ? 0 : std::fabs(x - y) / (1 + std::fabs(y));
          if (err > result.max_error || std::isnan(err)) result.max_error = err;
          same = err <= tolerance;
        }
        if (!same) {
          result.equal = false;
          result.mismatch = StrCat("output ", name, " element ", i, ": ", A::ToDouble(la[i]),
                                   " vs ", A::ToDouble(lb[i]), " (seed ", draw_seed, ")");
          return result;
        }
      }
    }
  }
  return result;
}

template absl::StatusOr<Comparison> CompareOnRandomInputs<F64>(const Graph&, const Graph&,
                                                               uint64_t, int, double);
template absl::StatusOr<Comparison> CompareOnRandomInputs<F32>(const Graph&, const Graph&,
                                                               uint64_t, int, double);
template absl::StatusOr<Comparison> CompareOnRandomInputs<ModP>(const Graph&, const Graph&,
                                                                uint64_t, int, double);

}  // namespace lemma
