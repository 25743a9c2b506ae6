#include "kernels/cpu/cost_model.h"

#include <optional>

#include "ir/builder.h"
#include "ir/strings.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/onednn.h"
#include "kernels/cpu/standalone.h"
#include "kernels/cpu/target.h"
#include "kernels/reference.h"

namespace lemma::cpu {
namespace {

bool IsFree(OpKind op) {
  const OpInfo& info = GetOpInfo(op);
  return info.Has(kTraitSource) || info.Has(kTraitConstant) || op == OpKind::kTranspose ||
         op == OpKind::kSlice || op == OpKind::kSplit || op == OpKind::kReshape;
}

int Threads(const CostModelOptions& o) { return o.threads > 0 ? o.threads : HostTarget().cores; }

}  // namespace

absl::StatusOr<std::unique_ptr<MeasuredCostModel>> MeasuredCostModel::Create(
    const CostModelOptions& options) {
  std::unique_ptr<MeasuredCostModel> m(new MeasuredCostModel(options));
  if (!options.cache_path.empty()) {
    absl::StatusOr<TuningLog> log = TuningLog::Load(options.cache_path);
    if (!log.ok()) return log.status();
    m->cache_ = *std::move(log);
  }
  return m;
}

double MeasuredCostModel::AnalyticalSeconds(const Graph& graph, NodeId id) const {
  const Node& n = graph.node(id);
  if (IsFree(n.op)) return 0;
  const double flops = GroupFlops(graph, Group{id, {}});
  double bytes = 0;
  for (ValueId in : n.inputs) bytes += 4.0 * static_cast<double>(graph.type(in).num_elements());
  for (const TensorType& t : n.outputs) bytes += 4.0 * static_cast<double>(t.num_elements());
  const double peak = PeakFlops(HostTarget(), Threads(options_), options_.ghz);
  return flops / (peak * options_.peak_fraction) + bytes / options_.bandwidth;
}

absl::StatusOr<TuningRecord> MeasuredCostModel::Measure(const Graph& graph, NodeId id,
                                                        const std::string& key) {
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(graph, Group{id, {}});
  if (!ctx.ok()) return ctx.status();
  const int threads = Threads(options_);
  ThreadPool& pool = SharedPool(threads);
  const std::string target = HostTarget().Key(threads);
  TuningRecord best;
  best.kind = "cost";
  best.target = target;
  best.workload = key;
  best.seconds = 1e30;
  const Group& group = (*ctx)->group();
  if (std::unique_ptr<Template> t = MakeTemplate(group, **ctx)) {
    Config config = t->DefaultConfig();
    if (options_.tuning_log != nullptr) {
      // The workload's schedule tuned warm, else the one tuned with its
      // weights evicted (a log made for a model whose weights outgrow the
      // last-level cache).
      std::optional<TuningRecord> r =
          options_.tuning_log->Best("schedule", target, ScheduleKey(group, **ctx, WeightCache::kWarm));
      if (!r) {
        r = options_.tuning_log->Best("schedule", target, ScheduleKey(group, **ctx, WeightCache::kCold));
      }
      if (r) config = r->config;
    }
    absl::StatusOr<Lowered> lowered = t->Lower(config);
    if (lowered.ok()) {
      absl::StatusOr<CompiledGroup> compiled = CompiledGroup::Compile(*std::move(lowered), true);
      if (compiled.ok()) {
        best.seconds = TimeGroup(*compiled, **ctx, pool);
        best.template_name = compiled->generated() ? "generated" : "interpreted";
        best.config = config;
      }
    }
  } else {
    // A built-in kernel: the reference kernel on the group's inputs.
    const Node& n = graph.node(id);
    std::vector<Tensor<float>> inputs;
    for (ValueId in : n.inputs) {
      const ValueAccess a = (*ctx)->Access(in);
      Tensor<float> t;
      t.type = graph.type(in);
      t.data = a.constant != nullptr ? std::vector<float>(a.constant, a.constant + a.elements)
                                     : std::vector<float>(static_cast<size_t>(a.elements), 0.5f);
      inputs.push_back(std::move(t));
    }
    std::vector<const Tensor<float>*> args;
    for (const Tensor<float>& t : inputs) args.push_back(&t);
    bool ok = true;
    const double s = TimeFastest([&] { ok = ok && EvaluateNode<F32>(graph, id, args).ok(); });
    if (ok) {
      best.seconds = s;
      best.template_name = "builtin";
    }
  }
  if (options_.use_onednn && OneDnnAvailable()) {
    absl::StatusOr<std::unique_ptr<OneDnnKernel>> k = MakeOneDnnKernel(group, **ctx, threads);
    if (k.ok()) {
      const double s = TimeOneDnn(**k, **ctx);
      if (s < best.seconds) {
        best.seconds = s;
        best.template_name = "onednn";
        best.config.clear();
      }
    }
  }
  if (best.seconds >= 1e30) {
    return absl::UnimplementedError(StrCat(graph.Describe(id), ": no kernel could be measured"));
  }
  const double flops = GroupFlops(graph, group);
  best.gflops = flops > 0 ? flops / best.seconds / 1e9 : 0;
  return best;
}

absl::StatusOr<double> MeasuredCostModel::Unmeasured(const Graph& graph, NodeId id,
                                                     const absl::Status& why) {
  if (!options_.analytical_fallback) {
    return absl::UnimplementedError(
        StrCat(graph.Describe(id), ": cannot be measured: ", why.message()));
  }
  ++stats_.analytical;
  return AnalyticalSeconds(graph, id);
}

absl::StatusOr<double> MeasuredCostModel::NodeCostSeconds(const Graph& graph, NodeId id) {
  if (id < 0 || id >= graph.num_nodes()) {
    return absl::InvalidArgumentError(StrCat("there is no node ", id));
  }
  if (IsFree(graph.node(id).op)) return 0.0;
  // A node whose inputs are all constant is folded when the plan is made.
  bool constant = true;
  for (ValueId in : graph.node(id).inputs) constant = constant && IsConstantValue(graph, in);
  if (constant) return 0.0;
  if (!options_.measure) {
    ++stats_.analytical;
    return AnalyticalSeconds(graph, id);
  }
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(graph, Group{id, {}});
  if (!ctx.ok()) return Unmeasured(graph, id, ctx.status());
  const std::string target = HostTarget().Key(Threads(options_));
  const std::string key = WorkloadKey(Group{id, {}}, **ctx);
  if (std::optional<TuningRecord> r = cache_.Best("cost", target, key)) {
    ++stats_.cached;
    return r->seconds;
  }
  absl::StatusOr<TuningRecord> r = Measure(graph, id, key);
  if (!r.ok()) return Unmeasured(graph, id, r.status());
  ++stats_.measured;
  const double seconds = r->seconds;
  cache_.Add(*std::move(r));
  return seconds;
}

absl::StatusOr<double> MeasuredCostModel::OpCostSeconds(OpKind op, const Attributes& attrs,
                                                        std::span<const TensorType> inputs,
                                                        const std::vector<bool>& constant,
                                                        std::span<const Layout> output_layouts) {
  absl::StatusOr<Graph> g = SingleOpGraph(op, attrs, inputs, constant, output_layouts);
  if (!g.ok()) return g.status();
  return NodeCostSeconds(*g, static_cast<NodeId>(inputs.size()));
}

std::vector<bool> MeasuredCostModel::TypicalConstantInputs(OpKind op, int inputs) {
  std::vector<bool> constant(static_cast<size_t>(std::max(inputs, 0)), false);
  switch (op) {
    case OpKind::kConv2d:
    case OpKind::kMatMul:
      if (inputs > 1) constant[1] = true;
      break;
    case OpKind::kBatchNorm:
    case OpKind::kLayerNorm:
      for (size_t i = 1; i < constant.size(); ++i) constant[i] = true;
      break;
    default:
      break;
  }
  return constant;
}

absl::Status MeasuredCostModel::Save() const { return cache_.Save(); }

}  // namespace lemma::cpu
