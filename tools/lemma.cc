// The lemma program: thin subcommands over the libraries.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <type_traits>

#include "bench/models.h"
#include "ir/dot.h"
#include "ir/file_io.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/common.h"

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
  if (absl::Status s = cli::WritePicture(dot, "", args.Get("--svg")); !s.ok()) {
    return Fail("dot", s);
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
  const models::ModelOptions options = {
      .scale = args.Has("--small") ? models::ModelScale::kSmall : models::ModelScale::kFull};
  absl::StatusOr<Graph> g = models::BuildModel(args.positional()[0], options);
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
      {{"stats", "summarise a graph: ops, parameters, FLOPs, hash", "lemma stats FILE",
        "Prints node counts by op, the number of parameters, conv and matmul FLOPs\n"
        "and the canonical structural hash.",
        {}, 1, 1},
       RunStats},
      {cli::RulesSpec(), cli::RunRules},
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
  std::fprintf(out,
               "\nplanned, not in this build yet:\n"
               "  generate   enumerate operator graphs and find candidate substitutions\n"
               "  verify     prove substitutions with Z3 from validated operator axioms\n"
               "  optimize   rewrite a model with proved rules under a cost model\n"
               "  explore    browse rules, where they match, and the optimizer's choices\n");
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
