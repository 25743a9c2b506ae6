#include "verifier/encode.h"

#include <cstdio>
#include <cstdlib>

#include "ir/strings.h"

namespace lemma::verifier {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "lemma verifier: %s\n", message.c_str());
  std::abort();
}

// Whether `vars` of `formula` all occur in `terms`.
bool Covers(const std::vector<Term>& terms, const FreeVars& vars) {
  FreeVars got;
  for (const Term& t : terms) {
    const FreeVars v = CollectFreeVars(t);
    got.tensors.insert(got.tensors.end(), v.tensors.begin(), v.tensors.end());
    got.ints.insert(got.ints.end(), v.ints.begin(), v.ints.end());
  }
  auto has = [](const auto& list, const Term& v) {
    for (const Term& g : list) {
      if (g.node().name == v.node().name) return true;
    }
    return false;
  };
  for (const TensorTerm& v : vars.tensors) {
    if (!has(got.tensors, v)) return false;
  }
  for (const IntTerm& v : vars.ints) {
    if (!has(got.ints, v)) return false;
  }
  return true;
}

// Whether conjunction `guard` has ok(t) as a conjunct.
bool AssumesOk(const Term& guard, const Term& t) {
  if (guard.kind() == TermKind::kOk) return SameTerm(guard.children()[0], t);
  if (guard.kind() == TermKind::kAnd) {
    for (const Term& c : guard.children()) {
      if (AssumesOk(c, t)) return true;
    }
  }
  return false;
}

bool Usable(const Term& side) {
  return side.kind() == TermKind::kApply && !HasArithmetic(side);
}

}  // namespace

std::string OpFunctionName(const TermNode& node) {
  std::string name(OpName(node.op));
  const Attributes holder(node.op);
  const std::span<const AttrSpec> schema = holder.schema();
  // Only variable-length lists make signatures differ.
  for (size_t i = 0; i < schema.size(); ++i) {
    if (schema[i].kind == AttrKind::kInts && schema[i].length < 0) {
      StrAppend(&name, "_", node.attr_lengths[i]);
    }
  }
  const OpInfo& info = GetOpInfo(node.op);
  if (info.max_inputs < 0) {
    int nargs = static_cast<int>(node.children.size());
    for (int len : node.attr_lengths) nargs -= len;
    StrAppend(&name, "_", nargs);
  }
  if (node.num_outputs > 1) StrAppend(&name, "_o", node.output);
  return name;
}

Encoder::Encoder(smt::Context& ctx)
    : ctx_(ctx),
      tensor_(ctx.UninterpretedSort("Tensor")),
      int_(ctx.IntSort()),
      bool_(ctx.BoolSort()) {
  ok_ = ctx.Declare("ok", {tensor_}, bool_);
  dim_ = ctx.Declare("dim", {tensor_, int_}, int_);
  rank_ = ctx.Declare("rank", {tensor_}, int_);
}

smt::Function Encoder::OpFunction(const TermNode& node) {
  const std::string name = OpFunctionName(node);
  auto it = ops_.find(name);
  if (it != ops_.end()) return it->second;
  std::vector<smt::Sort> domain;
  int num_ints = 0;
  for (int len : node.attr_lengths) num_ints += len;
  for (size_t i = 0; i < node.children.size(); ++i) {
    domain.push_back(static_cast<int>(i) < num_ints ? int_ : tensor_);
  }
  smt::Function f = ctx_.Declare(name, domain, tensor_);
  ops_.emplace(name, f);
  return f;
}

smt::Expr Encoder::Encode(const Term& t, const SmtEnv& env) {
  const TermNode& n = t.node();
  const std::vector<Term>& c = n.children;
  auto sub = [&](size_t i) { return Encode(c[i], env); };
  switch (n.kind) {
    case TermKind::kTensorVar: {
      auto it = env.tensors.find(n.name);
      if (it == env.tensors.end()) Die(StrCat("unbound tensor variable ", n.name));
      return it->second;
    }
    case TermKind::kIntVar: {
      auto it = env.ints.find(n.name);
      if (it == env.ints.end()) Die(StrCat("unbound integer variable ", n.name));
      return it->second;
    }
    case TermKind::kApply: {
      std::vector<smt::Expr> args;
      for (size_t i = 0; i < c.size(); ++i) args.push_back(sub(i));
      return OpFunction(n)(args);
    }
    case TermKind::kIntConst:
      return ctx_.Int(n.value);
    case TermKind::kAdd:
      return sub(0) + sub(1);
    case TermKind::kSub:
      return sub(0) - sub(1);
    case TermKind::kMul:
      return sub(0) * sub(1);
    case TermKind::kDiv:
      return smt::Div(sub(0), sub(1));
    case TermKind::kIte:
      return smt::Ite(sub(0), sub(1), sub(2));
    case TermKind::kDim:
      return dim_({sub(0), sub(1)});
    case TermKind::kRank:
      return rank_({sub(0)});
    case TermKind::kTrue:
      return ctx_.Bool(true);
    case TermKind::kFalse:
      return ctx_.Bool(false);
    case TermKind::kTensorEq:
    case TermKind::kIntEq:
      return sub(0) == sub(1);
    case TermKind::kIntLe:
      return sub(0) <= sub(1);
    case TermKind::kIntLt:
      return sub(0) < sub(1);
    case TermKind::kAnd:
    case TermKind::kOr: {
      std::vector<smt::Expr> parts;
      for (size_t i = 0; i < c.size(); ++i) parts.push_back(sub(i));
      return n.kind == TermKind::kAnd ? smt::And(ctx_, parts) : smt::Or(ctx_, parts);
    }
    case TermKind::kNot:
      return !sub(0);
    case TermKind::kImplies:
      return smt::Implies(sub(0), sub(1));
    case TermKind::kOk:
      return ok_({sub(0)});
  }
  Die("unknown term kind");
}

SmtEnv Encoder::Constants(const FreeVars& vars, std::string_view prefix) {
  SmtEnv env;
  for (const TensorTerm& v : vars.tensors) {
    env.tensors.emplace(v.node().name, ctx_.Const(StrCat(prefix, v.node().name), tensor_));
  }
  for (const IntTerm& v : vars.ints) {
    env.ints.emplace(v.node().name, ctx_.Const(StrCat(prefix, v.node().name), int_));
  }
  return env;
}

smt::Expr Encoder::Close(const BoolTerm& formula, const std::vector<std::vector<Term>>& patterns,
                         std::string_view name) {
  const FreeVars vars = CollectFreeVars(formula);
  const SmtEnv env = Constants(vars, "");
  std::vector<smt::Expr> bound;
  for (const TensorTerm& v : vars.tensors) bound.push_back(env.tensors.at(v.node().name));
  for (const IntTerm& v : vars.ints) bound.push_back(env.ints.at(v.node().name));
  std::vector<smt::Pattern> pats;
  for (const std::vector<Term>& p : patterns) {
    smt::Pattern pat;
    for (const Term& t : p) pat.push_back(Encode(t, env));
    pats.push_back(std::move(pat));
  }
  return smt::ForAll(bound, Encode(formula, env), pats, name);
}

std::vector<std::vector<Term>> ChooseTriggers(const BoolTerm& formula) {
  const FreeVars vars = CollectFreeVars(formula);
  Term guard = BoolTerm::Constant(true);
  Term eq = formula;
  if (formula.kind() == TermKind::kImplies) {
    guard = formula.children()[0];
    eq = formula.children()[1];
  }
  if (eq.kind() != TermKind::kTensorEq) return {};
  const Term& l = eq.children()[0];
  const Term& r = eq.children()[1];
  const bool ok_l = AssumesOk(guard, l);
  const bool ok_r = AssumesOk(guard, r);
  const bool alone_l = Usable(l) && Covers({l}, vars);
  const bool alone_r = Usable(r) && Covers({r}, vars);
  const bool pair = Usable(l) && Usable(r) && Covers({l, r}, vars);
  std::vector<std::vector<Term>> out;
  if (ok_l && ok_r) {
    if (pair) out.push_back({l, r});
    return out;
  }
  if (ok_l || ok_r) {
    if (ok_l ? alone_l : alone_r) {
      out.push_back({ok_l ? l : r});
    } else if (pair) {
      out.push_back({l, r});
    }
    return out;
  }
  // Oriented: an equation rewrites its left side, unless only its right
  // side can be a pattern.
  if (alone_l) {
    out.push_back({l});
  } else if (alone_r) {
    out.push_back({r});
  } else if (pair) {
    out.push_back({l, r});
  }
  return out;
}

}  // namespace lemma::verifier
