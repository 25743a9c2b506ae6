// The lemma program: thin subcommands over the libraries.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>
#include <type_traits>

#include "bench/models.h"
#include "ir/dot.h"
#include "ir/file_io.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "optimizer/optimize.h"
#include "rules/rule_text.h"
#include "tools/args.h"

namespace lemma {
namespace {

using cli::Args;
using cli::CommandSpec;
using cli::OptionSpec;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;  // bad input: a malformed file, an impossible shape, ...
constexpr int kExitUsage = 2;  // bad command line

struct Command {
  CommandSpec spec;
  int (*run)(const Args&);
};

int Fail(std::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "lemma %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               std::string(status.message()).c_str());
  return kExitError;
}

// Writes `text` to `path` atomically, or to stdout when path is empty or "-".
absl::Status Emit(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomically(path, text);
}

// Renders DOT text to SVG with Graphviz's `dot`.
absl::StatusOr<std::string> RenderSvg(const std::string& dot) {
  char path[] = "/tmp/lemma-dot-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("cannot create a temporary file for Graphviz");
  close(fd);
  if (absl::Status s = WriteFileAtomically(path, dot); !s.ok()) return s;
  std::FILE* pipe = popen(StrCat("dot -Tsvg '", path, "' 2>&1").c_str(), "r");
  std::string svg;
  if (pipe != nullptr) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) svg.append(buf, n);
  }
  const int rc = pipe == nullptr ? -1 : pclose(pipe);
  std::remove(path);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        StrCat("Graphviz 'dot' failed (is graphviz installed? make deps installs it): ", svg));
  }
  return svg;
}

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

// ---- print

int RunPrint(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("print", g.status());
  if (absl::Status s = Emit(args.Get("--output"), PrintGraph(*g)); !s.ok()) return Fail("print", s);
  return kExitOk;
}

// ---- dot

int RunDot(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("dot", g.status());
  const std::string dot = WriteDot(*g);
  if (absl::Status s = Emit(args.Get("--output"), dot); !s.ok()) return Fail("dot", s);
  if (args.Has("--svg")) {
    absl::StatusOr<std::string> svg = RenderSvg(dot);
    if (!svg.ok()) return Fail("dot", svg.status());
    if (absl::Status s = WriteFileAtomically(args.Get("--svg"), *svg); !s.ok()) {
      return Fail("dot", s);
    }
  }
  return kExitOk;
}

// ---- run

template <typename A>
int Run(const Graph& g, uint64_t seed, std::string_view domain) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<NamedTensors<A>> feeds = RandomFeeds<A>(g, seed);
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
  return kExitOk;
}

int RunRun(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("run", g.status());
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  if (!seed.ok()) return Fail("run", seed.status());
  const std::string domain = args.Get("--domain", "f64");
  if (domain == "f64") return Run<F64>(*g, static_cast<uint64_t>(*seed), domain);
  if (domain == "f32") return Run<F32>(*g, static_cast<uint64_t>(*seed), domain);
  if (domain == "modp") return Run<ModP>(*g, static_cast<uint64_t>(*seed), domain);
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
  absl::StatusOr<Graph> g = models::BuildModel(args.positional()[0]);
  if (!g.ok()) return Fail("zoo", g.status());
  if (absl::Status s = Emit(args.Get("--output"), PrintGraph(*g)); !s.ok()) return Fail("zoo", s);
  return kExitOk;
}

// ---- stats

int RunStats(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("stats", g.status());
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
  std::printf("  conv+matmul      %.4g GFLOP\n", models::ConvMatMulFlops(*g) / 1e9);
  std::printf("  structural hash  %016llx\n",
              static_cast<unsigned long long>(StructuralHash(*g)));
  for (const auto& [name, count] : ops) {
    std::printf("  %-16.*s %d\n", static_cast<int>(name.size()), name.data(), count);
  }
  return kExitOk;
}

// ---- optimize

constexpr std::string_view kDefaultRules = "rules/default.rules";

// The rules of one file, or of several separated by commas (ids unique across them).
absl::StatusOr<RuleSet> LoadRules(const std::string& files) {
  RuleSet merged;
  size_t begin = 0;
  while (begin <= files.size()) {
    const size_t comma = std::min(files.find(',', begin), files.size());
    const std::string path = files.substr(begin, comma - begin);
    begin = comma + 1;
    if (path.empty()) continue;
    if (access(path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(
          path == kDefaultRules
              ? StrCat("the default rule set ", path,
                       " does not exist here (run lemma from the repository root, or pass --rules FILE)")
              : StrCat("cannot read the rules file ", path));
    }
    absl::StatusOr<RuleSet> rules = ReadRuleFile(path);
    if (!rules.ok()) return rules.status();
    for (const Rule& rule : rules->rules()) {
      if (absl::Status s = merged.Add(rule); !s.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", s.message()));
    }
  }
  return merged;
}

std::string Millis(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f ms", seconds * 1e3);
  return buf;
}

int RunOptimize(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("optimize", g.status());
  const std::string rules_path = args.Get("--rules", kDefaultRules);
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
  absl::StatusOr<OptimizeResult> r = Optimize(*g, *rules, options);
  if (!r.ok()) return Fail("optimize", r.status());

  // The report goes to stdout, or to stderr when the graph does.
  const std::string out = args.Get("--output");
  std::FILE* report = out == "-" ? stderr : stdout;
  const char* statuses = options.min_status == RuleStatus::kTested ? "proved or tested" : "proved";
  std::fprintf(report, "graph %s: %d nodes; %d of %d rules usable (%s), from %s\n",
               g->name().c_str(), g->num_nodes(), r->rules_used, rules->size(), statuses,
               rules_path.c_str());
  std::fprintf(report, "cost model  %s\n", r->cost_model.c_str());
  std::fprintf(report, "cost before %s\n", Millis(r->cost_before).c_str());
  std::fprintf(report, "cost after  %s  (%.3fx)\n", Millis(r->cost_after).c_str(),
               r->cost_after > 0 ? r->cost_before / r->cost_after : 1.0);
  int rewrites = 0;
  for (const AppliedStep& s : r->steps) rewrites += s.kind == AppliedStep::Kind::kRule ? 1 : 0;
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
  if (args.Has("--explain")) {
    std::fprintf(report, "steps (cost after each):\n");
    if (r->steps.empty()) std::fprintf(report, "  none: no rewrite lowers the cost\n");
    for (size_t i = 0; i < r->steps.size(); ++i) {
      const AppliedStep& s = r->steps[i];
      if (s.kind == AppliedStep::Kind::kRule) {
        std::fprintf(report, "  %2zu. rule %s at %s -> %s\n", i + 1, s.rule_id.c_str(),
                     s.where.c_str(), Millis(s.cost_after).c_str());
      } else {
        std::fprintf(report, "  %2zu. layouts: %s -> %s\n", i + 1, s.where.c_str(),
                     Millis(s.cost_after).c_str());
      }
    }
  }
  std::fflush(report);
  // Timing goes to stderr so that stdout is the same for the same inputs.
  std::fprintf(stderr, "optimized in %.3f s\n", r->stats.seconds);
  if (!out.empty()) {
    if (absl::Status s = Emit(out, PrintGraph(r->graph)); !s.ok()) return Fail("optimize", s);
  }
  return kExitOk;
}

const OptionSpec kOutput = {"--output", "-o", "FILE", "write here instead of standard output"};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {{"print", "parse a graph and print it in the canonical text format",
        "lemma print FILE [-o OUT]",
        "Reads a graph in lemma's text format, checks it (syntax, names, shapes)\n"
        "and prints it back in canonical form.",
        {kOutput}, 1, 1},
       RunPrint},
      {{"dot", "draw a graph as Graphviz DOT (and SVG)", "lemma dot FILE [-o OUT.dot] [--svg OUT.svg]",
        "Writes the graph as a Graphviz DOT picture: inputs, weights, ops with their\n"
        "attributes, edges labelled with tensor types.",
        {kOutput, {"--svg", "", "FILE", "also render SVG with Graphviz's dot"}}, 1, 1},
       RunDot},
      {{"run", "run a graph on random inputs through the reference evaluator",
        "lemma run FILE [--seed N] [--domain f64|f32|modp]",
        "Feeds every input and weight with deterministic random values and evaluates\n"
        "the graph with the reference evaluator; prints each output's type and a\n"
        "checksum. The same file and seed always print the same numbers.",
        {{"--seed", "", "N", "random seed (default 1)"},
         {"--domain", "", "D", "f64 (default), f32, or modp (integers modulo 2^61-1)"}},
        1, 1},
       RunRun},
      {{"zoo", "write a bundled model in the text format", "lemma zoo [NAME] [-o OUT] [--list]",
        "Builds a model with lemma's graph builder. Without a name, or with --list,\n"
        "lists the models.",
        {kOutput, {"--list", "", "", "list the models"}}, 0, 1},
       RunZoo},
      {{"stats", "summarise a graph: ops, parameters, FLOPs, hash", "lemma stats FILE",
        "Prints node counts by op, the number of parameters, conv and matmul FLOPs\n"
        "and the canonical structural hash.",
        {}, 1, 1},
       RunStats},
      {{"optimize", "rewrite a graph with rules under a cost model",
        "lemma optimize FILE [-o OUT] [--rules FILES] [--alpha A] [--budget B] [--time-limit S]\n"
        "                      [--explain] [--allow-tested] [--keep-layouts] [--progress]",
        "Searches for a cheaper equivalent graph: TASO's cost-based backtracking search\n"
        "over the rules' rewrites, with layouts (NCHW/NHWC, row/column-major) chosen\n"
        "for every tensor, under lemma's analytical cost model of this machine. Ops\n"
        "computed from weights alone are precomputed and free. Prints the cost before\n"
        "and after and how the search went (the time on stderr); writes the best\n"
        "graph to OUT. Only proved rules are applied unless --allow-tested.",
        {{"--output", "-o", "FILE", "write the optimized graph here ('-': standard output)"},
         {"--rules", "", "FILES", "rule files, comma-separated (default rules/default.rules)"},
         {"--alpha", "", "A", "keep graphs costing less than A x the best (default 1.05)"},
         {"--budget", "", "B", "expand at most B graphs (default 1000)"},
         {"--time-limit", "", "S", "stop searching after S seconds (default 60)"},
         {"--explain", "", "", "list the rules applied, where, and the cost after each"},
         {"--allow-tested", "", "", "also apply rules that are only random-tested"},
         {"--keep-layouts", "", "", "do not change layouts"},
         {"--progress", "", "", "report how the search goes, about once a second, on stderr"}},
        1, 1},
       RunOptimize},
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
  std::fprintf(out,
               "\nplanned, not in this build yet:\n"
               "  generate   enumerate operator graphs and find candidate substitutions\n"
               "  verify     prove substitutions with Z3 from validated operator axioms\n"
               "  explore    browse rules, where they match, and the optimizer's choices\n"
               "  rules      list, show and draw rules\n"
               "  tune       tune kernel schedules for a model on this machine\n"
               "  bench      measure a model's latency on tuned kernels\n");
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
