// lemma explore: every match of every rule in a model with its effect on
// cost, and a command loop that applies them one at a time. Also what
// `lemma optimize --explain` prints: the chain of applied rules, as text,
// JSON and pictures.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_split.h"
#include "ir/dot.h"
#include "ir/json.h"
#include "ir/model_io.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/weights.h"
#include "optimizer/explore.h"
#include "optimizer/optimize.h"
#include "optimizer/region.h"
#include "rules/rule_text.h"
#include "tools/commands.h"
#include "tools/common.h"

namespace lemma::cli {
namespace {

std::string Ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f ms", seconds * 1e3);
  return buf;
}

std::string SignedMs(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.4f ms", seconds * 1e3);
  return buf;
}

double Speedup(double before, double after) { return after > 0 ? before / after : 1.0; }

bool GraphvizInstalled() {
  static const bool installed = std::system("command -v dot >/dev/null 2>&1") == 0;
  return installed;
}

// The picture of a rewrite's region, before and after.
std::string RegionDot(std::string_view title, const RewriteRegion& r) {
  const std::vector<DotPanel> panels = {{"before", &r.before}, {"after", &r.after}};
  return WriteDotPanels(title, panels);
}

// Writes `dot` to `path` as DOT or, for "*.svg", rendered to SVG.
absl::Status WriteDotOrSvg(const std::string& dot, const std::string& path) {
  if (path.ends_with(".svg")) return WritePicture(dot, "", path);
  if (path.ends_with(".dot")) return WritePicture(dot, path, "");
  return absl::InvalidArgumentError(StrCat("picture file '", path, "' must end in .dot or .svg"));
}

// ---- explore

struct Session {
  std::string model_path;
  std::string rules_path;
  const RuleSet* rules = nullptr;
  Explorer* explorer = nullptr;
  WeightValues weights;
  std::string op_filter;
  bool verbose = false;
  int64_t limit = 20;
};

bool Selected(const Session& s, const Graph& g, const MatchEffect& m) {
  if (s.op_filter.empty()) return true;
  for (NodeId id : m.match.nodes) {
    if (id >= 0 && OpName(g.node(id).op) == s.op_filter) return true;
  }
  return false;
}

// Indices into the explorer's list of the matches shown (--op), at most
// `limit` (0: all).
std::vector<size_t> Shown(const Session& s, int64_t limit) {
  std::vector<size_t> out;
  const MatchListing& l = s.explorer->matches();
  for (size_t i = 0; i < l.matches.size(); ++i) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    if (Selected(s, s.explorer->graph(), l.matches[i])) out.push_back(i);
  }
  return out;
}

size_t CountSelected(const Session& s) { return Shown(s, 0).size(); }

void PrintHeader(const Session& s) {
  const Explorer& e = *s.explorer;
  std::printf("graph %s: %d nodes; %d of %d rules usable, from %s\n", e.graph().name().c_str(),
              e.graph().num_nodes(), e.usable_rules(), s.rules->size(), s.rules_path.c_str());
  std::printf("cost model %s\n", e.cost_model_name().c_str());
  std::printf("cost %s (as given %s)\n", Ms(e.cost()).c_str(), Ms(e.input_cost()).c_str());
}

void PrintList(const Session& s, int64_t limit) {
  const Explorer& e = *s.explorer;
  const MatchListing& l = e.matches();
  const std::vector<size_t> shown = Shown(s, limit);
  const size_t selected = CountSelected(s);
  std::printf("%zu matches%s, best first (%zu shown); %zu rejected%s\n", selected,
              s.op_filter.empty() ? "" : StrCat(" on ", s.op_filter).c_str(), shown.size(),
              l.rejected.size(),
              l.rejected.empty() || s.verbose ? "" : " (--verbose lists them)");
  for (size_t i : shown) {
    const MatchEffect& m = l.matches[i];
    std::printf("  %3zu. %s -> %s  rule %s at %s [%s]\n", i + 1, SignedMs(m.delta()).c_str(),
                Ms(m.cost_after).c_str(), m.rule_id.c_str(), StrJoin(m.nodes, ", ").c_str(),
                m.where.c_str());
  }
  if (s.verbose) {
    for (const RejectedMatch& r : l.rejected) {
      std::printf("  rejected: rule %s at %s: %s\n", r.rule_id.c_str(), StrJoin(r.nodes, ", ").c_str(),
                  r.reason.c_str());
    }
  }
}

void WriteListJson(const Session& s, int64_t limit) {
  const Explorer& e = *s.explorer;
  const MatchListing& l = e.matches();
  JsonWriter j;
  j.BeginObject();
  j.Key("model").String(s.model_path);
  j.Key("graph").String(e.graph().name());
  j.Key("nodes").Int(e.graph().num_nodes());
  j.Key("rules_files").String(s.rules_path);
  j.Key("rules_total").Int(s.rules->size());
  j.Key("rules_usable").Int(e.usable_rules());
  j.Key("cost_model").String(e.cost_model_name());
  j.Key("cost_as_given_s").Double(e.input_cost());
  j.Key("cost_s").Double(e.cost());
  j.Key("op");
  if (s.op_filter.empty()) {
    j.Null();
  } else {
    j.String(s.op_filter);
  }
  j.Key("matches_total").Int(static_cast<int64_t>(CountSelected(s)));
  j.Key("rejected_total").Int(static_cast<int64_t>(l.rejected.size()));
  j.Key("matches").BeginArray();
  for (size_t i : Shown(s, limit)) {
    const MatchEffect& m = l.matches[i];
    j.BeginObject();
    j.Key("index").Int(static_cast<int64_t>(i + 1));
    j.Key("rule").String(m.rule_id);
    j.Key("status").String(RuleStatusName(m.status));
    j.Key("nodes").BeginArray();
    for (const std::string& n : m.nodes) j.String(n);
    j.EndArray();
    j.Key("ops").BeginArray();
    for (NodeId id : m.match.nodes) {
      if (id >= 0) j.String(OpName(e.graph().node(id).op));
    }
    j.EndArray();
    j.Key("where").String(m.where);
    j.Key("cost_before_s").Double(m.cost_before);
    j.Key("cost_after_s").Double(m.cost_after);
    j.Key("delta_s").Double(m.delta());
    j.Key("speedup").Double(Speedup(m.cost_before, m.cost_after));
    j.EndObject();
  }
  j.EndArray();
  j.Key("rejected").BeginArray();
  if (s.verbose) {
    for (const RejectedMatch& r : l.rejected) {
      j.BeginObject().Key("rule").String(r.rule_id).Key("nodes").BeginArray();
      for (const std::string& n : r.nodes) j.String(n);
      j.EndArray().Key("reason").String(r.reason).EndObject();
    }
  }
  j.EndArray();
  j.EndObject();
  const std::string text = std::move(j).Finish();
  std::fwrite(text.data(), 1, text.size(), stdout);
}

// The data of the current graph's weights: those the model came with, the
// others random (as `lemma export` gives them).
WeightValues CurrentWeights(const Session& s) {
  const Graph& g = s.explorer->graph();
  WeightValues kept;
  for (NodeId id : g.WeightNodes()) {
    auto it = s.weights.find(g.node(id).names[0]);
    if (it != s.weights.end()) kept.emplace(it->first, it->second);
  }
  return WithRandomWeights(g, std::move(kept), 1);
}

// Parses a 1-based match number of the current list.
absl::StatusOr<size_t> MatchNumber(const Session& s, const std::string& word) {
  char* end = nullptr;
  const long long k = std::strtoll(word.c_str(), &end, 10);
  const size_t n = s.explorer->matches().matches.size();
  if (word.empty() || end == nullptr || *end != '\0' || k < 1 || static_cast<size_t>(k) > n) {
    return absl::InvalidArgumentError(
        StrCat("'", word, "' is not a match number (the list has ", n, "; see list)"));
  }
  return static_cast<size_t>(k - 1);
}

constexpr const char* kSessionHelp =
    "commands:\n"
    "  list [N]          the N best matches (default --limit; 0: all)\n"
    "  apply K           apply match K of the list; the list is recomputed\n"
    "  undo              take back the last rewrite\n"
    "  cost              the current cost, and the cost of the graph as given\n"
    "  history           the rewrites applied, with the cost after each\n"
    "  show NODE|all     the text of NODE with its neighbours, or of the whole graph\n"
    "  picture K FILE    draw match K before and after (FILE.dot or FILE.svg)\n"
    "  export FILE       write the current graph (FILE.onnx: ONNX, else text)\n"
    "  help              this list\n"
    "  quit              leave (so does the end of input)\n";

// Runs one command line; false on quit.
bool RunCommand(Session& s, const std::string& line) {
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
  if (words.empty() || words[0].starts_with("#")) return true;
  const std::string& verb = words[0];
  Explorer& e = *s.explorer;
  auto error = [](std::string_view message) {
    std::printf("error: %.*s\n", static_cast<int>(message.size()), message.data());
  };
  auto want_args = [&](size_t lo, size_t hi, std::string_view usage) {
    if (words.size() - 1 < lo || words.size() - 1 > hi) {
      error(StrCat("usage: ", usage));
      return false;
    }
    return true;
  };
  if (verb == "quit" || verb == "exit") return false;
  if (verb == "help") {
    std::fputs(kSessionHelp, stdout);
  } else if (verb == "list") {
    if (!want_args(0, 1, "list [N]")) return true;
    int64_t n = s.limit;
    if (words.size() == 2) {
      char* end = nullptr;
      n = std::strtoll(words[1].c_str(), &end, 10);
      if (*end != '\0' || n < 0) return error(StrCat("'", words[1], "' is not a count")), true;
    }
    PrintList(s, n);
  } else if (verb == "apply") {
    if (!want_args(1, 1, "apply K")) return true;
    absl::StatusOr<size_t> k = MatchNumber(s, words[1]);
    if (!k.ok()) return error(ToStd(k.status().message())), true;
    const MatchEffect m = e.matches().matches[*k];
    if (absl::Status st = e.Apply(*k); !st.ok()) return error(ToStd(st.message())), true;
    std::printf("applied rule %s at %s: cost %s -> %s (%s); %zu matches now\n", m.rule_id.c_str(),
                StrJoin(m.nodes, ", ").c_str(), Ms(m.cost_before).c_str(), Ms(e.cost()).c_str(),
                SignedMs(e.cost() - m.cost_before).c_str(), CountSelected(s));
  } else if (verb == "undo") {
    if (!want_args(0, 0, "undo")) return true;
    if (e.history().empty()) return error("nothing to undo"), true;
    const std::string rule = e.history().back().rule_id;
    e.Undo();
    std::printf("undid rule %s: cost %s; %zu matches now\n", rule.c_str(), Ms(e.cost()).c_str(),
                CountSelected(s));
  } else if (verb == "cost") {
    if (!want_args(0, 0, "cost")) return true;
    std::printf("cost %s (as given %s, %.3fx); %d nodes; %zu rewrites applied\n", Ms(e.cost()).c_str(),
                Ms(e.input_cost()).c_str(), Speedup(e.input_cost(), e.cost()), e.graph().num_nodes(),
                e.history().size());
  } else if (verb == "history") {
    if (!want_args(0, 0, "history")) return true;
    if (e.history().empty()) std::printf("no rewrites applied\n");
    for (size_t i = 0; i < e.history().size(); ++i) {
      const ExploreStep& h = e.history()[i];
      std::printf("  %2zu. rule %s at %s: %s -> %s (%s)\n", i + 1, h.rule_id.c_str(),
                  StrJoin(h.nodes, ", ").c_str(), Ms(h.cost_before).c_str(), Ms(h.cost_after).c_str(),
                  SignedMs(h.cost_after - h.cost_before).c_str());
    }
  } else if (verb == "show") {
    if (!want_args(1, 1, "show NODE|all")) return true;
    if (words[1] == "all") {
      std::fputs(PrintGraph(e.graph()).c_str(), stdout);
      return true;
    }
    const NodeId id = FindNodeByLabel(e.graph(), words[1]);
    if (id < 0) return error(StrCat("no node '", words[1], "' (show all lists them)")), true;
    absl::StatusOr<Region> r = ExtractRegion(e.graph(), Neighbourhood(e.graph(), id));
    if (!r.ok()) return error(ToStd(r.status().message())), true;
    std::fputs(PrintGraph(r->graph).c_str(), stdout);
  } else if (verb == "picture") {
    if (!want_args(2, 2, "picture K FILE.dot|FILE.svg")) return true;
    absl::StatusOr<size_t> k = MatchNumber(s, words[1]);
    if (!k.ok()) return error(ToStd(k.status().message())), true;
    absl::StatusOr<RewriteRegion> r = e.Picture(*k);
    if (!r.ok()) return error(ToStd(r.status().message())), true;
    const MatchEffect& m = e.matches().matches[*k];
    const std::string title = StrCat("match ", *k + 1, ": rule ", m.rule_id, " at ",
                                     StrJoin(m.nodes, ", "), " (", SignedMs(m.delta()), ")");
    if (absl::Status st = WriteDotOrSvg(RegionDot(title, *r), words[2]); !st.ok()) {
      return error(ToStd(st.message())), true;
    }
    std::printf("wrote %s\n", words[2].c_str());
  } else if (verb == "export") {
    if (!want_args(1, 1, "export FILE")) return true;
    const Model model{e.graph(), CurrentWeights(s)};
    if (absl::Status st = WriteModel(words[1], model); !st.ok()) return error(ToStd(st.message())), true;
    std::printf("wrote %s\n", words[1].c_str());
  } else {
    error(StrCat("unknown command '", verb, "' (help lists the commands)"));
  }
  return true;
}

int RunSession(Session& s) {
  const bool terminal = isatty(STDIN_FILENO) != 0;
  PrintHeader(s);
  if (terminal) std::printf("help lists the commands\n");
  std::string line;
  while (true) {
    if (terminal) {
      std::printf("explore> ");
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!RunCommand(s, line)) break;
    std::fflush(stdout);
  }
  if (terminal) std::printf("\n");
  return kExitOk;
}

absl::StatusOr<OnnxImportOptions> ImportOptions(const Args& args) {
  OnnxImportOptions options;
  options.fuse_activations = !args.Has("--no-fuse");
  for (absl::string_view item : absl::StrSplit(args.Get("--dim"), ',', absl::SkipEmpty())) {
    const std::string text(item);
    const size_t eq = text.find('=');
    char* end = nullptr;
    const long long v = eq == std::string::npos ? -1 : std::strtoll(text.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || v < 0) {
      return absl::InvalidArgumentError(
          StrCat("--dim expects NAME=VALUE[,NAME=VALUE...] with VALUE >= 0, not '", text, "'"));
    }
    options.dim_params[text.substr(0, eq)] = v;
  }
  return options;
}

}  // namespace

const CommandSpec& ExploreSpec() {
  static const CommandSpec spec = {
      "explore", "where rules match in a model and what each would change in cost",
      "lemma explore MODEL [--rules FILES] [--json] [--limit N] [--op OP] [--verbose] [-i]",
      "Lists every match of every usable rule in MODEL (lemma text or ONNX): where\n"
      "it matches (the ops, by the labels `lemma print` shows), the rule, and the\n"
      "graph's cost before and after applying it under the analytical cost model,\n"
      "as `lemma optimize` costs graphs (ops computed from weights alone are free;\n"
      "layouts chosen as the optimizer chooses them, unless --keep-layouts). Best\n"
      "first (lowest cost change; ties in a fixed order). Matches whose rule does\n"
      "not instantiate at the matched sizes are counted as rejected; --verbose\n"
      "lists them with the reason.\n"
      "With -i, reads commands from standard input (a prompt only on a terminal):\n"
      "list [N], apply K, undo, cost, history, show NODE|all, picture K FILE.dot|.svg,\n"
      "export FILE, help, quit. A bad command prints an error and the loop goes on.",
      {{"--rules", "", "FILES", "rule files, comma-separated (default rules/default.rules)"},
       {"--json", "", "", "print the listing as JSON (tools/schemas/explore.schema.json)"},
       {"--limit", "", "N", "show the N best matches (default 20; 0: all)"},
       {"--op", "", "OP", "only matches that cover an OP node"},
       {"--verbose", "", "", "also list the rejected matches, with the reason"},
       {"--interactive", "-i", "", "read commands from standard input"},
       {"--allow-tested", "", "", "also use rules that are only random-tested"},
       {"--keep-layouts", "", "", "do not choose layouts"},
       {"--dim", "", "N=V,...", "values of symbolic ONNX input dimensions, e.g. batch=1"},
       {"--no-fuse", "", "", "keep ONNX activations as nodes (not fused into conv/matmul)"}},
      1, 1};
  return spec;
}

int RunExplore(const Args& args) {
  Session s;
  s.model_path = args.positional()[0];
  absl::StatusOr<OnnxImportOptions> import = ImportOptions(args);
  if (!import.ok()) return Fail("explore", import.status());
  absl::StatusOr<Model> model = ReadModel(s.model_path, "", *import);
  if (!model.ok()) return Fail("explore", model.status());
  s.rules_path = args.Get("--rules", DefaultRulesPath());
  absl::StatusOr<RuleSet> rules = ReadRuleFiles(s.rules_path);
  if (!rules.ok()) return Fail("explore", rules.status());
  absl::StatusOr<int64_t> limit = args.GetInt("--limit", 20);
  if (!limit.ok()) return Fail("explore", limit.status());
  if (*limit < 0) return Fail("explore", absl::InvalidArgumentError("--limit must not be negative"));
  s.limit = *limit;
  s.op_filter = args.Get("--op");
  if (!s.op_filter.empty() && !FindOp(s.op_filter)) {
    return Fail("explore", absl::InvalidArgumentError(StrCat("--op: unknown op '", s.op_filter, "'")));
  }
  s.verbose = args.Has("--verbose");
  ExploreOptions options;
  if (args.Has("--allow-tested")) options.min_status = RuleStatus::kTested;
  options.optimize_layouts = !args.Has("--keep-layouts");
  absl::StatusOr<std::unique_ptr<Explorer>> explorer = Explorer::Create(model->graph, *rules, options);
  if (!explorer.ok()) return Fail("explore", explorer.status());
  s.rules = &*rules;
  s.explorer = explorer->get();
  s.weights = std::move(model->weights);
  if (args.Has("--interactive")) {
    if (args.Has("--json")) {
      return Fail("explore", absl::InvalidArgumentError("--json lists; it does not go with -i"));
    }
    return RunSession(s);
  }
  if (args.Has("--json")) {
    WriteListJson(s, s.limit);
    return kExitOk;
  }
  PrintHeader(s);
  PrintList(s, s.limit);
  if (s.explorer->usable_rules() == 0 && s.rules->size() > 0) {
    std::printf("no rule is usable: the rules are not proved (--allow-tested uses tested ones)\n");
  }
  return kExitOk;
}

// ---- optimize --explain, --explain-dir, --json

absl::Status ExplainOptimize(const Args& args, const Graph& input, const RuleSet& rules,
                             const std::string& rules_path, const OptimizeResult& r,
                             std::FILE* report) {
  const std::vector<AppliedStep>& steps = r.steps;
  std::vector<std::string> dots(steps.size()), svgs(steps.size());
  if (args.Has("--explain-dir")) {
    const std::string dir = args.Get("--explain-dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::FailedPreconditionError(StrCat("cannot create ", dir, ": ", ec.message()));
    double before = r.cost_before;
    for (size_t i = 0; i < steps.size(); ++i) {
      const AppliedStep& st = steps[i];
      if (st.kind == AppliedStep::Kind::kRule && st.region.has_value()) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "step-%02zu-", i + 1);
        const std::string base = StrCat(dir, "/", stem, st.rule_id);
        const std::string title = StrCat("step ", i + 1, ": rule ", st.rule_id, " at ",
                                         StrJoin(st.nodes, ", "), " (", Ms(before), " -> ",
                                         Ms(st.cost_after), ")");
        const std::string dot = RegionDot(title, *st.region);
        dots[i] = base + ".dot";
        if (GraphvizInstalled()) svgs[i] = base + ".svg";
        if (absl::Status s = WritePicture(dot, dots[i], svgs[i]); !s.ok()) return s;
      }
      before = st.cost_after;
    }
  }
  if (args.Has("--explain") || args.Has("--explain-dir")) {
    std::fprintf(report, "steps (cost after each; before them %s):\n", Ms(r.cost_before).c_str());
    if (steps.empty()) std::fprintf(report, "  none: no rewrite lowers the cost\n");
    double before = r.cost_before;
    for (size_t i = 0; i < steps.size(); ++i) {
      const AppliedStep& s = steps[i];
      if (s.kind == AppliedStep::Kind::kRule) {
        std::fprintf(report, "  %2zu. rule %s at %s [%s] -> %s (%s)\n", i + 1, s.rule_id.c_str(),
                     s.where.c_str(), StrJoin(s.nodes, ", ").c_str(), Ms(s.cost_after).c_str(),
                     SignedMs(s.cost_after - before).c_str());
      } else {
        std::fprintf(report, "  %2zu. %s: %s -> %s (%s)\n", i + 1,
                     std::string(AppliedStep::KindName(s.kind)).c_str(), s.where.c_str(),
                     Ms(s.cost_after).c_str(), SignedMs(s.cost_after - before).c_str());
      }
      if (!dots[i].empty()) {
        std::fprintf(report, "      picture %s%s%s\n", dots[i].c_str(), svgs[i].empty() ? "" : ", ",
                     svgs[i].c_str());
      }
      before = s.cost_after;
    }
  }
  if (!args.Has("--json")) return absl::OkStatus();
  JsonWriter j;
  j.BeginObject();
  j.Key("graph").String(input.name());
  j.Key("rules_files").String(rules_path);
  j.Key("rules_total").Int(rules.size());
  j.Key("rules_usable").Int(r.rules_used);
  j.Key("cost_model").String(r.cost_model);
  j.Key("cost_before_s").Double(r.cost_before);
  j.Key("cost_after_s").Double(r.cost_after);
  j.Key("speedup").Double(Speedup(r.cost_before, r.cost_after));
  j.Key("precomputed_ops").Int(r.precomputed_ops);
  j.Key("charged_ops").Int(r.charged_ops);
  j.Key("search").BeginObject();
  j.Key("explored").Int(r.stats.explored);
  j.Key("generated").Int(r.stats.generated);
  j.Key("duplicates_skipped").Int(r.stats.duplicates_skipped);
  j.Key("pruned").Int(r.stats.pruned);
  j.Key("rejected").Int(r.stats.rejected);
  j.Key("max_frontier").Int(r.stats.max_frontier);
  j.Key("stop").String(StopReasonName(r.stats.stop));
  j.EndObject();
  j.Key("steps").BeginArray();
  double before = r.cost_before;
  for (size_t i = 0; i < steps.size(); ++i) {
    const AppliedStep& s = steps[i];
    const bool rule = s.kind == AppliedStep::Kind::kRule;
    j.BeginObject();
    j.Key("index").Int(static_cast<int64_t>(i + 1));
    j.Key("kind").String(std::string(AppliedStep::KindName(s.kind)));
    j.Key("rule");
    if (rule) {
      j.String(s.rule_id);
    } else {
      j.Null();
    }
    j.Key("where").String(s.where);
    j.Key("nodes").BeginArray();
    for (const std::string& n : s.nodes) j.String(n);
    j.EndArray();
    j.Key("cost_before_s").Double(before);
    j.Key("cost_after_s").Double(s.cost_after);
    j.Key("delta_s").Double(s.cost_after - before);
    j.Key("picture_dot");
    if (dots[i].empty()) {
      j.Null();
    } else {
      j.String(dots[i]);
    }
    j.Key("picture_svg");
    if (svgs[i].empty()) {
      j.Null();
    } else {
      j.String(svgs[i]);
    }
    j.EndObject();
    before = s.cost_after;
  }
  j.EndArray();
  j.EndObject();
  return Emit("", std::move(j).Finish());
}

}  // namespace lemma::cli
