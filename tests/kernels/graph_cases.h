#ifndef LEMMA_TESTS_KERNELS_GRAPH_CASES_H_
#define LEMMA_TESTS_KERNELS_GRAPH_CASES_H_

// Graphs that cover every op of the registry, shared by the backends' tests
// (the CPU runtime, the CUDA plans and the CUDA device): odd sizes that are
// not multiples of a vector or a tile, layouts, broadcasting, fused chains,
// views, folded constants and empty tensors. And the check they all make: a
// backend's outputs against the reference evaluator.

#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma::test_cases {

struct GraphCase {
  std::string name;
  std::function<Graph()> build;
  // Non-empty where the CUDA backend declines the graph: a part of the
  // message its planner gives.
  std::string gpu_gap;
};

inline void PrintTo(const GraphCase& c, std::ostream* os) { *os << c.name; }

inline Graph Finish(GraphBuilder& b) {
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

inline Conv2dOptions Same(int64_t stride = 1, Activation act = Activation::kNone, int64_t groups = 1) {
  return {.stride = {stride, stride}, .padding = Padding::kSame, .groups = groups, .activation = act};
}

// Sets the layout of every rank-4 value of `g` but the weights to NHWC, and of
// every rank-2 value to column-major.
inline Graph Permuted(Graph g) {
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    for (size_t j = 0; j < g.node(id).outputs.size(); ++j) {
      const int rank = g.node(id).outputs[j].rank();
      if (rank == 4 && g.node(id).op != OpKind::kWeight) {
        EXPECT_TRUE(g.SetLayout({id, static_cast<int32_t>(j)}, Layout::kNHWC).ok());
      } else if (rank == 2) {
        EXPECT_TRUE(g.SetLayout({id, static_cast<int32_t>(j)}, Layout::kColMajor).ok());
      }
    }
  }
  return g;
}

// The ops `g` runs (its sources too).
inline std::set<OpKind> OpsOf(const Graph& g) {
  std::set<OpKind> ops;
  for (NodeId id = 0; id < g.num_nodes(); ++id) ops.insert(g.node(id).op);
  return ops;
}

// Every output of `want` is in `got` with the same type and values within
// `tol` relative to 1 + |expected|; `context()` ends a failure's message (it
// is called only on a failure).
inline void ExpectOutputsNear(const NamedTensors<F32>& got, const NamedTensors<F32>& want, double tol,
                              const std::function<std::string()>& context) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "no output " << name;
    ASSERT_EQ(it->second.type, w.type) << name;
    const std::vector<float> a = ToLogical(it->second), b = ToLogical(w);
    for (size_t i = 0; i < a.size(); ++i) {
      if (!(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(b[i])))) {  // NaN fails too
        FAIL() << "output " << name << " element " << i << ": " << a[i] << ", expected " << b[i] << "\n"
               << context();
      }
    }
  }
}

// Compiles `g` with a backend's `Executable::Compile(graph, feeds, options)`,
// runs it `runs` times on random feeds (a later run reuses the memory an
// earlier one left dirty) and compares every output with the reference
// evaluator in F32.
template <typename Executable, typename Options>
void ExpectMatchesReference(const Graph& g, const Options& options, double tol, int runs = 1) {
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 11);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  for (int run = 0; run < runs; ++run) {
    absl::StatusOr<NamedTensors<F32>> got = (*exe)->Run(feeds);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectOutputsNear(*got, *want, tol,
                      [&] { return g.name() + " (run " + std::to_string(run) + ")\n" + (*exe)->PlanText(); });
  }
}

inline std::vector<GraphCase> Cases() {
  std::vector<GraphCase> cases;
  auto add = [&](std::string name, std::function<Graph()> build, std::string gpu_gap = "") {
    cases.push_back({std::move(name), std::move(build), std::move(gpu_gap)});
  };
  add("matmul_odd_relu", [] {
    GraphBuilder b("matmul_odd");
    const Value x = b.Input("x", DType::kF32, {13, 19});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {19, 37}), Activation::kRelu));
    return Finish(b);
  });
  add("matmul_column_major", [] {
    GraphBuilder b("matmul_cm");
    const Value x = b.Input("x", DType::kF32, {6, 11});
    const Value y = b.MatMul(x, b.Weight("w", DType::kF32, {11, 5}));
    b.Output("y", b.MatMul(y, b.Input("v", DType::kF32, {5, 3}), Activation::kTanh));
    return Permuted(Finish(b));
  });
  add("matmul_batched", [] {
    GraphBuilder b("matmul_batched");
    const Value x = b.Input("x", DType::kF32, {2, 3, 5, 7});
    b.Output("z", b.MatMul(x, b.Input("y", DType::kF32, {2, 3, 7, 9}), Activation::kSigmoid));
    b.Output("w", b.MatMul(b.Input("a", DType::kF32, {4, 6, 7}), b.Weight("w", DType::kF32, {7, 3})));
    return Finish(b);
  });
  add(
      "matmul_batched_broadcast",
      [] {
        GraphBuilder b("matmul_batched_broadcast");
        const Value x = b.Input("x", DType::kF32, {2, 1, 5, 7});
        b.Output("z", b.MatMul(x, b.Input("y", DType::kF32, {3, 7, 9}), Activation::kSigmoid));
        return Finish(b);
      },
      "cuBLASLt batches need operand batch dims equal to the output's or all 1");
  add("matmul_large_tanh", [] {
    GraphBuilder b("matmul_large");
    const Value x = b.Input("x", DType::kF32, {70, 300});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {300, 83}), Activation::kTanh));
    return Finish(b);
  });
  add("conv_same_relu_chain", [] {
    GraphBuilder b("conv_chain");
    const Value x = b.Input("x", DType::kF32, {2, 5, 9, 11});
    const Value c = b.Conv2d(x, 5, {3, 3}, Same(1, Activation::kRelu));
    b.Output("y", b.Sigmoid(b.EwAdd(c, x)));
    return Finish(b);
  });
  add("conv_stride2_groups_tanh", [] {
    GraphBuilder b("conv_strided");
    const Value x = b.Input("x", DType::kF32, {1, 6, 13, 11});
    b.Output("y", b.Conv2d(x, 4, {3, 3}, Same(2, Activation::kTanh, 2)));
    return Finish(b);
  });
  add("conv_1x1_and_1x3_3x1", [] {
    GraphBuilder b("conv_shapes");
    const Value x = b.Input("x", DType::kF32, {1, 8, 7, 9});
    const Value a = b.Conv2d(x, 20, {1, 1}, Same());
    const Value c = b.Conv2d(a, 6, {1, 3}, Same(1, Activation::kRelu));
    b.Output("y", b.Conv2d(c, 5, {3, 1}, Same(1, Activation::kSigmoid)));
    return Finish(b);
  });
  // Small images with whole vectors of output channels (the CPU backend
  // computes them channels-last, then copies to NCHW with the fused bias,
  // residual add and relu), odd input channels, a strided conv feeding a 1x1.
  add("conv_small_image_chains", [] {
    GraphBuilder b("conv_small_image");
    const Value x = b.Input("x", DType::kF32, {1, 37, 9, 9});
    const Value a = b.Conv2d(x, 32, {3, 3}, Same(2));
    const Value biased = b.Relu(b.BroadcastAdd(a, b.Weight("bias", DType::kF32, {32, 1, 1})));
    const Value c = b.Conv2d(biased, 48, {1, 1}, Same());
    const Value r = b.Input("r", DType::kF32, {1, 48, 5, 5});
    b.Output("y", b.Relu(b.EwAdd(c, r)));
    return Finish(b);
  });
  // Convs over padded rows walked as one axis, with fused bias and relu
  // copied out of the padded-width temp.
  add("conv_flat_rows_chains", [] {
    GraphBuilder b("conv_flat_rows");
    const Value x = b.Input("x", DType::kF32, {1, 6, 10, 37});
    const Value a = b.Conv2d(x, 20, {3, 3}, Same());
    const Value biased = b.Relu(b.BroadcastAdd(a, b.Weight("bias", DType::kF32, {20, 1, 1})));
    b.Output("y", b.Conv2d(biased, 11, {7, 1}, Same(1, Activation::kRelu)));
    return Finish(b);
  });
  add("conv_depthwise", [] {
    GraphBuilder b("conv_depthwise");
    const Value x = b.Input("x", DType::kF32, {1, 6, 9, 9});
    b.Output("y", b.Conv2d(x, 6, {3, 3}, Same(1, Activation::kNone, 6)));
    return Finish(b);
  });
  add("conv_nhwc", [] {
    GraphBuilder b("conv_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 5, 9, 7});
    const Value a = b.Conv2d(x, 19, {3, 3}, Same(1, Activation::kRelu));
    const Value c = b.Conv2d(a, 6, {1, 1}, Same());
    b.Output("y", b.Conv2d(c, 4, {3, 3}, Same(2, Activation::kNone, 2)));
    return Permuted(Finish(b));
  });
  add("conv_shapes_nhwc", [] {
    GraphBuilder b("conv_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 8, 7, 9});
    const Value a = b.Conv2d(x, 20, {1, 1}, Same());
    const Value c = b.Conv2d(a, 6, {1, 3}, Same(1, Activation::kRelu));
    const Value d = b.Conv2d(c, 6, {3, 3}, Same(1, Activation::kNone, 6));
    b.Output("y", b.BroadcastAdd(b.Conv2d(d, 5, {3, 1}, Same(1, Activation::kSigmoid)),
                                 b.Weight("bias", DType::kF32, {5, 1, 1})));
    return Permuted(Finish(b));
  });
  // Convs that read a channels-last input and write NCHW, their output
  // channels not a multiple of the vector width (computed channels-last, the
  // last channel vector part-filled, then copied to NCHW): a 1x1 conv with a
  // bias and relu (a classifier after channels-last features), a 3x3 one.
  add("conv_nhwc_to_nchw", [] {
    GraphBuilder b("conv_nhwc_to_nchw");
    const Value x = b.Input("x", DType::kF32, {1, 24, 9, 11});
    const Value h = b.Relu(b.Conv2d(x, 20, {1, 1}, Same()));
    const Value p = b.Relu(b.BroadcastAdd(b.Conv2d(h, 41, {1, 1}, Same()),
                                          b.Weight("bias", DType::kF32, {41, 1, 1})));
    b.Output("p", p);
    b.Output("q", b.Conv2d(h, 37, {3, 3}, Same()));
    Graph g = Finish(b);
    for (NodeId id = 0; id < g.num_nodes(); ++id) {
      const Node& n = g.node(id);
      if (n.op != OpKind::kWeight && n.outputs[0].rank() == 4 && n.outputs[0].dims[1] == 20) {
        EXPECT_TRUE(g.SetLayout({id, 0}, Layout::kNHWC).ok());
      }
    }
    return g;
  });
  // Depthwise convs with channels-last inputs and outputs (vectors along
  // the channels): strided, dilated, unpadded and fused into an add, on
  // channel counts that are not multiples of the vector width.
  add("conv_depthwise_nhwc", [] {
    GraphBuilder b("conv_depthwise_nhwc");
    const Value x = b.Input("x", DType::kF32, {2, 37, 11, 10});
    const Value a = b.Conv2d(x, 37, {5, 5}, Same(2, Activation::kRelu, 37));
    const Value d = b.Conv2d(x, 37, {3, 3},
                             {.padding = Padding::kSame, .dilation = {2, 2}, .groups = 37});
    const Value v = b.Conv2d(x, 37, {3, 2}, {.groups = 37, .activation = Activation::kTanh});
    b.Output("a", a);
    b.Output("d", b.EwAdd(d, x));
    b.Output("v", v);
    return Permuted(Finish(b));
  });
  add("unary", [] {
    GraphBuilder b("unary");
    const Value x = b.Input("x", DType::kF32, {3, 37});
    b.Output("t", b.Tanh(x));
    b.Output("g", b.Gelu(x));
    b.Output("s", b.Relu(b.Sigmoid(x)));
    return Finish(b);
  });
  add("fused_chain", [] {
    GraphBuilder b("fused_chain");
    const Value x = b.Input("x", DType::kF32, {1, 4, 6, 5});
    const Value c = b.Conv2d(x, 4, {3, 3}, Same());
    const Value s = b.Sigmoid(b.Relu(b.EwAdd(c, x)));
    b.Output("y", b.EwMul(s, x));
    return Finish(b);
  });
  add("scalar_and_broadcast", [] {
    GraphBuilder b("broadcast");
    const Value x = b.Input("x", DType::kF32, {2, 3, 17});
    const Value s = b.Input("s", DType::kF32, {});
    const Value v = b.Input("v", DType::kF32, {3, 1});
    const Value w = b.Weight("w", DType::kF32, {17});
    b.Output("y", b.BroadcastMul(b.BroadcastAdd(b.ScalarMul(x, s), v), w));
    b.Output("z", b.BroadcastAdd(v, x));
    const Value d = b.BroadcastAdd(b.Relu(b.Input("d", DType::kF32, {17})), b.ConstOnes({17}));
    b.Output("q", b.BroadcastDiv(b.BroadcastSub(v, x), d));
    b.Output("r", b.BroadcastDiv(d, b.BroadcastAdd(b.Relu(x), b.ConstOnes({2, 3, 17}))));
    b.Output("m", b.EwMul(x, x));
    return Finish(b);
  });
  add("conv_sub_div_chain", [] {
    GraphBuilder b("conv_sub_div");
    const Value x = b.Input("x", DType::kF32, {1, 4, 6, 5});
    const Value c = b.Conv2d(x, 4, {3, 3}, Same());
    const Value m = b.Weight("m", DType::kF32, {4, 1, 1});
    // Divisors kept away from zero.
    const Value s = b.BroadcastAdd(b.Relu(b.Weight("s", DType::kF32, {4, 1, 1})), b.ConstOnes({4, 1, 1}));
    b.Output("y", b.BroadcastDiv(b.BroadcastSub(c, m), s));
    return Finish(b);
  });
  add("pools", [] {
    GraphBuilder b("pools");
    const Value x = b.Input("x", DType::kF32, {1, 3, 11, 10});
    b.Output("a", b.AvgPool2d(x, {.kernel = {3, 3}, .padding = Padding::kSame}));
    b.Output("c", b.AvgPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame,
                                  .count_include_pad = true}));
    b.Output("m", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    b.Output("g", b.AvgPool2d(x, {.kernel = {11, 10}}));
    return Finish(b);
  });
  add("pools_nhwc", [] {
    GraphBuilder b("pools_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 20, 7, 7});
    b.Output("m", b.Relu(b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame})));
    // Padded windows read a copy with the padding filled (-inf for max, 0
    // for avg, whose divisor still counts only the input).
    b.Output("a", b.AvgPool2d(x, {.kernel = {3, 3}, .padding = Padding::kSame}));
    b.Output("i", b.AvgPool2d(x, {.kernel = {2, 2}, .stride = {2, 2}, .padding = Padding::kSame,
                                  .count_include_pad = true}));
    b.Output("n", b.MaxPool2d(x, {.kernel = {5, 3}, .pads = {2, 0, 1, 2}}));
    return Permuted(Finish(b));
  });
  add("batchnorm", [] {
    GraphBuilder b("batchnorm");
    const Value x = b.Input("x", DType::kF32, {2, 5, 4, 3});
    const Value c = b.Conv2d(x, 5, {3, 3}, Same());
    auto param = [&](const char* name) { return b.Weight(name, DType::kF32, {5}); };
    const Value var = b.BroadcastAdd(b.Relu(param("v")), b.ConstOnes({5}));
    b.Output("y", b.Relu(b.BatchNorm(c, param("scale"), param("bias"), param("mean"), var)));
    return Finish(b);
  });
  add("batchnorm_of_inputs", [] {
    GraphBuilder b("batchnorm_inputs");
    const Value x = b.Input("x", DType::kF32, {2, 5, 4, 3});
    auto param = [&](const char* name) { return b.Weight(name, DType::kF32, {5}); };
    const Value var = b.Relu(b.Input("var", DType::kF32, {5}));
    b.Output("z", b.BatchNorm(x, param("s2"), param("b2"), b.Input("mean2", DType::kF32, {5}), var));
    return Finish(b);
  });
  add("data_movement", [] {
    GraphBuilder b("data_movement");
    const Value x = b.Input("x", DType::kF32, {2, 3, 5});
    const Value y = b.Input("y", DType::kF32, {2, 4, 5});
    const Value c = b.Concat({x, y}, 1);
    const std::vector<Value> parts = b.Split(c, 2, {2, 3});
    b.Output("a", b.Relu(b.Transpose(parts[0], {2, 0, 1})));
    b.Output("b", parts[1]);
    b.Output("c", b.Concat({b.Transpose(x, {0, 2, 1}), b.Transpose(y, {0, 2, 1})}, 2));
    return Finish(b);
  });
  add("concat_nhwc", [] {
    GraphBuilder b("concat_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 3, 5, 4});
    const Value c = b.Concat({b.Conv2d(x, 2, {1, 1}, Same()), x}, 1);
    b.Output("y", b.AvgPool2d(c, {.kernel = {3, 3}, .padding = Padding::kSame}));
    return Permuted(Finish(b));
  });
  add("constants", [] {
    GraphBuilder b("constants");
    const Value x = b.Input("x", DType::kF32, {1, 3, 6, 6});
    const Value w = b.Enlarge(b.Weight("w", DType::kF32, {3, 3, 1, 1}), {3, 3});
    const Value p = b.Conv2d(x, b.ConstPool(3, {3, 3}), Same(1, Activation::kNone, 3));
    const Value i = b.Conv2d(x, b.ConstIdentityConv(3, {3, 3}), Same());
    const Value e = b.Conv2d(x, w, Same());
    b.Output("y", b.EwAdd(b.EwAdd(p, i), b.EwAdd(e, b.ConstOnes({1, 3, 6, 6}))));
    const Value m = b.Input("m", DType::kF32, {4, 4});
    b.Output("z", b.MatMul(m, b.ConstIdentityMatrix(4)));
    b.Output("w", w);
    b.Output("x", x);
    b.Output("u", b.Enlarge(b.Relu(b.Input("k", DType::kF32, {2, 3, 1, 3})), {3, 5}));
    return Finish(b);
  });
  add("asymmetric_padding", [] {
    GraphBuilder b("asymmetric");
    const Value x = b.Input("x", DType::kF32, {1, 3, 12, 12});
    b.Output("y", b.Conv2d(x, 5, {3, 3}, {.stride = {1, 2}, .pads = {2, 1, 0, 3}, .dilation = {2, 1}}));
    b.Output("m", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    b.Output("a", b.AvgPool2d(x, {.kernel = {2, 2}, .stride = {2, 2}, .padding = Padding::kSame,
                                  .count_include_pad = true}));
    return Finish(b);
  });
  add("asymmetric_padding_nhwc", [] {
    GraphBuilder b("asymmetric_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 4, 10, 9});
    b.Output("y", b.Relu(b.Conv2d(x, 3, {2, 2}, Same())));
    b.Output("m", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    return Permuted(Finish(b));
  });
  add("softmax_layernorm_reduce", [] {
    GraphBuilder b("normalize");
    const Value x = b.Input("x", DType::kF32, {3, 4, 9});
    b.Output("s", b.Softmax(x, 1));
    b.Output("t", b.Softmax(x));
    b.Output("l", b.LayerNorm(x, b.Weight("g", DType::kF32, {9}), b.Weight("h", DType::kF32, {9})));
    b.Output("k", b.LayerNorm(x, b.Weight("g2", DType::kF32, {4, 9}), b.Weight("h2", DType::kF32, {4, 9}), 1));
    b.Output("r", b.ReduceSum(x, {0, 2}));
    b.Output("m", b.ReduceMean(x, {1}, false));
    b.Output("x", b.ReduceMax(b.Transpose(x, {2, 1, 0}), {2}));
    return Finish(b);
  });
  add("reshape_pad_slice", [] {
    GraphBuilder b("reshape_pad_slice");
    const Value x = b.Input("x", DType::kF32, {4, 6, 5});
    b.Output("r", b.Reshape(x, {6, -1}));
    b.Output("t", b.Reshape(b.Transpose(x, {1, 0, 2}), {24, 5}));
    b.Output("p", b.Pad(x, {1, 0, 2, 0, 3, 1}, 0.5));
    b.Output("s", b.Slice(x, {0, 2}, {1, 1}, {4, 5}, {2, 3}));
    b.Output("q", b.Relu(b.Slice(b.Pad(x, {0, 1, 1, 0, 0, 0}), {1}, {1}, {6})));
    return Finish(b);
  });
  add("edges", [] {
    GraphBuilder b("edges");
    const Value x = b.Input("x", DType::kF32, {3, 4});
    const Value w = b.Weight("w", DType::kF32, {4, 2});
    const Value e = b.Input("e", DType::kF32, {0, 4});
    b.Output("x", x);
    b.Output("x_again", x);
    b.Output("w", w);
    b.Output("folded", b.Relu(b.Transpose(w, {1, 0})));
    b.Output("empty", b.Relu(b.MatMul(e, w)));
    b.Output("zero_k", b.MatMul(b.Input("z", DType::kF32, {2, 0}), b.Input("v", DType::kF32, {0, 3})));
    return Finish(b);
  });
  add("long_chain_reuse", [] {
    GraphBuilder b("chain");
    Value x = b.Input("x", DType::kF32, {1, 8, 16, 16});
    for (int i = 0; i < 6; ++i) x = b.Relu(b.EwAdd(b.Conv2d(x, 8, {3, 3}, Same()), x));
    b.Output("y", x);
    return Finish(b);
  });
  return cases;
}

// The case named `name` (a programmer error if there is none).
inline GraphCase CaseNamed(const std::string& name) {
  for (GraphCase& c : Cases()) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no graph case " << name;
  return {};
}

// The cases the CUDA backend runs.
inline std::vector<GraphCase> GpuCases() {
  std::vector<GraphCase> cases = Cases();
  std::erase_if(cases, [](const GraphCase& c) { return !c.gpu_gap.empty(); });
  return cases;
}

}  // namespace lemma::test_cases

#endif  // LEMMA_TESTS_KERNELS_GRAPH_CASES_H_
