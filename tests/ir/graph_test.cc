// The graph: construction errors, rewriting, topological order, dead code.

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/graph.h"
#include "ir/strings.h"

namespace lemma {
namespace {

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

Graph Chain() {
  GraphBuilder b("chain");
  Value x = b.Input("x", DType::kF32, {2, 3});
  Value w = b.Weight("w", DType::kF32, {3, 3});
  Value y = b.Name(b.MatMul(x, w), "y");
  Value z = b.Relu(y);
  b.Output("out", z);
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST(Graph, AddNodeInfersTypes) {
  Graph g = Chain();
  ASSERT_EQ(g.num_nodes(), 4);
  EXPECT_EQ(g.node(2).op, OpKind::kMatMul);
  EXPECT_EQ(g.node(2).outputs[0].ToString(), "f32[2,3]");
  EXPECT_EQ(g.FindValue("y")->node, 2);
  EXPECT_EQ(g.FindOutput("out")->node, 3);
  EXPECT_EQ(g.InputNodes(), std::vector<NodeId>{0});
  EXPECT_EQ(g.WeightNodes(), std::vector<NodeId>{1});
  EXPECT_TRUE(g.Validate().ok());
}

TEST(Graph, RemoveLastNodeTakesBackATriedNode) {
  Graph g = Chain();
  // The relu is graph output 'out': it stays.
  EXPECT_FALSE(g.RemoveLastNode().ok());
  absl::StatusOr<NodeId> tried = g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu),
                                           {*g.FindValue("y")}, {"tried"});
  ASSERT_TRUE(tried.ok()) << tried.status();
  EXPECT_TRUE(g.RemoveLastNode().ok());
  EXPECT_EQ(g.num_nodes(), 4);
  EXPECT_FALSE(g.FindValue("tried"));
  EXPECT_TRUE(g.Validate().ok());
  // The name is free again; sources never go.
  EXPECT_TRUE(g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu), {*g.FindValue("y")}, {"tried"})
                  .ok());
  Graph inputs_only;
  ASSERT_TRUE(inputs_only.AddInput("x", TensorType::Make(DType::kF32, {2})).ok());
  EXPECT_FALSE(inputs_only.RemoveLastNode().ok());
  EXPECT_FALSE(Graph().RemoveLastNode().ok());
}

TEST(Graph, RejectsBadConstruction) {
  Graph g;
  ASSERT_TRUE(g.AddInput("x", TensorType::Make(DType::kF32, {2, 2})).ok());
  EXPECT_EQ(g.AddInput("x", TensorType::Make(DType::kF32, {2})).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(g.AddInput("9x", TensorType::Make(DType::kF32, {2})).ok());
  EXPECT_FALSE(g.AddInput("", TensorType::Make(DType::kF32, {2})).ok());
  EXPECT_FALSE(g.AddInput("bad", TensorType{DType::kF32, {2, 2}, Layout::kNHWC}).ok());
  EXPECT_FALSE(g.AddInput("neg", TensorType::Make(DType::kF32, {-1})).ok());
  // An input refers to no value.
  absl::StatusOr<NodeId> n = g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu), {ValueId{7, 0}});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(Msg(n.status()), "relu: input 0 refers to no value");
  // Shape inference errors come back named by op.
  n = g.AddNode(OpKind::kMatMul, Attributes(OpKind::kMatMul), {ValueId{0, 0}});
  EXPECT_EQ(Msg(n.status()), "matmul: takes 2 input(s), got 1");
  // Wrong number of names, duplicate names.
  n = g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu), {ValueId{0, 0}}, {"a", "b"});
  EXPECT_FALSE(n.ok());
  n = g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu), {ValueId{0, 0}}, {"x"});
  EXPECT_NE(Msg(n.status()).find("already taken"), std::string::npos);
  EXPECT_FALSE(g.AddNode(OpKind::kInput, Attributes(OpKind::kInput), {}).ok());
  // Failed calls leave the graph unchanged.
  EXPECT_EQ(g.num_nodes(), 1);
  EXPECT_FALSE(g.AddOutput("o", ValueId{3, 0}).ok());
  ASSERT_TRUE(g.AddOutput("o", ValueId{0, 0}).ok());
  EXPECT_FALSE(g.AddOutput("o", ValueId{0, 0}).ok());
}

TEST(Graph, MultiOutputNodes) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {4, 6});
  std::vector<Value> parts = b.Split(x, 1, {2, 4});
  ASSERT_EQ(parts.size(), 2u);
  b.Output("a", parts[0]);
  b.Output("b", parts[1]);
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->type(parts[1]).ToString(), "f32[4,4]");
  EXPECT_EQ(g->ValueLabel(parts[1]), "%1:1");
}

TEST(Graph, SetLayout) {
  Graph g = Chain();
  const ValueId y = *g.FindValue("y");
  EXPECT_TRUE(g.SetLayout(y, Layout::kColMajor).ok());
  EXPECT_EQ(g.type(y).ToString(), "f32[2,3]@col_major");
  absl::Status s = g.SetLayout(y, Layout::kNHWC);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(Msg(s).find("does not fit"), std::string::npos);
  EXPECT_TRUE(g.Validate().ok());
}

TEST(Graph, ReplaceAllUsesWithAndDeadCode) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {2, 2});
  Value r = b.Relu(x);
  Value t = b.Tanh(r);
  Value s = b.Sigmoid(x);  // defined after t
  b.Output("out", t);
  absl::StatusOr<Graph> built = std::move(b).Build();
  ASSERT_TRUE(built.ok());
  Graph g = *std::move(built);
  // Redirect tanh's input from relu to sigmoid, which comes later in node order.
  ASSERT_TRUE(g.ReplaceAllUsesWith(r, s).ok());
  EXPECT_EQ(g.TopologicalOrder(), (std::vector<NodeId>{0, 1, 3, 2}));
  EXPECT_TRUE(g.Validate().ok());
  EXPECT_EQ(g.RemoveDeadCode(), 1);  // relu is dead now
  ASSERT_EQ(g.num_nodes(), 3);
  EXPECT_EQ(g.node(1).op, OpKind::kSigmoid);
  EXPECT_EQ(g.node(2).op, OpKind::kTanh);
  EXPECT_EQ(g.node(2).inputs[0], (ValueId{1, 0}));
  EXPECT_EQ(g.FindOutput("out")->node, 2);
  EXPECT_TRUE(g.Validate().ok());
}

// Repeats of an op on the same inputs merge into the first, chains of
// repeats at once (the add of two repeated pools becomes the add of one pool
// with itself, and its own repeat merges too); other attributes, inputs,
// layouts or multi-output pieces keep apart, and so do inputs and weights.
TEST(Graph, MergeDuplicatesMergesRepeatsAndTheirChains) {
  GraphBuilder b("g");
  const Value x = b.Input("x", DType::kF32, {1, 4, 6, 6});
  const Value x2 = b.Input("x2", DType::kF32, {1, 4, 6, 6});
  const Pool2dOptions p{.kernel = {3, 3}, .padding = Padding::kSame};
  const Value a = b.EwAdd(b.AvgPool2d(x, p), b.AvgPool2d(x, p));
  const Value again = b.EwAdd(b.AvgPool2d(x, p), b.AvgPool2d(x, p));
  const Value other = b.AvgPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}});
  const Value other_input = b.AvgPool2d(x2, p);
  const std::vector<Value> s1 = b.Split(x, 1, {2, 2});
  const std::vector<Value> s2 = b.Split(x, 1, {2, 2});
  const Value w1 = b.Weight("w1", DType::kF32, {4, 4, 1, 1});
  const Value w2 = b.Weight("w2", DType::kF32, {4, 4, 1, 1});
  const Value c1 = b.Conv2d(x, w1);
  const Value c2 = b.Conv2d(x, w2);
  b.Output("a", a);
  b.Output("again", again);
  b.Output("other", other);
  b.Output("other_input", other_input);
  b.Output("pieces", b.EwAdd(s1[1], s2[1]));
  b.Output("first", s2[0]);
  b.Output("convs", b.EwAdd(c1, c2));
  b.Output("nhwc", b.Relu(x));
  b.Output("nchw", b.Relu(x));
  Graph g = *std::move(b).Build();
  ASSERT_TRUE(g.SetLayout(*g.FindOutput("nhwc"), Layout::kNHWC).ok());
  const int before = g.num_nodes();
  // Pools: 3 repeats; the add of `again`; the second split; the second relu
  // stays (another layout).
  EXPECT_EQ(g.MergeDuplicates(), 5);
  EXPECT_EQ(g.num_nodes(), before);  // left dead
  EXPECT_TRUE(g.Validate().ok());
  EXPECT_EQ(*g.FindOutput("again"), *g.FindOutput("a"));
  const Node& add = g.node(g.FindOutput("a")->node);
  EXPECT_EQ(add.inputs[0], add.inputs[1]);
  const Node& pieces = g.node(g.FindOutput("pieces")->node);
  EXPECT_EQ(pieces.inputs[0], pieces.inputs[1]);
  EXPECT_EQ(g.FindOutput("first")->node, pieces.inputs[0].node);
  EXPECT_EQ(g.FindOutput("first")->index, 0);
  const Node& convs = g.node(g.FindOutput("convs")->node);
  EXPECT_NE(convs.inputs[0], convs.inputs[1]);
  EXPECT_NE(*g.FindOutput("nhwc"), *g.FindOutput("nchw"));
  EXPECT_NE(*g.FindOutput("other"), *g.FindOutput("other_input"));
  EXPECT_EQ(g.RemoveDeadCode(), 5);
  EXPECT_EQ(g.MergeDuplicates(), 0);
  EXPECT_TRUE(g.Validate().ok());
}

TEST(Graph, ReplaceRefusesCyclesAndTypeChanges) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {2, 2});
  Value r = b.Relu(x);
  Value t = b.Tanh(r);
  Value m = b.MatMul(x, b.Weight("w", DType::kF32, {2, 3}));
  b.Output("out", t);
  b.Output("m", m);
  Graph g = *std::move(b).Build();
  absl::Status s = g.ReplaceAllUsesWith(r, t);
  EXPECT_NE(Msg(s).find("depends on it"), std::string::npos) << s;
  s = g.ReplaceAllUsesWith(r, m);
  EXPECT_NE(Msg(s).find("cannot replace"), std::string::npos) << s;
  EXPECT_TRUE(g.Validate().ok());
}

TEST(Graph, DeadCodeKeepsInputsAndDropsUnusedWeights) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {2, 2});
  b.Input("unused", DType::kF32, {3});
  Value w = b.Weight("w", DType::kF32, {2, 2});
  b.MatMul(x, w);  // dead
  b.Output("y", b.Relu(x));
  Graph g = *std::move(b).Build();
  EXPECT_EQ(g.RemoveDeadCode(), 2);
  EXPECT_EQ(g.InputNodes().size(), 2u);
  EXPECT_TRUE(g.WeightNodes().empty());
  EXPECT_FALSE(g.FindValue("w").has_value());
  EXPECT_TRUE(g.FindValue("unused").has_value());
}

TEST(Graph, DescribeNamesNodes) {
  Graph g = Chain();
  EXPECT_EQ(g.Describe(2), "node 2 (matmul, 'y')");
  EXPECT_EQ(g.Describe(3), "node 3 (relu)");
}

TEST(Graph, EqualityIsExact) {
  Graph a = Chain();
  Graph b = Chain();
  EXPECT_TRUE(a == b);
  ASSERT_TRUE(b.SetName(*b.FindValue("y"), "").ok());
  EXPECT_FALSE(a == b);
}

TEST(Names, Grammar) {
  EXPECT_TRUE(IsValidName("conv1"));
  EXPECT_TRUE(IsValidName("_a.b-c/d"));
  EXPECT_FALSE(IsValidName("1a"));
  EXPECT_FALSE(IsValidName("%0"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a:b"));
}

}  // namespace
}  // namespace lemma
