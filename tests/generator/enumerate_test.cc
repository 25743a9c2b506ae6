// The generator's building blocks: symbolic sizes, template application at
// two size assignments, and the enumeration (every graph exactly once, the
// duplicate pruning, order-free fingerprints, the shard partition).

#include "generator/enumerate.h"

#include <algorithm>
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "generator/generate.h"
#include "generator/space.h"
#include "generator/symbolic.h"
#include "generator/universe.h"
#include "ir/strings.h"

namespace lemma {
namespace {

// ---------------------------------------------------------------- symbolic

TEST(SymSize, SumsInOrder) {
  const std::vector<std::string> names = {"m", "k", "c"};
  const SymSize m = SymSize::Var(0), k = SymSize::Var(1), c = SymSize::Var(2);
  const SymSize mk = *SymSize::Join(m, k);
  const SymSize km = *SymSize::Join(k, m);
  EXPECT_FALSE(mk == km);        // the order is where a concat joined
  EXPECT_TRUE(mk.SameSum(km));   // the sum is the same
  EXPECT_EQ(mk.ToString(names), "k+m");
  EXPECT_EQ(mk.Prefix(1), m);
  EXPECT_EQ(mk.Suffix(1), k);
  EXPECT_EQ(mk.Evaluate(std::vector<int64_t>{2, 5, 4}), 7);
  const SymSize cc = *SymSize::Join(c, c);
  EXPECT_EQ(cc.Multiple(c), 2);
  EXPECT_EQ(mk.Multiple(m), 0);
  EXPECT_EQ(SymSize::Const(3).ToString(names), "3");
  EXPECT_TRUE(SymSize::Const(3).IsConstant());
  EXPECT_FALSE(cc.IsConstant());
  SymSize big = c;
  for (int i = 1; i < SymSize::kMaxParts; ++i) big = *SymSize::Join(big, c);
  EXPECT_FALSE(SymSize::Join(big, c));
}

TEST(SymSize, OutputDimsMatchedAtBothAssignments) {
  // concat along axis 0 of [m, k] and [k, k]: the joined dim is m+k.
  const SymShape a{{SymSize::Var(0), SymSize::Var(1)}}, b{{SymSize::Var(1), SymSize::Var(1)}};
  const std::vector<const SymShape*> in = {&a, &b};
  const std::vector<int64_t> va = {2, 5}, vb = {3, 4};
  std::optional<SymShape> out = MatchOutputShape(in, {}, {7, 5}, {7, 4}, va, vb);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->dims[0], *SymSize::Join(SymSize::Var(0), SymSize::Var(1)));
  EXPECT_EQ(out->dims[1], SymSize::Var(1));
  // A dim that no expression explains at both assignments.
  EXPECT_FALSE(MatchOutputShape(in, {}, {7, 5}, {9, 4}, va, vb));
}

// ---------------------------------------------------------------- space

SearchSpace Space(std::vector<std::string> ops, std::vector<std::string> inputs) {
  GenerateOptions o;
  o.ops = std::move(ops);
  o.inputs = std::move(inputs);
  absl::StatusOr<SearchSpace> s = MakeSearchSpace(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

int TemplateIndex(const SearchSpace& s, std::string_view name) {
  for (size_t i = 0; i < s.templates().size(); ++i) {
    if (s.templates()[i].name == name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no template " << name;
  return 0;
}

const SymShape& Shape(const SearchSpace& s, std::string_view tensor) {
  return s.universe().tensors[static_cast<size_t>(s.universe().FindTensor(tensor))].shape;
}

TEST(SearchSpace, ConvGroupsAreSizeExpressions) {
  const SearchSpace s = Space({"conv2d", "concat4d_axis1"}, {"x1", "x2", "f1", "d1"});
  const int conv = TemplateIndex(s, "conv2d");
  // A depthwise kernel [c, 1, 3, 3]: groups = c.
  const SymShape* in[] = {&Shape(s, "x1"), &Shape(s, "d1")};
  std::optional<Application> dw = s.Apply(conv, 0, in);
  ASSERT_TRUE(dw);
  ASSERT_EQ(dw->symbolic.size(), 1u);
  EXPECT_EQ(dw->symbolic[0].second.values[0].ToString(s.variable_names()), "c");
  EXPECT_EQ(dw->attrs.GetInt("groups"), 4);
  // Two images joined along the channels, a [c, c, 3, 3] kernel: groups = 2.
  const SymShape* cat_in[] = {&Shape(s, "x1"), &Shape(s, "x2")};
  std::optional<Application> cat = s.Apply(TemplateIndex(s, "concat4d_axis1"), 0, cat_in);
  ASSERT_TRUE(cat);
  const SymShape* grouped_in[] = {&cat->outputs[0], &Shape(s, "f1")};
  std::optional<Application> grouped = s.Apply(conv, 0, grouped_in);
  ASSERT_TRUE(grouped);
  EXPECT_EQ(grouped->attrs.GetInt("groups"), 2);
  EXPECT_EQ(grouped->outputs[0].dims[1], SymSize::Var(3));  // c output channels
  // A kernel is no image.
  const SymShape* wrong[] = {&Shape(s, "f1"), &Shape(s, "f1")};
  EXPECT_EQ(s.NumChoices(conv, wrong), 0);
}

TEST(SearchSpace, SplitsCutWhereAConcatJoined) {
  const SearchSpace s = Space({"concat2d_axis0", "split2d_axis0"}, {"a1", "b1"});
  const SymShape* in[] = {&Shape(s, "a1"), &Shape(s, "b1")};
  std::optional<Application> cat = s.Apply(TemplateIndex(s, "concat2d_axis0"), 0, in);
  ASSERT_TRUE(cat);
  const int split = TemplateIndex(s, "split2d_axis0");
  const SymShape* joined[] = {&cat->outputs[0]};
  ASSERT_EQ(s.NumChoices(split, joined), 1);
  std::optional<Application> app = s.Apply(split, 0, joined);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->attrs.GetInts("sizes"), (std::vector<int64_t>{2, 5}));
  std::vector<PatternAttrValue> attrs = s.PatternAttrs(*app);
  EXPECT_EQ(FormatPatternAttr(OpKind::kSplit, 1, attrs[1]), "[m, k]");
  EXPECT_EQ(app->outputs[0], Shape(s, "a1"));
  EXPECT_EQ(app->outputs[1], Shape(s, "b1"));
  // A universe tensor has no boundary to cut at.
  const SymShape* plain[] = {&Shape(s, "a1")};
  EXPECT_EQ(s.NumChoices(split, plain), 0);
}

TEST(SearchSpace, OpsValidAtOneAssignmentOnlyAreRejected) {
  // m and k coincide at A (3) but not at B: matmul of [m, k] by [m, k]
  // type-checks at A only, so it is no op of the search space.
  Universe u;
  u.variables = {{"m", 3, 2}, {"k", 3, 5}};
  u.tensors = {{"p", SymShape{{SymSize::Var(0), SymSize::Var(1)}}},
               {"q", SymShape{{SymSize::Var(0), SymSize::Var(1)}}}};
  absl::StatusOr<std::vector<OpTemplate>> t = SelectTemplates(DefaultTemplates(DefaultUniverse()), {"matmul"});
  ASSERT_TRUE(t.ok());
  absl::StatusOr<SearchSpace> s = SearchSpace::Create(u, *t);
  ASSERT_TRUE(s.ok()) << s.status();
  const SymShape* in[] = {&u.tensors[0].shape, &u.tensors[1].shape};
  EXPECT_FALSE(s->Apply(0, 0, in));
}

TEST(SearchSpace, RejectsBadUniverses) {
  Universe u = DefaultUniverse();
  u.variables[0].b = u.variables[0].a;
  EXPECT_THAT(std::string(SearchSpace::Create(u, DefaultTemplates(u)).status().message()),
              ::testing::HasSubstr("two different positive values"));
  Universe dup = DefaultUniverse();
  dup.tensors[1].name = dup.tensors[0].name;
  EXPECT_FALSE(SearchSpace::Create(dup, DefaultTemplates(dup)).ok());
}

// ---------------------------------------------------------------- enumeration

struct EnumeratedRun {
  std::vector<GraphRecord> records;
  EnumerationStats stats;
  std::vector<WorkUnit> units;
};

EnumeratedRun Enumerate(const Enumerator& e, int unit_depth = 1, int shard = 0, int shards = 1) {
  EnumeratedRun run;
  run.units = e.Units(unit_depth);
  EnumerationWorker worker(e);
  std::atomic<bool> stop{false};
  for (size_t i = 0; i < run.units.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(shards)) != shard) continue;
    EXPECT_TRUE(worker.Run(run.units[i], run.records, run.stats, stop).ok());
  }
  return run;
}

std::unique_ptr<Enumerator> MakeEnumerator(const SearchSpace& s, int max_ops) {
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(s, 1, max_ops);
  EXPECT_TRUE(e.ok()) << e.status();
  return *std::move(e);
}

TEST(Enumerate, CountsOfATinySpace) {
  // a1 + a2; then (a1 + a2) + a1 and (a1 + a2) + a2: three graphs.
  const SearchSpace s = Space({"ewadd"}, {"a1", "a2"});
  const EnumeratedRun run = Enumerate(*MakeEnumerator(s, 2));
  EXPECT_EQ(run.stats.graphs, 3);
  EXPECT_EQ(run.stats.duplicates, 0);
  // relu(a1); relu(relu(a1)) repeats relu(a1): fingerprinted, not extended.
  const SearchSpace r = Space({"relu"}, {"a1"});
  const EnumeratedRun relu = Enumerate(*MakeEnumerator(r, 3));
  EXPECT_EQ(relu.stats.graphs, 2);
  EXPECT_EQ(relu.stats.duplicates, 1);
}

// The text of a graph that does not depend on the order of its ops.
std::string GraphText(const SearchSpace& s, const DecodedGraph& g, const ReplayedGraph& r) {
  std::vector<std::string> texts(r.shapes.size());
  for (size_t u = 0; u < s.universe().tensors.size(); ++u) texts[u] = s.universe().tensors[u].name;
  std::multiset<std::string> ops;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const OpTemplate& t = s.templates()[static_cast<size_t>(g.ops[i].tmpl)];
    std::vector<std::string> args;
    for (int k = 0; k < t.arity; ++k) args.push_back(texts[static_cast<size_t>(g.ops[i].in[static_cast<size_t>(k)])]);
    if (t.commutative) std::sort(args.begin(), args.end());
    const std::string base = StrCat(t.name, "(", StrJoin(args, ","), ")/", g.ops[i].choice);
    const size_t first = static_cast<size_t>(r.first_output[i]);
    const size_t end = i + 1 < g.ops.size() ? static_cast<size_t>(r.first_output[i + 1]) : r.shapes.size();
    for (size_t j = first; j < end; ++j) texts[j] = StrCat(base, ".", j - first);
    ops.insert(base);
  }
  return StrJoin(ops, " ; ");
}

// Every DAG of ops over the universe, by brute force: all sequences of
// valid, distinct ops, each DAG once by its order-free text.
void BruteForce(const SearchSpace& s, int max_ops, std::vector<SymShape>& shapes,
                std::vector<std::string>& texts, std::set<std::string>& ops_here,
                std::set<std::string>& out) {
  if (!ops_here.empty()) out.insert(StrJoin(ops_here, " ; "));
  if (static_cast<int>(ops_here.size()) == max_ops) return;
  const int n = static_cast<int>(shapes.size());
  for (int t = 0; t < static_cast<int>(s.templates().size()); ++t) {
    const OpTemplate& tp = s.templates()[static_cast<size_t>(t)];
    std::vector<std::vector<int>> combos;
    if (tp.arity == 0) combos.push_back({});
    for (int i = 0; i < n && tp.arity >= 1; ++i) {
      if (tp.arity == 1) combos.push_back({i});
      for (int j = 0; j < n && tp.arity == 2; ++j) {
        if (i != j && !(tp.commutative && texts[static_cast<size_t>(i)] > texts[static_cast<size_t>(j)])) combos.push_back({i, j});
      }
    }
    for (const std::vector<int>& c : combos) {
      // Copies: the recursion below grows `shapes`.
      std::vector<SymShape> in_shapes;
      std::vector<std::string> args;
      for (int i : c) {
        in_shapes.push_back(shapes[static_cast<size_t>(i)]);
        args.push_back(texts[static_cast<size_t>(i)]);
      }
      std::vector<const SymShape*> in;
      for (const SymShape& sh : in_shapes) in.push_back(&sh);
      for (int ch = 0; ch < s.NumChoices(t, in); ++ch) {
        std::optional<Application> app = s.Apply(t, ch, in);
        if (!app) continue;
        const std::string base = StrCat(tp.name, "(", StrJoin(args, ","), ")/", ch);
        if (ops_here.contains(base)) continue;
        ops_here.insert(base);
        for (size_t j = 0; j < app->outputs.size(); ++j) {
          shapes.push_back(app->outputs[j]);
          texts.push_back(StrCat(base, ".", j));
        }
        BruteForce(s, max_ops, shapes, texts, ops_here, out);
        shapes.resize(static_cast<size_t>(n));
        texts.resize(static_cast<size_t>(n));
        ops_here.erase(base);
      }
    }
  }
}

TEST(Enumerate, EveryGraphExactlyOnce) {
  // No two of these graphs compute equal tensors, so no duplicate pruning:
  // the enumeration must produce exactly the DAGs brute force finds.
  const SearchSpace s = Space({"matmul", "ewadd", "concat2d_axis1", "transpose"}, {"a1", "b1", "b2"});
  std::unique_ptr<Enumerator> e = MakeEnumerator(s, 3);
  const EnumeratedRun run = Enumerate(*e);
  EnumerationWorker worker(*e);
  std::multiset<std::string> seen;
  for (const GraphRecord& r : run.records) {
    const DecodedGraph g = DecodeGraph(r.code, s);
    EXPECT_EQ(EncodeGraph(g, s), r.code);
    absl::StatusOr<ReplayedGraph> replayed = worker.Replay(g);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    seen.insert(GraphText(s, g, *replayed));
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a graph was enumerated twice";
  std::vector<SymShape> shapes;
  std::vector<std::string> texts;
  for (const UniverseTensor& t : s.universe().tensors) {
    shapes.push_back(t.shape);
    texts.push_back(t.name);
  }
  std::set<std::string> ops_here, brute;
  BruteForce(s, 3, shapes, texts, ops_here, brute);
  // Brute force also lists graphs that repeat a tensor (transpose twice);
  // the enumeration keeps those only as one-output duplicates.
  std::set<std::string> missing;
  for (const std::string& g : brute) {
    if (!unique.contains(g)) missing.insert(g);
  }
  for (const std::string& g : missing) {
    EXPECT_NE(g.find("transpose(transpose"), std::string::npos) << "not enumerated: " << g;
  }
  for (const std::string& g : unique) EXPECT_TRUE(brute.contains(g)) << g;
}

TEST(Enumerate, FingerprintsIgnoreOutputOrder) {
  // Two independent ops: the fingerprint of the pair is the sum of theirs.
  const SearchSpace s = Space({"relu", "transpose"}, {"a1"});
  std::unique_ptr<Enumerator> e = MakeEnumerator(s, 2);
  const EnumeratedRun run = Enumerate(*e);
  std::map<GraphCode, uint64_t> fp;
  for (const GraphRecord& r : run.records) fp[r.code] = r.fingerprint;
  int pairs = 0;
  for (const GraphRecord& r : run.records) {
    const DecodedGraph g = DecodeGraph(r.code, s);
    if (g.ops.size() != 2 || g.ops[1].in[0] >= 1) continue;  // both ops read a1
    const GraphCode first = EncodeGraph(DecodedGraph{{g.ops[0]}, -1}, s);
    const GraphCode second = EncodeGraph(DecodedGraph{{g.ops[1]}, -1}, s);
    ASSERT_TRUE(fp.contains(first) && fp.contains(second));
    EXPECT_EQ(r.fingerprint, fp[first] + fp[second]);
    ++pairs;
  }
  EXPECT_EQ(pairs, 1);  // {relu(a1), transpose(a1)}, in one order only
}

TEST(Enumerate, ShardsPartitionTheGraphs) {
  const SearchSpace s = Space({"matmul", "ewadd", "relu"}, {"a1", "b1", "b2"});
  std::unique_ptr<Enumerator> e = MakeEnumerator(s, 3);
  for (int depth : {1, 2}) {
    EnumeratedRun all = Enumerate(*e, depth);
    std::sort(all.records.begin(), all.records.end());
    std::vector<GraphRecord> joined;
    for (int i = 0; i < 3; ++i) {
      EnumeratedRun part = Enumerate(*e, depth, i, 3);
      joined.insert(joined.end(), part.records.begin(), part.records.end());
    }
    std::sort(joined.begin(), joined.end());
    EXPECT_EQ(joined, all.records) << "unit depth " << depth;
  }
}

TEST(Enumerate, IdentityGraphsFingerprintTheirTensor) {
  const SearchSpace s = Space({"conv2d", "const_iconv"}, {"x1"});
  std::unique_ptr<Enumerator> e = MakeEnumerator(s, 2);
  const std::vector<GraphRecord> ids = e->IdentityRecords();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(DecodeGraph(ids[0].code, s).identity, 0);
  const EnumeratedRun run = Enumerate(*e);
  // conv2d(x1, const_iconv) is x1.
  bool found = false;
  for (const GraphRecord& r : run.records) found = found || r.fingerprint == ids[0].fingerprint;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace lemma
