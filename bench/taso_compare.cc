// lemma and TASO on the same models under the same cost model.
//
//   taso_compare [--budget N] [--alpha A] [--threads N] [--model NAME] [--dir DIR]
//                [--check-limit OPS]
//
// For each zoo model with a TASO-optimized graph DIR/NAME.lemma (bench/taso,
// see bench/taso/README.md), prints one row: the cost of the zoo graph, of
// TASO's graph and of lemma's optimized graph (Optimize with the same budget
// and alpha) under the analytical cost model, the two reductions, lemma's
// search time, and whether TASO's graph equals the zoo graph on random inputs
// through the reference evaluator (float32, full size; "same" when the two
// graphs are identical up to names; "skipped" when the model has more than
// --check-limit multiply-adds, since the reference evaluator is naive).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/models.h"
#include "ir/text_format.h"
#include "kernels/arith.h"
#include "kernels/compare.h"
#include "optimizer/canonical_hash.h"
#include "optimizer/cost_model.h"
#include "optimizer/graph_cost.h"
#include "optimizer/optimize.h"
#include "rules/rule_text.h"

namespace lemma {
namespace {

// Multiply-adds of the conv2d and matmul nodes: how long the reference evaluator takes.
double MultiplyAdds(const Graph& g) {
  double total = 0;
  for (const Node& n : g.nodes()) {
    if (n.op != OpKind::kConv2d && n.op != OpKind::kMatMul) continue;
    const TensorType& out = n.outputs[0];
    const TensorType& w = g.type(n.inputs[1]);
    double volume = 1;
    for (int64_t d : out.dims) volume *= static_cast<double>(d);
    double per = 1;
    if (n.op == OpKind::kConv2d) {
      for (size_t i = 1; i < w.dims.size(); ++i) per *= static_cast<double>(w.dims[i]);
    } else {
      per = static_cast<double>(w.dims[w.dims.size() - 2]);
    }
    total += volume * per;
  }
  return total;
}

int Main(int argc, char** argv) {
  int64_t budget = 1000;
  double alpha = 1.05;
  int threads = 1;
  double check_limit = 1e10;
  std::string only, dir = "bench/taso";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--budget" && has_value) {
      budget = std::atoll(argv[++i]);
    } else if (arg == "--alpha" && has_value) {
      alpha = std::atof(argv[++i]);
    } else if (arg == "--threads" && has_value) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--model" && has_value) {
      only = argv[++i];
    } else if (arg == "--dir" && has_value) {
      dir = argv[++i];
    } else if (arg == "--check-limit" && has_value) {
      check_limit = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: taso_compare [--budget N] [--alpha A] [--threads N] [--model NAME] "
                   "[--dir DIR] [--check-limit OPS]\n");
      return 2;
    }
  }
  absl::StatusOr<RuleSet> rules = ReadRuleFiles("rules/default.rules");
  if (!rules.ok()) {
    std::fprintf(stderr, "taso_compare: %s\n", std::string(rules.status().message()).c_str());
    return 1;
  }
  AnalyticalCostModel cost_model;
  std::printf("taso_compare: budget %lld, alpha %.3g, threads %d, cost model %s\n\n",
              static_cast<long long>(budget), alpha, threads, cost_model.Name().c_str());
  std::printf("%-14s %11s %11s %11s %9s %9s %9s %-10s\n", "model", "zoo(ms)", "taso(ms)",
              "lemma(ms)", "taso", "lemma", "lemma(s)", "taso==zoo");
  int failures = 0;
  for (const std::string& name : models::ModelNames()) {
    if (!only.empty() && name != only) continue;
    const std::string path = dir + "/" + name + ".lemma";
    if (access(path.c_str(), R_OK) != 0) continue;
    absl::StatusOr<Graph> zoo = models::BuildModel(name);
    absl::StatusOr<Graph> taso = ReadGraphFile(path);
    if (!zoo.ok() || !taso.ok()) {
      std::printf("%-14s failed: %s\n", name.c_str(),
                  std::string((zoo.ok() ? taso.status() : zoo.status()).message()).c_str());
      ++failures;
      continue;
    }
    std::string check;
    if (CanonicalHash(*zoo) == CanonicalHash(*taso)) {
      check = "same";
    } else if (MultiplyAdds(*zoo) > check_limit || MultiplyAdds(*taso) > check_limit) {
      check = "skipped";
    } else {
      absl::StatusOr<Comparison> c = CompareOnRandomInputs<F32>(*zoo, *taso, 1, 1, 1e-3);
      if (!c.ok()) {
        check = "error: " + std::string(c.status().message());
        ++failures;
      } else if (!c->equal) {
        check = "MISMATCH: " + c->mismatch;
        ++failures;
      } else {
        check = "equal";
      }
    }
    const double zoo_cost = ComputeGraphCost(*zoo, cost_model).total;
    const double taso_cost = ComputeGraphCost(*taso, cost_model).total;
    OptimizeOptions options;
    options.alpha = alpha;
    options.budget = budget;
    options.threads = threads;
    options.cost_model = &cost_model;
    absl::StatusOr<OptimizeResult> opt = Optimize(*zoo, *rules, options);
    if (!opt.ok()) {
      std::printf("%-14s failed: %s\n", name.c_str(), std::string(opt.status().message()).c_str());
      ++failures;
      continue;
    }
    const double lemma_cost = ComputeGraphCost(opt->graph, cost_model).total;
    std::printf("%-14s %11.3f %11.3f %11.3f %8.3fx %8.3fx %9.2f %s\n", name.c_str(), zoo_cost * 1e3,
                taso_cost * 1e3, lemma_cost * 1e3, zoo_cost / taso_cost, zoo_cost / lemma_cost,
                opt->stats.seconds, check.c_str());
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace lemma

int main(int argc, char** argv) { return lemma::Main(argc, argv); }
