#include "kernels/cpu/loop_nest.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include "ir/strings.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

// Largest accumulator tile (vectors held in registers across a reduction) and
// largest fully unrolled body a schedule may ask for.
constexpr int64_t kMaxAccumulators = 64;
constexpr int64_t kMaxUnrolledBody = 4096;

struct OpName {
  ExprOp op;
  std::string_view name;
};
constexpr std::array<OpName, 17> kOpNames = {{
    {ExprOp::kLoad, "load"},     {ExprOp::kConst, "const"}, {ExprOp::kAcc, "acc"},
    {ExprOp::kAdd, "add"},       {ExprOp::kSub, "sub"},     {ExprOp::kMul, "mul"},
    {ExprOp::kDiv, "div"},       {ExprOp::kMax, "max"},     {ExprOp::kMin, "min"},
    {ExprOp::kNeg, "neg"},       {ExprOp::kRelu, "relu"},   {ExprOp::kSigmoid, "sigmoid"},
    {ExprOp::kTanh, "tanh"},     {ExprOp::kExp, "exp"},     {ExprOp::kGelu, "gelu"},
    {ExprOp::kRsqrt, "rsqrt"},   {ExprOp::kSqrt, "sqrt"},
}};

// Smallest and largest value of `index` over the iteration space.
std::pair<int64_t, int64_t> IndexRange(const LoopNest& nest, const AffineIndex& index) {
  int64_t lo = index.offset, hi = index.offset;
  for (const IndexTerm& t : index.terms) {
    const int64_t last = nest.axis(t.axis).extent - 1;
    int64_t top = last;
    if (t.part == AxisPart::kQuotient) top = last / t.block;
    if (t.part == AxisPart::kRemainder) top = std::min(last, t.block - 1);
    const int64_t a = 0, b = t.coeff * top;
    lo += std::min(a, b);
    hi += std::max(a, b);
  }
  return {lo, hi};
}

std::string IndexText(const LoopNest& nest, const AffineIndex& index) {
  std::string out;
  for (const IndexTerm& t : index.terms) {
    if (!out.empty()) out += " + ";
    if (t.coeff != 1) StrAppend(&out, t.coeff, "*");
    const std::string& name = nest.axis(t.axis).name;
    if (t.part == AxisPart::kWhole) StrAppend(&out, name);
    if (t.part == AxisPart::kQuotient) StrAppend(&out, "(", name, "/", t.block, ")");
    if (t.part == AxisPart::kRemainder) StrAppend(&out, "(", name, "%", t.block, ")");
  }
  if (index.offset != 0 || out.empty()) StrAppend(&out, out.empty() ? "" : " + ", index.offset);
  return out;
}

std::string KeyOfIndex(const AffineIndex& index) {
  std::string out = StrCat(index.offset);
  for (const IndexTerm& t : index.terms) {
    StrAppend(&out, ",", t.axis, ":", t.coeff, ":", static_cast<int>(t.part), ":", t.block);
  }
  return out;
}

}  // namespace

std::string_view ExprOpName(ExprOp op) {
  for (const OpName& n : kOpNames) {
    if (n.op == op) return n.name;
  }
  return "?";
}

bool IsBinary(ExprOp op) { return op >= ExprOp::kAdd && op <= ExprOp::kMin; }
bool IsUnary(ExprOp op) { return op >= ExprOp::kNeg; }

AffineIndex::AffineIndex(std::initializer_list<std::pair<int, int64_t>> whole, int64_t offset)
    : offset(offset) {
  for (const auto& [axis, coeff] : whole) Add(axis, coeff);
}

AffineIndex& AffineIndex::Add(int axis, int64_t coeff, AxisPart part, int64_t block) {
  if (part == AxisPart::kWhole) block = 1;
  for (IndexTerm& t : terms) {
    if (t.axis == axis && t.part == part && t.block == block) {
      t.coeff += coeff;
      return *this;
    }
  }
  if (coeff != 0) terms.push_back({axis, coeff, part, block});
  return *this;
}

// ---- LoopNest.

int LoopNest::AddAxis(std::string name, int64_t extent) {
  axes_.push_back({std::move(name), extent, false});
  return num_axes() - 1;
}

int LoopNest::AddReduction(std::string name, int64_t extent) {
  axes_.push_back({std::move(name), extent, true});
  return num_axes() - 1;
}

int LoopNest::AddBuffer(std::string name, int64_t elements, bool output) {
  buffers_.push_back({std::move(name), elements, output});
  return static_cast<int>(buffers_.size()) - 1;
}

int LoopNest::Load(int buffer, AffineIndex index, std::vector<Guard> guards, float fill) {
  ExprNode n;
  n.op = ExprOp::kLoad;
  n.buffer = buffer;
  n.index = std::move(index);
  n.guards = std::move(guards);
  n.value = fill;
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

int LoopNest::Const(float value) {
  ExprNode n;
  n.op = ExprOp::kConst;
  n.value = value;
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

int LoopNest::Acc() {
  ExprNode n;
  n.op = ExprOp::kAcc;
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

int LoopNest::Unary(ExprOp op, int a) {
  ExprNode n;
  n.op = op;
  n.a = a;
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

int LoopNest::Binary(ExprOp op, int a, int b) {
  ExprNode n;
  n.op = op;
  n.a = a;
  n.b = b;
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

void LoopNest::SetReduction(Combiner combiner, int body) {
  combiner_ = combiner;
  body_ = body;
}

void LoopNest::SetResult(int buffer, AffineIndex out_index, int value) {
  out_buffer_ = buffer;
  out_index_ = std::move(out_index);
  result_ = value;
}

absl::Status LoopNest::Validate() const {
  auto fail = [&](const auto&... args) { return Invalid("loop nest '", name_, "': ", args...); };
  for (const Axis& a : axes_) {
    if (a.extent < 1) return fail("axis ", a.name, " has extent ", a.extent);
  }
  auto check_index = [&](const AffineIndex& index, bool spatial_only) -> absl::Status {
    for (const IndexTerm& t : index.terms) {
      if (t.axis < 0 || t.axis >= num_axes()) return fail("an index names axis ", t.axis);
      if (spatial_only && axis(t.axis).reduction) {
        return fail("the result index reads reduction axis ", axis(t.axis).name);
      }
      if (t.block < 1) return fail("an index term has block ", t.block);
    }
    return absl::OkStatus();
  };
  auto check_bounds = [&](int buffer, const AffineIndex& index, std::string_view what) {
    const auto [lo, hi] = IndexRange(*this, index);
    const BufferDecl& b = buffers_[U(buffer)];
    if (lo < 0 || hi >= b.elements) {
      return fail(what, " of buffer ", b.name, " reaches [", lo, ", ", hi, "] outside [0, ",
                  b.elements, ")");
    }
    return absl::OkStatus();
  };
  bool uses_acc = false;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ExprNode& n = nodes_[i];
    const int self = static_cast<int>(i);
    if (IsBinary(n.op) && (n.a < 0 || n.a >= self || n.b < 0 || n.b >= self)) {
      return fail("node ", i, " (", ExprOpName(n.op), ") has bad operands");
    }
    if (IsUnary(n.op) && (n.a < 0 || n.a >= self)) {
      return fail("node ", i, " (", ExprOpName(n.op), ") has a bad operand");
    }
    if (n.op == ExprOp::kAcc) uses_acc = true;
    if (n.op != ExprOp::kLoad) continue;
    if (n.buffer < 0 || n.buffer >= static_cast<int>(buffers_.size())) {
      return fail("node ", i, " loads buffer ", n.buffer);
    }
    if (absl::Status s = check_index(n.index, false); !s.ok()) return s;
    for (const Guard& g : n.guards) {
      if (absl::Status s = check_index(g.index, false); !s.ok()) return s;
    }
    if (n.guards.empty()) {
      if (absl::Status s = check_bounds(n.buffer, n.index, StrCat("load ", i)); !s.ok()) return s;
    }
  }
  if (result_ < 0 || result_ >= static_cast<int>(nodes_.size())) return fail("no result");
  if (out_buffer_ < 0 || out_buffer_ >= static_cast<int>(buffers_.size()) ||
      !buffers_[U(out_buffer_)].output) {
    return fail("the result is not stored to an output buffer");
  }
  if (absl::Status s = check_index(out_index_, true); !s.ok()) return s;
  if (absl::Status s = check_bounds(out_buffer_, out_index_, "the store"); !s.ok()) return s;
  const bool has_reduction_axis =
      std::any_of(axes_.begin(), axes_.end(), [](const Axis& a) { return a.reduction; });
  if (combiner_ == Combiner::kNone) {
    if (has_reduction_axis) return fail("reduction axes without a combiner");
    if (uses_acc) return fail("acc used without a reduction");
  } else {
    if (body_ < 0 || body_ >= static_cast<int>(nodes_.size())) return fail("no reduction body");
    if (!uses_acc) return fail("the result does not use the reduction");
  }
  // The body must not read the accumulator.
  if (body_ >= 0) {
    std::vector<int> stack = {body_};
    while (!stack.empty()) {
      const ExprNode& n = nodes_[U(stack.back())];
      stack.pop_back();
      if (n.op == ExprOp::kAcc) return fail("the reduction body reads acc");
      if (n.a >= 0) stack.push_back(n.a);
      if (n.b >= 0) stack.push_back(n.b);
    }
  }
  return absl::OkStatus();
}

std::string LoopNest::ToString() const {
  std::string out = StrCat("nest ", name_, "\n  axes");
  for (const Axis& a : axes_) StrAppend(&out, " ", a.name, "=", a.extent, a.reduction ? "(r)" : "");
  out += "\n  buffers";
  for (const BufferDecl& b : buffers_) {
    StrAppend(&out, " ", b.name, "[", b.elements, "]", b.output ? "(out)" : "");
  }
  out += "\n";
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ExprNode& n = nodes_[i];
    StrAppend(&out, "  %", i, " = ", ExprOpName(n.op));
    if (n.op == ExprOp::kLoad) {
      StrAppend(&out, " ", buffers_[U(n.buffer)].name, "[", IndexText(*this, n.index), "]");
      for (const Guard& g : n.guards) {
        StrAppend(&out, " if 0<=", IndexText(*this, g.index), "<", g.limit);
      }
      if (!n.guards.empty()) StrAppend(&out, " else ", static_cast<double>(n.value));
    }
    if (n.op == ExprOp::kConst) StrAppend(&out, " ", static_cast<double>(n.value));
    if (n.a >= 0) StrAppend(&out, " %", n.a);
    if (n.b >= 0) StrAppend(&out, " %", n.b);
    out += "\n";
  }
  if (combiner_ != Combiner::kNone) {
    StrAppend(&out, "  acc = ", combiner_ == Combiner::kSum ? "sum" : "max", " of %", body_, "\n");
  }
  StrAppend(&out, "  ", buffers_[U(out_buffer_)].name, "[", IndexText(*this, out_index_),
            "] = %", result_, "\n");
  return out;
}

std::string LoopNest::Key() const {
  std::string out = "axes";
  for (const Axis& a : axes_) StrAppend(&out, " ", a.extent, a.reduction ? "r" : "");
  out += "|buf";
  for (const BufferDecl& b : buffers_) StrAppend(&out, " ", b.elements, b.output ? "o" : "");
  out += "|";
  for (const ExprNode& n : nodes_) {
    StrAppend(&out, static_cast<int>(n.op), "(", n.a, ",", n.b);
    if (n.op == ExprOp::kLoad) {
      StrAppend(&out, ",", n.buffer, ",", KeyOfIndex(n.index));
      for (const Guard& g : n.guards) StrAppend(&out, ",g", KeyOfIndex(g.index), "<", g.limit);
    }
    if (n.op == ExprOp::kConst || n.op == ExprOp::kLoad) {
      char buf[32];
      std::snprintf(buf, sizeof buf, ",%a", static_cast<double>(n.value));
      out += buf;
    }
    out += ")";
  }
  StrAppend(&out, "|", static_cast<int>(combiner_), ",", body_, ",", result_, ",", out_buffer_,
            ",", KeyOfIndex(out_index_));
  return out;
}

// ---- Interpretation.

namespace {

int64_t EvalIndex(const AffineIndex& index, const std::vector<int64_t>& point) {
  int64_t sum = index.offset;
  for (const IndexTerm& t : index.terms) {
    const int64_t v = point[U(t.axis)];
    if (t.part == AxisPart::kWhole) sum += t.coeff * v;
    if (t.part == AxisPart::kQuotient) sum += t.coeff * (v / t.block);
    if (t.part == AxisPart::kRemainder) sum += t.coeff * (v % t.block);
  }
  return sum;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float Gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

float EvalNode(const LoopNest& nest, int node, const std::vector<int64_t>& point,
               float* const* buffers, float acc) {
  const ExprNode& n = nest.node(node);
  auto a = [&] { return EvalNode(nest, n.a, point, buffers, acc); };
  auto b = [&] { return EvalNode(nest, n.b, point, buffers, acc); };
  switch (n.op) {
    case ExprOp::kLoad: {
      for (const Guard& g : n.guards) {
        const int64_t v = EvalIndex(g.index, point);
        if (v < 0 || v >= g.limit) return n.value;
      }
      return buffers[n.buffer][EvalIndex(n.index, point)];
    }
    case ExprOp::kConst:
      return n.value;
    case ExprOp::kAcc:
      return acc;
    case ExprOp::kAdd:
      return a() + b();
    case ExprOp::kSub:
      return a() - b();
    case ExprOp::kMul:
      return a() * b();
    case ExprOp::kDiv:
      return a() / b();
    case ExprOp::kMax: {
      const float x = a(), y = b();
      return x < y ? y : x;
    }
    case ExprOp::kMin: {
      const float x = a(), y = b();
      return y < x ? y : x;
    }
    case ExprOp::kNeg:
      return -a();
    case ExprOp::kRelu: {
      const float x = a();
      return x < 0 ? 0.0f : x;
    }
    case ExprOp::kSigmoid:
      return Sigmoid(a());
    case ExprOp::kTanh:
      return std::tanh(a());
    case ExprOp::kExp:
      return std::exp(a());
    case ExprOp::kGelu:
      return Gelu(a());
    case ExprOp::kRsqrt:
      return 1.0f / std::sqrt(a());
    case ExprOp::kSqrt:
      return std::sqrt(a());
  }
  return 0;
}

// Advances `point` over the axes where `select(axis)` holds, row-major;
// false after the last point.
template <typename F>
bool Next(const LoopNest& nest, std::vector<int64_t>& point, F select) {
  for (int a = nest.num_axes() - 1; a >= 0; --a) {
    if (!select(a)) continue;
    if (++point[U(a)] < nest.axis(a).extent) return true;
    point[U(a)] = 0;
  }
  return false;
}

}  // namespace

void InterpretNest(const LoopNest& nest, float* const* buffers) {
  std::vector<int64_t> point(U(nest.num_axes()), 0);
  auto spatial = [&](int a) { return !nest.axis(a).reduction; };
  auto reduction = [&](int a) { return nest.axis(a).reduction; };
  do {
    float acc = 0;
    if (nest.combiner() != Combiner::kNone) {
      const bool max = nest.combiner() == Combiner::kMax;
      acc = max ? -std::numeric_limits<float>::infinity() : 0.0f;
      do {
        const float v = EvalNode(nest, nest.body(), point, buffers, 0);
        acc = max ? (acc < v ? v : acc) : acc + v;
      } while (Next(nest, point, reduction));
    }
    buffers[nest.out_buffer()][EvalIndex(nest.out_index(), point)] =
        EvalNode(nest, nest.result(), point, buffers, acc);
  } while (Next(nest, point, spatial));
}

// ---- Schedule.

int64_t Schedule::Step(int a, int level) const {
  const std::vector<int64_t>& t = tiles[U(a)];
  return level < static_cast<int>(t.size()) ? t[U(level)] : 1;
}

bool Schedule::IsUnrolled(LoopRef l) const {
  return std::find(unrolled.begin(), unrolled.end(), l) != unrolled.end();
}

Schedule Schedule::Default(const LoopNest& nest) {
  Schedule s;
  s.tiles.resize(U(nest.num_axes()));
  for (int a = 0; a < nest.num_axes(); ++a) s.order.push_back({a, 0});
  return s;
}

absl::Status Schedule::Validate(const LoopNest& nest) const {
  auto fail = [&](const auto&... args) {
    return Invalid("schedule of '", nest.name(), "': ", args...);
  };
  if (tiles.size() != U(nest.num_axes())) return fail("tiles for ", tiles.size(), " axes");
  size_t loops = 0;
  for (int a = 0; a < nest.num_axes(); ++a) {
    const std::vector<int64_t>& t = tiles[U(a)];
    for (size_t l = 0; l < t.size(); ++l) {
      if (t[l] < 2) return fail("axis ", nest.axis(a).name, " has a tile of ", t[l]);
      if (l > 0 && (t[l] >= t[l - 1] || t[l - 1] % t[l] != 0)) {
        return fail("tiles of axis ", nest.axis(a).name, " must shrink by whole factors");
      }
    }
    loops += t.size() + 1;
  }
  if (order.size() != loops) return fail("the order has ", order.size(), " loops, not ", loops);
  std::vector<int> next_level(U(nest.num_axes()), 0);
  for (LoopRef l : order) {
    if (l.axis < 0 || l.axis >= nest.num_axes()) return fail("the order names axis ", l.axis);
    if (l.level != next_level[U(l.axis)]) {
      return fail("levels of axis ", nest.axis(l.axis).name, " out of order");
    }
    ++next_level[U(l.axis)];
  }
  for (LoopRef l : unrolled) {
    if (std::find(order.begin(), order.end(), l) == order.end()) {
      return fail("an unrolled loop is not in the order");
    }
  }
  const LoopRef vector_loop{vector_axis, vector_axis >= 0 ? Levels(vector_axis) - 1 : 0};
  if (vector_axis >= 0) {
    if (vector_axis >= nest.num_axes() || nest.axis(vector_axis).reduction) {
      return fail("the vector axis must be a spatial axis");
    }
    if (!(order.back() == vector_loop)) return fail("the vector loop must be innermost");
    if (vector_width < 1 || vector_width > 64) return fail("vector width ", vector_width);
  }
  if (parallel < 0 || parallel > static_cast<int>(order.size())) {
    return fail("parallel ", parallel);
  }
  for (int p = 0; p < parallel; ++p) {
    const LoopRef l = order[U(p)];
    if (nest.axis(l.axis).reduction) return fail("a parallel loop walks a reduction axis");
    if (IsUnrolled(l) || (vector_axis >= 0 && l == vector_loop)) {
      return fail("a parallel loop is unrolled or vectorized");
    }
  }
  // Trip counts of full tiles, for the size limits.
  auto trips = [&](LoopRef l) {
    const int64_t outer = l.level == 0 ? nest.axis(l.axis).extent : Step(l.axis, l.level - 1);
    int64_t n = (outer + Step(l.axis, l.level) - 1) / Step(l.axis, l.level);
    if (vector_axis >= 0 && l == vector_loop) n = (n + vector_width - 1) / vector_width;
    return n;
  };
  // Copies of the loop body in the generated code: unrolled loops, times the
  // specialised copies for partial tiles (one per path of tile sizes).
  int64_t body = 1;
  for (LoopRef l : unrolled) body = std::min(body * trips(l), kMaxUnrolledBody + 1);
  for (int a = 0; a < nest.num_axes(); ++a) {
    std::function<int64_t(int64_t, int)> paths = [&](int64_t tile, int level) -> int64_t {
      if (level == Levels(a) - 1) return 1;
      const int64_t step = Step(a, level);
      return (tile >= step ? paths(step, level + 1) : 0) +
             (tile % step != 0 ? paths(tile % step, level + 1) : 0);
    };
    body = std::min(body * paths(nest.axis(a).extent, 0), kMaxUnrolledBody + 1);
  }
  if (body > kMaxUnrolledBody) return fail("generates ", body, "+ copies of the body");
  if (nest.combiner() != Combiner::kNone) {
    // Accumulators: the register loops after the last other spatial loop.
    int last_memory = -1;
    for (size_t p = 0; p < order.size(); ++p) {
      const LoopRef l = order[p];
      if (!nest.axis(l.axis).reduction && !IsUnrolled(l)) last_memory = static_cast<int>(p);
    }
    int64_t accumulators = 1;
    for (size_t p = U(last_memory + 1); p < order.size(); ++p) {
      const LoopRef l = order[p];
      if (!nest.axis(l.axis).reduction) accumulators *= trips(l);
    }
    if (accumulators > kMaxAccumulators) {
      return fail("the register tile needs ", accumulators, " accumulators (at most ",
                  kMaxAccumulators, ")");
    }
  }
  return absl::OkStatus();
}

std::string Schedule::ToString(const LoopNest& nest) const {
  std::string out;
  for (size_t p = 0; p < order.size(); ++p) {
    const LoopRef l = order[p];
    if (!out.empty()) out += " ";
    StrAppend(&out, nest.axis(l.axis).name, ":", l.level);
    if (l.level < Levels(l.axis) - 1) StrAppend(&out, "/", Step(l.axis, l.level));
    std::string marks;
    if (static_cast<int>(p) < parallel) marks += "p";
    if (IsUnrolled(l)) marks += "u";
    if (l.axis == vector_axis && l.level == Levels(l.axis) - 1) StrAppend(&marks, "v", vector_width);
    if (!marks.empty()) StrAppend(&out, "(", marks, ")");
  }
  return out;
}

int64_t ParallelIterations(const LoopNest& nest, const Schedule& schedule) {
  int64_t n = 1;
  for (int p = 0; p < schedule.parallel; ++p) {
    const LoopRef l = schedule.order[U(p)];
    const int64_t outer =
        l.level == 0 ? nest.axis(l.axis).extent : schedule.Step(l.axis, l.level - 1);
    const int64_t step = schedule.Step(l.axis, l.level);
    n *= (outer + step - 1) / step;
  }
  return n;
}

}  // namespace lemma::cpu
