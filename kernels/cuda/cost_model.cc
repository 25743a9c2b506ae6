#include "kernels/cuda/cost_model.h"

#include <algorithm>
#include <utility>

#include "ir/builder.h"
#include "ir/strings.h"
#include "kernels/cuda/runtime.h"
#include "ir/status_macros.h"
#include "kernels/random.h"

namespace lemma::cuda {

std::string OpWorkloadKey(OpKind op, const Attributes& attrs, std::span<const TensorType> inputs,
                          std::span<const TensorType> outputs, const std::vector<bool>& constant) {
  std::string s(OpName(op));
  s += '{';
  for (size_t i = 0; i < attrs.values().size(); ++i) {
    if (!attrs.values()[i].has_value()) continue;
    if (s.back() != '{') s += ',';
    s += StrCat(attrs.schema()[i].name, "=", attrs.FormatValue(i));
  }
  s += "}(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0) s += ", ";
    if (i < constant.size() && constant[i]) s += "const ";
    s += inputs[i].ToString();
  }
  s += ") -> ";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i > 0) s += ", ";
    s += outputs[i].ToString();
  }
  return s;
}

std::string NodeWorkloadKey(const Graph& graph, NodeId id) {
  const Node& n = graph.node(id);
  std::vector<TensorType> inputs;
  std::vector<bool> constant;
  for (ValueId v : n.inputs) {
    inputs.push_back(graph.type(v));
    constant.push_back(graph.node(v.node).op == OpKind::kWeight);
  }
  return OpWorkloadKey(n.op, n.attrs, inputs, n.outputs, constant);
}

double Median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[(samples.size() - 1) / 2];
}

absl::StatusOr<std::unique_ptr<MeasuredCostModel>> MeasuredCostModel::Create(const CostModelOptions& options) {
  if (options.runs < 1 || options.warmup < 0) {
    return absl::InvalidArgumentError(StrCat("cost model: runs ", options.runs, " must be >= 1 and warmup ",
                                             options.warmup, " >= 0"));
  }
  LEMMA_ASSIGN_OR_RETURN(DeviceInfo device, QueryDevice(options.device));
  std::unique_ptr<MeasuredCostModel> model(new MeasuredCostModel(options, std::move(device)));
  if (!options.cache_path.empty()) {
    LEMMA_ASSIGN_OR_RETURN(model->cache_, cpu::TuningLog::Load(options.cache_path));
  }
  return model;
}

absl::StatusOr<double> MeasuredCostModel::NodeCostSeconds(const Graph& graph, NodeId id) {
  const Node& n = graph.node(id);
  const OpInfo& info = GetOpInfo(n.op);
  if (info.Has(kTraitSource) || info.Has(kTraitConstant)) return 0.0;
  const std::string target = TargetKey(device_);
  const std::string key = NodeWorkloadKey(graph, id);
  if (std::optional<cpu::TuningRecord> r = cache_.Best("cost", target, key)) {
    ++stats_.cached;
    return r->seconds;
  }
  LEMMA_ASSIGN_OR_RETURN(double seconds, Measure(graph, id));
  ++stats_.measured;
  cpu::TuningRecord r;
  r.kind = "cost";
  r.target = target;
  r.workload = key;
  r.template_name = "cuda";
  r.config = {{"runs", options_.runs}};
  r.seconds = seconds;
  cache_.Add(std::move(r));
  return seconds;
}

absl::StatusOr<double> MeasuredCostModel::OpCostSeconds(OpKind op, const Attributes& attrs,
                                                        std::span<const TensorType> inputs,
                                                        const std::vector<bool>& constant,
                                                        std::span<const Layout> output_layouts) {
  LEMMA_ASSIGN_OR_RETURN(Graph g, SingleOpGraph(op, attrs, inputs, constant, output_layouts));
  return NodeCostSeconds(g, static_cast<NodeId>(inputs.size()));
}

// The op alone in a graph of its own, compiled and timed: the median over
// runs of the sum of its steps' event times.
absl::StatusOr<double> MeasuredCostModel::Measure(const Graph& graph, NodeId id) {
  const Node& n = graph.node(id);
  Graph g("op");
  std::vector<ValueId> values;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const ValueId v = n.inputs[i];
    const TensorType& t = graph.type(v);
    LEMMA_ASSIGN_OR_RETURN(ValueId x, graph.node(v.node).op == OpKind::kWeight ? g.AddWeight(StrCat("w", i), t)
                                                                              : g.AddInput(StrCat("x", i), t));
    values.push_back(x);
  }
  LEMMA_ASSIGN_OR_RETURN(NodeId op, g.AddNode(n.op, n.attrs, values));
  for (size_t j = 0; j < n.outputs.size(); ++j) {
    const ValueId out{op, static_cast<int32_t>(j)};
    LEMMA_RETURN_IF_ERROR(g.SetLayout(out, n.outputs[j].layout));
    LEMMA_RETURN_IF_ERROR(g.AddOutput(StrCat("y", j), out));
  }
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 1);
  RuntimeOptions options;
  options.device = options_.device;
  options.tuning_log = options_.tuning_log;
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds, options);
  if (!exe.ok()) return absl::Status(exe.status().code(), StrCat(graph.Describe(id), ": ", exe.status().message()));
  for (int r = 0; r < options_.warmup; ++r) LEMMA_RETURN_IF_ERROR((*exe)->Run(feeds).status());
  (*exe)->set_profiling(true);
  std::vector<double> samples;
  for (int r = 0; r < options_.runs; ++r) {
    LEMMA_RETURN_IF_ERROR((*exe)->Run(feeds).status());
    double total = 0;
    for (const StepInfo& s : (*exe)->steps()) total += s.seconds;
    samples.push_back(total);
  }
  return Median(std::move(samples));
}

absl::Status MeasuredCostModel::Save() const { return cache_.Save(); }

}  // namespace lemma::cuda
