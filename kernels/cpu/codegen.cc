#include "kernels/cpu/codegen.h"

#include <atomic>
#include <bit>
#include <cstdint>
#include <map>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "ir/file_io.h"
#include "ir/strings.h"

#ifdef LEMMA_HAS_LLVM
#include "kernels/cpu/jit.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/Support/raw_ostream.h"
#endif

namespace lemma::cpu {

void CompiledKernel::Run(float* const* buffers, ThreadPool& pool) const {
  if (iterations_ <= 1 || pool.threads() == 1) {
    fn_(buffers, 0, iterations_);
    return;
  }
  pool.ParallelFor(iterations_, [&](int64_t begin, int64_t end) { fn_(buffers, begin, end); });
}

#ifdef LEMMA_HAS_LLVM

namespace {

// Loads whose lanes are up to this many elements apart are made of contiguous
// loads and a shuffle rather than a gather (slow, or split into scalar loads,
// on many x86 cores).
constexpr int64_t kMaxShuffledStride = 4;

size_t U(int64_t i) { return static_cast<size_t>(i); }

// The state of the walk over the loops at one point of the generated code:
// which loop variables are bound (an i64 element offset per level; constants
// inside unrolled loops), the static size of the current tile of each axis,
// and how many lanes of the vector chunk are active.
struct State {
  std::vector<std::vector<llvm::Value*>> offset;  // [axis][level]: var * step, or null
  std::vector<int64_t> tile;                      // [axis]
  int64_t lanes = 1;
  std::vector<int64_t> key;  // values of the register loops, inside the register region
  // [axis]: the tile an unrolled loop of the axis was bound in (0: none).
  std::vector<int64_t> unrolled_tile;
};

class Lowerer {
 public:
  Lowerer(const LoopNest& nest, const Schedule& schedule, llvm::Module& module,
          const std::string& cpu, const std::string& features)
      : nest_(nest),
        s_(schedule),
        module_(module),
        ctx_(module.getContext()),
        b_(ctx_),
        cpu_(cpu),
        features_(features) {
    v_ = s_.vector_axis >= 0 ? s_.vector_width : 1;
    i64_ = llvm::Type::getInt64Ty(ctx_);
    f32_ = llvm::Type::getFloatTy(ctx_);
    vec_ = llvm::FixedVectorType::get(f32_, static_cast<unsigned>(v_));
  }

  absl::StatusOr<llvm::Function*> Emit(const std::string& name);

 private:
  // ---- Constants and small helpers.
  llvm::Value* I64(int64_t v) { return llvm::ConstantInt::get(i64_, static_cast<uint64_t>(v), true); }
  llvm::Value* Splat(float v) { return llvm::ConstantFP::get(vec_, static_cast<double>(v)); }
  llvm::Value* SplatValue(llvm::Value* scalar) {
    return b_.CreateVectorSplat(static_cast<unsigned>(v_), scalar);
  }
  llvm::Value* LaneMask(int64_t lanes);
  llvm::Value* LaneSequence(int64_t stride);
  llvm::Value* Intrinsic(llvm::Intrinsic::ID id, std::vector<llvm::Value*> args);

  // ---- Loops.
  template <typename F>
  void CountedLoop(int64_t count, F body);
  template <typename F>
  void If(llvm::Value* cond, F then);
  int64_t Trips(LoopRef l) const;
  bool IsVectorLoop(LoopRef l) const {
    return s_.vector_axis == l.axis && l.level == s_.Levels(l.axis) - 1;
  }
  bool IsRegisterLoop(LoopRef l) const { return s_.IsUnrolled(l); }

  void WalkParallel(int p, State st, const std::vector<llvm::Value*>& vars);
  void Walk(int p, State st, bool in_region);
  void BindStatic(int p, const State& st, bool in_region,
                  const std::function<void(const State&)>& next);
  void Point(const State& st);
  void Region(const State& st);
  void Enumerate(int p, const State& st, std::vector<State>& out);
  void Accumulate(const State& st);

  // ---- Values.
  llvm::Value* Index(const AffineIndex& index, const State& st, int64_t* lane_stride);
  llvm::Value* Load(const ExprNode& n, const State& st);
  // A full vector of lanes `stride` elements apart from base[index], without
  // a gather. With a lane mask (null: every lane), only the elements of lanes
  // it keeps are read and the others read `fill`.
  llvm::Value* StridedLoad(llvm::Value* base, llvm::Value* index, int64_t stride,
                           llvm::Value* mask = nullptr, float fill = 0);
  // A load whose lanes are `stride` (> kMaxShuffledStride) elements apart and
  // that walks an unrolled block of vector_width elements of another axis
  // contiguously (see ElementwiseSchedule): the block's rows are read once as
  // contiguous vectors and transposed in registers, and each unrolled copy
  // takes its column. Null when the load is not of that form.
  llvm::Value* TransposedLoad(const ExprNode& n, const State& st, int64_t stride);
  std::vector<llvm::Value*> Transpose(std::vector<llvm::Value*> rows);
  void Store(llvm::Value* value, const State& st);
  llvm::Value* LoadOut(const State& st, float fill);
  llvm::Value* Expr(int node, const State& st, llvm::Value* acc,
                    std::map<int, llvm::Value*>& memo);
  llvm::Value* Combine(llvm::Value* acc, int body, const State& st);

  // ---- Math on vectors.
  llvm::Value* Select(llvm::Value* c, llvm::Value* a, llvm::Value* b) {
    return b_.CreateSelect(c, a, b);
  }
  llvm::Value* Max(llvm::Value* a, llvm::Value* b) { return Select(b_.CreateFCmpOLT(a, b), b, a); }
  llvm::Value* Min(llvm::Value* a, llvm::Value* b) { return Select(b_.CreateFCmpOLT(b, a), b, a); }
  llvm::Value* Fma(llvm::Value* a, llvm::Value* b, llvm::Value* c) {
    return Intrinsic(llvm::Intrinsic::fmuladd, {a, b, c});
  }
  llvm::Value* Exp(llvm::Value* x);
  llvm::Value* Tanh(llvm::Value* x);
  llvm::Value* Erf(llvm::Value* x);
  llvm::Value* Unary(ExprOp op, llvm::Value* x);

  const LoopNest& nest_;
  const Schedule& s_;
  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  std::string cpu_, features_;
  int64_t v_ = 1;
  llvm::Type* i64_ = nullptr;
  llvm::Type* f32_ = nullptr;
  llvm::FixedVectorType* vec_ = nullptr;
  llvm::Function* fn_ = nullptr;
  llvm::BasicBlock* entry_ = nullptr;
  std::vector<llvm::Value*> buffers_;
  int region_start_ = -1;  // first loop of the register region (reductions only)
  std::map<std::vector<int64_t>, llvm::AllocaInst*> accumulators_;
  // Transposed blocks of TransposedLoad, by load, loop state and basic block.
  std::map<std::vector<uintptr_t>, std::vector<llvm::Value*>> transposed_;
};

llvm::Value* Lowerer::LaneMask(int64_t lanes) {
  std::vector<llvm::Constant*> bits;
  for (int64_t i = 0; i < v_; ++i) bits.push_back(b_.getInt1(i < lanes));
  return llvm::ConstantVector::get(bits);
}

llvm::Value* Lowerer::LaneSequence(int64_t stride) {
  std::vector<llvm::Constant*> lanes;
  for (int64_t i = 0; i < v_; ++i) {
    lanes.push_back(llvm::ConstantInt::get(i64_, static_cast<uint64_t>(i * stride), true));
  }
  return llvm::ConstantVector::get(lanes);
}

llvm::Value* Lowerer::Intrinsic(llvm::Intrinsic::ID id, std::vector<llvm::Value*> args) {
  return b_.CreateIntrinsic(id, {args[0]->getType()}, args);
}

template <typename F>
void Lowerer::CountedLoop(int64_t count, F body) {
  if (count <= 0) return;
  if (count == 1) {
    body(I64(0));
    return;
  }
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx_, "loop", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "loop.exit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* var = b_.CreatePHI(i64_, 2);
  var->addIncoming(I64(0), pre);
  body(var);
  llvm::Value* next = b_.CreateAdd(var, I64(1), "", true, true);
  var->addIncoming(next, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpSLT(next, I64(count)), header, exit);
  b_.SetInsertPoint(exit);
}

template <typename F>
void Lowerer::If(llvm::Value* cond, F then) {
  if (auto* c = llvm::dyn_cast<llvm::ConstantInt>(cond)) {
    if (!c->isZero()) then();
    return;
  }
  llvm::BasicBlock* yes = llvm::BasicBlock::Create(ctx_, "then", fn_);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx_, "endif", fn_);
  b_.CreateCondBr(cond, yes, done);
  b_.SetInsertPoint(yes);
  then();
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

// Trip count of loop `l` in a full tile of its parent level.
int64_t Lowerer::Trips(LoopRef l) const {
  const int64_t outer = l.level == 0 ? nest_.axis(l.axis).extent : s_.Step(l.axis, l.level - 1);
  const int64_t step = s_.Step(l.axis, l.level);
  return (outer + step - 1) / step;
}

absl::StatusOr<llvm::Function*> Lowerer::Emit(const std::string& name) {
  llvm::Type* ptr = llvm::PointerType::getUnqual(llvm::PointerType::getUnqual(f32_));
  llvm::FunctionType* type =
      llvm::FunctionType::get(b_.getVoidTy(), {ptr, i64_, i64_}, /*isVarArg=*/false);
  fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
  fn_->addFnAttr(llvm::Attribute::NoUnwind);
  fn_->addFnAttr("target-cpu", cpu_);
  fn_->addFnAttr("target-features", features_);
  const std::string bits = StrCat(v_ * 32 < 128 ? 128 : v_ * 32);
  fn_->addFnAttr("min-legal-vector-width", bits);
  fn_->addFnAttr("prefer-vector-width", bits);
  entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn_);
  b_.SetInsertPoint(entry_);
  llvm::Argument* args = fn_->getArg(0);
  for (size_t i = 0; i < nest_.buffers().size(); ++i) {
    llvm::Value* slot = b_.CreateConstInBoundsGEP1_64(llvm::PointerType::getUnqual(f32_), args, i);
    buffers_.push_back(b_.CreateLoad(llvm::PointerType::getUnqual(f32_), slot));
  }
  // The register region starts after the last spatial loop that is not unrolled.
  if (nest_.combiner() != Combiner::kNone) {
    int last_memory = -1;
    for (size_t p = 0; p < s_.order.size(); ++p) {
      const LoopRef l = s_.order[p];
      if (!nest_.axis(l.axis).reduction && !IsRegisterLoop(l)) last_memory = static_cast<int>(p);
    }
    region_start_ = last_memory + 1;
  }
  State st;
  st.offset.resize(U(nest_.num_axes()));
  st.tile.resize(U(nest_.num_axes()));
  st.unrolled_tile.assign(U(nest_.num_axes()), 0);
  for (int a = 0; a < nest_.num_axes(); ++a) {
    st.offset[U(a)].assign(U(s_.Levels(a)), nullptr);
    st.tile[U(a)] = nest_.axis(a).extent;
  }
  st.lanes = v_;

  // for (f = begin; f < end; ++f): the fused parallel loops.
  llvm::Value* begin = fn_->getArg(1);
  llvm::Value* end = fn_->getArg(2);
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx_, "par", fn_);
  llvm::BasicBlock* body = llvm::BasicBlock::Create(ctx_, "par.body", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "par.exit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* f = b_.CreatePHI(i64_, 2);
  f->addIncoming(begin, entry_);
  b_.CreateCondBr(b_.CreateICmpSLT(f, end), body, exit);
  b_.SetInsertPoint(body);
  std::vector<llvm::Value*> vars(U(s_.parallel));
  llvm::Value* rest = f;
  for (int p = s_.parallel - 1; p >= 0; --p) {
    const int64_t trips = Trips(s_.order[U(p)]);
    vars[U(p)] = p == 0 ? rest : b_.CreateURem(rest, I64(trips));
    if (p > 0) rest = b_.CreateUDiv(rest, I64(trips));
  }
  WalkParallel(0, st, vars);
  f->addIncoming(b_.CreateAdd(f, I64(1)), b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  b_.CreateRetVoid();
  return fn_;
}

// The parallel loops: their variables come from the fused index; a partial
// tile runs a copy specialised to its size, and iterations past the end of a
// partial parent tile do nothing.
void Lowerer::WalkParallel(int p, State st, const std::vector<llvm::Value*>& vars) {
  if (p == s_.parallel) {
    Walk(p, std::move(st), false);
    return;
  }
  const LoopRef l = s_.order[U(p)];
  const int64_t step = s_.Step(l.axis, l.level);
  const int64_t tile = st.tile[U(l.axis)];
  const int64_t full = tile / step, rem = tile % step;
  llvm::Value* var = vars[U(p)];
  auto run = [&](int64_t size) {
    State inner = st;
    inner.offset[U(l.axis)][U(l.level)] = b_.CreateMul(var, I64(step), "", true, true);
    inner.tile[U(l.axis)] = size;
    WalkParallel(p + 1, std::move(inner), vars);
  };
  if (full > 0) {
    if (rem == 0 && full == Trips(l)) {
      run(step);
    } else {
      If(b_.CreateICmpSLT(var, I64(full)), [&] { run(step); });
    }
  }
  if (rem > 0) If(b_.CreateICmpEQ(var, I64(full)), [&] { run(rem); });
}

// Binds loop p statically to each of its values (an unrolled loop) and calls
// next with the resulting state.
void Lowerer::BindStatic(int p, const State& st, bool in_region,
                         const std::function<void(const State&)>& next) {
  const LoopRef l = s_.order[U(p)];
  const int64_t tile = st.tile[U(l.axis)];
  if (IsVectorLoop(l)) {
    for (int64_t c = 0; c * v_ < tile; ++c) {
      State inner = st;
      inner.offset[U(l.axis)][U(l.level)] = I64(c * v_);
      inner.lanes = std::min(v_, tile - c * v_);
      if (in_region) inner.key.push_back(c);
      next(inner);
    }
    return;
  }
  const int64_t step = s_.Step(l.axis, l.level);
  for (int64_t i = 0; i * step < tile; ++i) {
    State inner = st;
    inner.offset[U(l.axis)][U(l.level)] = I64(i * step);
    inner.tile[U(l.axis)] = std::min(step, tile - i * step);
    inner.unrolled_tile[U(l.axis)] = tile;
    if (in_region && !nest_.axis(l.axis).reduction) inner.key.push_back(i);
    next(inner);
  }
}

void Lowerer::Walk(int p, State st, bool in_region) {
  if (!in_region && p == region_start_) {
    Region(st);
    return;
  }
  if (p == static_cast<int>(s_.order.size())) {
    if (in_region) {
      Accumulate(st);
    } else {
      Point(st);
    }
    return;
  }
  const LoopRef l = s_.order[U(p)];
  const bool spatial_in_region = in_region && !nest_.axis(l.axis).reduction;
  if (s_.IsUnrolled(l) || spatial_in_region) {
    BindStatic(p, st, in_region, [&](const State& inner) { Walk(p + 1, inner, in_region); });
    return;
  }
  const int64_t tile = st.tile[U(l.axis)];
  if (IsVectorLoop(l)) {
    const int64_t full = tile / v_, rem = tile % v_;
    CountedLoop(full, [&](llvm::Value* var) {
      State inner = st;
      inner.offset[U(l.axis)][U(l.level)] = b_.CreateMul(var, I64(v_), "", true, true);
      inner.lanes = v_;
      Walk(p + 1, std::move(inner), in_region);
    });
    if (rem > 0) {
      State inner = st;
      inner.offset[U(l.axis)][U(l.level)] = I64(full * v_);
      inner.lanes = rem;
      Walk(p + 1, std::move(inner), in_region);
    }
    return;
  }
  const int64_t step = s_.Step(l.axis, l.level);
  const int64_t full = tile / step, rem = tile % step;
  CountedLoop(full, [&](llvm::Value* var) {
    State inner = st;
    inner.offset[U(l.axis)][U(l.level)] = b_.CreateMul(var, I64(step), "", true, true);
    inner.tile[U(l.axis)] = step;
    Walk(p + 1, std::move(inner), in_region);
  });
  if (rem > 0) {
    State inner = st;
    inner.offset[U(l.axis)][U(l.level)] = I64(full * step);
    inner.tile[U(l.axis)] = rem;
    Walk(p + 1, std::move(inner), in_region);
  }
}

// One point without a reduction: evaluate and store.
void Lowerer::Point(const State& st) {
  std::map<int, llvm::Value*> memo;
  Store(Expr(nest_.result(), st, nullptr, memo), st);
}

// The register states of the region below loop p: one per combination of
// values of its spatial (unrolled) loops.
void Lowerer::Enumerate(int p, const State& st, std::vector<State>& out) {
  if (p == static_cast<int>(s_.order.size())) {
    out.push_back(st);
    return;
  }
  const LoopRef l = s_.order[U(p)];
  if (nest_.axis(l.axis).reduction) {
    Enumerate(p + 1, st, out);
    return;
  }
  BindStatic(p, st, true, [&](const State& inner) { Enumerate(p + 1, inner, out); });
}

// The register region: accumulators start from the combiner's identity (or
// from the partial result in the output when an outer reduction loop has run
// before), the inner reduction loops accumulate in registers, and the result
// expression runs when the outer reduction loops are at their last tile.
void Lowerer::Region(const State& st) {
  std::vector<State> combos;
  Enumerate(region_start_, st, combos);
  llvm::Value* first = b_.getTrue();
  llvm::Value* last = b_.getTrue();
  for (int a = 0; a < nest_.num_axes(); ++a) {
    if (!nest_.axis(a).reduction) continue;
    llvm::Value* base = nullptr;
    for (llvm::Value* off : st.offset[U(a)]) {
      if (off == nullptr) continue;
      first = b_.CreateAnd(first, b_.CreateICmpEQ(off, I64(0)));
      base = base == nullptr ? off : b_.CreateAdd(base, off);
    }
    if (base != nullptr) {
      last = b_.CreateAnd(
          last, b_.CreateICmpEQ(b_.CreateAdd(base, I64(st.tile[U(a)])), I64(nest_.axis(a).extent)));
    }
  }
  const float identity =
      nest_.combiner() == Combiner::kMax ? -std::numeric_limits<float>::infinity() : 0.0f;
  llvm::IRBuilder<> entry(entry_, entry_->begin());
  accumulators_.clear();
  for (const State& c : combos) {
    llvm::AllocaInst* slot = entry.CreateAlloca(vec_);
    accumulators_[c.key] = slot;
    llvm::Value* init = Splat(identity);
    if (!llvm::isa<llvm::ConstantInt>(first) || !llvm::cast<llvm::ConstantInt>(first)->isOne()) {
      init = Select(first, init, LoadOut(c, identity));
    }
    b_.CreateStore(init, slot);
  }
  State inner = st;
  inner.key.clear();
  Walk(region_start_, inner, true);
  for (const State& c : combos) {
    llvm::AllocaInst* slot = accumulators_.at(c.key);
    llvm::Value* acc = b_.CreateLoad(vec_, slot);
    std::map<int, llvm::Value*> memo;
    llvm::Value* result = Expr(nest_.result(), c, acc, memo);
    if (!llvm::isa<llvm::ConstantInt>(last) || !llvm::cast<llvm::ConstantInt>(last)->isOne()) {
      result = Select(last, result, acc);
    }
    Store(result, c);
  }
}

void Lowerer::Accumulate(const State& st) {
  llvm::AllocaInst* slot = accumulators_.at(st.key);
  llvm::Value* acc = b_.CreateLoad(vec_, slot);
  b_.CreateStore(Combine(acc, nest_.body(), st), slot);
}

llvm::Value* Lowerer::Combine(llvm::Value* acc, int body, const State& st) {
  std::map<int, llvm::Value*> memo;
  const ExprNode& n = nest_.node(body);
  if (nest_.combiner() == Combiner::kSum && n.op == ExprOp::kMul) {
    return Fma(Expr(n.a, st, nullptr, memo), Expr(n.b, st, nullptr, memo), acc);
  }
  llvm::Value* v = Expr(body, st, nullptr, memo);
  return nest_.combiner() == Combiner::kSum ? b_.CreateFAdd(acc, v) : Max(acc, v);
}

// The scalar value of `index` at lane 0, and in *lane_stride its step per lane.
llvm::Value* Lowerer::Index(const AffineIndex& index, const State& st, int64_t* lane_stride) {
  llvm::Value* sum = I64(index.offset);
  int64_t lanes = 0;
  for (const IndexTerm& t : index.terms) {
    const std::vector<llvm::Value*>& offsets = st.offset[U(t.axis)];
    for (int l = 0; l < static_cast<int>(offsets.size()); ++l) {
      llvm::Value* off = offsets[U(l)];
      if (off == nullptr) continue;
      const int64_t step = s_.Step(t.axis, l);
      llvm::Value* part = nullptr;
      if (t.part == AxisPart::kWhole) part = off;
      if (t.part == AxisPart::kQuotient && step >= t.block) {
        part = b_.CreateExactUDiv(off, I64(t.block));
      }
      if (t.part == AxisPart::kRemainder && step < t.block) part = off;
      if (part != nullptr) sum = b_.CreateAdd(sum, b_.CreateMul(part, I64(t.coeff)));
    }
    if (t.axis == s_.vector_axis) {
      const bool whole = t.part == AxisPart::kWhole ||
                         (t.part == AxisPart::kQuotient && t.block == 1) ||
                         (t.part == AxisPart::kRemainder && t.block > 1);
      if (whole) lanes += t.coeff;
    }
  }
  *lane_stride = v_ > 1 ? lanes : 0;
  return sum;
}

llvm::Value* Lowerer::Load(const ExprNode& n, const State& st) {
  int64_t stride = 0;
  llvm::Value* index = Index(n.index, st, &stride);
  llvm::Value* base = buffers_[U(n.buffer)];
  llvm::Value* scalar_ok = nullptr;  // guards that do not depend on the lane
  llvm::Value* lane_ok = nullptr;    // guards that do
  std::vector<Guard> lane_guards;
  for (const Guard& g : n.guards) {
    int64_t gs = 0;
    llvm::Value* gi = Index(g.index, st, &gs);
    if (gs == 0) {
      llvm::Value* ok = b_.CreateICmpULT(gi, I64(g.limit));
      scalar_ok = scalar_ok == nullptr ? ok : b_.CreateAnd(scalar_ok, ok);
    } else {
      lane_guards.push_back(g);
      llvm::Value* lanes = b_.CreateAdd(b_.CreateVectorSplat(U(v_), gi), LaneSequence(gs));
      llvm::Value* ok = b_.CreateICmpULT(lanes, b_.CreateVectorSplat(U(v_), I64(g.limit)));
      lane_ok = lane_ok == nullptr ? ok : b_.CreateAnd(lane_ok, ok);
    }
  }
  const llvm::Align align(4);
  if (stride == 0) {
    // One element for every lane.
    if (scalar_ok != nullptr) index = Select(scalar_ok, index, I64(0));
    llvm::Value* value = b_.CreateLoad(f32_, b_.CreateInBoundsGEP(f32_, base, index));
    if (scalar_ok != nullptr) {
      value = Select(scalar_ok, value, llvm::ConstantFP::get(f32_, static_cast<double>(n.value)));
    }
    llvm::Value* splat = SplatValue(value);
    if (lane_ok != nullptr) splat = Select(lane_ok, splat, Splat(n.value));
    return splat;
  }
  // Guards that hold or fail for every lane alike branch around the load. A
  // masked load reads nothing where its mask is off, but the address still
  // goes to the memory system, and one on a page with no mapping (before or
  // after the buffer) takes a microcode assist: about 125 ns for each such
  // load on this machine's cores against under 1 ns, which made a 3x3
  // depthwise conv on a 14x14 slice 4-9x slower on its border rows than on
  // the interior, depending on where its buffer happened to be placed.
  if (scalar_ok != nullptr) {
    llvm::BasicBlock* from = b_.GetInsertBlock();
    llvm::BasicBlock* inside = llvm::BasicBlock::Create(ctx_, "inside", fn_);
    llvm::BasicBlock* joined = llvm::BasicBlock::Create(ctx_, "joined", fn_);
    b_.CreateCondBr(scalar_ok, inside, joined);
    b_.SetInsertPoint(inside);
    ExprNode lane_guarded = n;
    lane_guarded.guards = std::move(lane_guards);
    llvm::Value* value = Load(lane_guarded, st);
    llvm::BasicBlock* end = b_.GetInsertBlock();
    b_.CreateBr(joined);
    b_.SetInsertPoint(joined);
    llvm::PHINode* phi = b_.CreatePHI(vec_, 2);
    phi->addIncoming(Splat(n.value), from);
    phi->addIncoming(value, end);
    return phi;
  }
  llvm::Value* mask = st.lanes < v_ ? LaneMask(st.lanes) : nullptr;
  auto and_mask = [&](llvm::Value* m) { mask = mask == nullptr ? m : b_.CreateAnd(mask, m); };
  if (lane_ok != nullptr) and_mask(lane_ok);
  if (stride == 1) {
    llvm::Value* ptr = b_.CreateBitCast(b_.CreateInBoundsGEP(f32_, base, index),
                                        llvm::PointerType::getUnqual(vec_));
    if (mask == nullptr) return b_.CreateAlignedLoad(vec_, ptr, align);
    return b_.CreateMaskedLoad(vec_, ptr, align, mask, Splat(n.value));
  }
  if (stride >= 2 && stride <= kMaxShuffledStride && stride < v_) {
    return StridedLoad(base, index, stride, mask, n.value);
  }
  if (stride > kMaxShuffledStride && n.guards.empty()) {
    if (llvm::Value* column = TransposedLoad(n, st, stride)) return column;
  }
  llvm::Value* lanes = b_.CreateAdd(b_.CreateVectorSplat(U(v_), index), LaneSequence(stride));
  llvm::Value* ptrs = b_.CreateInBoundsGEP(f32_, base, lanes);
  if (mask == nullptr) mask = LaneMask(v_);
  return b_.CreateMaskedGather(vec_, ptrs, align, mask, Splat(n.value));
}

llvm::Value* Lowerer::TransposedLoad(const ExprNode& n, const State& st, int64_t stride) {
  // The block axis: one whole term of coefficient 1, whose last level is an
  // unrolled loop over a tile of one vector.
  if ((v_ & (v_ - 1)) != 0) return nullptr;  // Transpose halves the width
  int t = -1;
  for (const IndexTerm& term : n.index.terms) {
    if (term.axis == s_.vector_axis || term.part != AxisPart::kWhole || term.coeff != 1) continue;
    const int levels = s_.Levels(term.axis);
    if (levels < 2 || !s_.IsUnrolled({term.axis, levels - 1}) ||
        s_.Step(term.axis, levels - 2) != v_ || st.unrolled_tile[U(term.axis)] == 0) {
      continue;
    }
    t = term.axis;
  }
  if (t < 0) return nullptr;
  for (const IndexTerm& term : n.index.terms) {
    if (term.axis == t && (term.part != AxisPart::kWhole || term.coeff != 1)) return nullptr;
  }
  const size_t level = U(s_.Levels(t) - 1);
  auto* column = llvm::dyn_cast_or_null<llvm::ConstantInt>(st.offset[U(t)][level]);
  if (column == nullptr) return nullptr;
  const int64_t columns = st.unrolled_tile[U(t)];
  // The key: the load (buffer, index, fill), the loop state but the column,
  // and the block the code goes into (a block's values dominate only what
  // follows them in it).
  std::vector<uintptr_t> key = {static_cast<uintptr_t>(n.buffer),
                                static_cast<uintptr_t>(n.index.offset),
                                static_cast<uintptr_t>(std::bit_cast<uint32_t>(n.value)),
                                static_cast<uintptr_t>(st.lanes), static_cast<uintptr_t>(columns),
                                reinterpret_cast<uintptr_t>(b_.GetInsertBlock())};
  for (const IndexTerm& term : n.index.terms) {
    key.insert(key.end(), {static_cast<uintptr_t>(term.axis), static_cast<uintptr_t>(term.coeff),
                           static_cast<uintptr_t>(term.part), static_cast<uintptr_t>(term.block)});
  }
  for (size_t a = 0; a < st.offset.size(); ++a) {
    for (size_t l = 0; l < st.offset[a].size(); ++l) {
      if (a != U(t) || l != level) key.push_back(reinterpret_cast<uintptr_t>(st.offset[a][l]));
    }
  }
  auto it = transposed_.find(key);
  if (it == transposed_.end()) {
    State first = st;
    first.offset[U(t)][level] = I64(0);
    int64_t lane_stride = 0;
    llvm::Value* index = Index(n.index, first, &lane_stride);
    const llvm::Align align(4);
    std::vector<llvm::Value*> rows;
    for (int64_t r = 0; r < v_; ++r) {
      if (r >= st.lanes) {
        rows.push_back(Splat(n.value));  // the gather's masked-off lanes
        continue;
      }
      llvm::Value* at = r == 0 ? index : b_.CreateAdd(index, I64(r * stride));
      llvm::Value* ptr = b_.CreateBitCast(b_.CreateInBoundsGEP(f32_, buffers_[U(n.buffer)], at),
                                          llvm::PointerType::getUnqual(vec_));
      if (columns >= v_) {
        rows.push_back(b_.CreateAlignedLoad(vec_, ptr, align));
      } else {
        rows.push_back(b_.CreateMaskedLoad(vec_, ptr, align, LaneMask(columns), Splat(n.value)));
      }
    }
    it = transposed_.emplace(std::move(key), Transpose(std::move(rows))).first;
  }
  return it->second[U(column->getSExtValue())];
}

// Rows r[i][j] -> columns c[j][i], by swapping the off-diagonal blocks of
// half, quarter, .. the width: log2(v) rounds of v two-source shuffles.
std::vector<llvm::Value*> Lowerer::Transpose(std::vector<llvm::Value*> rows) {
  const int v = static_cast<int>(v_);
  for (int half = v / 2; half >= 1; half /= 2) {
    std::vector<int> low, high;
    for (int l = 0; l < v; ++l) {
      low.push_back((l & half) == 0 ? l : v + l - half);
      high.push_back((l & half) == 0 ? l + half : v + l);
    }
    for (int i = 0; i < v; ++i) {
      if ((i & half) != 0) continue;
      llvm::Value* a = rows[U(i)];
      llvm::Value* b = rows[U(i + half)];
      rows[U(i)] = b_.CreateShuffleVector(a, b, low);
      rows[U(i + half)] = b_.CreateShuffleVector(a, b, high);
    }
  }
  return rows;
}

llvm::Value* Lowerer::StridedLoad(llvm::Value* base, llvm::Value* index, int64_t stride,
                                  llvm::Value* mask, float fill) {
  // `stride` contiguous vectors from lane 0's element, the last one masked to
  // the elements a lane needs (nothing past the last lane's is read), then
  // every stride-th lane picked by one shuffle. Under a lane mask each piece
  // reads only the elements of the lanes the mask keeps: element e of the
  // span belongs to lane e / stride when e % stride == 0; the masked-off
  // elements read `fill`, which the shuffle then places in their lanes.
  const llvm::Align align(4);
  std::vector<llvm::Value*> pieces;
  llvm::Value* none = mask == nullptr ? nullptr : llvm::ConstantVector::getNullValue(mask->getType());
  for (int64_t p = 0; p < stride; ++p) {
    llvm::Value* at = p == 0 ? index : b_.CreateAdd(index, I64(p * v_));
    llvm::Value* ptr = b_.CreateBitCast(b_.CreateInBoundsGEP(f32_, base, at),
                                        llvm::PointerType::getUnqual(vec_));
    if (mask != nullptr) {
      std::vector<int> lane_of;
      for (int64_t j = 0; j < v_; ++j) {
        const int64_t e = p * v_ + j;
        lane_of.push_back(static_cast<int>(e % stride == 0 && e / stride < v_ ? e / stride : v_));
      }
      llvm::Value* piece_mask = b_.CreateShuffleVector(mask, none, lane_of);
      pieces.push_back(b_.CreateMaskedLoad(vec_, ptr, align, piece_mask, Splat(fill)));
    } else if (p < stride - 1) {
      pieces.push_back(b_.CreateAlignedLoad(vec_, ptr, align));
    } else {
      pieces.push_back(b_.CreateMaskedLoad(vec_, ptr, align, LaneMask(v_ - stride + 1), Splat(0)));
    }
  }
  while ((pieces.size() & (pieces.size() - 1)) != 0) pieces.push_back(Splat(0));
  while (pieces.size() > 1) {
    const int width = static_cast<int>(llvm::cast<llvm::FixedVectorType>(pieces[0]->getType())
                                           ->getNumElements());
    std::vector<int> both;
    for (int i = 0; i < 2 * width; ++i) both.push_back(i);
    std::vector<llvm::Value*> next;
    for (size_t i = 0; i < pieces.size(); i += 2) {
      next.push_back(b_.CreateShuffleVector(pieces[i], pieces[i + 1], both));
    }
    pieces = std::move(next);
  }
  std::vector<int> pick;
  for (int64_t i = 0; i < v_; ++i) pick.push_back(static_cast<int>(i * stride));
  return b_.CreateShuffleVector(pieces[0], pick);
}

llvm::Value* Lowerer::LoadOut(const State& st, float fill) {
  ExprNode n;
  n.op = ExprOp::kLoad;
  n.buffer = nest_.out_buffer();
  n.index = nest_.out_index();
  n.value = fill;
  return Load(n, st);
}

void Lowerer::Store(llvm::Value* value, const State& st) {
  int64_t stride = 0;
  llvm::Value* index = Index(nest_.out_index(), st, &stride);
  llvm::Value* ptr = b_.CreateInBoundsGEP(f32_, buffers_[U(nest_.out_buffer())], index);
  const llvm::Align align(4);
  if (v_ == 1) {
    b_.CreateStore(b_.CreateExtractElement(value, uint64_t{0}), ptr);
    return;
  }
  llvm::Value* mask = st.lanes < v_ ? LaneMask(st.lanes) : nullptr;
  if (stride == 1) {
    llvm::Value* vptr = b_.CreateBitCast(ptr, llvm::PointerType::getUnqual(vec_));
    if (mask == nullptr) {
      b_.CreateAlignedStore(value, vptr, align);
    } else {
      b_.CreateMaskedStore(value, vptr, align, mask);
    }
    return;
  }
  llvm::Value* lanes = b_.CreateAdd(b_.CreateVectorSplat(U(v_), index), LaneSequence(stride));
  llvm::Value* ptrs = b_.CreateInBoundsGEP(f32_, buffers_[U(nest_.out_buffer())], lanes);
  b_.CreateMaskedScatter(value, ptrs, align, mask == nullptr ? LaneMask(v_) : mask);
}

llvm::Value* Lowerer::Expr(int node, const State& st, llvm::Value* acc,
                           std::map<int, llvm::Value*>& memo) {
  if (auto it = memo.find(node); it != memo.end()) return it->second;
  const ExprNode& n = nest_.node(node);
  llvm::Value* v = nullptr;
  switch (n.op) {
    case ExprOp::kLoad:
      v = Load(n, st);
      break;
    case ExprOp::kConst:
      v = Splat(n.value);
      break;
    case ExprOp::kAcc:
      v = acc;
      break;
    case ExprOp::kAdd:
      v = b_.CreateFAdd(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    case ExprOp::kSub:
      v = b_.CreateFSub(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    case ExprOp::kMul:
      v = b_.CreateFMul(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    case ExprOp::kDiv:
      v = b_.CreateFDiv(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    case ExprOp::kMax:
      v = Max(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    case ExprOp::kMin:
      v = Min(Expr(n.a, st, acc, memo), Expr(n.b, st, acc, memo));
      break;
    default:
      v = Unary(n.op, Expr(n.a, st, acc, memo));
      break;
  }
  memo[node] = v;
  return v;
}

llvm::Value* Lowerer::Unary(ExprOp op, llvm::Value* x) {
  switch (op) {
    case ExprOp::kNeg:
      return b_.CreateFNeg(x);
    case ExprOp::kRelu:
      return Select(b_.CreateFCmpOLT(x, Splat(0)), Splat(0), x);
    case ExprOp::kSigmoid:
      return b_.CreateFDiv(Splat(1), b_.CreateFAdd(Splat(1), Exp(b_.CreateFNeg(x))));
    case ExprOp::kTanh:
      return Tanh(x);
    case ExprOp::kExp:
      return Exp(x);
    case ExprOp::kGelu: {
      // x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
      llvm::Value* e = Erf(b_.CreateFMul(x, Splat(0.70710678118654752f)));
      return b_.CreateFMul(b_.CreateFMul(Splat(0.5f), x), b_.CreateFAdd(Splat(1), e));
    }
    case ExprOp::kRsqrt:
      return b_.CreateFDiv(Splat(1), Intrinsic(llvm::Intrinsic::sqrt, {x}));
    case ExprOp::kSqrt:
      return Intrinsic(llvm::Intrinsic::sqrt, {x});
    default:
      return x;
  }
}

// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial
// (Cephes' expf), times 2^n built in the exponent bits.
llvm::Value* Lowerer::Exp(llvm::Value* x) {
  x = Min(Max(x, Splat(-87.3365447505531f)), Splat(88.3762626647949f));
  llvm::Value* n = Intrinsic(llvm::Intrinsic::floor,
                             {Fma(x, Splat(1.44269504088896341f), Splat(0.5f))});
  llvm::Value* r = Fma(n, Splat(-0.693359375f), x);
  r = Fma(n, Splat(2.12194440e-4f), r);
  llvm::Value* p = Splat(1.9875691500e-4f);
  for (float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                  5.0000001201e-1f}) {
    p = Fma(p, r, Splat(c));
  }
  p = Fma(p, b_.CreateFMul(r, r), b_.CreateFAdd(r, Splat(1)));
  llvm::Type* ivec = llvm::FixedVectorType::get(b_.getInt32Ty(), static_cast<unsigned>(v_));
  llvm::Value* bits = b_.CreateShl(
      b_.CreateAdd(b_.CreateFPToSI(n, ivec), llvm::ConstantInt::get(ivec, 127)), 23);
  return b_.CreateFMul(p, b_.CreateBitCast(bits, vec_));
}

// tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|).
llvm::Value* Lowerer::Tanh(llvm::Value* x) {
  llvm::Value* ax = Intrinsic(llvm::Intrinsic::fabs, {x});
  llvm::Value* t = Exp(b_.CreateFMul(ax, Splat(-2.0f)));
  llvm::Value* r = b_.CreateFDiv(b_.CreateFSub(Splat(1), t), b_.CreateFAdd(Splat(1), t));
  return Intrinsic(llvm::Intrinsic::copysign, {r, x});
}

// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
llvm::Value* Lowerer::Erf(llvm::Value* x) {
  llvm::Value* ax = Intrinsic(llvm::Intrinsic::fabs, {x});
  llvm::Value* t = b_.CreateFDiv(Splat(1), Fma(ax, Splat(0.3275911f), Splat(1)));
  llvm::Value* p = Splat(1.061405429f);
  for (float c : {-1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f}) {
    p = Fma(p, t, Splat(c));
  }
  p = b_.CreateFMul(p, t);
  llvm::Value* e = Exp(b_.CreateFNeg(b_.CreateFMul(ax, ax)));
  llvm::Value* y = b_.CreateFSub(Splat(1), b_.CreateFMul(p, e));
  return Intrinsic(llvm::Intrinsic::copysign, {y, x});
}

// Checks what the lowering relies on beyond Validate(): blocks of quotient and
// remainder terms are tile sizes, and the vector loop writes distinct elements.
absl::Status CheckLowerable(const LoopNest& nest, const Schedule& s) {
  auto check = [&](const AffineIndex& index) -> absl::Status {
    for (const IndexTerm& t : index.terms) {
      if (t.part == AxisPart::kWhole || t.block == 1) continue;
      const std::vector<int64_t>& tiles = s.tiles[U(t.axis)];
      if (t.block >= nest.axis(t.axis).extent ||
          std::find(tiles.begin(), tiles.end(), t.block) != tiles.end()) {
        continue;
      }
      return absl::InvalidArgumentError(
          StrCat("schedule of '", nest.name(), "': block ", t.block, " of axis ",
                 nest.axis(t.axis).name, " is not one of its tile sizes"));
    }
    return absl::OkStatus();
  };
  for (const ExprNode& n : nest.nodes()) {
    if (n.op != ExprOp::kLoad) continue;
    if (absl::Status st = check(n.index); !st.ok()) return st;
    for (const Guard& g : n.guards) {
      if (absl::Status st = check(g.index); !st.ok()) return st;
    }
  }
  if (absl::Status st = check(nest.out_index()); !st.ok()) return st;
  if (s.vector_axis >= 0 && s.vector_width > 1) {
    bool found = false;
    for (const IndexTerm& t : nest.out_index().terms) {
      if (t.axis == s.vector_axis && t.coeff != 0) found = true;
    }
    if (!found) {
      return absl::InvalidArgumentError(
          StrCat("schedule of '", nest.name(), "': the result does not vary along the vector axis"));
    }
  }
  return absl::OkStatus();
}

struct Built {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
  std::string name;
};

absl::StatusOr<Built> Build(const LoopNest& nest, const Schedule& schedule) {
  if (absl::Status s = nest.Validate(); !s.ok()) return s;
  if (absl::Status s = schedule.Validate(nest); !s.ok()) return s;
  if (absl::Status s = CheckLowerable(nest, schedule); !s.ok()) return s;
  absl::StatusOr<Jit*> jit = Jit::Get();
  if (!jit.ok()) return jit.status();
  static std::atomic<uint64_t> counter{0};
  Built built;
  built.name = StrCat("lemma_kernel_", counter.fetch_add(1));
  built.context = std::make_unique<llvm::LLVMContext>();
  built.module = std::make_unique<llvm::Module>(built.name, *built.context);
  (*jit)->Prepare(*built.module);
  Lowerer lowerer(nest, schedule, *built.module, (*jit)->cpu(), (*jit)->features());
  absl::StatusOr<llvm::Function*> fn = lowerer.Emit(built.name);
  if (!fn.ok()) return fn.status();
  return built;
}

}  // namespace

bool CodegenAvailable() { return true; }

namespace {

std::mutex& AssemblyMutex() {
  static std::mutex mu;
  return mu;
}
std::string& AssemblyDir() {
  static auto* dir = new std::string();
  return *dir;
}

}  // namespace

void SetAssemblyDir(std::string dir) {
  std::lock_guard<std::mutex> lock(AssemblyMutex());
  AssemblyDir() = std::move(dir);
}

absl::StatusOr<std::shared_ptr<const CompiledKernel>> CompileKernel(const LoopNest& nest,
                                                                    const Schedule& schedule) {
  static std::mutex mu;
  static auto* cache = new absl::flat_hash_map<std::string, std::weak_ptr<const CompiledKernel>>();
  const std::string key = StrCat(nest.Key(), "#", schedule.ToString(nest));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache->find(key); it != cache->end()) {
      if (std::shared_ptr<const CompiledKernel> k = it->second.lock()) return k;
    }
  }
  absl::StatusOr<Built> built = Build(nest, schedule);
  if (!built.ok()) return built.status();
  absl::StatusOr<Jit*> jit = Jit::Get();
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(AssemblyMutex());
    dir = AssemblyDir();
  }
  std::string assembly;
  absl::StatusOr<std::shared_ptr<JitCode>> code =
      (*jit)->Load(std::move(built->module), std::move(built->context), built->name,
                   dir.empty() ? nullptr : &assembly);
  if (!code.ok()) return code.status();
  if (!dir.empty()) {
    const std::string text =
        StrCat("# ", nest.name(), "\n# ", schedule.ToString(nest), "\n", assembly);
    if (absl::Status s = WriteFileAtomically(StrCat(dir, "/", built->name, ".s"), text); !s.ok()) {
      return s;
    }
  }
  auto kernel = std::make_shared<const CompiledKernel>(
      reinterpret_cast<KernelFn>((*code)->address()), ParallelIterations(nest, schedule), *code);
  std::lock_guard<std::mutex> lock(mu);
  (*cache)[key] = kernel;
  return kernel;
}

absl::StatusOr<std::string> KernelIr(const LoopNest& nest, const Schedule& schedule,
                                     bool optimized) {
  absl::StatusOr<Built> built = Build(nest, schedule);
  if (!built.ok()) return built.status();
  if (optimized) (*Jit::Get())->Optimize(*built->module);
  std::string text;
  llvm::raw_string_ostream os(text);
  built->module->print(os, nullptr);
  return os.str();
}

#else  // !LEMMA_HAS_LLVM

bool CodegenAvailable() { return false; }

absl::StatusOr<std::shared_ptr<const CompiledKernel>> CompileKernel(const LoopNest& nest,
                                                                    const Schedule&) {
  return absl::UnimplementedError(
      StrCat("cannot compile '", nest.name(), "': lemma was built without LLVM (LEMMA_LLVM=OFF)"));
}

void SetAssemblyDir(std::string) {}

absl::StatusOr<std::string> KernelIr(const LoopNest& nest, const Schedule&, bool) {
  return absl::UnimplementedError(
      StrCat("cannot lower '", nest.name(), "': lemma was built without LLVM (LEMMA_LLVM=OFF)"));
}

#endif  // LEMMA_HAS_LLVM

}  // namespace lemma::cpu
