// The lemma program: thin subcommands over the libraries.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <type_traits>

#include "absl/strings/str_split.h"
#include "bench/models.h"
#include "ir/dot.h"
#include "ir/file_io.h"
#include "ir/hash.h"
#include "ir/model_io.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "kernels/weights.h"
#include "optimizer/optimize.h"
#include "rules/rule_text.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/generate_command.h"
#include "tools/model_output.h"
#include "rules/rule_text.h"
#include "tools/args.h"
#include "verifier/axioms.h"
#include "verifier/prove.h"

namespace lemma {
namespace {

using cli::Args;
using cli::CommandSpec;
using cli::OptionSpec;

using cli::Emit;
using cli::Fail;
using cli::kExitError;
using cli::kExitOk;
using cli::kExitUsage;

struct Command {
  CommandSpec spec;
  int (*run)(const Args&);
};

// A checksum of a tensor: the sum and mean absolute value for floats, the sum
// modulo p for modular arithmetic.
template <typename A>
std::string ChecksumText(const Tensor<typename A::T>& t) {
  using T = typename A::T;
  if constexpr (std::is_floating_point_v<T>) {
    double sum = 0, abs = 0;
    for (T x : t.data) {
      sum += static_cast<double>(x);
      abs += std::fabs(static_cast<double>(x));
    }
    const double n = t.data.empty() ? 1.0 : static_cast<double>(t.data.size());
    char buf[96];
    std::snprintf(buf, sizeof buf, "sum %.9g  mean|x| %.9g", sum, abs / n);
    return buf;
  } else {
    T sum = A::Zero();
    for (T x : t.data) sum = A::Add(sum, x);
    return StrCat("sum mod p ", static_cast<uint64_t>(sum));
  }
}

// ---- Reading models: lemma text or ONNX, by the file's extension.

// ONNX import options from --dim NAME=VALUE[,NAME=VALUE...] and --no-fuse.
absl::StatusOr<OnnxImportOptions> ImportOptions(const Args& args) {
  OnnxImportOptions options;
  options.fuse_activations = !args.Has("--no-fuse");
  const std::string dims = args.Get("--dim");
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t end = dims.find(',', pos);
    if (end == std::string::npos) end = dims.size();
    const std::string item = dims.substr(pos, end - pos);
    const size_t eq = item.find('=');
    char* rest = nullptr;
    const long long value = eq == std::string::npos ? -1 : std::strtoll(item.c_str() + eq + 1, &rest, 10);
    if (eq == std::string::npos || eq == 0 || rest == nullptr || *rest != '\0' || value < 0) {
      return absl::InvalidArgumentError(
          StrCat("--dim expects NAME=VALUE[,NAME=VALUE...] with VALUE >= 0, not '", item, "'"));
    }
    options.dim_params[item.substr(0, eq)] = value;
    pos = end + 1;
  }
  return options;
}

// The model named by the first positional argument, with the data of
// --weights FILE when given.
absl::StatusOr<Model> LoadModel(const Args& args, bool weights_option = false) {
  absl::StatusOr<OnnxImportOptions> options = ImportOptions(args);
  if (!options.ok()) return options.status();
  return ReadModel(args.positional()[0], weights_option ? args.Get("--weights") : "", *options);
}

// ---- print

int RunPrint(const Args& args) {
  absl::StatusOr<Model> m = LoadModel(args);
  if (!m.ok()) return Fail("print", m.status());
  if (absl::Status s = Emit(args.Get("--output"), PrintGraph(m->graph)); !s.ok()) {
    return Fail("print", s);
  }
  return kExitOk;
}

// ---- import, export

int RunImport(const Args& args) {
  absl::StatusOr<Model> m = LoadModel(args);
  if (!m.ok()) return Fail("import", m.status());
  if (absl::Status s = Emit(args.Get("--output"), PrintGraph(m->graph)); !s.ok()) {
    return Fail("import", s);
  }
  if (args.Has("--weights")) {
    if (absl::Status s = WriteTensorFile(args.Get("--weights"), m->weights); !s.ok()) {
      return Fail("import", s);
    }
  } else if (!m->weights.empty()) {
    std::fprintf(stderr,
                 "lemma import: note: the data of %zu weights is not saved (--weights FILE saves "
                 "it; without it, export gives them random data)\n",
                 m->weights.size());
  }
  return kExitOk;
}

int RunExport(const Args& args) {
  if (!args.Has("--output")) {
    return Fail("export", absl::InvalidArgumentError("-o FILE.onnx is required"));
  }
  absl::StatusOr<Model> m = LoadModel(args, /*weights_option=*/true);
  if (!m.ok()) return Fail("export", m.status());
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  if (!seed.ok()) return Fail("export", seed.status());
  const std::string missing = args.Get("--missing-weights", "random");
  OnnxExportOptions options;
  if (missing == "random") {
    m->weights = WithRandomWeights(m->graph, std::move(m->weights), static_cast<uint64_t>(*seed));
  } else if (missing == "input") {
    options.missing_weights = MissingWeightData::kGraphInput;
  } else if (missing != "error") {
    return Fail("export", absl::InvalidArgumentError(StrCat(
                              "--missing-weights must be random, input or error, not '", missing, "'")));
  }
  if (absl::Status s = WriteOnnxFile(args.Get("--output"), m->graph, m->weights, options); !s.ok()) {
    return Fail("export", s);
  }
  return kExitOk;
}

// ---- dot

int RunDot(const Args& args) {
  absl::StatusOr<Model> m = LoadModel(args);
  if (!m.ok()) return Fail("dot", m.status());
  const std::string dot = WriteDot(m->graph);
  if (absl::Status s = Emit(args.Get("--output"), dot); !s.ok()) return Fail("dot", s);
  if (absl::Status s = cli::WritePicture(dot, "", args.Get("--svg")); !s.ok()) {
    return Fail("dot", s);
  }
  return kExitOk;
}

// ---- run

template <typename A>
int Run(const Graph& g, const WeightValues& data, uint64_t seed, std::string_view domain,
        const std::string& save) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<NamedTensors<A>> feeds = FeedsFromData<A>(g, data, seed);
  if (!feeds.ok()) return Fail("run", feeds.status());
  absl::StatusOr<NamedTensors<A>> out = Evaluate<A>(g, *feeds);
  if (!out.ok()) return Fail("run", out.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Timing goes to stderr so that stdout is the same for the same file and seed.
  std::printf("graph %s: %d nodes, reference evaluator in %.*s, seed %llu\n", g.name().c_str(),
              g.num_nodes(), static_cast<int>(domain.size()), domain.data(),
              static_cast<unsigned long long>(seed));
  for (const GraphOutput& o : g.outputs()) {
    const auto& t = out->at(o.name);
    std::printf("  %-12s %-24s checksum %s\n", o.name.c_str(), t.type.ToString().c_str(),
                ChecksumText<A>(t).c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "evaluated in %.3f s\n", seconds);
  if (!save.empty()) {
    WeightValues results;
    for (const auto& [name, t] : *out) results.emplace(name, DataFromTensor<A>(t));
    if (absl::Status s = WriteTensorFile(save, results); !s.ok()) return Fail("run", s);
  }
  return kExitOk;
}

int RunRun(const Args& args) {
  absl::StatusOr<Model> m = LoadModel(args, /*weights_option=*/true);
  if (!m.ok()) return Fail("run", m.status());
  const Graph& g = m->graph;
  WeightValues data = std::move(m->weights);
  if (args.Has("--inputs")) {
    absl::StatusOr<WeightValues> inputs = ReadTensorFile(args.Get("--inputs"));
    if (!inputs.ok()) return Fail("run", inputs.status());
    for (auto& [name, value] : *inputs) data.insert_or_assign(name, std::move(value));
  }
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  if (!seed.ok()) return Fail("run", seed.status());
  const std::string domain = args.Get("--domain", "f64");
  const uint64_t s = static_cast<uint64_t>(*seed);
  const std::string save = args.Get("--save");
  if (domain == "f64") return Run<F64>(g, data, s, domain, save);
  if (domain == "f32") return Run<F32>(g, data, s, domain, save);
  if (domain == "modp") return Run<ModP>(g, data, s, domain, save);
  return Fail("run", absl::InvalidArgumentError(
                         StrCat("--domain must be f64, f32 or modp, not '", domain, "'")));
}

// ---- zoo

int RunZoo(const Args& args) {
  if (args.Has("--list") || args.positional().empty()) {
    for (const models::ModelInfo& m : models::AllModels()) {
      std::printf("%-16.*s %.*s\n", static_cast<int>(m.name.size()), m.name.data(),
                  static_cast<int>(m.description.size()), m.description.data());
    }
    return kExitOk;
  }
  const models::ModelOptions options = {
      .scale = args.Has("--small") ? models::ModelScale::kSmall : models::ModelScale::kFull};
  absl::StatusOr<Graph> g = models::BuildModel(args.positional()[0], options);
  if (!g.ok()) return Fail("zoo", g.status());
  if (absl::Status s = Emit(args.Get("--output"), PrintGraph(*g)); !s.ok()) return Fail("zoo", s);
  return kExitOk;
}

// ---- stats

int RunStats(const Args& args) {
  absl::StatusOr<Model> m = LoadModel(args);
  if (!m.ok()) return Fail("stats", m.status());
  const Graph* g = &m->graph;
  std::map<std::string_view, int> ops;
  int64_t params = 0;
  for (const Node& n : g->nodes()) {
    ++ops[OpName(n.op)];
    if (n.op == OpKind::kWeight) params += n.outputs[0].num_elements();
  }
  std::printf("graph %s\n", g->name().c_str());
  std::printf("  nodes            %d\n", g->num_nodes());
  std::printf("  outputs          %zu\n", g->outputs().size());
  std::printf("  parameters       %lld\n", static_cast<long long>(params));
  std::printf("  weights w/ data  %zu of %zu\n", m->weights.size(), g->WeightNodes().size());
  std::printf("  conv+matmul      %.4g GFLOP\n", models::ConvMatMulFlops(*g) / 1e9);
  std::printf("  structural hash  %016llx\n",
              static_cast<unsigned long long>(StructuralHash(*g)));
  for (const auto& [name, count] : ops) {
    std::printf("  %-16.*s %d\n", static_cast<int>(name.size()), name.data(), count);
  }
  return kExitOk;
}

// ---- optimize

// The rules of one file, or of several separated by commas (ids unique across
// them); a missing file gets its own message, the default set's a hint.
absl::StatusOr<RuleSet> LoadRules(const std::string& files) {
  for (absl::string_view part : absl::StrSplit(files, ',', absl::SkipEmpty())) {
    const std::string path(part);
    if (access(path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(
          path == cli::DefaultRulesPath()
              ? StrCat("the default rule set ", path, " does not exist (pass --rules FILE)")
              : StrCat("cannot read the rules file ", path));
    }
  }
  return ReadRuleFiles(files);
}

std::string Millis(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f ms", seconds * 1e3);
  return buf;
}

int RunOptimize(const Args& args) {
  absl::StatusOr<Model> model = LoadModel(args, /*weights_option=*/true);
  if (!model.ok()) return Fail("optimize", model.status());
  const Graph* g = &model->graph;
  const std::string rules_path = args.Get("--rules", cli::DefaultRulesPath());
  absl::StatusOr<RuleSet> rules = LoadRules(rules_path);
  if (!rules.ok()) return Fail("optimize", rules.status());
  OptimizeOptions options;
  absl::StatusOr<double> alpha = args.GetDouble("--alpha", options.alpha);
  if (!alpha.ok()) return Fail("optimize", alpha.status());
  absl::StatusOr<int64_t> budget = args.GetInt("--budget", options.budget);
  if (!budget.ok()) return Fail("optimize", budget.status());
  absl::StatusOr<double> limit = args.GetDouble("--time-limit", options.time_limit.count());
  if (!limit.ok()) return Fail("optimize", limit.status());
  options.alpha = *alpha;
  options.budget = *budget;
  options.time_limit = std::chrono::duration<double>(*limit);
  if (args.Has("--allow-tested")) options.min_status = RuleStatus::kTested;
  if (args.Has("--keep-layouts")) options.optimize_layouts = false;
  if (args.Has("--progress")) {
    options.progress = [last = -1.0](const SearchProgress& p) mutable {
      if (p.explored != 1 && p.elapsed_seconds < last + 1) return;  // about once a second
      last = p.elapsed_seconds;
      std::fprintf(stderr, "  %6lld explored  %9lld generated  %8lld queued  best %s  %.1f s\n",
                   static_cast<long long>(p.explored), static_cast<long long>(p.generated),
                   static_cast<long long>(p.frontier), Millis(p.best_cost).c_str(),
                   p.elapsed_seconds);
    };
  }
  if (args.Has("--json") && args.Get("--output") == "-") {
    return Fail("optimize", absl::InvalidArgumentError("--json and -o - both write to standard output"));
  }
  absl::StatusOr<cli::OptimizeCosts> costs = cli::MakeOptimizeCosts(args);
  if (!costs.ok()) return Fail("optimize", costs.status());
  options.cost_model = costs->model();
  if (costs->model() != nullptr) options.threads = 1;
  absl::StatusOr<OptimizeResult> r = Optimize(*g, *rules, options);
  if (!r.ok()) return Fail("optimize", r.status());

  // The report goes to stdout, or to stderr when the graph does.
  const std::string out = args.Get("--output");
  std::FILE* report = out == "-" || args.Has("--json") ? stderr : stdout;
  const char* statuses = options.min_status == RuleStatus::kTested ? "proved or tested" : "proved";
  std::fprintf(report, "graph %s: %d nodes; %d of %d rules usable (%s), from %s\n",
               g->name().c_str(), g->num_nodes(), r->rules_used, rules->size(), statuses,
               rules_path.c_str());
  if (r->rules_redundant > 0) {
    std::fprintf(report, "%d of the usable rules left out as repeats or special cases of others\n",
                 r->rules_redundant);
  }
  std::fprintf(report, "cost model  %s\n", r->cost_model.c_str());
  std::fprintf(report, "cost before %s\n", Millis(r->cost_before).c_str());
  std::fprintf(report, "cost after  %s  (%.3fx)\n", Millis(r->cost_after).c_str(),
               r->cost_after > 0 ? r->cost_before / r->cost_after : 1.0);
  int rewrites = 0;
  for (const AppliedStep& s : r->steps) {
    rewrites += s.kind == AppliedStep::Kind::kRule ? 1 : 0;
    if (s.kind == AppliedStep::Kind::kMerged) std::fprintf(report, "%s\n", s.where.c_str());
  }
  std::fprintf(report, "rules applied %d; %d ops precomputed from weights (free), %d charged\n",
               rewrites, r->precomputed_ops, r->charged_ops);
  std::fprintf(report,
               "search: %lld graphs explored, %lld generated, %lld duplicates skipped, %lld "
               "pruned; stopped: %.*s\n",
               static_cast<long long>(r->stats.explored), static_cast<long long>(r->stats.generated),
               static_cast<long long>(r->stats.duplicates_skipped),
               static_cast<long long>(r->stats.pruned),
               static_cast<int>(StopReasonName(r->stats.stop).size()),
               StopReasonName(r->stats.stop).data());
  if (absl::Status s = cli::ExplainOptimize(args, *g, *rules, rules_path, *r, report); !s.ok()) {
    return Fail("optimize", s);
  }
  std::fflush(report);
  // Timing goes to stderr so that stdout is the same for the same inputs.
  std::fprintf(stderr, "optimized in %.3f s\n", r->stats.seconds);
  if (absl::Status s = cli::FinishOptimizeCosts(*costs); !s.ok()) return Fail("optimize", s);
  if (!out.empty()) {
    if (absl::Status s = cli::WriteDerivedModel(out, *model, r->graph); !s.ok()) {
      return Fail("optimize", s);
    }
  }
  return kExitOk;
}

// ---- verify

// The progress line, redrawn in place on a terminal.
void PrintProgress(const verifier::VerifyProgress& p) {
  std::fprintf(stderr, "\r[%d/%d] proved %d  refuted %d  unknown %d  timeout %d  %.1f s ", p.done,
               p.total, p.counts[0], p.counts[1], p.counts[2], p.counts[3], p.elapsed_s);
  std::fflush(stderr);
}

int RunVerify(const Args& args) {
  const std::string path = args.positional()[0];
  absl::StatusOr<RuleSet> rules = ReadRuleFile(path);
  if (!rules.ok()) return Fail("verify", rules.status());
  absl::StatusOr<int64_t> timeout = args.GetInt("--timeout-ms", 10000);
  if (!timeout.ok()) return Fail("verify", timeout.status());
  absl::StatusOr<int64_t> threads = args.GetInt("--threads", 0);
  if (!threads.ok()) return Fail("verify", threads.status());
  if (*timeout < 1 || *timeout > 3600000 || *threads < 0 || *threads > 1024) {
    return Fail("verify", absl::InvalidArgumentError(
                              "--timeout-ms must be in [1, 3600000] and --threads in [0, 1024]"));
  }
  const verifier::VerifyOptions options{.timeout_ms = static_cast<int>(*timeout),
                                        .threads = static_cast<int>(*threads)};
  const bool terminal = isatty(STDERR_FILENO) != 0;
  const bool verbose = args.Has("--verbose");
  const std::vector<verifier::Verdict> verdicts = verifier::VerifyRules(
      rules->rules(), options, [&](const verifier::VerifyProgress& p) {
        const bool refuted = std::holds_alternative<verifier::Refuted>(*p.verdict);
        const bool proved = std::holds_alternative<verifier::Proved>(*p.verdict);
        if (refuted || (verbose && !proved)) {
          if (terminal) std::fputs("\r\033[K", stderr);
          std::fprintf(stderr, "rule %.*s: %s\n", static_cast<int>(p.rule_id.size()),
                       p.rule_id.data(), verifier::DescribeVerdict(*p.verdict).c_str());
        }
        if (terminal) PrintProgress(p);
      });
  if (terminal) std::fputs("\r\033[K", stderr);
  RuleSet out;
  std::array<int, 4> counts = {};
  for (size_t i = 0; i < verdicts.size(); ++i) {
    Rule rule = rules->rules()[i];
    verifier::RecordVerdict(verdicts[i], rule);
    ++counts[verdicts[i].index()];
    if (absl::Status s = out.Add(std::move(rule)); !s.ok()) return Fail("verify", s);
  }
  const std::string summary =
      StrCat(verdicts.size(), " rules: ", counts[0], " proved, ", counts[1], " refuted, ",
             counts[2], " unknown, ", counts[3], " timed out");
  const std::string header = StrCat("Verified by lemma verify from axiom set ",
                                    verifier::AxiomSetId(), ", ", *timeout, " ms per rule.\n",
                                    summary, ".");
  if (absl::Status s = Emit(args.Get("--output"), PrintRules(out, header)); !s.ok()) {
    return Fail("verify", s);
  }
  std::fprintf(stderr, "lemma verify: %s\n", summary.c_str());
  return kExitOk;
}

const OptionSpec kOutput = {"--output", "-o", "FILE", "write here instead of standard output"};
const OptionSpec kDim = {"--dim", "", "N=V,...",
                         "values of symbolic ONNX input dimensions, e.g. batch=1"};
const OptionSpec kNoFuse = {"--no-fuse", "", "",
                            "keep ONNX activations as nodes (not fused into conv/matmul)"};
const OptionSpec kWeightsIn = {"--weights", "", "FILE",
                               "weight data (a tensor file, as lemma import writes)"};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {{"print", "parse a graph and print it in the canonical text format",
        "lemma print FILE [-o OUT]",
        "Reads a graph in lemma's text format (or an ONNX model, FILE.onnx), checks\n"
        "it (syntax, names, shapes) and prints it in canonical text form.",
        {kOutput, kDim, kNoFuse}, 1, 1},
       RunPrint},
      {{"import", "read an ONNX model into lemma's text format (and its weights)",
        "lemma import MODEL.onnx [-o OUT.lemma] [--weights OUT.tensors] [--dim N=V]",
        "Maps the ONNX model (opsets 11 to 21) to lemma's IR: initializers and\n"
        "constants become weights, shapes are inferred by lemma and checked against\n"
        "those the model declares. Writes the graph as text and, with --weights, the\n"
        "weight data as a tensor file that lemma export and lemma run read.",
        {kOutput, {"--weights", "", "FILE", "write the weight data to this tensor file"}, kDim,
         kNoFuse},
        1, 1},
       RunImport},
      {{"export", "write a graph as an ONNX model (opset 17)",
        "lemma export FILE -o OUT.onnx [--weights FILE] [--missing-weights random|input|error]",
        "Writes the graph (text or ONNX) as an ONNX model that ONNX Runtime runs.\n"
        "Weights with data (from --weights, or from an ONNX input) become\n"
        "initializers; the others get deterministic random data (--seed), become\n"
        "graph inputs, or are an error, as --missing-weights says.",
        {kOutput, kWeightsIn,
         {"--missing-weights", "", "HOW", "random (default), input or error"},
         {"--seed", "", "N", "seed of random weight data (default 1)"}, kDim, kNoFuse},
        1, 1},
       RunExport},
      {{"dot", "draw a graph as Graphviz DOT (and SVG)", "lemma dot FILE [-o OUT.dot] [--svg OUT.svg]",
        "Writes the graph as a Graphviz DOT picture: inputs, weights, ops with their\n"
        "attributes, edges labelled with tensor types.",
        {kOutput, {"--svg", "", "FILE", "also render SVG with Graphviz's dot"}, kDim, kNoFuse}, 1, 1},
       RunDot},
      {{"run", "run a graph on random inputs through the reference evaluator",
        "lemma run FILE [--seed N] [--domain f64|f32|modp] [--inputs F] [--save F]",
        "Feeds every input and weight with deterministic random values (or with its\n"
        "data: an ONNX model's weights, --weights, --inputs) and evaluates the graph\n"
        "with the reference evaluator; prints each output's type and a checksum.\n"
        "The same file and seed always print the same numbers.",
        {{"--seed", "", "N", "random seed (default 1)"},
         {"--domain", "", "D", "f64 (default), f32, or modp (integers modulo 2^61-1)"},
         kWeightsIn,
         {"--inputs", "", "FILE", "input values (a tensor file), by input name"},
         {"--save", "", "FILE", "write the outputs to this tensor file"}, kDim, kNoFuse},
        1, 1},
       RunRun},
      {{"zoo", "write a bundled model in the text format",
        "lemma zoo [NAME] [-o OUT] [--small] [--list]",
        "Builds a model of the zoo (TASO's benchmark graphs) with lemma's graph\n"
        "builder. Without a name, or with --list, lists the models. --small keeps\n"
        "the model's ops and wiring but shrinks batch, image, channel and hidden\n"
        "sizes so that `lemma run` evaluates it in well under a second.",
        {kOutput,
         {"--small", "", "", "the same structure with small sizes (graph NAME_small)"},
         {"--list", "", "", "list the models"}},
        0, 1},
       RunZoo},
      {{"verify", "prove rules with Z3 from validated operator axioms",
        "lemma verify FILE [-o OUT] [--timeout-ms T] [--threads N] [--verbose]",
        "Random-tests each rule of FILE on the reference evaluator, then proves it\n"
        "with Z3 from lemma's operator axioms, and writes the rules back with their\n"
        "status: proved (with the axiom set and the axioms used), refuted (with a\n"
        "concrete counterexample) or unknown (Z3 gave up or timed out).",
        {kOutput,
         {"--timeout-ms", "", "T", "Z3's time limit per rule (default 10000)"},
         {"--threads", "", "N", "worker threads (default: one per core)"},
         {"--verbose", "", "", "also report each rule left unknown"}},
        1, 1},
       RunVerify},
      {{"stats", "summarise a graph: ops, parameters, FLOPs, hash", "lemma stats FILE",
        "Prints node counts by op, the number of parameters, conv and matmul FLOPs\n"
        "and the canonical structural hash (FILE: lemma text or ONNX).",
        {kDim, kNoFuse}, 1, 1},
       RunStats},
      {cli::RulesSpec(), cli::RunRules},
      {cli::ExploreSpec(), cli::RunExplore},
      {cli::GenerateCommandSpec(), cli::RunGenerateCommand},
      {{"optimize", "rewrite a graph with rules under a cost model",
        "lemma optimize FILE [-o OUT] [--weights FILE] [--rules FILES] [--alpha A] [--budget B]\n"
        "                      [--time-limit S] [--dim N=V,...] [--no-fuse]\n"
        "                      [--explain] [--explain-dir DIR] [--json] [--allow-tested]\n"
        "                      [--keep-layouts] [--progress]\n"
        "                      [--cost measured|cuda [--cost-cache FILE] [--tuning-log FILE]]",
        "Searches for a cheaper equivalent graph: TASO's cost-based backtracking search\n"
        "over the rules' rewrites, with layouts (NCHW/NHWC, row/column-major) chosen\n"
        "for every tensor, under lemma's analytical cost model of this machine. Ops\n"
        "computed from weights alone are precomputed and free. Prints the cost before\n"
        "and after and how the search went (the time on stderr); writes the best\n"
        "graph to OUT. Only proved rules are applied unless --allow-tested.\n"
        "FILE and OUT are lemma text or ONNX (*.onnx); an ONNX OUT holds the weights' data\n"
        "(from an ONNX FILE, or from --weights for a text FILE) and runs in ONNX Runtime.\n"
        "--cost measured times each distinct op on the CPU backend instead (the\n"
        "analytical model answers for ops it cannot run); the search then runs on\n"
        "one thread so that measurements do not compete with it.",
        {{"--output", "-o", "FILE",
          "write the optimized graph here: *.onnx is ONNX with the weights' data, else text "
          "('-': standard output)"},
         kWeightsIn, kDim, kNoFuse,
         {"--rules", "", "FILES", "rule files, comma-separated (default rules/default.rules)"},
         {"--alpha", "", "A", "keep graphs costing less than A x the best (default 1.05)"},
         {"--budget", "", "B", "expand at most B graphs (default 1000)"},
         {"--time-limit", "", "S", "stop searching after S seconds (default 60)"},
         {"--explain", "", "", "list the rules applied, where, and the cost after each"},
         {"--explain-dir", "", "DIR", "draw each rewrite's region before and after in DIR"},
         {"--json", "", "", "print the report as JSON (the text report goes to stderr)"},
         {"--allow-tested", "", "", "also apply rules that are only random-tested"},
         {"--keep-layouts", "", "", "do not change layouts"},
         {"--progress", "", "", "report how the search goes, about once a second, on stderr"},
         {"--cost", "", "MODEL",
           "analytical (default), measured (timed on this CPU) or cuda (timed on the GPU)"},
         {"--cost-cache", "", "FILE", "keep measured op costs in this file"},
         {"--tuning-log", "", "FILE", "measure kernels with this log's tuned schedules"}},
        1, 1},
       RunOptimize},
      {cli::TuneSpec(), cli::RunTuneCommand},
      {cli::BenchSpec(), cli::RunBenchCommand},
  };
  return commands;
}

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: lemma COMMAND [ARGS]   (lemma COMMAND --help for details)\n\n"
               "lemma is a tensor-graph superoptimizer.\n\ncommands:\n");
  for (const Command& c : Commands()) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.spec.name.size()), c.spec.name.data(),
                 static_cast<int>(c.spec.summary.size()), c.spec.summary.data());
  }
}

}  // namespace
}  // namespace lemma

int main(int argc, char** argv) {
  using namespace lemma;
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h" ||
      std::string_view(argv[1]) == "help") {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string_view name = argv[1];
  for (const Command& c : Commands()) {
    if (c.spec.name != name) continue;
    absl::StatusOr<Args> args = cli::Parse(c.spec, std::vector<std::string>(argv + 2, argv + argc));
    if (!args.ok()) {
      std::fprintf(stderr, "lemma %s: %s\n%s", argv[1], std::string(args.status().message()).c_str(),
                   cli::HelpText(c.spec).c_str());
      return kExitUsage;
    }
    if (args->help()) {
      std::fputs(cli::HelpText(c.spec).c_str(), stdout);
      return kExitOk;
    }
    return c.run(*args);
  }
  std::fprintf(stderr, "lemma: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return kExitUsage;
}
