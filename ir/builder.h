#ifndef LEMMA_IR_BUILDER_H_
#define LEMMA_IR_BUILDER_H_

// A builder for writing graphs by hand:
//
//   GraphBuilder b("block");
//   Value x = b.Input("x", DType::kF32, {1, 64, 56, 56});
//   Value y = b.Conv2d(x, 64, {3, 3}, {.padding = Padding::kSame,
//                                      .activation = Activation::kRelu});
//   b.Output("y", b.EwAdd(x, y));
//   absl::StatusOr<Graph> g = std::move(b).Build();
//
// Calls do not return errors one by one: the first error is kept, later calls
// become no-ops returning an invalid Value, and Build() returns that error with
// the call that caused it.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma {

using Value = ValueId;

struct Conv2dOptions {
  std::array<int64_t, 2> stride = {1, 1};
  Padding padding = Padding::kExplicit;
  std::array<int64_t, 4> pads = {0, 0, 0, 0};  // top, left, bottom, right
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t groups = 1;
  Activation activation = Activation::kNone;
};

struct Pool2dOptions {
  std::array<int64_t, 2> kernel = {3, 3};
  std::array<int64_t, 2> stride = {1, 1};
  Padding padding = Padding::kExplicit;
  std::array<int64_t, 4> pads = {0, 0, 0, 0};
  bool count_include_pad = false;  // avgpool2d only
};

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name = "graph");

  // Sources. An empty weight name is replaced by "w<k>".
  Value Input(std::string name, DType dtype, Dims dims);
  Value Weight(std::string name, DType dtype, Dims dims);

  // Generator ops.
  Value MatMul(Value a, Value b, Activation activation = Activation::kNone);
  Value Conv2d(Value x, Value w, const Conv2dOptions& options = {});
  /// Conv2d with a new weight [out_channels, C/groups, kernel] of x's dtype.
  Value Conv2d(Value x, int64_t out_channels, std::array<int64_t, 2> kernel,
               const Conv2dOptions& options = {});
  /// x[..., k] times a new weight [k, out_features].
  Value Dense(Value x, int64_t out_features, Activation activation = Activation::kNone);
  Value EwAdd(Value a, Value b);
  Value EwMul(Value a, Value b);
  Value ScalarMul(Value x, Value scalar);
  Value Relu(Value x);
  Value AvgPool2d(Value x, const Pool2dOptions& options);
  Value MaxPool2d(Value x, const Pool2dOptions& options);
  Value Concat(const std::vector<Value>& inputs, int64_t axis);
  std::vector<Value> Split(Value x, int64_t axis, std::vector<int64_t> sizes);
  Value Transpose(Value x, std::vector<int64_t> perm);
  Value Enlarge(Value w, std::array<int64_t, 2> kernel);
  Value ConstPool(int64_t channels, std::array<int64_t, 2> kernel, DType dtype = DType::kF32);
  Value ConstIdentityConv(int64_t channels, std::array<int64_t, 2> kernel,
                          DType dtype = DType::kF32);
  Value ConstIdentityMatrix(int64_t size, DType dtype = DType::kF32);
  Value ConstOnes(Dims dims, DType dtype = DType::kF32);

  // Ops of real models.
  Value Sigmoid(Value x);
  Value Tanh(Value x);
  Value Gelu(Value x);
  Value BatchNorm(Value x, Value scale, Value bias, Value mean, Value var, double epsilon = 1e-5);
  Value Softmax(Value x, int64_t axis = -1);
  Value Reshape(Value x, std::vector<int64_t> dims);
  Value BroadcastAdd(Value a, Value b);
  Value BroadcastMul(Value a, Value b);
  Value BroadcastSub(Value a, Value b);
  Value BroadcastDiv(Value a, Value b);
  Value LayerNorm(Value x, Value scale, Value bias, int64_t axis = -1, double epsilon = 1e-5);
  Value Pad(Value x, std::vector<int64_t> pads, double value = 0.0);
  Value Slice(Value x, std::vector<int64_t> axes, std::vector<int64_t> starts,
              std::vector<int64_t> ends, std::vector<int64_t> steps = {});
  Value ReduceSum(Value x, std::vector<int64_t> axes, bool keepdims = true);
  Value ReduceMean(Value x, std::vector<int64_t> axes, bool keepdims = true);
  Value ReduceMax(Value x, std::vector<int64_t> axes, bool keepdims = true);

  /// Any op, with attributes built by the caller. Returns all outputs.
  std::vector<Value> Op(OpKind op, const std::vector<Value>& inputs, Attributes attrs);

  /// Names a value (so that it prints by name).
  Value Name(Value v, std::string name);
  /// Marks `v` as the graph output `name`.
  void Output(std::string name, Value v);

  /// The type of `v` (which must be valid).
  const TensorType& type(Value v) const { return graph_.type(v); }
  const Dims& dims(Value v) const { return graph_.type(v).dims; }
  /// The first error, or OK.
  const absl::Status& status() const { return status_; }
  /// The graph read so far (for inspection while building).
  const Graph& graph() const { return graph_; }

  /// The finished graph, validated, or the first error.
  absl::StatusOr<Graph> Build() &&;

 private:
  Value Single(OpKind op, const std::vector<Value>& inputs, Attributes attrs);
  bool Usable(const std::vector<Value>& inputs) const;
  void Fail(const absl::Status& s, std::string_view context);

  Graph graph_;
  absl::Status status_;
  int next_weight_ = 0;
};

/// A graph of one op, as backends build to time an op alone: input i is a
/// weight named "w<i>" when weight[i] (prepared at plan time) and a graph
/// input "x<i>" otherwise; output j is "y<j>", in output_layouts[j] when
/// given. The op is node inputs.size(). Errors from shape inference (an
/// impossible op) are returned.
absl::StatusOr<Graph> SingleOpGraph(OpKind op, const Attributes& attrs,
                                    std::span<const TensorType> inputs,
                                    const std::vector<bool>& weight,
                                    std::span<const Layout> output_layouts = {});

}  // namespace lemma

#endif  // LEMMA_IR_BUILDER_H_
