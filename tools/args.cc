#include "tools/args.h"

#include <charconv>

#include "ir/strings.h"

namespace lemma::cli {
namespace {

const OptionSpec* Find(const CommandSpec& spec, std::string_view word) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == word || (!o.short_name.empty() && o.short_name == word)) return &o;
  }
  return nullptr;
}

}  // namespace

bool Args::Has(std::string_view name) const { return values_.contains(ToAbsl(name)); }

std::string Args::Get(std::string_view name, std::string_view fallback) const {
  auto it = values_.find(ToAbsl(name));
  return it == values_.end() ? std::string(fallback) : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(std::string_view name, int64_t fallback) const {
  auto it = values_.find(ToAbsl(name));
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return absl::InvalidArgumentError(StrCat(name, " expects an integer, got '", s, "'"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(std::string_view name, double fallback) const {
  auto it = values_.find(ToAbsl(name));
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return absl::InvalidArgumentError(StrCat(name, " expects a number, got '", s, "'"));
  }
  return v;
}

absl::StatusOr<Args> Parse(const CommandSpec& spec, const std::vector<std::string>& argv) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word == "--help" || word == "-h") {
      args.help_ = true;
      return args;
    }
    if (word.size() > 1 && word[0] == '-') {
      std::string name = word;
      std::optional<std::string> inline_value;
      if (const size_t eq = word.find('='); eq != std::string::npos && word.rfind("--", 0) == 0) {
        name = word.substr(0, eq);
        inline_value = word.substr(eq + 1);
      }
      const OptionSpec* o = Find(spec, name);
      if (o == nullptr) {
        return absl::InvalidArgumentError(StrCat("unknown option '", name, "'"));
      }
      std::string value = "true";
      if (!o->value_name.empty()) {
        if (inline_value) {
          value = *inline_value;
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return absl::InvalidArgumentError(StrCat(o->name, " expects a value (", o->value_name, ")"));
        }
      } else if (inline_value) {
        return absl::InvalidArgumentError(StrCat(o->name, " takes no value"));
      }
      args.values_[std::string(o->name)] = std::move(value);
      continue;
    }
    args.positional_.push_back(word);
  }
  const int n = static_cast<int>(args.positional_.size());
  if (n < spec.min_positional || n > spec.max_positional) {
    return absl::InvalidArgumentError(
        n < spec.min_positional ? "missing argument" : StrCat("unexpected argument '", args.positional_.back(), "'"));
  }
  return args;
}

std::string HelpText(const CommandSpec& spec) {
  std::string out = StrCat("usage: ", spec.usage, "\n\n", spec.description, "\n");
  if (!spec.options.empty()) out += "\noptions:\n";
  for (const OptionSpec& o : spec.options) {
    std::string left = StrCat("  ", o.short_name.empty() ? "" : StrCat(o.short_name, ", "), o.name);
    if (!o.value_name.empty()) StrAppend(&left, " ", o.value_name);
    if (left.size() < 24) left.resize(24, ' ');
    StrAppend(&out, left, " ", o.help, "\n");
  }
  StrAppend(&out, "  -h, --help               show this help\n");
  return out;
}

}  // namespace lemma::cli
