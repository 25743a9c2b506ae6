#ifndef LEMMA_GENERATOR_UNIVERSE_H_
#define LEMMA_GENERATOR_UNIVERSE_H_

// What the generator enumerates over: the universe of input tensors (each dim
// a size variable or a constant, with the two concrete assignments A and B of
// generator/symbolic.h) and the op templates (an op of the generator op set
// with the attributes the enumeration gives it). Both are data; the search
// space (generator/space.h) applies templates to tensors through the op
// registry.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/symbolic.h"
#include "ir/attributes.h"
#include "ir/op_registry.h"

namespace lemma {

/// A size variable with its value in assignment A (the enumeration's sizes)
/// and in assignment B (every variable changed, for the generalisation test).
struct SizeVariable {
  std::string name;
  int64_t a;
  int64_t b;
};

/// An input tensor of the enumeration.
struct UniverseTensor {
  std::string name;
  SymShape shape;
};

/// The input tensors and their size variables.
struct Universe {
  std::vector<SizeVariable> variables;
  std::vector<UniverseTensor> tensors;

  /// The variables' names, by index.
  std::vector<std::string> VariableNames() const;
  /// Variable values in assignment A (which == 0) or B (which == 1).
  std::vector<int64_t> Values(int which) const;
  /// Index of the tensor named `name`, or -1.
  int FindTensor(std::string_view name) const;
};

/// The default universe, TASO's tensors with every size a variable (24, the
/// most a graph code addresses):
///   a1 a2 a3: [m, k]   b1 b2: [k, k]   b3: [k, j]   b4: [k, l]      (matrices)
///   x1 x2 x3: [n, c, h, w]                                          (images)
///   f1 f2: [c, c, 3, 3]   f3: [o, c, 3, 3]   f4: [e, c, 3, 3]
///   u1: [c, c, 1, 3]      u2: [o, c, 1, 3]
///   v1: [c, c, 3, 1]      v2: [o, c, 3, 1]
///   p1 p2: [c, c, 1, 1]   p3: [o, c, 1, 1]   p4: [e, c, 1, 1]
///   d1: [c, 1, 3, 3]                                         (conv kernels)
///   s: []                                                    (a scalar)
/// with A = {m=2, k=5, n=2, c=4, h=5, w=6, j=8, l=10, o=7, e=9} and B = {m=3,
/// k=4, n=3, c=6, h=4, w=7, j=2, l=9, o=5, e=11}. The values of A are
/// distinct, and differ from the kernel constants, so that each size is
/// recognisable by value. Weights come in two kinds: square ones (an output
/// that feeds the next op of the same kind: associativity, chains of convs,
/// residual sums) and ones whose output size is a variable of its own (j and
/// l for matrices, o and e for kernels), so that merging two matmuls or convs
/// that read the same input is found for any two output sizes. o and e are
/// odd at both assignments, so a kernel of theirs never divides into the
/// groups of a concatenated input.
Universe DefaultUniverse();

/// How a template gets attributes that depend on its inputs.
enum class DerivedAttr : uint8_t {
  kNone,
  kSplitSizes,  // split: sizes cut the input's axis where a concat joined it
  kConvGroups,  // conv2d: groups = input channels / kernel input channels
};

/// What an input of a template must be.
enum class Role : uint8_t {
  kAny,
  kNonScalar,  // rank >= 1
  kScalar,     // rank 0
  kSpatial,    // rank 4 with variable dims 2 and 3: an image
  kKernel,     // rank 4 with constant dims 2 and 3: a conv kernel
  kSmallKernel,  // a kernel smaller than 3x3 (what enlarge grows)
};

/// An attribute of a template written in size variables: an integer (one
/// value) or a list.
struct SymAttr {
  std::string_view name;
  std::vector<SymSize> values;
  bool is_list = false;
};

/// An op of the generator op set with the attributes the enumeration uses.
struct OpTemplate {
  std::string name;  // "conv2d_relu", "concat_axis1", ...
  OpKind op;
  int arity = 0;
  /// Required rank of each input (-1: any).
  std::array<int, 2> ranks = {-1, -1};
  std::array<Role, 2> roles = {Role::kAny, Role::kAny};
  /// The two inputs may be swapped: only one order is enumerated, and never
  /// the same tensor twice.
  bool commutative = false;
  /// Concrete attributes (activation, padding, axis, perm, kernel, ...).
  Attributes fixed;
  /// Attributes in size variables (the shape of a constant).
  std::vector<SymAttr> symbolic;
  DerivedAttr derived = DerivedAttr::kNone;
  /// kSplitSizes: the axis split.
  int axis = 0;
};

/// TASO's op set over `universe`'s variables: matmul, ewadd, ewmul,
/// scalar_mul, relu, conv2d (kernel from the weight, stride 1, same padding)
/// with and without fused relu, 3x3 avg and max pooling (stride 1, same),
/// concat and split of matrices along each axis and of 4-D tensors along
/// each axis (the spatial axes for images only), 2-D transpose, enlarge to
/// 3x3, and the constants const_pool, const_iconv (3x3), const_imm and
/// const_ones (4-D and 2-D). Variables used by constants: c, k, m, n, h, w.
std::vector<OpTemplate> DefaultTemplates(const Universe& universe);

/// The templates whose op name or template name is in `names` (all when
/// empty). Fails naming an entry that selects nothing.
absl::StatusOr<std::vector<OpTemplate>> SelectTemplates(std::vector<OpTemplate> templates,
                                                        const std::vector<std::string>& names);

/// The universe restricted to the tensors in `names` (all when empty), in
/// universe order. Fails naming an unknown tensor.
absl::StatusOr<Universe> SelectTensors(Universe universe, const std::vector<std::string>& names);

}  // namespace lemma

#endif  // LEMMA_GENERATOR_UNIVERSE_H_
