#include "kernels/cpu/tuning.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "ir/file_io.h"
#include "ir/json.h"
#include "ir/status_macros.h"
#include "ir/strings.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/json_value.h"
#include "kernels/random.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

// Whether `a` is the record to replay rather than `b` (same workload).
bool Outranks(const TuningRecord& a, const TuningRecord& b) {
  const bool a_model = a.measured == "model", b_model = b.measured == "model";
  if (a_model != b_model) return a_model;
  return a.seconds < b.seconds;
}

}  // namespace

std::string TuningRecord::ToJson() const {
  JsonWriter w;
  w.BeginObject();
  w.Key("kind").String(kind);
  w.Key("target").String(target);
  w.Key("workload").String(workload);
  w.Key("template").String(template_name);
  w.Key("config").BeginObject();
  for (const auto& [name, value] : config) w.Key(name).Int(value);
  w.EndObject();
  w.Key("seconds").Double(seconds);
  w.Key("gflops").Double(gflops);
  if (measured != "kernel") w.Key("measured").String(measured);
  w.EndObject();
  std::string text = std::move(w).Finish();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

absl::StatusOr<TuningRecord> TuningRecord::FromJson(std::string_view line) {
  absl::StatusOr<JsonValue> v = ParseJson(line);
  if (!v.ok()) return v.status();
  if (v->kind != JsonValue::Kind::kObject) return absl::InvalidArgumentError("not an object");
  TuningRecord r;
  auto string = [&](std::string_view key, std::string& out) -> absl::Status {
    const JsonValue* m = v->Find(key);
    if (m == nullptr || m->kind != JsonValue::Kind::kString) {
      return absl::InvalidArgumentError(StrCat("no string '", key, "'"));
    }
    out = m->string;
    return absl::OkStatus();
  };
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"kind", &r.kind},
                          {"target", &r.target},
                          {"workload", &r.workload},
                          {"template", &r.template_name}}) {
    if (absl::Status s = string(key, *out); !s.ok()) return s;
  }
  const JsonValue* config = v->Find("config");
  if (config == nullptr || config->kind != JsonValue::Kind::kObject) {
    return absl::InvalidArgumentError("no object 'config'");
  }
  for (const auto& [name, value] : config->object) {
    if (value.kind != JsonValue::Kind::kNumber) {
      return absl::InvalidArgumentError(StrCat("config value '", name, "' is not a number"));
    }
    r.config[name] = static_cast<int64_t>(value.number);
  }
  const JsonValue* seconds = v->Find("seconds");
  if (seconds == nullptr || seconds->kind != JsonValue::Kind::kNumber) {
    return absl::InvalidArgumentError("no number 'seconds'");
  }
  r.seconds = seconds->number;
  if (const JsonValue* g = v->Find("gflops"); g != nullptr && g->kind == JsonValue::Kind::kNumber) {
    r.gflops = g->number;
  }
  if (const JsonValue* m = v->Find("measured"); m != nullptr) {
    if (m->kind != JsonValue::Kind::kString || (m->string != "kernel" && m->string != "model")) {
      return absl::InvalidArgumentError("'measured' must be \"kernel\" or \"model\"");
    }
    r.measured = m->string;
  }
  return r;
}

std::string LogFileName(std::string_view target) {
  std::string plain(target);
  for (std::string_view mark : {"(R)", "(TM)", "(r)", "(tm)"}) {
    for (size_t at; (at = plain.find(mark)) != std::string::npos;) plain.erase(at, mark.size());
  }
  std::string name;
  bool dash = false;
  for (const char c : plain) {
    const bool digit = c >= '0' && c <= '9', lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
    if (!digit && !lower && !upper) {
      dash = true;
      continue;
    }
    if (dash && !name.empty()) name += '-';
    dash = false;
    name += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return StrCat(name.empty() ? "unknown" : name, ".jsonl");
}

namespace {

// The records of one log file, appended to `out`; errors name `path` and
// the line. `target_file`: in a log directory, the file's own name, which
// each record's target must map to.
absl::Status ReadLogFile(const std::string& path, std::string_view target_file,
                         std::vector<TuningRecord>& out) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()) && target_file.empty()) return absl::OkStatus();
    return text.status();
  }
  size_t begin = 0;
  int line_number = 0;
  while (begin < text->size()) {
    size_t end = text->find('\n', begin);
    if (end == std::string::npos) end = text->size();
    ++line_number;
    const std::string_view line(text->data() + begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    absl::StatusOr<TuningRecord> r = TuningRecord::FromJson(line);
    if (!r.ok()) {
      return absl::InvalidArgumentError(
          StrCat(path, ":", line_number, ": not a tuning record: ", r.status().message()));
    }
    if (!target_file.empty() && LogFileName(r->target) != target_file) {
      return absl::InvalidArgumentError(StrCat(path, ":", line_number, ": a record of target '", r->target,
                                               "' belongs in ", LogFileName(r->target),
                                               " in a log directory"));
    }
    out.push_back(*std::move(r));
  }
  return absl::OkStatus();
}

std::string LogText(const std::vector<TuningRecord>& records, std::string_view file) {
  std::string text;
  for (const TuningRecord& r : records) {
    if (file.empty() || LogFileName(r.target) == file) StrAppend(&text, r.ToJson(), "\n");
  }
  return text;
}

}  // namespace

absl::StatusOr<TuningLog> TuningLog::Load(const std::string& path) {
  TuningLog log;
  log.path_ = path;
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    if (absl::Status s = ReadLogFile(path, "", log.records_); !s.ok()) return s;
    return log;
  }
  log.directory_ = true;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 6 && name.ends_with(".jsonl")) files.push_back(name);
  }
  if (ec) return absl::NotFoundError(StrCat(path, ": cannot list the log directory: ", ec.message()));
  std::sort(files.begin(), files.end());  // the same order on every machine
  for (const std::string& name : files) {
    std::vector<TuningRecord> records;
    if (absl::Status s = ReadLogFile((std::filesystem::path(path) / name).string(), name, records); !s.ok()) {
      return s;
    }
    log.loaded_[name] = LogText(records, "");
    for (TuningRecord& r : records) log.records_.push_back(std::move(r));
  }
  return log;
}

std::optional<TuningRecord> TuningLog::Best(std::string_view kind, std::string_view target,
                                            std::string_view workload) const {
  std::optional<TuningRecord> best;
  for (const TuningRecord& r : records_) {
    if (r.kind != kind || r.target != target || r.workload != workload) continue;
    if (!best || Outranks(r, *best)) best = r;
  }
  return best;
}

void TuningLog::Add(TuningRecord record) { records_.push_back(std::move(record)); }

int64_t TuningLog::KeepBest() {
  std::map<std::tuple<std::string, std::string, std::string>, size_t> best;  // key -> index in kept
  std::vector<TuningRecord> kept;
  for (TuningRecord& r : records_) {
    auto [it, inserted] = best.try_emplace({r.kind, r.target, r.workload}, kept.size());
    if (inserted) {
      kept.push_back(std::move(r));
    } else if (Outranks(r, kept[it->second])) {
      kept[it->second] = std::move(r);
    }
  }
  const int64_t dropped = static_cast<int64_t>(records_.size() - kept.size());
  records_ = std::move(kept);
  return dropped;
}

absl::Status TuningLog::Save() const {
  if (path_.empty()) return absl::OkStatus();
  if (!directory_) return WriteFileAtomically(path_, LogText(records_, ""));
  std::set<std::string> files;
  for (const TuningRecord& r : records_) files.insert(LogFileName(r.target));
  for (const std::string& file : files) {
    std::string text = LogText(records_, file);
    if (auto it = loaded_.find(file); it != loaded_.end() && it->second == text) continue;
    LEMMA_RETURN_IF_ERROR(WriteFileAtomically((std::filesystem::path(path_) / file).string(), text));
  }
  return absl::OkStatus();
}

std::string ScheduleKey(const Group& group, const LoweringContext& context, WeightCache weights) {
  return StrCat(WorkloadKey(group, context), weights == WeightCache::kCold ? " |weights cold" : "");
}

// ---- The search.

namespace {

int64_t Pick(SplitMix64& rng, int64_t n) { return n <= 1 ? 0 : static_cast<int64_t>(rng.Next() % U(n)); }

Config RandomConfig(const std::vector<Knob>& space, SplitMix64& rng) {
  Config c;
  for (const Knob& k : space) {
    c[k.name] = k.values[U(Pick(rng, static_cast<int64_t>(k.values.size())))];
  }
  return c;
}

// Changes one or two knobs: to a neighbouring value (more often) or any value.
Config Mutate(const Config& parent, const std::vector<Knob>& space, SplitMix64& rng) {
  Config c = parent;
  const int changes = 1 + static_cast<int>(Pick(rng, 2));
  for (int i = 0; i < changes; ++i) {
    const Knob& k = space[U(Pick(rng, static_cast<int64_t>(space.size())))];
    const int64_t n = static_cast<int64_t>(k.values.size());
    auto it = std::find(k.values.begin(), k.values.end(), c[k.name]);
    int64_t at = it == k.values.end() ? 0 : it - k.values.begin();
    if (Pick(rng, 3) != 0) {
      at = std::clamp<int64_t>(at + (Pick(rng, 2) == 0 ? -1 : 1), 0, n - 1);
    } else {
      at = Pick(rng, n);
    }
    c[k.name] = k.values[U(at)];
  }
  return c;
}

Config Cross(const Config& a, const Config& b, SplitMix64& rng) {
  Config c = a;
  for (auto& [name, value] : c) {
    if (Pick(rng, 2) == 0) {
      if (auto it = b.find(name); it != b.end()) value = it->second;
    }
  }
  return c;
}

// Measures the fastest `options.finalists` of `measured` and the default
// config again, round after round, keeping the fastest time of each.
void Confirm(const Template& t, const LoweringContext& context, ThreadPool& pool,
             const TuneOptions& options, std::vector<std::pair<double, Config>> measured,
             TuneResult& result) {
  std::stable_sort(measured.begin(), measured.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Config> finalists;
  for (size_t i = 0; i < measured.size() && static_cast<int>(i) < options.finalists; ++i) {
    finalists.push_back(measured[i].second);
  }
  const Config fallback = t.DefaultConfig();
  const bool default_measured = std::any_of(measured.begin(), measured.end(),
                                            [&](const auto& m) { return m.second == fallback; });
  if (default_measured && std::find(finalists.begin(), finalists.end(), fallback) == finalists.end()) {
    finalists.push_back(fallback);
  }
  std::vector<std::pair<Config, CompiledGroup>> compiled;
  for (const Config& c : finalists) {
    absl::StatusOr<Lowered> lowered = t.Lower(c);
    if (!lowered.ok()) continue;
    absl::StatusOr<CompiledGroup> group = CompiledGroup::Compile(*std::move(lowered), true);
    if (group.ok()) compiled.emplace_back(c, *std::move(group));
  }
  for (int round = 0; round < options.confirm_rounds; ++round) {
    for (const auto& [config, group] : compiled) {
      const double seconds = TimeGroup(group, context, pool, 0.02, options.weights);
      ++result.confirmed;
      const bool best = seconds < result.seconds;
      if (best) {
        result.seconds = seconds;
        result.best = config;
      }
      if (options.on_measure) options.on_measure(config, seconds, best);
    }
  }
}

}  // namespace

absl::StatusOr<TuneResult> Tune(const Template& t, const LoweringContext& context,
                                ThreadPool& pool, const TuneOptions& options) {
  const std::vector<Knob> space = t.Space();
  SplitMix64 rng(options.seed);
  TuneResult result;
  result.seconds = 1e30;
  std::set<std::string> seen;
  std::vector<std::pair<double, Config>> measured;
  absl::Status last_error = absl::OkStatus();
  std::set<std::string> lowered_seen;
  auto measure = [&](const Config& config) {
    const std::string key = ConfigToString(config);
    if (!seen.insert(key).second) return;
    absl::StatusOr<Lowered> lowered = t.Lower(config);
    if (lowered.ok()) {
      // Configs that differ only in knobs clamped away lower to the same
      // kernels: measure those once.
      std::string signature;
      for (const Launch& l : lowered->launches) {
        StrAppend(&signature, l.nest.Key(), "#", l.schedule.ToString(l.nest), ";");
      }
      if (!lowered_seen.insert(signature).second) {
        ++result.duplicates;
        return;
      }
    }
    absl::StatusOr<CompiledGroup> group =
        lowered.ok() ? CompiledGroup::Compile(*std::move(lowered), true)
                     : absl::StatusOr<CompiledGroup>(lowered.status());
    if (!group.ok()) {
      ++result.rejected;
      last_error = group.status();
      return;
    }
    const double seconds = TimeGroup(*group, context, pool, 0.02, options.weights);
    ++result.measured;
    const bool best = seconds < result.seconds;
    if (best) {
      result.seconds = seconds;
      result.best = config;
    }
    measured.push_back({seconds, config});
    if (options.on_measure) options.on_measure(config, seconds, best);
  };
  measure(t.DefaultConfig());
  const int budget = std::max(1, options.budget);
  const int random_until = std::max(1, static_cast<int>(budget * options.random_fraction));
  // Attempts are capped so that a space of few valid configs ends the search.
  int attempts = 0;
  const int max_attempts = budget * 20;
  auto in_time = [&] {
    if (!options.deadline || std::chrono::steady_clock::now() < *options.deadline) return true;
    result.out_of_time = result.measured < budget;
    return false;
  };
  while (result.measured < random_until && attempts++ < max_attempts && !space.empty() && in_time()) {
    measure(RandomConfig(space, rng));
  }
  while (result.measured < budget && attempts++ < max_attempts && !space.empty() && in_time()) {
    std::sort(measured.begin(), measured.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const int64_t top = std::min<int64_t>(options.population, static_cast<int64_t>(measured.size()));
    if (top == 0) {
      measure(RandomConfig(space, rng));
      continue;
    }
    const Config& a = measured[U(Pick(rng, top))].second;
    const int64_t choice = Pick(rng, 10);
    if (choice < 6) {
      measure(Mutate(a, space, rng));
    } else if (choice < 9) {
      measure(Mutate(Cross(a, measured[U(Pick(rng, top))].second, rng), space, rng));
    } else {
      measure(RandomConfig(space, rng));
    }
  }
  if (result.measured == 0) {
    return absl::Status(last_error.code(),
                        StrCat("no schedule of ", t.name(), " works: ", last_error.message()));
  }
  if (options.confirm_rounds > 0) Confirm(t, context, pool, options, measured, result);
  return result;
}

}  // namespace lemma::cpu
