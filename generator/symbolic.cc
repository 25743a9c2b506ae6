#include "generator/symbolic.h"

#include <cstdio>
#include <cstdlib>

#include "ir/strings.h"

namespace lemma {

SymSize SymSize::Var(int var) {
  if (var < 0 || var > 127) {
    std::fprintf(stderr, "lemma: SymSize::Var(%d) out of range\n", var);
    std::abort();
  }
  SymSize s;
  s.n_ = 1;
  s.parts_[0] = static_cast<int8_t>(var);
  return s;
}

SymSize SymSize::Const(int value) {
  if (value < 1 || value > 127) {
    std::fprintf(stderr, "lemma: SymSize::Const(%d) out of range\n", value);
    std::abort();
  }
  SymSize s;
  s.n_ = 1;
  s.parts_[0] = static_cast<int8_t>(-value);
  return s;
}

bool SymSize::IsConstant() const {
  for (int i = 0; i < n_; ++i) {
    if (parts_[static_cast<size_t>(i)] >= 0) return false;
  }
  return true;
}

int64_t SymSize::Evaluate(std::span<const int64_t> values) const {
  int64_t sum = 0;
  for (int i = 0; i < n_; ++i) {
    const int p = parts_[static_cast<size_t>(i)];
    sum += p >= 0 ? values[static_cast<size_t>(p)] : -p;
  }
  return sum;
}

SymSize SymSize::Prefix(int n) const {
  SymSize s;
  s.n_ = static_cast<uint8_t>(n);
  for (int i = 0; i < n; ++i) s.parts_[static_cast<size_t>(i)] = parts_[static_cast<size_t>(i)];
  return s;
}

SymSize SymSize::Suffix(int n) const {
  SymSize s;
  s.n_ = static_cast<uint8_t>(n_ - n);
  for (int i = n; i < n_; ++i) {
    s.parts_[static_cast<size_t>(i - n)] = parts_[static_cast<size_t>(i)];
  }
  return s;
}

std::optional<SymSize> SymSize::Join(const SymSize& a, const SymSize& b) {
  if (a.n_ + b.n_ > kMaxParts) return std::nullopt;
  SymSize s = a;
  for (int i = 0; i < b.n_; ++i) s.parts_[static_cast<size_t>(s.n_ + i)] = b.parts_[static_cast<size_t>(i)];
  s.n_ = static_cast<uint8_t>(a.n_ + b.n_);
  return s;
}

std::vector<int> SymSize::Counts() const {
  // counts[0] is the constant total, counts[v + 1] the count of variable v.
  std::vector<int> counts(1, 0);
  for (int i = 0; i < n_; ++i) {
    const int p = parts_[static_cast<size_t>(i)];
    if (p < 0) {
      counts[0] -= p;
      continue;
    }
    if (counts.size() < static_cast<size_t>(p) + 2) counts.resize(static_cast<size_t>(p) + 2, 0);
    ++counts[static_cast<size_t>(p) + 1];
  }
  while (counts.size() > 1 && counts.back() == 0) counts.pop_back();
  return counts;
}

bool SymSize::SameSum(const SymSize& other) const { return Counts() == other.Counts(); }

int SymSize::Multiple(const SymSize& unit) const {
  const std::vector<int> mine = Counts(), theirs = unit.Counts();
  if (mine.size() != theirs.size()) return 0;
  int factor = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (theirs[i] == 0) {
      if (mine[i] != 0) return 0;
      continue;
    }
    if (mine[i] % theirs[i] != 0) return 0;
    const int f = mine[i] / theirs[i];
    if (factor != 0 && f != factor) return 0;
    factor = f;
  }
  return factor;
}

DimExpr SymSize::ToDimExpr(std::span<const std::string> names) const {
  DimExpr e;
  for (int i = 0; i < n_; ++i) {
    const int p = parts_[static_cast<size_t>(i)];
    e = e + (p >= 0 ? DimExpr::Var(names[static_cast<size_t>(p)]) : DimExpr(-p));
  }
  return e;
}

std::string SymSize::ToString(std::span<const std::string> names) const {
  return ToDimExpr(names).ToString();
}

Dims SymShape::Evaluate(std::span<const int64_t> values) const {
  Dims out;
  out.reserve(dims.size());
  for (const SymSize& d : dims) out.push_back(d.Evaluate(values));
  return out;
}

std::optional<SymShape> MatchOutputShape(std::span<const SymShape* const> inputs,
                                         std::span<const SymSize> extra, const Dims& out_a,
                                         const Dims& out_b, std::span<const int64_t> values_a,
                                         std::span<const int64_t> values_b) {
  if (out_a.size() != out_b.size()) return std::nullopt;
  SymShape out;
  for (size_t d = 0; d < out_a.size(); ++d) {
    auto fits = [&](const SymSize& s) {
      return s.num_parts() > 0 && s.Evaluate(values_a) == out_a[d] &&
             s.Evaluate(values_b) == out_b[d];
    };
    std::optional<SymSize> found;
    for (const SymShape* in : inputs) {
      if (d < in->dims.size() && fits(in->dims[d])) {
        found = in->dims[d];
        break;
      }
    }
    for (size_t i = 0; !found && i < extra.size(); ++i) {
      if (fits(extra[i])) found = extra[i];
    }
    for (const SymShape* in : inputs) {
      for (size_t j = 0; !found && j < in->dims.size(); ++j) {
        if (fits(in->dims[j])) found = in->dims[j];
      }
    }
    if (!found && !inputs.empty()) {
      std::optional<SymSize> joined = SymSize();
      for (const SymShape* in : inputs) {
        if (!joined || d >= in->dims.size()) {
          joined.reset();
          break;
        }
        joined = SymSize::Join(*joined, in->dims[d]);
      }
      if (joined && fits(*joined)) found = joined;
    }
    if (!found && out_a[d] == out_b[d] && out_a[d] >= 1 && out_a[d] <= 127) {
      found = SymSize::Const(static_cast<int>(out_a[d]));
    }
    if (!found) return std::nullopt;
    out.dims.push_back(*found);
  }
  return out;
}

}  // namespace lemma
