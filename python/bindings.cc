// The Python binding: the _lemma extension module that python/lemma/__init__.py
// re-exports. A Python Graph is a lemma::Model (a graph and the data of its
// weights); ops are added one call at a time, each checked at once (a bad
// shape raises ValueError naming the op), in the spirit of TASO's Python API.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/hash.h"
#include "ir/model_io.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/op_registry.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/reference.h"
#include "kernels/weights.h"
#include "optimizer/optimize_model.h"
#include "rules/rule_text.h"

#include <sys/stat.h>

namespace py = pybind11;

namespace lemma::python {
namespace {

using Ints = std::vector<int64_t>;

[[noreturn]] void Raise(const absl::Status& s) {
  throw py::value_error(std::string(s.message()));
}

template <typename T>
T Check(absl::StatusOr<T> v) {
  if (!v.ok()) Raise(v.status());
  return *std::move(v);
}

void Check(const absl::Status& s) {
  if (!s.ok()) Raise(s);
}

DType ParseDTypeOrRaise(const std::string& name) {
  std::optional<DType> d = ParseDType(name);
  if (!d) throw py::value_error("dtype must be f32, f64 or i64, not '" + name + "'");
  return *d;
}

// ---- numpy <-> WeightValue

WeightValue FromArray(const py::array& a, std::optional<DType> want) {
  Dims dims(a.shape(), a.shape() + a.ndim());
  DType dtype;
  if (want) {
    dtype = *want;
  } else if (a.dtype().kind() == 'f' && a.itemsize() == 8) {
    dtype = DType::kF64;
  } else if (a.dtype().kind() == 'i' || a.dtype().kind() == 'u') {
    dtype = DType::kI64;
  } else {
    dtype = DType::kF32;
  }
  switch (dtype) {
    case DType::kF32: {
      auto c = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
      return WeightValue::Of(dims, std::vector<float>(c.data(), c.data() + c.size()));
    }
    case DType::kF64: {
      auto c = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
      return WeightValue::Of(dims, std::vector<double>(c.data(), c.data() + c.size()));
    }
    case DType::kI64: {
      auto c = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
      return WeightValue::Of(dims, std::vector<int64_t>(c.data(), c.data() + c.size()));
    }
  }
  throw py::value_error("bad dtype");
}

py::array ToArray(const WeightValue& v) {
  return std::visit(
      [&](const auto& data) -> py::array {
        using T = typename std::decay_t<decltype(data)>::value_type;
        py::array_t<T> out(std::vector<py::ssize_t>(v.type.dims.begin(), v.type.dims.end()));
        std::copy(data.begin(), data.end(), out.mutable_data());
        return out;
      },
      v.data);
}

// ---- Graph and PyTensor

class PyGraph;

/// One value of a graph, as Python sees it; it keeps its graph alive.
struct PyTensor {
  std::shared_ptr<PyGraph> graph;
  ValueId value;
};

/// A graph under construction or inspection, with the data of its weights.
class PyGraph : public std::enable_shared_from_this<PyGraph> {
 public:
  explicit PyGraph(std::string name) { model_.graph.set_name(std::move(name)); }
  explicit PyGraph(Model m) : model_(std::move(m)) {}
  PyGraph(Model m, std::shared_ptr<const OptimizeResult> report)
      : model_(std::move(m)), report_(std::move(report)) {}

  /// How this graph was optimized, when lemma.optimize made it; else null.
  const std::shared_ptr<const OptimizeResult>& report() const { return report_; }

  Model& model() { return model_; }
  Graph& graph() { return model_.graph; }

  PyTensor T(ValueId v) { return PyTensor{shared_from_this(), v}; }
  ValueId V(const PyTensor& t) const {
    if (t.graph.get() != this) throw py::value_error("the tensor belongs to another graph");
    return t.value;
  }

  PyTensor Input(const std::string& name, const Ints& shape, const std::string& dtype) {
    return T(Check(graph().AddInput(name, TensorType::Make(ParseDTypeOrRaise(dtype), shape))));
  }

  PyTensor Weight(const std::string& name, std::optional<Ints> shape, const std::string& dtype,
                std::optional<py::array> data) {
    if (!shape && !data) throw py::value_error("weight: give a shape or data");
    std::optional<WeightValue> value;
    if (data) value = FromArray(*data, ParseDTypeOrRaise(dtype));
    const Ints dims = shape ? *shape : value->type.dims;
    if (value && value->type.dims != dims) throw py::value_error("weight: data does not have the shape");
    std::string n = name;
    for (int k = next_weight_; n.empty(); ++k) {
      if (!graph().FindValue(StrCat("w", k))) {
        n = StrCat("w", k);
        next_weight_ = k + 1;
      }
    }
    const ValueId v = Check(graph().AddWeight(n, TensorType::Make(ParseDTypeOrRaise(dtype), dims)));
    if (value) model_.weights.insert_or_assign(n, std::move(*value));
    return T(v);
  }

  std::vector<PyTensor> Op(const std::string& op_name, const std::vector<PyTensor>& inputs,
                         const py::dict& attrs) {
    std::optional<OpKind> op = FindOp(op_name);
    if (!op) throw py::value_error("unknown op '" + op_name + "'");
    Attributes a(*op);
    for (const auto& [key, value] : attrs) {
      const std::string name = py::str(key);
      if (value.is_none()) continue;
      absl::Status s;
      if (py::isinstance<py::str>(value)) {
        s = a.SetEnum(name, py::str(value).cast<std::string>());
      } else if (py::isinstance<py::bool_>(value)) {
        s = a.Set(name, AttrValue{int64_t{value.cast<bool>() ? 1 : 0}});
      } else if (py::isinstance<py::int_>(value)) {
        s = a.Set(name, AttrValue{value.cast<int64_t>()});
      } else if (py::isinstance<py::float_>(value)) {
        s = a.Set(name, AttrValue{value.cast<double>()});
      } else {
        s = a.Set(name, AttrValue{value.cast<Ints>()});
      }
      if (!s.ok()) throw py::value_error(StrCat(op_name, ": ", s.message()));
    }
    std::vector<ValueId> in;
    for (const PyTensor& t : inputs) in.push_back(V(t));
    const NodeId id = Check(graph().AddNode(*op, std::move(a), std::move(in)));
    std::vector<PyTensor> out;
    for (size_t i = 0; i < graph().node(id).outputs.size(); ++i) {
      out.push_back(T(ValueId{id, static_cast<int32_t>(i)}));
    }
    return out;
  }

  PyTensor One(const std::string& op, const std::vector<PyTensor>& inputs, const py::dict& attrs) {
    return Op(op, inputs, attrs).at(0);
  }

  void Output(const std::string& name, const PyTensor& t) { Check(graph().AddOutput(name, V(t))); }

 private:
  Model model_;
  std::shared_ptr<const OptimizeResult> report_;
  int next_weight_ = 0;
};

// "same", "valid", or explicit pads (top, left, bottom, right).
void SetPadding(py::dict& attrs, const py::object& padding) {
  if (py::isinstance<py::str>(padding)) {
    const std::string p = py::str(padding);
    if (p == "same") {
      attrs["padding"] = "same";
    } else if (p != "valid") {
      throw py::value_error("padding must be 'same', 'valid' or (top, left, bottom, right)");
    }
    return;
  }
  attrs["pads"] = padding.cast<Ints>();
}

py::dict AttrsOf(const Node& n) {
  py::dict d;
  const auto schema = n.attrs.schema();
  for (size_t i = 0; i < schema.size(); ++i) {
    const std::optional<AttrValue>& v = n.attrs.values()[i];
    if (!v) continue;
    const std::string name(schema[i].name);
    if (schema[i].kind == AttrKind::kEnum) {
      d[name.c_str()] = std::string(schema[i].enum_names[static_cast<size_t>(std::get<int64_t>(*v))]);
    } else if (std::holds_alternative<int64_t>(*v)) {
      d[name.c_str()] = std::get<int64_t>(*v);
    } else if (std::holds_alternative<double>(*v)) {
      d[name.c_str()] = std::get<double>(*v);
    } else {
      d[name.c_str()] = std::get<Ints>(*v);
    }
  }
  return d;
}

OnnxImportOptions ImportOptions(const std::map<std::string, int64_t>& dims, bool fuse) {
  OnnxImportOptions o;
  o.fuse_activations = fuse;
  for (const auto& [k, v] : dims) o.dim_params[k] = v;
  return o;
}

template <typename A>
py::dict RunIn(PyGraph& g, const std::map<std::string, py::array>& inputs, uint64_t seed) {
  WeightValues data = g.model().weights;
  for (const auto& [name, array] : inputs) {
    std::optional<ValueId> v = g.graph().FindValue(name);
    const std::optional<DType> dtype = v ? std::optional<DType>(g.graph().type(*v).dtype) : std::nullopt;
    data.insert_or_assign(name, FromArray(array, dtype));
  }
  NamedTensors<A> feeds = Check(FeedsFromData<A>(g.graph(), data, seed));
  NamedTensors<A> out = Check(Evaluate<A>(g.graph(), feeds));
  py::dict result;
  for (const auto& [name, t] : out) result[name.c_str()] = ToArray(DataFromTensor<A>(t));
  return result;
}


// ---- Optimize

// The rule sets read so far, by their comma-separated paths, each with the
// sizes and modification times of its files when read: a file that changed
// is read again.
std::shared_ptr<const RuleSet> RulesOf(const std::string& paths) {
  static std::map<std::string, std::pair<std::string, std::shared_ptr<const RuleSet>>> cache;
  std::string stamp;
  size_t pos = 0;
  while (pos <= paths.size()) {
    size_t end = paths.find(',', pos);
    if (end == std::string::npos) end = paths.size();
    const std::string path = paths.substr(pos, end - pos);
    pos = end + 1;
    if (path.empty()) continue;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      throw py::value_error("cannot read the rules file " + path);
    }
    stamp += StrCat(path, ":", static_cast<int64_t>(st.st_size), ":",
                    static_cast<int64_t>(st.st_mtim.tv_sec), ".",
                    static_cast<int64_t>(st.st_mtim.tv_nsec), ";");
  }
  if (auto it = cache.find(paths); it != cache.end() && it->second.first == stamp) {
    return it->second.second;
  }
  auto rules = std::make_shared<const RuleSet>(Check(ReadRuleFiles(paths)));
  cache.insert_or_assign(paths, std::pair(stamp, rules));
  return rules;
}

py::dict StatsDict(const SearchStats& s) {
  py::dict d;
  d["explored"] = s.explored;
  d["generated"] = s.generated;
  d["duplicates_skipped"] = s.duplicates_skipped;
  d["pruned"] = s.pruned;
  d["rejected"] = s.rejected;
  d["max_frontier"] = s.max_frontier;
  d["graphs_built"] = s.graphs_built;
  d["seconds"] = s.seconds;
  d["stop"] = std::string(StopReasonName(s.stop));
  return d;
}

py::list StepsList(const std::vector<AppliedStep>& steps) {
  py::list out;
  for (const AppliedStep& s : steps) {
    py::dict d;
    d["kind"] = std::string(AppliedStep::KindName(s.kind));
    d["rule"] = s.rule_id;
    d["where"] = s.where;
    d["cost_after"] = s.cost_after;
    out.append(d);
  }
  return out;
}

}  // namespace
}  // namespace lemma::python

PYBIND11_MODULE(_lemma, m) {
  using namespace lemma;          // NOLINT: the module body names lemma's types throughout
  using namespace lemma::python;  // NOLINT
  m.doc() = "lemma, a tensor-graph superoptimizer: graphs, ONNX import and export, evaluation";

  py::class_<PyTensor>(m, "Tensor", "A value of a graph: the output of an op, an input or a weight.")
      .def_property_readonly("shape", [](const PyTensor& t) {
        const Dims& d = t.graph->graph().type(t.value).dims;
        return py::tuple(py::cast(d));
      })
      .def_property_readonly("dtype", [](const PyTensor& t) {
        return std::string(DTypeName(t.graph->graph().type(t.value).dtype));
      })
      .def_property_readonly("name", [](const PyTensor& t) {
        return t.graph->graph().node(t.value.node).names[static_cast<size_t>(t.value.index)];
      })
      .def_property_readonly("node", [](const PyTensor& t) { return t.value.node; })
      .def_property_readonly("index", [](const PyTensor& t) { return t.value.index; })
      .def("__repr__", [](const PyTensor& t) {
        return StrCat("<lemma.Tensor ", t.graph->graph().ValueLabel(t.value), ": ",
                      t.graph->graph().type(t.value).ToString(), ">");
      });

  py::class_<OptimizeResult, std::shared_ptr<OptimizeResult>>(
      m, "OptimizeResult", "How lemma.optimize went: costs, the rules applied, the search's statistics.")
      .def_readonly("cost_before", &OptimizeResult::cost_before, "Seconds, under the cost model.")
      .def_readonly("cost_after", &OptimizeResult::cost_after, "Seconds, under the cost model.")
      .def_property_readonly("speedup", [](const OptimizeResult& r) {
        return r.cost_after > 0 ? r.cost_before / r.cost_after : 1.0;
      })
      .def_property_readonly("steps", [](const OptimizeResult& r) { return StepsList(r.steps); },
                             "Each step from the input: kind (rule or layouts), rule, where, cost_after.")
      .def_property_readonly(
          "applied_rules",
          [](const OptimizeResult& r) {
            std::vector<std::string> out;
            for (const AppliedStep& s : r.steps) {
              if (s.kind == AppliedStep::Kind::kRule) out.push_back(s.rule_id);
            }
            return out;
          },
          "The ids of the rules applied, in order.")
      .def_property_readonly("stats", [](const OptimizeResult& r) { return StatsDict(r.stats); },
                             "explored, generated, duplicates_skipped, pruned, rejected, "
                             "max_frontier, graphs_built, seconds, stop (exhausted, budget or time limit).")
      .def_readonly("rules_used", &OptimizeResult::rules_used)
      .def_readonly("rules_redundant", &OptimizeResult::rules_redundant,
                    "Usable rules left out as repeats or special cases of others.")
      .def_readonly("precomputed_ops", &OptimizeResult::precomputed_ops)
      .def_readonly("charged_ops", &OptimizeResult::charged_ops)
      .def_readonly("cost_model", &OptimizeResult::cost_model)
      .def("__repr__", [](const OptimizeResult& r) {
        return StrCat("<lemma.OptimizeResult cost ", r.cost_before * 1e3, " ms -> ",
                      r.cost_after * 1e3, " ms, ", r.steps.size(), " steps, stopped: ",
                      StopReasonName(r.stats.stop), ">");
      });

  py::class_<PyGraph, std::shared_ptr<PyGraph>>(m, "Graph", "A tensor graph and the data of its weights.")
      .def(py::init<std::string>(), py::arg("name") = "graph")
      .def_property_readonly("name", [](PyGraph& g) { return g.graph().name(); })
      // ---- Building.
      .def("input", &PyGraph::Input, py::arg("name"), py::arg("shape"), py::arg("dtype") = "f32", "Adds a graph input.")
      .def("weight", &PyGraph::Weight, py::arg("name") = "", py::arg("shape") = py::none(),
           py::arg("dtype") = "f32", py::arg("data") = py::none(),
           "Adds a weight (a shape, or data as a numpy array, or both); an empty name becomes w<k>.")
      .def("op", &PyGraph::Op, py::arg("op"), py::arg("inputs"), py::arg("attrs") = py::dict(),
           "Applies any registry op by name, attributes as keyword values; returns all outputs.")
      .def("output", &PyGraph::Output, py::arg("name"), py::arg("tensor"), "Marks a graph output.")
      .def(
          "conv2d",
          [](PyGraph& g, PyTensor x, PyTensor w, Ints stride, py::object padding, Ints dilation,
             int64_t groups, std::string activation) {
            py::dict a;
            a["stride"] = stride;
            SetPadding(a, padding);
            a["dilation"] = dilation;
            a["groups"] = groups;
            a["activation"] = activation;
            return g.One("conv2d", {x, w}, a);
          },
          py::arg("x"), py::arg("weight"), py::arg("stride") = Ints{1, 1},
          py::arg("padding") = "valid", py::arg("dilation") = Ints{1, 1}, py::arg("groups") = 1,
          py::arg("activation") = "none")
      .def(
          "matmul",
          [](PyGraph& g, PyTensor a, PyTensor b, std::string activation) {
            py::dict d;
            d["activation"] = activation;
            return g.One("matmul", {a, b}, d);
          },
          py::arg("a"), py::arg("b"), py::arg("activation") = "none")
      .def(
          "add",
          [](PyGraph& g, PyTensor a, PyTensor b) {
            const bool same = g.graph().type(g.V(a)).dims == g.graph().type(g.V(b)).dims;
            return g.One(same ? "ewadd" : "broadcast_add", {a, b}, {});
          },
          "a + b (ewadd for equal shapes, else broadcast_add)")
      .def(
          "mul",
          [](PyGraph& g, PyTensor a, PyTensor b) {
            const Graph& gr = g.graph();
            if (gr.type(g.V(a)).dims == gr.type(g.V(b)).dims) return g.One("ewmul", {a, b}, {});
            if (gr.type(g.V(b)).rank() == 0) return g.One("scalar_mul", {a, b}, {});
            return g.One("broadcast_mul", {a, b}, {});
          },
          "a * b (ewmul, scalar_mul or broadcast_mul)")
      .def("sub", [](PyGraph& g, PyTensor a, PyTensor b) { return g.One("broadcast_sub", {a, b}, {}); })
      .def("div", [](PyGraph& g, PyTensor a, PyTensor b) { return g.One("broadcast_div", {a, b}, {}); })
      .def("relu", [](PyGraph& g, PyTensor x) { return g.One("relu", {x}, {}); })
      .def("sigmoid", [](PyGraph& g, PyTensor x) { return g.One("sigmoid", {x}, {}); })
      .def("tanh", [](PyGraph& g, PyTensor x) { return g.One("tanh", {x}, {}); })
      .def("gelu", [](PyGraph& g, PyTensor x) { return g.One("gelu", {x}, {}); })
      .def(
          "maxpool2d",
          [](PyGraph& g, PyTensor x, Ints kernel, Ints stride, py::object padding) {
            py::dict a;
            a["kernel"] = kernel;
            a["stride"] = stride;
            SetPadding(a, padding);
            return g.One("maxpool2d", {x}, a);
          },
          py::arg("x"), py::arg("kernel"), py::arg("stride") = Ints{1, 1},
          py::arg("padding") = "valid")
      .def(
          "avgpool2d",
          [](PyGraph& g, PyTensor x, Ints kernel, Ints stride, py::object padding, bool include) {
            py::dict a;
            a["kernel"] = kernel;
            a["stride"] = stride;
            SetPadding(a, padding);
            a["count_include_pad"] = include;
            return g.One("avgpool2d", {x}, a);
          },
          py::arg("x"), py::arg("kernel"), py::arg("stride") = Ints{1, 1},
          py::arg("padding") = "valid", py::arg("count_include_pad") = false)
      .def(
          "concat",
          [](PyGraph& g, std::vector<PyTensor> xs, int64_t axis) {
            py::dict a;
            a["axis"] = axis;
            return g.One("concat", xs, a);
          },
          py::arg("tensors"), py::arg("axis"))
      .def(
          "split",
          [](PyGraph& g, PyTensor x, int64_t axis, Ints sizes) {
            py::dict a;
            a["axis"] = axis;
            a["sizes"] = sizes;
            return g.Op("split", {x}, a);
          },
          py::arg("x"), py::arg("axis"), py::arg("sizes"))
      .def(
          "transpose",
          [](PyGraph& g, PyTensor x, Ints perm) {
            py::dict a;
            a["perm"] = perm;
            return g.One("transpose", {x}, a);
          },
          py::arg("x"), py::arg("perm"))
      .def(
          "reshape",
          [](PyGraph& g, PyTensor x, Ints shape) {
            py::dict a;
            a["shape"] = shape;
            return g.One("reshape", {x}, a);
          },
          py::arg("x"), py::arg("shape"))
      .def(
          "softmax",
          [](PyGraph& g, PyTensor x, int64_t axis) {
            py::dict a;
            a["axis"] = axis;
            return g.One("softmax", {x}, a);
          },
          py::arg("x"), py::arg("axis") = -1)
      .def(
          "batchnorm",
          [](PyGraph& g, PyTensor x, PyTensor s, PyTensor b, PyTensor mean, PyTensor var, double eps) {
            py::dict a;
            a["epsilon"] = eps;
            return g.One("batchnorm", {x, s, b, mean, var}, a);
          },
          py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("mean"), py::arg("var"),
          py::arg("epsilon") = 1e-5)
      .def(
          "layernorm",
          [](PyGraph& g, PyTensor x, PyTensor s, PyTensor b, int64_t axis, double eps) {
            py::dict a;
            a["axis"] = axis;
            a["epsilon"] = eps;
            return g.One("layernorm", {x, s, b}, a);
          },
          py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("axis") = -1,
          py::arg("epsilon") = 1e-5)
      .def(
          "enlarge",
          [](PyGraph& g, PyTensor w, Ints kernel) {
            py::dict a;
            a["kernel"] = kernel;
            return g.One("enlarge", {w}, a);
          },
          py::arg("weight"), py::arg("kernel"))
      // ---- Inspection.
      .def_property_readonly(
          "nodes",
          [](PyGraph& g) {
            py::list out;
            for (NodeId id : g.graph().TopologicalOrder()) {
              const Node& n = g.graph().node(id);
              py::dict d;
              d["id"] = id;
              d["op"] = std::string(OpName(n.op));
              py::list ins, outs;
              for (ValueId v : n.inputs) ins.append(g.T(v));
              for (size_t i = 0; i < n.outputs.size(); ++i) outs.append(g.T({id, static_cast<int32_t>(i)}));
              d["inputs"] = ins;
              d["outputs"] = outs;
              d["attrs"] = AttrsOf(n);
              out.append(d);
            }
            return out;
          },
          "Every node in topological order: id, op, inputs, outputs, attrs.")
      .def_property_readonly(
          "inputs",
          [](PyGraph& g) {
            std::vector<PyTensor> out;
            for (NodeId id : g.graph().InputNodes()) out.push_back(g.T({id, 0}));
            return out;
          })
      .def_property_readonly(
          "outputs",
          [](PyGraph& g) {
            py::dict out;
            for (const GraphOutput& o : g.graph().outputs()) out[o.name.c_str()] = g.T(o.value);
            return out;
          },
          "The graph outputs by name.")
      .def_property_readonly(
          "weights",
          [](PyGraph& g) {
            py::dict out;
            for (const auto& [name, v] : g.model().weights) out[name.c_str()] = ToArray(v);
            return out;
          },
          "The data of the weights that have data, by name (copies).")
      .def(
          "set_weight",
          [](PyGraph& g, const std::string& name, py::array data) {
            std::optional<ValueId> v = g.graph().FindValue(name);
            if (!v || g.graph().node(v->node).op != OpKind::kWeight) {
              throw py::value_error("no weight named '" + name + "'");
            }
            WeightValues one;
            one.emplace(name, FromArray(data, g.graph().type(*v).dtype));
            Check(CheckWeightValues(g.graph(), one));
            g.model().weights.insert_or_assign(name, std::move(one.begin()->second));
          },
          py::arg("name"), py::arg("data"))
      .def(
          "ops",
          [](PyGraph& g) {
            std::map<std::string, int> counts;
            for (const Node& n : g.graph().nodes()) ++counts[std::string(OpName(n.op))];
            return counts;
          },
          "Node counts by op name.")
      .def("hash", [](PyGraph& g) { return StructuralHash(g.graph()); },
           "The canonical structural hash (ir/hash.h).")
      .def("validate", [](PyGraph& g) { Check(g.graph().Validate()); })
      .def("cost", [](PyGraph& g) { return AnalyticalGraphCost(g.graph()); },
           "Seconds under lemma's analytical cost model (default machine): live ops only, ops "
           "computed from weights alone free; what lemma.optimize reports as cost_before.")
      .def_property_readonly(
          "optimization", [](PyGraph& g) { return g.report(); },
          "The OptimizeResult of the lemma.optimize call that made this graph, else None.")
      .def("to_text", [](PyGraph& g) { return PrintGraph(g.graph()); },
           "The graph in lemma's text format.")
      .def("__str__", [](PyGraph& g) { return PrintGraph(g.graph()); })
      .def("__repr__", [](PyGraph& g) {
        return StrCat("<lemma.Graph ", g.graph().name(), ": ", g.graph().num_nodes(), " nodes>");
      })
      .def(
          "run",
          [](PyGraph& g, std::map<std::string, py::array> inputs, uint64_t seed, std::string domain) {
            if (domain == "f64") return RunIn<F64>(g, inputs, seed);
            if (domain == "f32") return RunIn<F32>(g, inputs, seed);
            throw py::value_error("domain must be f64 or f32");
          },
          py::arg("inputs") = std::map<std::string, py::array>(), py::arg("seed") = 1,
          py::arg("domain") = "f64",
          "Evaluates the graph with the reference evaluator: inputs by name (numpy), weights "
          "from their data; anything without a value gets lemma's seeded random data. Returns "
          "the outputs by name.")
      .def(
          "save",
          [](PyGraph& g, const std::string& path) { Check(WriteModel(path, g.model())); },
          py::arg("path"), "Writes the graph: ONNX for *.onnx (with weights), else lemma text.");

  m.def(
      "load_onnx",
      [](const std::string& path, std::map<std::string, int64_t> dims, bool fuse) {
        return PyGraph(Check(ReadOnnxFile(path, ImportOptions(dims, fuse))));
      },
      py::arg("path"), py::arg("dims") = std::map<std::string, int64_t>(),
      py::arg("fuse_activations") = true,
      "Reads an ONNX model (opsets 11 to 21): the graph and its weight data.");
  m.def(
      "load",
      [](const std::string& path, std::string weights) {
        return PyGraph(Check(ReadModel(path, weights)));
      },
      py::arg("path"), py::arg("weights") = "",
      "Reads a model: ONNX for *.onnx, else lemma text (with a tensor file of weight data).");
  m.def(
      "parse",
      [](const std::string& text) {
        Model model;
        model.graph = Check(ParseGraph(text, "<python>"));
        return PyGraph(std::move(model));
      },
      py::arg("text"), "Parses a graph in lemma's text format.");
  m.def(
      "export_onnx",
      [](PyGraph& g, const std::string& path, const std::string& missing, uint64_t seed) {
        OnnxExportOptions options;
        WeightValues weights = g.model().weights;
        if (missing == "random") {
          weights = WithRandomWeights(g.graph(), std::move(weights), seed);
        } else if (missing == "input") {
          options.missing_weights = MissingWeightData::kGraphInput;
        } else if (missing != "error") {
          throw py::value_error("missing_weights must be 'random', 'input' or 'error'");
        }
        Check(WriteOnnxFile(path, g.graph(), weights, options));
      },
      py::arg("graph"), py::arg("path"), py::arg("missing_weights") = "random",
      py::arg("seed") = 1,
      "Writes the graph as ONNX (opset 17). Weights without data get seeded random data, "
      "become graph inputs, or are an error.");
  m.def(
      "_optimize",
      [](PyGraph& g, const std::string& rules, double alpha, int64_t budget, double time_limit,
         bool allow_tested, bool optimize_layouts, int threads) {
        std::shared_ptr<const RuleSet> set = RulesOf(rules);
        OptimizeOptions options;
        options.alpha = alpha;
        options.budget = budget;
        options.time_limit = std::chrono::duration<double>(time_limit);
        options.min_status = allow_tested ? RuleStatus::kTested : RuleStatus::kProved;
        options.optimize_layouts = optimize_layouts;
        options.threads = threads;
        absl::StatusOr<ModelOptimizeResult> r;
        {
          py::gil_scoped_release release;
          r = OptimizeModel(g.model(), *set, options);
        }
        if (!r.ok()) Raise(r.status());
        auto report = std::make_shared<const OptimizeResult>(std::move(r->result));
        return std::make_shared<PyGraph>(std::move(r->model), std::move(report));
      },
      py::arg("graph"), py::arg("rules"), py::arg("alpha"), py::arg("budget"),
      py::arg("time_limit"), py::arg("allow_tested"), py::arg("optimize_layouts"),
      py::arg("threads"), "lemma::OptimizeModel; lemma.optimize is the documented entry.");
  m.def("supported_onnx_ops", []() {
    std::vector<std::string> out;
    for (std::string_view s : SupportedOnnxOps()) out.emplace_back(s);
    return out;
  });
  m.def("op_names", []() {
    std::vector<std::string> out;
    for (const OpInfo& info : AllOps()) out.emplace_back(info.name);
    return out;
  });
}
