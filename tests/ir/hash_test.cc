// The canonical structural hash: equal for renumbered copies, different for
// changed graphs.

#include <algorithm>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/hash.h"

namespace lemma {
namespace {

// A diamond: two branches over one input joined by ewadd. Each field changes
// one thing: the build order of the branches (so node ids differ), names on
// intermediate values, the fused activation, the operand order of ewadd, the
// input's name and an output's name.
struct DiamondOptions {
  bool swap_build_order = false;
  bool name_intermediates = false;
  Activation activation = Activation::kRelu;
  bool swap_add_operands = false;
  std::string input = "x";
  std::string output = "y";
};

Graph Diamond(const DiamondOptions& o = {}) {
  GraphBuilder b("diamond");
  Value w = b.Weight("w", DType::kF32, {4, 4});
  Value x = b.Input(o.input, DType::kF32, {4, 4});
  Value l, r;
  if (o.swap_build_order) {
    r = b.Tanh(x);
    l = b.MatMul(x, w, o.activation);
  } else {
    l = b.MatMul(x, w, o.activation);
    r = b.Tanh(x);
  }
  if (o.name_intermediates) {
    b.Name(l, "left");
    b.Name(r, "right");
  }
  b.Output(o.output, o.swap_add_operands ? b.EwAdd(r, l) : b.EwAdd(l, r));
  b.Output("z", r);
  return *std::move(b).Build();
}

TEST(StructuralHash, IndependentOfNumberingAndNames) {
  const uint64_t h = StructuralHash(Diamond());
  EXPECT_EQ(h, StructuralHash(Diamond({.swap_build_order = true})));
  EXPECT_EQ(h, StructuralHash(Diamond({.name_intermediates = true})));
  EXPECT_EQ(h, StructuralHash(Diamond({.swap_build_order = true, .name_intermediates = true})));
}

TEST(StructuralHash, IndependentOfOutputOrder) {
  GraphBuilder a, b;
  for (GraphBuilder* g : {&a, &b}) {
    Value x = g->Input("x", DType::kF32, {3});
    Value r = g->Relu(x), s = g->Sigmoid(x);
    if (g == &a) {
      g->Output("r", r);
      g->Output("s", s);
    } else {
      g->Output("s", s);
      g->Output("r", r);
    }
  }
  EXPECT_EQ(StructuralHash(*std::move(a).Build()), StructuralHash(*std::move(b).Build()));
}

TEST(StructuralHash, ChangesWithEveryKindOfChange) {
  const uint64_t h = StructuralHash(Diamond());
  EXPECT_NE(h, StructuralHash(Diamond({.activation = Activation::kNone})));  // an attribute
  EXPECT_NE(h, StructuralHash(Diamond({.swap_add_operands = true})));        // the wiring
  EXPECT_NE(h, StructuralHash(Diamond({.input = "x2"})));                   // an input name
  EXPECT_NE(h, StructuralHash(Diamond({.output = "y2"})));                  // an output name
  Graph g = Diamond();                                                       // a layout
  ASSERT_TRUE(g.SetLayout(*g.FindValue("x"), Layout::kColMajor).ok());
  EXPECT_NE(h, StructuralHash(g));
}

TEST(StructuralHash, CountsRepeatedComputation) {
  auto build = [](bool share) {
    GraphBuilder b;
    Value x = b.Input("x", DType::kF32, {3});
    Value r1 = b.Relu(x);
    Value r2 = share ? r1 : b.Relu(x);
    b.Output("y", b.EwAdd(r1, r2));
    return *std::move(b).Build();
  };
  EXPECT_NE(StructuralHash(build(true)), StructuralHash(build(false)));
}

TEST(StructuralHash, IgnoresDeadNodes) {
  GraphBuilder a, b;
  for (GraphBuilder* g : {&a, &b}) {
    Value x = g->Input("x", DType::kF32, {3});
    if (g == &b) g->Tanh(x);
    g->Output("y", g->Relu(x));
  }
  EXPECT_EQ(StructuralHash(*std::move(a).Build()), StructuralHash(*std::move(b).Build()));
}

// Random DAGs rebuilt with a random valid node order hash the same.
TEST(StructuralHash, RandomTopologicalPermutations) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    // Describe a random DAG: node i uses two earlier values.
    const int n = 3 + static_cast<int>(rng() % 10);
    std::vector<std::pair<int, int>> args;
    std::vector<int> ops;
    for (int i = 0; i < n; ++i) {
      const int avail = 2 + i;  // two inputs, then i nodes
      args.push_back({static_cast<int>(rng() % avail), static_cast<int>(rng() % avail)});
      ops.push_back(static_cast<int>(rng() % 3));
    }
    auto build = [&](const std::vector<int>& order) {
      Graph g("random");
      std::vector<ValueId> v(static_cast<size_t>(n + 2));
      v[0] = *g.AddInput("a", TensorType::Make(DType::kF32, {2, 2}));
      v[1] = *g.AddInput("b", TensorType::Make(DType::kF32, {2, 2}));
      for (int i : order) {
        const OpKind kinds[] = {OpKind::kEwAdd, OpKind::kEwMul, OpKind::kMatMul};
        const OpKind k = kinds[ops[static_cast<size_t>(i)]];
        const auto [p, q] = args[static_cast<size_t>(i)];
        v[static_cast<size_t>(i + 2)] =
            ValueId{*g.AddNode(k, Attributes(k), {v[static_cast<size_t>(p)], v[static_cast<size_t>(q)]}), 0};
      }
      EXPECT_TRUE(g.AddOutput("out", v.back()).ok());
      return g;
    };
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    const uint64_t h = StructuralHash(build(order));
    // A random topological order: repeatedly pick a ready node at random.
    std::vector<int> shuffled;
    std::vector<bool> done(static_cast<size_t>(n), false);
    while (static_cast<int>(shuffled.size()) < n) {
      std::vector<int> ready;
      for (int i = 0; i < n; ++i) {
        const auto [p, q] = args[static_cast<size_t>(i)];
        auto ok = [&](int a) { return a < 2 || done[static_cast<size_t>(a - 2)]; };
        if (!done[static_cast<size_t>(i)] && ok(p) && ok(q)) ready.push_back(i);
      }
      const int pick = ready[rng() % ready.size()];
      done[static_cast<size_t>(pick)] = true;
      shuffled.push_back(pick);
    }
    EXPECT_EQ(h, StructuralHash(build(shuffled))) << "trial " << trial;
  }
}

TEST(StableHash, IsStableAcrossRuns) {
  // Pinned values: a change here changes every cache key and rule fingerprint.
  EXPECT_EQ(HashBytes(""), HashBytes(std::string()));
  EXPECT_NE(HashBytes("a"), HashBytes("b"));
  EXPECT_EQ(Mix64(0), 0xe220a8397b1dcdafULL);
}

}  // namespace
}  // namespace lemma
