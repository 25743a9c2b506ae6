// lemma rules list|show|stats: browse a rule set, as text, JSON or pictures.

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/dot.h"
#include "ir/json.h"
#include "ir/strings.h"
#include "rules/rule_text.h"
#include "tools/commands.h"
#include "tools/common.h"

namespace lemma::cli {
namespace {

std::set<std::string_view> OpsOf(const Pattern& p) {
  std::set<std::string_view> ops;
  for (const PatternNode& n : p.nodes) {
    if (!n.IsInput()) ops.insert(OpName(n.op));
  }
  return ops;
}

std::string FingerprintHex(uint64_t fp) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fp));
  return buf;
}

// The JSON record of one rule (schema: tools/schemas/rule.schema.json).
void WriteRuleJson(const Rule& r, bool full, JsonWriter& j) {
  j.BeginObject();
  j.Key("id").String(r.id);
  j.Key("status").String(RuleStatusName(r.status));
  j.Key("axiom_set").String(r.axiom_set);
  j.Key("axioms_used").BeginArray();
  for (const std::string& a : r.axioms_used) j.String(a);
  j.EndArray();
  j.Key("note").String(r.note);
  j.Key("fingerprint");
  if (r.fingerprint) {
    j.String(FingerprintHex(*r.fingerprint));
  } else {
    j.Null();
  }
  j.Key("origin").String(r.origin);
  j.Key("source_ops").Int(r.source.num_ops());
  j.Key("target_ops").Int(r.target.num_ops());
  j.Key("ops").BeginArray();
  for (std::string_view op : OpsOf(r.source)) j.String(op);
  j.EndArray();
  j.Key("source").BeginArray();
  for (const std::string& e : PatternExpressions(r.source)) j.String(e);
  j.EndArray();
  j.Key("target").BeginArray();
  for (const std::string& e : PatternExpressions(r.target)) j.String(e);
  j.EndArray();
  if (full) {
    j.Key("example").BeginObject();
    for (const auto& [name, value] : r.example) j.Key(name).Int(value);
    j.EndObject();
    j.Key("text").String(PrintRule(r));
  }
  j.EndObject();
}

bool Selected(const Rule& r, const Args& args) {
  if (args.Has("--status") && RuleStatusName(r.status) != args.Get("--status")) return false;
  if (args.Has("--op")) {
    const std::string op = args.Get("--op");
    if (!OpsOf(r.source).contains(op) && !OpsOf(r.target).contains(op)) return false;
  }
  return true;
}

absl::Status CheckFilters(const Args& args) {
  if (args.Has("--status") && !ParseRuleStatus(args.Get("--status"))) {
    return absl::InvalidArgumentError(StrCat("--status must be tested, proved, unknown or refuted, not '",
                                             args.Get("--status"), "'"));
  }
  if (args.Has("--op") && !FindOp(args.Get("--op"))) {
    return absl::InvalidArgumentError(StrCat("--op: unknown op '", args.Get("--op"), "'"));
  }
  return absl::OkStatus();
}

int List(const RuleSet& rules, const std::string& path, const Args& args) {
  if (absl::Status s = CheckFilters(args); !s.ok()) return Fail("rules list", s);
  std::vector<const Rule*> selected;
  for (const Rule& r : rules.rules()) {
    if (Selected(r, args)) selected.push_back(&r);
  }
  if (args.Has("--json")) {
    JsonWriter j;
    j.BeginObject().Key("rules_file").String(path).Key("rules").BeginArray();
    for (const Rule* r : selected) WriteRuleJson(*r, false, j);
    j.EndArray().EndObject();
    return Emit("", std::move(j).Finish()).ok() ? kExitOk : kExitError;
  }
  size_t width = 2;
  for (const Rule* r : selected) width = std::max(width, r->id.size());
  std::printf("%-*s  %-8s %-5s %s\n", static_cast<int>(width), "ID", "STATUS", "OPS", "SOURCE => TARGET");
  for (const Rule* r : selected) {
    std::printf("%-*s  %-8s %d->%-2d %s => %s\n", static_cast<int>(width), r->id.c_str(),
                std::string(RuleStatusName(r->status)).c_str(), r->source.num_ops(),
                r->target.num_ops(), StrJoin(PatternExpressions(r->source), "; ").c_str(),
                StrJoin(PatternExpressions(r->target), "; ").c_str());
  }
  std::printf("%zu of %d rules\n", selected.size(), rules.size());
  return kExitOk;
}

int Show(const RuleSet& rules, const Args& args) {
  if (args.positional().size() < 2) {
    return Fail("rules show", absl::InvalidArgumentError("which rule? usage: lemma rules show ID"));
  }
  const std::string& id = args.positional()[1];
  const Rule* rule = rules.Find(id);
  if (rule == nullptr) {
    return Fail("rules show", absl::NotFoundError(StrCat("no rule with id '", id, "'")));
  }
  if (args.Has("--dot") || args.Has("--svg")) {
    absl::StatusOr<RuleGraphs> g = InstantiateRule(*rule, DType::kF32);
    if (!g.ok()) return Fail("rules show", g.status());
    const std::vector<DotPanel> panels = {{"source", &g->source}, {"target", &g->target}};
    const std::string dot = WriteDotPanels(StrCat("rule ", rule->id), panels);
    if (absl::Status s = WritePicture(dot, args.Get("--dot"), args.Get("--svg")); !s.ok()) {
      return Fail("rules show", s);
    }
    return kExitOk;
  }
  if (args.Has("--json")) {
    JsonWriter j;
    WriteRuleJson(*rule, true, j);
    return Emit("", std::move(j).Finish()).ok() ? kExitOk : kExitError;
  }
  std::printf("%s", PrintRule(*rule).c_str());
  std::printf("# source: %s\n# target: %s\n", StrJoin(PatternExpressions(rule->source), "; ").c_str(),
              StrJoin(PatternExpressions(rule->target), "; ").c_str());
  if (rule->status == RuleStatus::kProved && rule->axioms_used.empty()) {
    std::printf("# proved from axiom set %s (the axioms used were not recorded)\n",
                rule->axiom_set.c_str());
  }
  return kExitOk;
}

int Stats(const RuleSet& rules, const Args& args) {
  std::map<std::string_view, int> by_status, by_op;
  std::map<int, int> by_size;
  for (const Rule& r : rules.rules()) {
    ++by_status[RuleStatusName(r.status)];
    ++by_size[r.source.num_ops()];
    for (std::string_view op : OpsOf(r.source)) ++by_op[op];
  }
  if (args.Has("--json")) {
    JsonWriter j;
    j.BeginObject().Key("total").Int(rules.size());
    j.Key("by_status").BeginObject();
    for (const auto& [k, v] : by_status) j.Key(k).Int(v);
    j.EndObject().Key("by_source_ops").BeginObject();
    for (const auto& [k, v] : by_size) j.Key(StrCat(k)).Int(v);
    j.EndObject().Key("by_op").BeginObject();
    for (const auto& [k, v] : by_op) j.Key(k).Int(v);
    j.EndObject().EndObject();
    return Emit("", std::move(j).Finish()).ok() ? kExitOk : kExitError;
  }
  std::printf("%d rules\nby status:\n", rules.size());
  for (const auto& [k, v] : by_status) std::printf("  %-10.*s %d\n", static_cast<int>(k.size()), k.data(), v);
  std::printf("by source size (ops):\n");
  for (const auto& [k, v] : by_size) std::printf("  %-10d %d\n", k, v);
  std::printf("by op (rules whose source uses it):\n");
  for (const auto& [k, v] : by_op) std::printf("  %-10.*s %d\n", static_cast<int>(k.size()), k.data(), v);
  return kExitOk;
}

}  // namespace

const CommandSpec& RulesSpec() {
  static const CommandSpec spec = {
      "rules", "list, show and draw rules",
      "lemma rules list|show ID|stats [--rules FILE] [--op OP] [--status S] [--json] "
      "[--dot OUT] [--svg OUT]",
      "Browses a rule set (default: rules/default.rules).\n"
      "  list         one line per rule: id, status, op counts, source => target\n"
      "  show ID      the rule in the text format, its provenance and proof status;\n"
      "               --dot/--svg draw its source and target side by side\n"
      "  stats        counts by status, source size and op\n"
      "--json prints a JSON document instead (schemas: tools/schemas/).",
      {{"--rules", "", "FILE", "the rule file (default rules/default.rules)"},
       {"--op", "", "OP", "list: only rules that use OP"},
       {"--status", "", "S", "list: only rules with status S (tested, proved, unknown, refuted)"},
       {"--json", "", "", "print JSON"},
       {"--dot", "", "FILE", "show: write a DOT picture of the rule"},
       {"--svg", "", "FILE", "show: render the picture to SVG with Graphviz"}},
      1, 2};
  return spec;
}

int RunRules(const Args& args) {
  const std::string& verb = args.positional()[0];
  if (verb != "list" && verb != "show" && verb != "stats") {
    std::fprintf(stderr, "lemma rules: unknown action '%s' (list, show or stats)\n", verb.c_str());
    return kExitUsage;
  }
  const std::string path = args.Get("--rules", DefaultRulesPath());
  absl::StatusOr<RuleSet> rules = ReadRuleFile(path);
  if (!rules.ok()) return Fail(StrCat("rules ", verb), rules.status());
  if (verb == "list") return List(*rules, path, args);
  if (verb == "show") return Show(*rules, args);
  return Stats(*rules, args);
}

}  // namespace lemma::cli
