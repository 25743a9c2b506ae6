#ifndef LEMMA_IR_OP_REGISTRY_H_
#define LEMMA_IR_OP_REGISTRY_H_

// The operator registry: every op is described once, here — its name, arity,
// attribute schema, shape function and traits. Every component looks ops up in
// this table; the meaning of each op lives in the reference evaluator
// (kernels/reference.h).

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/attributes.h"
#include "ir/types.h"

namespace lemma {

enum class OpKind : uint16_t {
  // Sources: their type is declared, not inferred.
  kInput,
  kWeight,
  // The generator's operator set (TASO's, plus the constants).
  kMatMul,
  kConv2d,
  kEwAdd,
  kEwMul,
  kScalarMul,
  kRelu,
  kAvgPool2d,
  kMaxPool2d,
  kConcat,
  kSplit,
  kTranspose,
  kEnlarge,
  kConstPool,
  kConstIdentityConv,
  kConstIdentityMatrix,
  kConstOnes,
  // Ops real models need: shape, cost and reference meaning only.
  kSigmoid,
  kTanh,
  kGelu,
  kBatchNorm,
  kSoftmax,
  kReshape,
  kBroadcastAdd,
  kBroadcastMul,
  kLayerNorm,
  kPad,
  kSlice,
  kReduceSum,
  kReduceMean,
  kReduceMax,
  kBroadcastSub,
  kBroadcastDiv,
};
inline constexpr int kNumOpKinds = static_cast<int>(OpKind::kBroadcastDiv) + 1;

/// Traits of an op, as bit flags.
enum OpTrait : uint32_t {
  kTraitNone = 0,
  kTraitSource = 1u << 0,        // input or weight: no inputs, declared type
  kTraitConstant = 1u << 1,      // no inputs, value fixed by attributes
  kTraitElementwise = 1u << 2,   // output element i depends on input elements i only
  kTraitLinear = 1u << 3,        // linear in each input (multilinear)
  kTraitCommutative = 1u << 4,   // the two inputs may be swapped
  kTraitNonLinear = 1u << 5,     // has a fixed stand-in in modular arithmetic
  kTraitGenerator = 1u << 6,     // in the generator's (and verifier's) op set
  kTraitMultiOutput = 1u << 7,   // the number of outputs comes from attributes
};

/// Output types of an op from its input types and attributes. Errors name the
/// reason; the registry prefixes the op's name.
using ShapeFn = absl::StatusOr<std::vector<TensorType>> (*)(std::span<const TensorType> inputs,
                                                             const Attributes& attrs);

/// The one description of an op.
struct OpInfo {
  OpKind kind;
  std::string_view name;
  int min_inputs;
  int max_inputs;  // -1: variadic
  std::span<const AttrSpec> attrs;
  ShapeFn infer;  // null for sources
  uint32_t traits;
  std::string_view summary;  // one line: what the op computes

  bool Has(OpTrait t) const { return (traits & t) != 0; }
};

/// The registry entry of `op`.
const OpInfo& GetOpInfo(OpKind op);
/// The op named `name` in the text format, or nullopt.
std::optional<OpKind> FindOp(std::string_view name);
/// Every op, in OpKind order.
std::span<const OpInfo> AllOps();
inline std::string_view OpName(OpKind op) { return GetOpInfo(op).name; }

/// Checks arity, attribute completeness and input types, then runs the op's
/// shape function. Errors read "<op>: <reason>". Not for sources.
absl::StatusOr<std::vector<TensorType>> InferOutputTypes(OpKind op,
                                                         std::span<const TensorType> inputs,
                                                         const Attributes& attrs);

}  // namespace lemma

#endif  // LEMMA_IR_OP_REGISTRY_H_
