// lemma generate as a library: known identities are rediscovered, every rule
// it emits checks and holds in float64, the output does not depend on the
// thread count or on sharding, and every pruned candidate is implied by kept
// rules.

#include "generator/generate.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/strings.h"
#include "kernels/compare.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"
#include "tests/generator/rule_key.h"

namespace lemma {
namespace {

using ::lemma::generator_test::RuleKey;
using ::testing::HasSubstr;

GenerateOptions Small(int max_ops, std::vector<std::string> ops, std::vector<std::string> inputs) {
  GenerateOptions o;
  o.max_ops = max_ops;
  o.ops = std::move(ops);
  o.inputs = std::move(inputs);
  o.threads = 2;
  return o;
}

GenerateResult MustGenerate(const GenerateOptions& o) {
  absl::StatusOr<GenerateResult> r = Generate(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : GenerateResult{};
}

const RuleSet& Identities() {
  static const RuleSet* rules = [] {
    absl::StatusOr<RuleSet> r = ReadRuleFile(::lemma::testing::DataPath("generator/data/identities.rules"));
    EXPECT_TRUE(r.ok()) << r.status();
    return new RuleSet(r.ok() ? *std::move(r) : RuleSet());
  }();
  return *rules;
}

// ---------------------------------------------------------------- identities

struct IdentityCase {
  std::string rule;  // in data/identities.rules
  int max_ops;
  std::vector<std::string> ops;
  std::vector<std::string> inputs;
};

void PrintTo(const IdentityCase& c, std::ostream* os) { *os << c.rule; }

class Rediscovers : public ::testing::TestWithParam<IdentityCase> {};

TEST_P(Rediscovers, KnownIdentity) {
  const IdentityCase& c = GetParam();
  const Rule* expected = Identities().Find(c.rule);
  ASSERT_NE(expected, nullptr);
  const GenerateResult r = MustGenerate(Small(c.max_ops, c.ops, c.inputs));
  const std::string want = RuleKey(*expected);
  std::vector<std::string> found;
  for (const Rule& rule : r.rules.rules()) {
    if (RuleKey(rule) == want) return;
    found.push_back(PrintRule(rule));
  }
  ADD_FAILURE() << "no rule states " << c.rule << " (" << want << ") among\n" << StrJoin(found, "");
}

INSTANTIATE_TEST_SUITE_P(
    Generator, Rediscovers,
    ::testing::Values(
        IdentityCase{"matmul_distributes", 3, {"matmul", "ewadd"}, {"a1", "b1", "b2"}},
        IdentityCase{"matmul_merge", 3, {"matmul", "concat2d_axis1", "split2d_axis1"}, {"a1", "b1", "b2"}},
        IdentityCase{"matmul_associative", 2, {"matmul"}, {"a1", "b1", "b2"}},
        IdentityCase{"conv_merge", 3, {"conv2d", "concat4d_axis0", "split4d_axis1"}, {"x1", "f1", "f2"}},
        IdentityCase{"matmul_merge_any_widths", 3, {"matmul", "concat2d_axis1", "split2d_axis1"}, {"a1", "b3", "b4"}},
        IdentityCase{"conv_merge_any_widths", 3, {"conv2d_relu", "concat4d_axis0", "split4d_axis1"}, {"x1", "p3", "p4"}},
        IdentityCase{"conv_enlarge", 2, {"conv2d", "enlarge"}, {"x1", "u1"}},
        IdentityCase{"conv_identity", 2, {"conv2d", "const_iconv"}, {"x1"}},
        IdentityCase{"conv_fused_relu", 2, {"conv2d", "conv2d_relu", "relu"}, {"x1", "f1"}},
        IdentityCase{"relu_concat", 3, {"relu", "concat2d_axis1"}, {"a1", "a2"}},
        IdentityCase{"relu_maxpool", 2, {"relu", "maxpool2d"}, {"x1"}},
        IdentityCase{"avgpool_as_conv", 2, {"avgpool2d", "conv2d", "const_pool"}, {"x1"}},
        IdentityCase{"scalar_mul_matmul", 2, {"matmul", "scalar_mul"}, {"a1", "b1", "s"}},
        IdentityCase{"transpose_matmul", 3, {"matmul", "transpose"}, {"a1", "b1"}}),
    [](const ::testing::TestParamInfo<IdentityCase>& info) { return info.param.rule; });

// A merge adds a concat and a split but leaves one conv where there were two:
// the generator writes it from two convs to one, the rewrite worth making.
TEST(Generate, MergesGoFromTwoConvsToOne) {
  const GenerateResult r =
      MustGenerate(Small(3, {"conv2d_relu", "concat4d_axis0", "split4d_axis1"}, {"x1", "p3", "p4"}));
  const std::string want = RuleKey(*Identities().Find("conv_merge_any_widths"));
  int merges = 0;
  for (const Rule& rule : r.rules.rules()) {
    if (RuleKey(rule) != want) continue;
    ++merges;
    int source_convs = 0, target_convs = 0;
    for (const PatternNode& n : rule.source.nodes) source_convs += n.op == OpKind::kConv2d;
    for (const PatternNode& n : rule.target.nodes) target_convs += n.op == OpKind::kConv2d;
    EXPECT_EQ(source_convs, 2) << PrintRule(rule);
    EXPECT_EQ(target_convs, 1) << PrintRule(rule);
  }
  EXPECT_EQ(merges, 1);
}

// Rules true for uniform random inputs but false for inputs of one sign are
// refuted, not emitted.
TEST(Generate, SignPatternsRefuteWideMaxima) {
  const GenerateResult r = MustGenerate(Small(3, {"relu", "maxpool2d"}, {"x1"}));
  const std::string false_rule = RuleKey(*Identities().Find("false_double_maxpool_of_relu"));
  for (const Rule& rule : r.rules.rules()) EXPECT_NE(RuleKey(rule), false_rule) << PrintRule(rule);
  EXPECT_GT(r.summary.candidates.refuted, 0);
  // The true ones stay: relu commutes with max pooling.
  bool commutes = false;
  for (const Rule& rule : r.rules.rules()) {
    commutes = commutes || RuleKey(rule) == RuleKey(*Identities().Find("relu_maxpool"));
  }
  EXPECT_TRUE(commutes);
}

// ---------------------------------------------------------------- every rule

// A mixed run: every emitted rule checks, round-trips through the text
// format and holds in float64 on fresh random inputs.
TEST(Generate, EveryRuleChecksAndHoldsInFloat64) {
  const GenerateResult r = MustGenerate(
      Small(2, {"matmul", "ewadd", "ewmul", "scalar_mul", "relu", "transpose", "concat", "split",
                "const_imm", "conv2d", "enlarge", "maxpool2d"},
            {"a1", "a2", "b1", "b2", "x1", "u1", "s"}));
  ASSERT_GT(r.rules.size(), 20);
  for (const Rule& rule : r.rules.rules()) {
    SCOPED_TRACE(PrintRule(rule));
    EXPECT_EQ(rule.status, RuleStatus::kTested);
    EXPECT_TRUE(rule.fingerprint.has_value());
    EXPECT_EQ(rule.origin, OriginOf(Small(2, {"matmul", "ewadd", "ewmul", "scalar_mul", "relu",
                                              "transpose", "concat", "split", "const_imm", "conv2d",
                                              "enlarge", "maxpool2d"},
                                          {"a1", "a2", "b1", "b2", "x1", "u1", "s"})));
    EXPECT_TRUE(CheckRule(rule).ok());
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(g->source, g->target, 991, 2, 1e-9);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(c->equal) << c->mismatch;
  }
  absl::StatusOr<RuleSet> again = ParseRules(PrintRules(r.rules, r.header), "generated");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(PrintRules(*again, r.header), PrintRules(r.rules, r.header));
}

TEST(Generate, RulesAreGenericInTheSizes) {
  // The merge of two matmuls splits at the widths of the weights it joined:
  // written as variables, not numbers.
  const GenerateResult r = MustGenerate(Small(3, {"matmul", "concat2d_axis1", "split2d_axis1"}, {"a1", "b1", "b2"}));
  bool found = false;
  for (const Rule& rule : r.rules.rules()) {
    const std::string text = PrintRule(rule);
    EXPECT_THAT(text, ::testing::Not(HasSubstr("sizes=[5")));
    found = found || text.find("sizes=[k, k]") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

// The depth-3 rule set shipped in rules/: it loads (every rule passes
// CheckRule), has more rules than TASO's 619 de-duplicated transfers, and a
// sample of it holds in float64 at the rules' example sizes.
TEST(ShippedRules, GeneratedDepth3LoadsAndHolds) {
  absl::StatusOr<RuleSet> rules =
      ReadRuleFile(lemma::testing::DataPath("../rules/generated-depth3.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_GE(rules->size(), 619);
  std::set<std::string> keys;
  for (int i = 0; i < rules->size(); ++i) {
    const Rule& rule = rules->rules()[static_cast<size_t>(i)];
    EXPECT_EQ(rule.status, RuleStatus::kTested);
    EXPECT_EQ(rule.origin, "lemma generate max_ops=3 seed=1");
    EXPECT_TRUE(keys.insert(RuleKey(rule)).second) << rule.id << " repeats a rule";
    if (i % 40 != 0) continue;
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(g->source, g->target, 5, 1, 1e-9);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(c->equal) << rule.id << ": " << c->mismatch;
  }
}

// ---------------------------------------------------------------- determinism

TEST(Generate, OutputDoesNotDependOnThreads) {
  GenerateOptions o = Small(3, {"matmul", "ewadd", "relu", "transpose"}, {"a1", "b1", "b2"});
  o.threads = 1;
  const GenerateResult one = MustGenerate(o);
  o.threads = 3;
  const GenerateResult three = MustGenerate(o);
  EXPECT_GT(one.rules.size(), 5);
  EXPECT_EQ(PrintRules(one.rules, one.header), PrintRules(three.rules, three.header));
  EXPECT_EQ(one.summary.enumeration.graphs, three.summary.enumeration.graphs);
  EXPECT_EQ(one.summary.fingerprints, three.summary.fingerprints);
  EXPECT_EQ(one.summary.candidates.candidates, three.summary.candidates.candidates);
}

TEST(Generate, SeedChangesFingerprintsNotRules) {
  GenerateOptions o = Small(2, {"matmul", "ewadd", "scalar_mul"}, {"a1", "b1", "b2", "s"});
  const GenerateResult a = MustGenerate(o);
  o.seed = 7;
  const GenerateResult b = MustGenerate(o);
  std::set<std::string> ka, kb;
  for (const Rule& r : a.rules.rules()) ka.insert(RuleKey(r));
  for (const Rule& r : b.rules.rules()) kb.insert(RuleKey(r));
  EXPECT_EQ(ka, kb);
  EXPECT_NE(a.rules.rules()[0].fingerprint, b.rules.rules()[0].fingerprint);
}

// ---------------------------------------------------------------- summary

TEST(Generate, SummaryCountsEveryStage) {
  const GenerateResult r = MustGenerate(Small(3, {"matmul", "ewadd", "transpose"}, {"a1", "b1", "b2"}));
  const GenerateSummary& s = r.summary;
  const CandidateStats& c = s.candidates;
  EXPECT_EQ(s.max_ops, 3);
  EXPECT_EQ(s.universe_tensors, 3);
  EXPECT_EQ(s.templates, 3);
  EXPECT_GT(s.enumeration.graphs, 1000);
  // Fingerprints: one per distinct graph value, plus the identities.
  EXPECT_LE(s.fingerprints, s.enumeration.graphs + s.universe_tensors);
  EXPECT_GT(c.candidates, 0);
  // Every candidate has exactly one fate.
  EXPECT_EQ(c.candidates, c.unmatched + c.pruned_renaming + c.pruned_common_subgraph +
                              c.pruned_common_supergraph + c.pruned_transitive + c.unexpressible +
                              c.refuted + c.rules);
  EXPECT_EQ(c.rules, r.rules.size());
  EXPECT_LE(c.rules, c.tested);
  EXPECT_GT(s.peak_rss_bytes, 0);
  EXPECT_EQ(s.stop, StopReason::kExhausted);
  const std::string text = s.ToString();
  for (const char* line : {"graphs enumerated", "distinct fingerprints", "candidates", "pruned: renaming",
                           "pruned: common subgraph", "rules", "total time", "peak memory"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(Generate, BudgetAndTimeLimitStopEarly) {
  GenerateOptions o = Small(3, {"matmul", "ewadd", "relu"}, {"a1", "b1", "b2"});
  o.max_graphs = 10;
  o.threads = 1;
  const GenerateResult r = MustGenerate(o);
  EXPECT_EQ(r.summary.stop, StopReason::kBudget);
  o.max_graphs = 0;
  const GenerateResult full = MustGenerate(o);
  EXPECT_LT(r.summary.enumeration.graphs, full.summary.enumeration.graphs);
  o.time_limit_s = 1e-9;
  EXPECT_EQ(MustGenerate(o).summary.stop, StopReason::kTimeLimit);
}

TEST(Generate, ReportsProgress) {
  GenerateOptions o = Small(2, {"matmul", "ewadd"}, {"a1", "b1", "b2"});
  std::set<std::string> stages;
  int64_t last_total = 0;
  o.progress = [&](const GenerateProgress& p) {
    stages.insert(std::string(p.stage));
    if (p.stage == "enumerate") last_total = p.total;
  };
  const GenerateResult r = MustGenerate(o);
  EXPECT_TRUE(stages.contains("enumerate"));
  EXPECT_EQ(last_total, r.summary.work_units);
}

TEST(Generate, RejectsBadOptions) {
  GenerateOptions o = Small(2, {"matmul", "frobnicate"}, {});
  EXPECT_THAT(std::string(Generate(o).status().message()), HasSubstr("no generator op named 'frobnicate'"));
  o = Small(2, {}, {"a1", "zz"});
  EXPECT_THAT(std::string(Generate(o).status().message()), HasSubstr("no input tensor named 'zz'"));
  o = Small(5, {"matmul"}, {});
  EXPECT_THAT(std::string(Generate(o).status().message()), HasSubstr("max_ops must be 1 to 4"));
  o = Small(2, {"matmul"}, {});
  o.shard_index = 2;
  o.shard_count = 2;
  EXPECT_THAT(std::string(Generate(o).status().message()), HasSubstr("is not a shard"));
  o.shard_index = 0;
  EXPECT_THAT(std::string(Generate(o).status().message()), HasSubstr("GenerateShard"));
}

// ---------------------------------------------------------------- shards

std::string TempPath(std::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return StrCat(dir != nullptr ? dir : "/tmp", "/lemma_generate_test_", getpid(), "_", name);
}

TEST(Shards, MergeEqualsSingleProcess) {
  GenerateOptions o = Small(3, {"matmul", "ewadd", "concat2d_axis1", "split2d_axis1"}, {"a1", "b1", "b2"});
  const GenerateResult single = MustGenerate(o);
  std::vector<std::string> paths;
  const int n = 3;
  int64_t graphs = 0;
  for (int i = n - 1; i >= 0; --i) {  // any order
    GenerateOptions shard = o;
    shard.shard_index = i;
    shard.shard_count = n;
    shard.threads = 1 + i;
    const std::string path = ShardPath(TempPath("out.rules"), i, n);
    absl::StatusOr<GenerateSummary> s = GenerateShard(shard, path);
    ASSERT_TRUE(s.ok()) << s.status();
    graphs += s->enumeration.graphs;
    paths.push_back(path);
  }
  EXPECT_EQ(graphs, single.summary.enumeration.graphs);
  GenerateOptions merge;
  merge.threads = 2;
  absl::StatusOr<GenerateResult> merged = MergeShards(paths, merge);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(PrintRules(merged->rules, merged->header), PrintRules(single.rules, single.header));
  EXPECT_EQ(merged->summary.fingerprints, single.summary.fingerprints);
  EXPECT_EQ(merged->summary.enumeration.graphs, single.summary.enumeration.graphs);

  // A missing shard, a shard twice, a shard of another run, a damaged file.
  std::vector<std::string> missing(paths.begin(), paths.end() - 1);
  EXPECT_THAT(std::string(MergeShards(missing, merge).status().message()), HasSubstr("is missing"));
  std::vector<std::string> twice = paths;
  twice.push_back(paths[0]);
  EXPECT_THAT(std::string(MergeShards(twice, merge).status().message()), HasSubstr("given twice"));
  GenerateOptions other = o;
  other.seed = 2;
  other.shard_index = 0;
  other.shard_count = n;
  const std::string other_path = TempPath("other.shard");
  ASSERT_TRUE(GenerateShard(other, other_path).ok());
  std::vector<std::string> mixed = paths;
  mixed.back() = other_path;  // shard 0 of a run with another seed
  EXPECT_THAT(std::string(MergeShards(mixed, merge).status().message()), HasSubstr("another run"));
  absl::StatusOr<std::string> bytes = ReadFile(paths[0]);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(WriteFileAtomically(paths[0], bytes->substr(0, bytes->size() - 8)).ok());
  EXPECT_THAT(std::string(MergeShards(paths, merge).status().message()), HasSubstr("truncated"));
  ASSERT_TRUE(WriteFileAtomically(paths[0], "not a shard\n").ok());
  EXPECT_THAT(std::string(MergeShards(paths, merge).status().message()), HasSubstr("not a lemma shard file"));
  for (const std::string& p : paths) std::remove(p.c_str());
  std::remove(other_path.c_str());
}

TEST(Shards, SpillingToDiskChangesNothing) {
  GenerateOptions o = Small(3, {"matmul", "ewadd", "relu"}, {"a1", "b1", "b2"});
  const GenerateResult in_memory = MustGenerate(o);
  const std::string dir = TempPath("spill");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  o.memory_limit_bytes = 4096;  // a spill file every few hundred graphs
  o.spill_dir = dir;
  const GenerateResult spilled = MustGenerate(o);
  EXPECT_EQ(PrintRules(spilled.rules, spilled.header), PrintRules(in_memory.rules, in_memory.header));
  EXPECT_EQ(spilled.summary.fingerprints, in_memory.summary.fingerprints);
  // The spill files are gone.
  EXPECT_EQ(rmdir(dir.c_str()), 0);
}

TEST(Shards, IndexFromTheLaunchersEnvironment) {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                        "SLURM_PROCID", "SLURM_NTASKS"}) {
    unsetenv(v);
  }
  EXPECT_FALSE(ShardFromEnvironment());
  setenv("SLURM_PROCID", "3", 1);
  setenv("SLURM_NTASKS", "8", 1);
  EXPECT_EQ(ShardFromEnvironment(), std::make_pair(3, 8));
  setenv("PMI_RANK", "1", 1);
  setenv("PMI_SIZE", "2", 1);
  EXPECT_EQ(ShardFromEnvironment(), std::make_pair(1, 2));
  setenv("OMPI_COMM_WORLD_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);  // one process: not sharded
  EXPECT_FALSE(ShardFromEnvironment());
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                        "SLURM_PROCID", "SLURM_NTASKS"}) {
    unsetenv(v);
  }
  EXPECT_EQ(ShardPath("out.rules", 1, 4), "out.rules.shard-1-of-4");
}

// ---------------------------------------------------------------- pruning

// Every pruned candidate holds and is implied by kept rules: a renaming is a
// kept rule with inputs renamed; the others name the kept rules they follow
// from.
TEST(Pruning, PrunedCandidatesAreImpliedByKeptRules) {
  GenerateOptions o = Small(3, {"matmul", "ewadd", "relu", "concat2d_axis1", "split2d_axis1"},
                            {"a1", "a2", "b1", "b2"});
  o.explain = true;
  const GenerateResult r = MustGenerate(o);
  const CandidateStats& c = r.summary.candidates;
  ASSERT_GT(r.pruned.size(), 50u);
  EXPECT_EQ(static_cast<int64_t>(r.pruned.size()),
            c.pruned_renaming + c.pruned_common_subgraph + c.pruned_common_supergraph + c.pruned_transitive);
  EXPECT_GT(c.pruned_renaming, 0);
  EXPECT_GT(c.pruned_common_subgraph, 0);
  absl::StatusOr<SearchSpace> space = MakeSearchSpace(o);
  ASSERT_TRUE(space.ok());
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(*space, o.seed, o.max_ops);
  ASSERT_TRUE(e.ok());
  int checked = 0;
  for (const PrunedCandidate& p : r.pruned) {
    // The candidate as a rule, in whichever direction states one.
    absl::StatusOr<Rule> rule = RuleFromGraphs(**e, DecodeGraph(p.pair.b, *space),
                                               DecodeGraph(p.pair.a, *space), "pruned");
    if (!rule.ok()) {
      rule = RuleFromGraphs(**e, DecodeGraph(p.pair.a, *space), DecodeGraph(p.pair.b, *space), "pruned");
    }
    ASSERT_TRUE(rule.ok()) << rule.status();
    SCOPED_TRACE(StrCat(PruneReasonName(p.reason), "\n", PrintRule(*rule)));
    ASSERT_FALSE(p.implied_by.empty());
    for (const std::string& id : p.implied_by) ASSERT_NE(r.rules.Find(id), nullptr) << id;
    if (p.reason == PruneReason::kRenaming) {
      ASSERT_EQ(p.implied_by.size(), 1u);
      EXPECT_EQ(RuleKey(*rule), RuleKey(*r.rules.Find(p.implied_by[0])));
    }
    absl::StatusOr<RuleGraphs> g = InstantiateRule(*rule, DType::kF64);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<Comparison> cmp = CompareOnRandomInputs<F64>(g->source, g->target, 17, 2, 1e-9);
    ASSERT_TRUE(cmp.ok()) << cmp.status();
    EXPECT_TRUE(cmp->equal) << cmp->mismatch;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(r.pruned.size()));
}

// Two graphs that differ only beside an op both share: pruned as implied by
// the rule without it, which is kept; and no kept rule has an output both
// sides compute the same way.
TEST(Pruning, SharedOpsDoNotMakeNewRules) {
  GenerateOptions o = Small(3, {"matmul", "relu"}, {"a1", "b1", "b2"});
  o.explain = true;
  const GenerateResult r = MustGenerate(o);
  const Rule* associative = nullptr;
  for (const Rule& rule : r.rules.rules()) {
    if (RuleKey(rule) == RuleKey(*Identities().Find("matmul_associative"))) associative = &rule;
    const std::vector<std::string> names = [&] {
      std::vector<std::string> n;
      for (const PatternNode& node : rule.source.nodes) n.push_back(node.name);
      return n;
    }();
    const auto src = generator_test::PatternTexts(rule.source, names);
    const auto tgt = generator_test::PatternTexts(rule.target, names);
    for (size_t k = 0; k < rule.source.outputs.size(); ++k) {
      const PatternRef a = rule.source.outputs[k].value, b = rule.target.outputs[k].value;
      EXPECT_NE(src[static_cast<size_t>(a.node)][static_cast<size_t>(a.index)],
                tgt[static_cast<size_t>(b.node)][static_cast<size_t>(b.index)])
          << PrintRule(rule);
    }
  }
  ASSERT_NE(associative, nullptr);
  int implied = 0;
  for (const PrunedCandidate& p : r.pruned) {
    if (p.reason != PruneReason::kCommonSubgraph) continue;
    for (const std::string& id : p.implied_by) implied += id == associative->id;
  }
  EXPECT_GT(implied, 0);
}

}  // namespace
}  // namespace lemma
