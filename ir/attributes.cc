#include "ir/attributes.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "ir/strings.h"
#include "ir/op_registry.h"

namespace lemma {
namespace {

bool KindMatches(AttrKind kind, const AttrValue& v) {
  switch (kind) {
    case AttrKind::kInt:
    case AttrKind::kEnum:
      return std::holds_alternative<int64_t>(v);
    case AttrKind::kInts:
      return std::holds_alternative<std::vector<int64_t>>(v);
    case AttrKind::kFloat:
      return std::holds_alternative<double>(v);
  }
  return false;
}

[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "lemma: internal error: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

// Shortest decimal text that reads back to exactly `v`.
std::string FormatDouble(double v) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  // Keep a float recognisable as one in the text format.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string_view AttrKindDescription(AttrKind kind) {
  switch (kind) {
    case AttrKind::kInt:
      return "an integer";
    case AttrKind::kInts:
      return "a list of integers like [1,2]";
    case AttrKind::kFloat:
      return "a number";
    case AttrKind::kEnum:
      return "a name";
  }
  return "?";
}

Attributes::Attributes(OpKind op) : op_(op) {
  for (const AttrSpec& spec : GetOpInfo(op).attrs) values_.push_back(spec.default_value);
}

std::span<const AttrSpec> Attributes::schema() const { return GetOpInfo(op_).attrs; }

int Attributes::IndexOf(std::string_view name) const {
  const auto specs = schema();
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

absl::Status Attributes::Set(std::string_view name, AttrValue value) {
  const int i = IndexOf(name);
  if (i < 0) {
    return absl::InvalidArgumentError(
        StrCat(OpName(op_), " has no attribute '", name, "'"));
  }
  const AttrSpec& spec = schema()[static_cast<size_t>(i)];
  if (!KindMatches(spec.kind, value)) {
    return absl::InvalidArgumentError(StrCat("attribute '", name, "' of ", OpName(op_),
                                                   " must be ", AttrKindDescription(spec.kind)));
  }
  if (spec.kind == AttrKind::kEnum) {
    const int64_t e = std::get<int64_t>(value);
    if (e < 0 || e >= static_cast<int64_t>(spec.enum_names.size())) {
      return absl::InvalidArgumentError(StrCat("attribute '", name, "' of ", OpName(op_),
                                                     " must be one of ",
                                                     StrJoin(spec.enum_names, ", ")));
    }
  }
  if (spec.kind == AttrKind::kInts && spec.length >= 0) {
    const auto& v = std::get<std::vector<int64_t>>(value);
    if (static_cast<int>(v.size()) != spec.length) {
      return absl::InvalidArgumentError(StrCat("attribute '", name, "' of ", OpName(op_),
                                                     " must have ", spec.length,
                                                     " elements, not ", v.size()));
    }
  }
  values_[static_cast<size_t>(i)] = std::move(value);
  return absl::OkStatus();
}

absl::Status Attributes::SetEnum(std::string_view name, std::string_view enum_name) {
  const int i = IndexOf(name);
  if (i < 0) {
    return absl::InvalidArgumentError(
        StrCat(OpName(op_), " has no attribute '", name, "'"));
  }
  if (schema()[static_cast<size_t>(i)].kind != AttrKind::kEnum) {
    return absl::InvalidArgumentError(
        StrCat("attribute '", name, "' of ", OpName(op_), " must be ",
                     AttrKindDescription(schema()[static_cast<size_t>(i)].kind)));
  }
  const AttrSpec& spec = schema()[static_cast<size_t>(i)];
  for (size_t e = 0; e < spec.enum_names.size(); ++e) {
    if (spec.enum_names[e] == enum_name) return Set(name, static_cast<int64_t>(e));
  }
  return absl::InvalidArgumentError(StrCat("attribute '", name, "' of ", OpName(op_),
                                                 " must be one of ",
                                                 StrJoin(spec.enum_names, ", "),
                                                 ", not '", enum_name, "'"));
}

bool Attributes::Has(std::string_view name) const {
  const int i = IndexOf(name);
  return i >= 0 && values_[static_cast<size_t>(i)].has_value();
}

absl::Status Attributes::CheckComplete() const {
  const auto specs = schema();
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!values_[i].has_value()) {
      return absl::InvalidArgumentError(
          StrCat("missing required attribute '", specs[i].name, "'"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
const T& Attributes::Get(std::string_view name) const {
  const int i = IndexOf(name);
  const std::optional<AttrValue>* v = i < 0 ? nullptr : &values_[static_cast<size_t>(i)];
  if (v == nullptr || !v->has_value() || !std::holds_alternative<T>(**v)) {
    Die(StrCat("attribute '", name, "' of ", OpName(op_), " read with the wrong kind or unset"));
  }
  return std::get<T>(**v);
}

int64_t Attributes::GetInt(std::string_view name) const { return Get<int64_t>(name); }

const std::vector<int64_t>& Attributes::GetInts(std::string_view name) const {
  return Get<std::vector<int64_t>>(name);
}

double Attributes::GetFloat(std::string_view name) const { return Get<double>(name); }

std::string Attributes::FormatValue(size_t index) const {
  const AttrSpec& spec = schema()[index];
  const std::optional<AttrValue>& v = values_[index];
  if (!v) return "?";
  switch (spec.kind) {
    case AttrKind::kInt:
      return StrCat(std::get<int64_t>(*v));
    case AttrKind::kInts:
      return StrCat("[", StrJoin(std::get<std::vector<int64_t>>(*v), ","), "]");
    case AttrKind::kFloat:
      return FormatDouble(std::get<double>(*v));
    case AttrKind::kEnum:
      return std::string(spec.enum_names[static_cast<size_t>(std::get<int64_t>(*v))]);
  }
  return "?";
}

bool Attributes::IsDefault(size_t index) const {
  return values_[index] == schema()[index].default_value;
}

}  // namespace lemma
