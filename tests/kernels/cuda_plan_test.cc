// The CUDA backend's host side, which runs without a GPU: plans (fusion,
// memory, errors), the generated CUDA C++ (as text, and compiled to PTX by
// NVRTC), cost-cache keys, and behaviour without a device.
//
// Plans are also checked by emulation: an interpreter of the plan's launches
// (the same parameters the GPU kernels receive, with the semantics of the
// generated source) and of its library steps (reference kernels) runs every
// case on the host and is compared with the reference evaluator. That checks
// strides, broadcasting, fusion and memory reuse without a device.

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/strings.h"
#include "kernels/cpu/tuning.h"
#include "kernels/cuda/codegen.h"
#include "kernels/cuda/cost_model.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/nvrtc.h"
#include "kernels/cuda/plan.h"
#include "kernels/cuda/runtime.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"
#include "tests/kernels/graph_cases.h"

namespace lemma::cuda {
namespace {

using test_cases::Cases;
using test_cases::Finish;
using test_cases::GraphCase;
using test_cases::Same;

// ---- The emulator

float Apply(const EwInstr& in, const std::vector<float>& v) {
  const float a = in.a >= 0 ? v[static_cast<size_t>(in.a)] : 0.0f;
  const float b = in.b >= 0 ? v[static_cast<size_t>(in.b)] : 0.0f;
  switch (in.op) {
    case EwOp::kAdd: return a + b;
    case EwOp::kSub: return a - b;
    case EwOp::kMul: return a * b;
    case EwOp::kDiv: return a / b;
    case EwOp::kRelu: return a < 0.0f ? 0.0f : a;
    case EwOp::kSigmoid: return 1.0f / (1.0f + std::exp(-a));
    case EwOp::kTanh: return std::tanh(a);
    case EwOp::kGelu: return 0.5f * a * (1.0f + std::erf(a * 0.70710678118654752f));
    case EwOp::kConst: return in.value;
    case EwOp::kLoad: break;
  }
  return 0.0f;
}

class Emulator {
 public:
  Emulator(const Graph& g, const Plan& plan) : g_(g), plan_(plan) {
    arena_.assign(static_cast<size_t>(plan.placement.arena_bytes / 4 + 1), std::nanf(""));
  }

  absl::StatusOr<NamedTensors<F32>> Run(const NamedTensors<F32>& feeds) {
    // Constants, as the runtime computes them.
    absl::flat_hash_map<ValueId, Tensor<float>> host;
    for (NodeId id : g_.WeightNodes()) {
      host[ValueId{id, 0}] = WithLayout(feeds.at(g_.node(id).names[0]), g_.node(id).outputs[0].layout);
    }
    for (NodeId id : plan_.folded) {
      std::vector<const Tensor<float>*> in;
      for (ValueId v : g_.node(id).inputs) in.push_back(&host.at(v));
      absl::StatusOr<std::vector<Tensor<float>>> out = EvaluateNode<F32>(g_, id, in);
      if (!out.ok()) return out.status();
      for (size_t k = 0; k < out->size(); ++k) host[ValueId{id, static_cast<int32_t>(k)}] = (*out)[k];
    }
    for (ValueId v : plan_.constants) constants_.push_back(host.at(v).data);
    for (const auto& [id, ref] : plan_.inputs) {
      const Node& n = g_.node(id);
      const Tensor<float> t = WithLayout(feeds.at(n.names[0]), n.outputs[0].layout);
      std::copy(t.data.begin(), t.data.end(), Ptr(ref));
    }
    for (const Step& s : plan_.steps) {
      for (const KernelLaunch& l : s.pre_launches) Ew(l);
      if (s.kind != StepKind::kGenerated) LibraryStep(s);
      for (const KernelLaunch& l : s.launches) l.row ? Row(l) : Ew(l);
    }
    NamedTensors<F32> out;
    for (const GraphOutput& o : g_.outputs()) {
      const TensorType& t = g_.type(o.value);
      const float* p = Ptr(plan_.value_buffers.at(o.value));
      out[o.name] = Tensor<float>{t, std::vector<float>(p, p + t.num_elements())};
    }
    return out;
  }

 private:
  float* Ptr(const BufferRef& r) {
    if (r.where == BufferRef::Where::kConstant) return constants_[static_cast<size_t>(r.index)].data();
    return arena_.data() + plan_.placement.offsets[static_cast<size_t>(r.index)] / 4;
  }

  // cuDNN and cuBLASLt steps: the reference kernel of the root op (matmul
  // without its activation, which the plan applies in the chain).
  void LibraryStep(const Step& s) {
    const Node& n = g_.node(s.node);
    std::vector<Tensor<float>> in;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const TensorType& t = k == 0 && s.padded_input ? *s.padded_input : g_.type(n.inputs[k]);
      const float* p = Ptr(s.inputs[k]);
      in.push_back({t, std::vector<float>(p, p + t.num_elements())});
    }
    Graph one("step");
    std::vector<ValueId> values;
    for (size_t k = 0; k < in.size(); ++k) values.push_back(*one.AddInput(StrCat("i", k), in[k].type));
    Attributes attrs = n.attrs;
    if (s.padded_input) {
      EXPECT_TRUE(attrs.SetEnum("padding", "explicit").ok());
      EXPECT_TRUE(attrs.Set("pads", std::vector<int64_t>{0, 0, 0, 0}).ok());
    }
    if (n.op == OpKind::kMatMul) {
      EXPECT_TRUE(attrs.SetEnum("activation", "none").ok());
    }
    const NodeId id = *one.AddNode(n.op, attrs, values);
    EXPECT_TRUE(one.SetLayout({id, 0}, n.outputs[0].layout).ok());
    std::vector<const Tensor<float>*> ptrs;
    for (const Tensor<float>& t : in) ptrs.push_back(&t);
    absl::StatusOr<std::vector<Tensor<float>>> out = EvaluateNode<F32>(one, id, ptrs);
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor<float> y = WithLayout((*out)[0], n.outputs[0].layout);
    std::copy(y.data.begin(), y.data.end(), Ptr(s.output));
  }

  void Ew(const KernelLaunch& l) {
    const EwProgram& program = ProgramOf(l);
    const EwParams& p = l.ew;
    float* out = Ptr(l.out);
    std::vector<const float*> in;
    for (const BufferRef& r : l.in) in.push_back(Ptr(r));
    std::vector<float> v(program.code.size());
    for (int64_t i = 0; i < p.n; ++i) {
      int64_t rem = i, o = p.out_offset;
      int64_t a[kMaxInputs];
      for (size_t k = 0; k < in.size(); ++k) a[k] = p.in_offset[k];
      for (int64_t d = p.rank - 1; d >= 0; --d) {
        const int64_t c = rem % p.dims[d];
        rem /= p.dims[d];
        o += c * p.out_strides[d];
        for (size_t k = 0; k < in.size(); ++k) a[k] += c * p.in_strides[k][d];
      }
      for (size_t j = 0; j < program.code.size(); ++j) {
        const EwInstr& ins = program.code[j];
        v[j] = ins.op == EwOp::kLoad ? in[static_cast<size_t>(ins.input)][a[ins.input]] : Apply(ins, v);
      }
      out[o] = v.back();
    }
  }

  void Row(const KernelLaunch& l) {
    const RowParams& p = l.row_params;
    const float* x = Ptr(l.in[0]);
    float* y = Ptr(l.out);
    const float* scale = l.in.size() > 1 ? Ptr(l.in[1]) : nullptr;
    const float* bias = l.in.size() > 2 ? Ptr(l.in[2]) : nullptr;
    auto offsets = [](const int64_t* dims, int64_t rank, int64_t index, const int64_t* s0, const int64_t* s1,
                      int64_t& o0, int64_t& o1) {
      for (int64_t d = rank - 1; d >= 0; --d) {
        const int64_t c = index % dims[d];
        index /= dims[d];
        o0 += c * s0[d];
        o1 += c * s1[d];
      }
    };
    const std::string& src = plan_.sources[static_cast<size_t>(l.source)];
    for (int64_t r = 0; r < p.rows; ++r) {
      int64_t xr = 0, yr = 0;
      offsets(p.outer_dims, p.outer_rank, r, p.in_outer, p.out_outer, xr, yr);
      auto at = [&](int64_t j, int64_t& xo, int64_t& yo) {
        xo = xr;
        yo = yr;
        offsets(p.inner_dims, p.inner_rank, j, p.in_inner, p.out_inner, xo, yo);
      };
      int64_t xo = 0, yo = 0;
      if (l.what == "row: softmax") {
        float shift = -INFINITY, sum = 0;
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), shift = std::fmax(shift, x[xo]);
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), y[yo] = std::exp(x[xo] - shift), sum += y[yo];
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), y[yo] *= 1.0f / sum;
      } else if (l.what == "row: layernorm") {
        float sum = 0, squares = 0;
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), sum += x[xo];
        const float mean = sum / static_cast<float>(p.row_size);
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), squares += (x[xo] - mean) * (x[xo] - mean);
        const float rstd = 1.0f / std::sqrt(squares / static_cast<float>(p.row_size) + static_cast<float>(p.epsilon));
        for (int64_t j = 0; j < p.row_size; ++j) {
          at(j, xo, yo);
          int64_t so = 0, bo = 0;
          offsets(p.inner_dims, p.inner_rank, j, p.aux_inner[0], p.aux_inner[1], so, bo);
          y[yo] = (x[xo] - mean) * rstd * scale[so] + bias[bo];
        }
      } else {
        const bool max = src.find("fmaxf(acc") != std::string::npos;
        float acc = max ? -INFINITY : 0.0f;
        for (int64_t j = 0; j < p.row_size; ++j) at(j, xo, yo), acc = max ? std::fmax(acc, x[xo]) : acc + x[xo];
        if (l.what == "row: reduce_mean") acc /= static_cast<float>(p.row_size);
        y[yr] = acc;
      }
    }
  }

  // The program of a launch, parsed back from the plan's description.
  const EwProgram& ProgramOf(const KernelLaunch& l) {
    auto it = programs_.find(l.source);
    if (it != programs_.end()) return it->second;
    EwProgram p;
    const std::string& src = plan_.sources[static_cast<size_t>(l.source)];
    // "const float vI = EXPR;" lines, in order.
    size_t pos = 0;
    while ((pos = src.find("const float v", pos)) != std::string::npos) {
      const size_t eq = src.find(" = ", pos), end = src.find(";\n", pos);
      const std::string expr = src.substr(eq + 3, end - eq - 3);
      pos = end;
      EwInstr in;
      int a = -1, b = -1;
      unsigned bits = 0;
      int input = -1;
      if (std::sscanf(expr.c_str(), "((const float*)p.in[%d])", &input) == 1) {
        in.op = EwOp::kLoad;
        in.input = input;
      } else if (std::sscanf(expr.c_str(), "__int_as_float(0x%x)", &bits) == 1) {
        in.op = EwOp::kConst;
        std::memcpy(&in.value, &bits, 4);
      } else if (expr.rfind("1.0f / (1.0f + expf(-v", 0) == 0) {
        in.op = EwOp::kSigmoid;
        std::sscanf(expr.c_str(), "1.0f / (1.0f + expf(-v%d", &a);
      } else if (expr.rfind("tanhf(v", 0) == 0) {
        in.op = EwOp::kTanh;
        std::sscanf(expr.c_str(), "tanhf(v%d", &a);
      } else if (expr.rfind("0.5f * v", 0) == 0) {
        in.op = EwOp::kGelu;
        std::sscanf(expr.c_str(), "0.5f * v%d", &a);
      } else if (expr.find(" < 0.0f ? 0.0f : ") != std::string::npos) {
        in.op = EwOp::kRelu;
        std::sscanf(expr.c_str(), "v%d", &a);
      } else {
        char op = 0;
        EXPECT_EQ(std::sscanf(expr.c_str(), "v%d %c v%d", &a, &op, &b), 3) << expr;
        in.op = op == '+' ? EwOp::kAdd : op == '-' ? EwOp::kSub : op == '*' ? EwOp::kMul : EwOp::kDiv;
      }
      in.a = a;
      in.b = b;
      p.code.push_back(in);
    }
    return programs_.emplace(l.source, std::move(p)).first->second;
  }

  const Graph& g_;
  const Plan& plan_;
  std::vector<float> arena_;
  std::vector<std::vector<float>> constants_;
  absl::flat_hash_map<int, EwProgram> programs_;
};

void ExpectPlanMatchesReference(const Graph& g, const PlanOptions& options = {}, double tol = 2e-4) {
  absl::StatusOr<Plan> plan = BuildPlan(g, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 7);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  Emulator emulator(g, *plan);
  absl::StatusOr<NamedTensors<F32>> got = emulator.Run(feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  test_cases::ExpectOutputsNear(*got, *want, tol, [&] { return g.name() + "\n" + plan->Text(g); });
}

// Every access of every launch stays inside its buffer, and buffers alive at
// the same step do not overlap in the arena.
void ExpectPlanInBounds(const Graph& g, const Plan& plan) {
  auto elements = [&](const BufferRef& r) {
    return r.where == BufferRef::Where::kArena ? plan.buffers[static_cast<size_t>(r.index)].bytes / 4
                                               : g.type(plan.constants[static_cast<size_t>(r.index)]).num_elements();
  };
  auto reach = [](int64_t offset, const int64_t* dims, const int64_t* strides, int64_t rank) {
    int64_t hi = offset;
    for (int64_t d = 0; d < rank; ++d) hi += (dims[d] - 1) * strides[d];
    return hi;
  };
  for (const Step& s : plan.steps) {
    for (const KernelLaunch& l : s.launches) {
      if (l.row || l.ew.n == 0) continue;
      EXPECT_LT(reach(l.ew.out_offset, l.ew.dims, l.ew.out_strides, l.ew.rank), elements(l.out)) << s.label;
      for (size_t k = 0; k < l.in.size(); ++k) {
        EXPECT_LT(reach(l.ew.in_offset[k], l.ew.dims, l.ew.in_strides[k], l.ew.rank), elements(l.in[k])) << s.label;
      }
    }
  }
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    for (size_t j = i + 1; j < plan.buffers.size(); ++j) {
      const cpu::BufferRequest &a = plan.buffers[i], &b = plan.buffers[j];
      if (a.bytes == 0 || b.bytes == 0 || a.last < b.first || b.last < a.first) continue;
      const int64_t ai = plan.placement.offsets[i], bi = plan.placement.offsets[j];
      EXPECT_TRUE(ai + a.bytes <= bi || bi + b.bytes <= ai) << "buffers " << i << " and " << j << " overlap";
    }
  }
}

class CudaPlanCaseTest : public ::testing::TestWithParam<GraphCase> {};

TEST_P(CudaPlanCaseTest, EmulatedPlanMatchesReference) { ExpectPlanMatchesReference(GetParam().build()); }

TEST_P(CudaPlanCaseTest, UnfusedEmulatedPlanMatchesReference) {
  ExpectPlanMatchesReference(GetParam().build(), {.fuse = false});
}

TEST_P(CudaPlanCaseTest, AccessesStayInBuffersAndKernelsCompileWithNvrtc) {
  const Graph g = GetParam().build();
  absl::StatusOr<Plan> plan = BuildPlan(g);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectPlanInBounds(g, *plan);
  for (const std::string& source : plan->sources) {
    absl::StatusOr<std::string> ptx = CompileToPtx(source, OldestSupportedArch());
    ASSERT_TRUE(ptx.ok()) << ptx.status();
    EXPECT_NE(ptx->find(".entry lemma_kernel"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaPlanCaseTest, ::testing::ValuesIn(test_cases::GpuCases()),
                         [](const auto& info) { return info.param.name; });

// The cases it does not run are declined with a message that names the node.
TEST(CudaPlanTest, DeclinesTheCasesItCannotRunSayingWhy) {
  int declined = 0;
  for (const GraphCase& c : Cases()) {
    if (c.gpu_gap.empty()) continue;
    ++declined;
    absl::StatusOr<Plan> plan = BuildPlan(c.build());
    ASSERT_FALSE(plan.ok()) << c.name;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented) << c.name;
    EXPECT_NE(plan.status().message().find("node "), std::string::npos) << plan.status();
    EXPECT_NE(plan.status().message().find(c.gpu_gap), std::string::npos) << plan.status();
  }
  EXPECT_GT(declined, 0);
}

// The small models of the zoo: planned, in bounds, every kernel compiled, and
// (emulated) equal to the reference.
class CudaPlanModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaPlanModelTest, PlansCompilesAndEmulates) {
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<Plan> plan = BuildPlan(*g);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectPlanInBounds(*g, *plan);
  for (const std::string& source : plan->sources) {
    absl::StatusOr<std::string> ptx = CompileToPtx(source, OldestSupportedArch());
    ASSERT_TRUE(ptx.ok()) << ptx.status();
  }
  ExpectPlanMatchesReference(*g, {}, 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Zoo, CudaPlanModelTest, ::testing::ValuesIn(models::ModelNames()),
                         [](const auto& info) { return info.param; });

// ---- Fusion, memory and errors

Graph ConvChain() {
  GraphBuilder b("chain");
  Value x = b.Input("x", DType::kF32, {1, 8, 16, 16});
  for (int i = 0; i < 6; ++i) x = b.Relu(b.EwAdd(b.Conv2d(x, 8, {3, 3}, Same()), x));
  b.Output("y", x);
  return Finish(b);
}

TEST(CudaPlanTest, FusesElementwiseChainsIntoTheirProducer) {
  const Graph g = ConvChain();
  absl::StatusOr<Plan> plan = BuildPlan(g);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 6u) << plan->Text(g);
  const Step& s = plan->steps[0];
  EXPECT_EQ(s.kind, StepKind::kConv);
  EXPECT_EQ(s.label, "conv2d+ewadd+relu");
  EXPECT_EQ(s.fused.size(), 2u);
  ASSERT_EQ(s.launches.size(), 1u);
  EXPECT_EQ(s.launches[0].what, "ew: load0 load1 add relu");
  // One module serves all six chains.
  EXPECT_EQ(plan->sources.size(), 1u);

  absl::StatusOr<Plan> unfused = BuildPlan(g, {.fuse = false});
  ASSERT_TRUE(unfused.ok());
  EXPECT_EQ(unfused->steps.size(), 18u);
  EXPECT_GT(unfused->placement.naive_bytes, plan->placement.naive_bytes);
}

TEST(CudaPlanTest, ReusesMemoryByLiveness) {
  const Graph g = ConvChain();
  absl::StatusOr<Plan> plan = BuildPlan(g);
  ASSERT_TRUE(plan.ok());
  const int64_t activation = 8 * 16 * 16 * 4;
  // Input, 6 conv scratch buffers and 6 chain outputs without reuse; with
  // reuse at most three activations are alive at once.
  EXPECT_EQ(plan->placement.naive_bytes, 13 * activation);
  EXPECT_LE(plan->placement.arena_bytes, 3 * activation);
  ExpectPlanInBounds(g, *plan);
}

TEST(CudaPlanTest, FoldsConstantsAndUploadsWeightsOnce) {
  GraphBuilder b("fold");
  const Value x = b.Input("x", DType::kF32, {2, 4});
  const Value w = b.Weight("w", DType::kF32, {4, 3});
  const Value wt = b.Transpose(b.Relu(b.Weight("v", DType::kF32, {3, 4})), {1, 0});
  b.Output("y", b.EwAdd(b.MatMul(x, w), b.MatMul(x, wt)));
  const Graph g = Finish(b);
  absl::StatusOr<Plan> plan = BuildPlan(g);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->folded.size(), 2u);     // relu and transpose of v
  EXPECT_EQ(plan->constants.size(), 2u);  // w and the folded transpose
  EXPECT_EQ(plan->steps.size(), 2u) << plan->Text(g);
}

TEST(CudaPlanTest, GraphsItCannotRunNameTheNode) {
  {
    GraphBuilder b("broadcast_batches");
    const Value x = b.Input("x", DType::kF32, {2, 1, 5, 7});
    b.Output("y", b.Name(b.MatMul(x, b.Input("w", DType::kF32, {3, 7, 9})), "big"));
    absl::StatusOr<Plan> plan = BuildPlan(Finish(b));
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_NE(plan.status().message().find("matmul"), std::string::npos) << plan.status();
    EXPECT_NE(plan.status().message().find("'big'"), std::string::npos) << plan.status();
  }
  {
    GraphBuilder b("asymmetric");
    const Value x = b.Input("x", DType::kF32, {1, 3, 10, 10});
    b.Output("y", b.AvgPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    absl::StatusOr<Plan> plan = BuildPlan(Finish(b));
    ASSERT_FALSE(plan.ok());
    EXPECT_NE(plan.status().message().find("avgpool2d"), std::string::npos) << plan.status();
    EXPECT_NE(plan.status().message().find("symmetrically"), std::string::npos) << plan.status();
  }
}

// ---- Generated code

TEST(CudaCodegenTest, ElementwiseSourceSpellsTheProgram) {
  EwProgram p;
  const int x = p.Load(0);
  const int y = p.Load(1);
  const int s = p.Binary(EwOp::kAdd, x, y);
  const int r = p.Unary(EwOp::kRelu, s);
  p.Binary(EwOp::kMul, r, p.Const(-INFINITY));
  const std::string src = EwKernelSource(p, 4);
  EXPECT_NE(src.find("#define RANK 4"), std::string::npos) << src;
  EXPECT_NE(src.find("const float v2 = v0 + v1;"), std::string::npos) << src;
  EXPECT_NE(src.find("const float v3 = v2 < 0.0f ? 0.0f : v2;"), std::string::npos) << src;
  EXPECT_NE(src.find("const float v4 = __int_as_float(0xff800000);"), std::string::npos) << src;
  EXPECT_NE(src.find("((float*)p.out)[o] = v5;"), std::string::npos) << src;
  EXPECT_NE(src.find("a1 += c * p.in_strides[1][d];"), std::string::npos) << src;
  EXPECT_EQ(EwProgramText(p), "load0 load1 add relu const mul");
  EXPECT_EQ(SourceHash(src), SourceHash(EwKernelSource(p, 4)));
  EXPECT_NE(SourceHash(src), SourceHash(EwKernelSource(p, 3)));
  // The host structs have the device structs' layout: 8-byte fields only.
  EXPECT_EQ(sizeof(EwParams), 8u * (1 + kMaxInputs + 2 + kMaxRank + 1 + kMaxRank + kMaxInputs + kMaxInputs * kMaxRank));
  EXPECT_EQ(sizeof(RowParams), 8u * (4 + 4 + 6 * kMaxRank + 2 * kMaxRank + 1));
}

TEST(CudaCodegenTest, EveryKernelFamilyCompilesWithNvrtcWithoutADevice) {
  std::vector<std::string> sources;
  EwProgram all;
  int v = all.Load(0);
  const int w = all.Load(1);
  for (EwOp op : {EwOp::kAdd, EwOp::kSub, EwOp::kMul, EwOp::kDiv}) v = all.Binary(op, v, w);
  for (EwOp op : {EwOp::kRelu, EwOp::kSigmoid, EwOp::kTanh, EwOp::kGelu}) v = all.Unary(op, v);
  all.Binary(EwOp::kAdd, v, all.Const(0.5f));
  for (int rank = 0; rank <= kMaxRank; ++rank) sources.push_back(EwKernelSource(all, rank));
  for (RowKind k : {RowKind::kReduceSum, RowKind::kReduceMean, RowKind::kReduceMax, RowKind::kSoftmax,
                    RowKind::kLayerNorm}) {
    sources.push_back(RowKernelSource(k));
  }
  for (const std::string& s : sources) {
    absl::StatusOr<std::string> ptx = CompileToPtx(s, OldestSupportedArch());
    ASSERT_TRUE(ptx.ok()) << ptx.status();
    EXPECT_NE(ptx->find(".entry lemma_kernel"), std::string::npos);
  }
  // Compiled once per (source, arch): asking again hits the cache.
  const int before = CompiledModuleCount();
  ASSERT_TRUE(CompileToPtx(sources[0], OldestSupportedArch()).ok());
  EXPECT_EQ(CompiledModuleCount(), before);
}

TEST(CudaCodegenTest, NvrtcErrorsCarryTheLog) {
  absl::StatusOr<std::string> ptx = CompileToPtx("extern \"C\" __global__ void lemma_kernel() { undeclared(); }",
                                                 OldestSupportedArch());
  ASSERT_FALSE(ptx.ok());
  EXPECT_NE(ptx.status().message().find("undeclared"), std::string::npos) << ptx.status();
}

// ---- Cost-cache keys

TEST(CudaCostKeyTest, KeysAreStableAndNameTheWorkloadAndDevice) {
  GraphBuilder b("k");
  const Value x = b.Input("x", DType::kF32, {1, 8, 16, 16});
  b.Output("y", b.Conv2d(x, 4, {3, 3}, Same(1, Activation::kRelu)));
  Graph g = Finish(b);
  const NodeId conv = g.num_nodes() - 1;
  const std::string key = NodeWorkloadKey(g, conv);
  EXPECT_EQ(key, NodeWorkloadKey(g, conv));
  EXPECT_EQ(key.rfind("conv2d{", 0), 0u) << key;
  EXPECT_NE(key.find("activation=relu"), std::string::npos) << key;
  EXPECT_NE(key.find("(f32[1,8,16,16], const f32[4,8,3,3]) -> f32[1,4,16,16]"), std::string::npos) << key;
  ASSERT_TRUE(g.SetLayout({conv, 0}, Layout::kNHWC).ok());
  EXPECT_NE(NodeWorkloadKey(g, conv), key);
  EXPECT_NE(NodeWorkloadKey(g, conv).find("@nhwc"), std::string::npos);

  const DeviceInfo h100{.name = "NVIDIA H100 80GB HBM3", .major = 9, .minor = 0};
  const DeviceInfo a100{.name = "NVIDIA A100-SXM4-40GB", .major = 8, .minor = 0};
  EXPECT_EQ(TargetKey(h100), "cuda/NVIDIA H100 80GB HBM3/sm_90");
  EXPECT_NE(TargetKey(h100), TargetKey(a100));

  // The cache is a tuning log: a record keyed by (target, workload) survives
  // a round trip through its JSON line, and only its own device finds it.
  cpu::TuningLog log;
  cpu::TuningRecord r;
  r.kind = "cost";
  r.target = TargetKey(h100);
  r.workload = key;
  r.template_name = "cuda";
  r.config = {{"runs", 10}};
  r.seconds = 1.5e-5;
  absl::StatusOr<cpu::TuningRecord> back = cpu::TuningRecord::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->workload, key);
  EXPECT_EQ(back->target, r.target);
  log.Add(*back);
  EXPECT_TRUE(log.Best("cost", TargetKey(h100), key).has_value());
  EXPECT_FALSE(log.Best("cost", TargetKey(a100), key).has_value());
}

TEST(CudaCostKeyTest, MedianOfSamples) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2);
  EXPECT_EQ(Median({7}), 7);
}

// ---- Without a device

TEST(CudaDeviceAbsentTest, CompileAndCostModelFailClearly) {
  if (DeviceAvailable()) GTEST_SKIP() << "a CUDA device is present: " << QueryDevice()->Describe();
  const Graph g = ConvChain();
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, RandomFeeds<F32>(g, 1));
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("no CUDA device"), std::string::npos) << exe.status();
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> costs = MeasuredCostModel::Create({});
  ASSERT_FALSE(costs.ok());
  EXPECT_NE(costs.status().message().find("no CUDA device"), std::string::npos) << costs.status();
}

}  // namespace
}  // namespace lemma::cuda
