#ifndef LEMMA_KERNELS_CPU_LOOP_NEST_H_
#define LEMMA_KERNELS_CPU_LOOP_NEST_H_

// The loop-nest IR of the CPU backend: what a kernel computes (a LoopNest:
// iteration axes, buffers read through affine indices, one expression, an
// optional reduction) kept apart from how its loops run (a Schedule: tiles,
// loop order, one vectorized loop, unrolled loops, parallel loops). The code
// generator (kernels/cpu/codegen.h) lowers the pair to LLVM IR.
//
// A matmul C[i,j] = relu(sum_k A[i,k] * B[k,j]) reads:
//
//   LoopNest n("matmul");
//   const int i = n.AddAxis("i", m), j = n.AddAxis("j", nn), k = n.AddReduction("k", kk);
//   const int a = n.AddBuffer("a", m * kk), b = n.AddBuffer("b", kk * nn);
//   const int c = n.AddBuffer("c", m * nn, /*output=*/true);
//   n.SetReduction(Combiner::kSum, n.Mul(n.Load(a, {{i, kk}, {k, 1}}),
//                                        n.Load(b, {{k, nn}, {j, 1}})));
//   n.SetResult(c, {{i, nn}, {j, 1}}, n.Unary(ExprOp::kRelu, n.Acc()));
//
// Every index is affine in the axes; an index term may also read an axis
// divided by a block size, or modulo it, which is how packed layouts
// (B[j / 16][k][j % 16]) are written. Loads may carry guards (0 <= index <
// limit): an element outside reads the load's fill value instead, which is how
// padding is written.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lemma::cpu {

/// Which part of an axis value an index term reads.
enum class AxisPart : uint8_t {
  kWhole,      // the axis value v
  kQuotient,   // v / block
  kRemainder,  // v % block
};

/// coeff * part(axis value).
struct IndexTerm {
  int axis = 0;
  int64_t coeff = 1;
  AxisPart part = AxisPart::kWhole;
  int64_t block = 1;  // for kQuotient and kRemainder
};

/// offset + sum of the terms: an element offset into a buffer.
struct AffineIndex {
  std::vector<IndexTerm> terms;
  int64_t offset = 0;

  AffineIndex() = default;
  /// Whole-axis terms {axis, coeff}.
  AffineIndex(std::initializer_list<std::pair<int, int64_t>> whole, int64_t offset = 0);
  /// Adds coeff * part(axis) (terms of the same axis and part are merged).
  AffineIndex& Add(int axis, int64_t coeff, AxisPart part = AxisPart::kWhole, int64_t block = 1);
};

/// 0 <= index < limit.
struct Guard {
  AffineIndex index;
  int64_t limit = 0;
};

/// Operations of the expression. Loads, constants and the reduction result
/// are leaves; the rest take one (a) or two (a, b) operands.
enum class ExprOp : uint8_t {
  kLoad,
  kConst,
  kAcc,  // the reduced value (in the result expression of a reduction)
  // Binary.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,
  kMin,
  // Unary.
  kNeg,
  kRelu,
  kSigmoid,
  kTanh,
  kExp,
  kGelu,
  kRsqrt,
  kSqrt,
};

/// The name of `op` ("add", "relu", ...).
std::string_view ExprOpName(ExprOp op);
/// Whether `op` takes two operands.
bool IsBinary(ExprOp op);
/// Whether `op` takes one operand.
bool IsUnary(ExprOp op);

/// One node of the expression; nodes refer to earlier nodes by index.
struct ExprNode {
  ExprOp op = ExprOp::kConst;
  int a = -1, b = -1;
  int buffer = -1;            // kLoad
  AffineIndex index;          // kLoad
  std::vector<Guard> guards;  // kLoad: outside any guard the load reads `value`
  float value = 0;            // kConst; kLoad's fill value
};

/// How a reduction combines.
enum class Combiner : uint8_t { kNone, kSum, kMax };

/// An iteration axis. Spatial axes index the result; reduction axes are
/// reduced by the combiner.
struct Axis {
  std::string name;
  int64_t extent = 1;
  bool reduction = false;
};

/// A buffer argument of the kernel: `elements` floats.
struct BufferDecl {
  std::string name;
  int64_t elements = 0;
  bool output = false;
};

/// What a kernel computes: for every point of the spatial axes,
///   out[out_index] = result(acc), acc = combine over the reduction axes of body,
/// or out[out_index] = result without a reduction.
class LoopNest {
 public:
  explicit LoopNest(std::string name = "kernel") : name_(std::move(name)) {}

  // ---- Building.
  int AddAxis(std::string name, int64_t extent);
  int AddReduction(std::string name, int64_t extent);
  int AddBuffer(std::string name, int64_t elements, bool output = false);
  int Load(int buffer, AffineIndex index, std::vector<Guard> guards = {}, float fill = 0);
  int Const(float value);
  int Acc();
  int Unary(ExprOp op, int a);
  int Binary(ExprOp op, int a, int b);
  int Add(int a, int b) { return Binary(ExprOp::kAdd, a, b); }
  int Mul(int a, int b) { return Binary(ExprOp::kMul, a, b); }
  /// The reduction: `body` combined over the reduction axes, starting from the
  /// combiner's identity (0 for a sum, -inf for a max).
  void SetReduction(Combiner combiner, int body);
  /// Where and what is stored: `value` (which may use Acc()) at out_index of `buffer`.
  void SetResult(int buffer, AffineIndex out_index, int value);

  // ---- Access.
  const std::string& name() const { return name_; }
  const std::vector<Axis>& axes() const { return axes_; }
  const std::vector<BufferDecl>& buffers() const { return buffers_; }
  const std::vector<ExprNode>& nodes() const { return nodes_; }
  const ExprNode& node(int i) const { return nodes_[static_cast<size_t>(i)]; }
  Combiner combiner() const { return combiner_; }
  int body() const { return body_; }
  int result() const { return result_; }
  int out_buffer() const { return out_buffer_; }
  const AffineIndex& out_index() const { return out_index_; }
  int num_axes() const { return static_cast<int>(axes_.size()); }
  const Axis& axis(int a) const { return axes_[static_cast<size_t>(a)]; }

  /// Checks the nest: operands refer to earlier nodes, the reduction and the
  /// result are set consistently, indices name existing axes (the result's
  /// only spatial ones), blocks are positive, and every unguarded access stays
  /// inside its buffer for every point of the iteration space.
  absl::Status Validate() const;
  /// A readable listing, for plans and debugging.
  std::string ToString() const;
  /// A stable text key of the computation (names excluded).
  std::string Key() const;

 private:
  std::string name_;
  std::vector<Axis> axes_;
  std::vector<BufferDecl> buffers_;
  std::vector<ExprNode> nodes_;
  Combiner combiner_ = Combiner::kNone;
  int body_ = -1;
  int result_ = -1;
  int out_buffer_ = -1;
  AffineIndex out_index_;
};

/// Runs `nest` point by point, with no schedule: the meaning of the IR, which
/// generated kernels are tested against (and the fallback where lemma is
/// built without LLVM). `buffers` holds one pointer per buffer of the nest.
/// Reductions visit the reduction axes in row-major order.
void InterpretNest(const LoopNest& nest, float* const* buffers);

/// One loop of a schedule: level `level` of axis `axis`.
struct LoopRef {
  int axis = 0;
  int level = 0;
  friend bool operator==(LoopRef, LoopRef) = default;
};

/// How the loops of a nest run. Axis a is cut into tiles: tiles[a] lists tile
/// sizes from the outermost down, each a multiple of the next (e.g. {256, 8});
/// axis a then has tiles[a].size() + 1 loops ("levels"): level 0 walks tiles
/// of tiles[a][0], level l walks tiles of tiles[a][l] inside one of level l-1,
/// and the last level walks single elements. A partial last tile is run by a
/// copy of the loop body specialised to its size, so any extent works.
struct Schedule {
  std::vector<std::vector<int64_t>> tiles;  // per axis
  /// Every loop once, outermost first; an axis's levels in increasing order.
  std::vector<LoopRef> order;
  /// The spatial axis whose last level is vectorized (-1: none); that loop
  /// must be the innermost one of `order`. It walks chunks of vector_width
  /// lanes; a partial chunk is masked.
  int vector_axis = -1;
  int vector_width = 1;
  /// Loops unrolled completely. Spatial loops inside the innermost reduction
  /// loop must be unrolled (with the vector loop they form the register tile,
  /// whose accumulators live in registers).
  std::vector<LoopRef> unrolled;
  /// The number of leading loops of `order` (all spatial) that threads share.
  int parallel = 0;

  /// The number of levels of axis a.
  int Levels(int a) const { return static_cast<int>(tiles[static_cast<size_t>(a)].size()) + 1; }
  /// The step of level `level` of axis a (1 for its last level).
  int64_t Step(int a, int level) const;
  bool IsUnrolled(LoopRef l) const;
  /// A schedule with no tiles, the axes in order, nothing vectorized.
  static Schedule Default(const LoopNest& nest);
  /// Checks the schedule against `nest`; errors say which rule is broken.
  absl::Status Validate(const LoopNest& nest) const;
  /// A readable listing ("i:0/64 j:0/16 k:0 i:1(u) j:1(v16)").
  std::string ToString(const LoopNest& nest) const;
};

/// The number of iterations threads share: the product of the trip counts of
/// the `schedule.parallel` leading loops (a partial tile counts as one).
int64_t ParallelIterations(const LoopNest& nest, const Schedule& schedule);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_LOOP_NEST_H_
