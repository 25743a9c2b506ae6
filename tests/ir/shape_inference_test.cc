// Shape inference per op, valid and invalid, as a table.

#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "ir/op_registry.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"

namespace lemma {
namespace {

using Ints = std::vector<int64_t>;

// An attribute to set: an AttrValue, or an enum given by name.
struct A {
  std::string name;
  std::variant<AttrValue, std::string> value;
};

struct Case {
  std::string label;
  std::string op;
  std::vector<std::string> inputs;  // "f32[1,2,3]"
  std::vector<A> attrs;
  std::vector<std::string> expected;  // output types, or empty when an error is expected
  std::string error;                  // substring of the error
};

TensorType ParseType(const std::string& s) {
  const size_t open = s.find('[');
  TensorType t = TensorType::Make(*ParseDType(s.substr(0, open)), {});
  std::string body = s.substr(open + 1, s.find(']') - open - 1);
  Dims dims;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find(',', pos);
    if (end == std::string::npos) end = body.size();
    dims.push_back(std::stoll(body.substr(pos, end - pos)));
    pos = end + 1;
  }
  return TensorType::Make(t.dtype, dims);
}

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.label; }

class ShapeInferenceTest : public testing::TestWithParam<Case> {};

TEST_P(ShapeInferenceTest, InfersOrRejects) {
  const Case& c = GetParam();
  std::optional<OpKind> op = FindOp(c.op);
  ASSERT_TRUE(op.has_value()) << c.op;
  Attributes attrs(*op);
  for (const A& a : c.attrs) {
    absl::Status s = std::holds_alternative<std::string>(a.value)
                         ? attrs.SetEnum(a.name, std::get<std::string>(a.value))
                         : attrs.Set(a.name, std::get<AttrValue>(a.value));
    if (!s.ok()) {
      ASSERT_TRUE(c.expected.empty()) << s;
      EXPECT_NE(ToStd(s.message()).find(c.error), std::string_view::npos) << s;
      return;
    }
  }
  std::vector<TensorType> in;
  for (const std::string& s : c.inputs) in.push_back(ParseType(s));
  absl::StatusOr<std::vector<TensorType>> out = InferOutputTypes(*op, in, attrs);
  if (c.expected.empty()) {
    ASSERT_FALSE(out.ok()) << "expected an error containing '" << c.error << "'";
    const std::string msg(out.status().message());
    EXPECT_EQ(msg.rfind(c.op + ": ", 0), 0u) << "error must name the op: " << msg;
    EXPECT_NE(msg.find(c.error), std::string::npos) << msg;
    return;
  }
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> got;
  for (const TensorType& t : *out) got.push_back(t.ToString());
  EXPECT_EQ(got, c.expected);
}

const Case kCases[] = {
    // matmul
    {"matmul_2d", "matmul", {"f32[2,3]", "f32[3,4]"}, {}, {"f32[2,4]"}, ""},
    {"matmul_batched", "matmul", {"f32[5,2,3]", "f32[3,4]"}, {}, {"f32[5,2,4]"}, ""},
    {"matmul_broadcast", "matmul", {"f32[5,1,2,3]", "f32[7,3,4]"}, {}, {"f32[5,7,2,4]"}, ""},
    {"matmul_relu", "matmul", {"f32[2,3]", "f32[3,4]"}, {{"activation", "relu"}}, {"f32[2,4]"}, ""},
    {"matmul_inner", "matmul", {"f32[2,3]", "f32[4,4]"}, {}, {}, "inner dimensions differ"},
    {"matmul_rank1", "matmul", {"f32[3]", "f32[3,4]"}, {}, {}, "rank >= 2"},
    {"matmul_batch", "matmul", {"f32[2,2,3]", "f32[3,3,4]"}, {}, {}, "batch dimensions"},
    {"matmul_dtype", "matmul", {"f32[2,3]", "f64[3,4]"}, {}, {}, "dtype"},
    {"matmul_arity", "matmul", {"f32[2,3]"}, {}, {}, "takes 2 input(s), got 1"},
    {"matmul_bad_act", "matmul", {"f32[2,3]", "f32[3,4]"}, {{"activation", "swish"}}, {}, "must be one of none, relu, sigmoid, tanh"},
    // conv2d
    {"conv_valid", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {}, {"f32[1,4,6,6]"}, ""},
    {"conv_same", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"padding", "same"}}, {"f32[1,4,8,8]"}, ""},
    {"conv_same_stride", "conv2d", {"f32[2,3,7,7]", "f32[4,3,3,3]"}, {{"padding", "same"}, {"stride", Ints{2, 2}}}, {"f32[2,4,4,4]"}, ""},
    {"conv_1x3", "conv2d", {"f32[1,4,5,5]", "f32[4,4,1,3]"}, {{"padding", "same"}}, {"f32[1,4,5,5]"}, ""},
    {"conv_pads", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"pads", Ints{1, 2, 1, 2}}}, {"f32[1,4,8,10]"}, ""},
    {"conv_dilation", "conv2d", {"f32[1,3,9,9]", "f32[4,3,3,3]"}, {{"dilation", Ints{2, 2}}}, {"f32[1,4,5,5]"}, ""},
    {"conv_groups", "conv2d", {"f32[1,8,5,5]", "f32[16,2,3,3]"}, {{"groups", int64_t{4}}, {"padding", "same"}}, {"f32[1,16,5,5]"}, ""},
    {"conv_channels", "conv2d", {"f32[1,3,8,8]", "f32[4,2,3,3]"}, {}, {}, "input channels"},
    {"conv_groups_div", "conv2d", {"f32[1,6,8,8]", "f32[4,3,3,3]"}, {{"groups", int64_t{4}}}, {}, "divisible by groups"},
    {"conv_groups_zero", "conv2d", {"f32[1,6,8,8]", "f32[4,3,3,3]"}, {{"groups", int64_t{0}}}, {}, "groups 0 must be positive"},
    {"conv_rank", "conv2d", {"f32[3,8,8]", "f32[4,3,3,3]"}, {}, {}, "input must have rank 4"},
    {"conv_too_small", "conv2d", {"f32[1,3,2,2]", "f32[4,3,3,3]"}, {}, {}, "does not fit"},
    {"conv_stride0", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"stride", Ints{0, 1}}}, {}, "stride 0 must be positive"},
    {"conv_same_with_pads", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"padding", "same"}, {"pads", Ints{1, 1, 1, 1}}}, {}, "given with padding=same"},
    {"conv_neg_pads", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"pads", Ints{-1, 0, 0, 0}}}, {}, "non-negative"},
    {"conv_stride_len", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"stride", Ints{1}}}, {}, "must have 2 elements"},
    {"conv_unknown_attr", "conv2d", {"f32[1,3,8,8]", "f32[4,3,3,3]"}, {{"kernel", Ints{3, 3}}}, {}, "has no attribute 'kernel'"},
    // elementwise
    {"ewadd", "ewadd", {"f32[2,3]", "f32[2,3]"}, {}, {"f32[2,3]"}, ""},
    {"ewadd_shape", "ewadd", {"f32[2,3]", "f32[3,2]"}, {}, {}, "same shape"},
    {"ewmul", "ewmul", {"i64[4]", "i64[4]"}, {}, {"i64[4]"}, ""},
    {"ewmul_dtype", "ewmul", {"i64[4]", "f32[4]"}, {}, {}, "dtype"},
    {"scalar_mul", "scalar_mul", {"f32[2,3]", "f32[]"}, {}, {"f32[2,3]"}, ""},
    {"scalar_mul_rank", "scalar_mul", {"f32[2,3]", "f32[1]"}, {}, {}, "rank 0"},
    {"relu", "relu", {"f64[2,3,4]"}, {}, {"f64[2,3,4]"}, ""},
    {"sigmoid", "sigmoid", {"f32[7]"}, {}, {"f32[7]"}, ""},
    {"tanh", "tanh", {"f32[]"}, {}, {"f32[]"}, ""},
    {"gelu", "gelu", {"f32[2,2]"}, {}, {"f32[2,2]"}, ""},
    {"relu_arity", "relu", {"f32[2]", "f32[2]"}, {}, {}, "takes 1 input(s), got 2"},
    // pools
    {"avgpool_same", "avgpool2d", {"f32[1,4,5,5]"}, {{"kernel", Ints{3, 3}}, {"padding", "same"}}, {"f32[1,4,5,5]"}, ""},
    {"maxpool_stride", "maxpool2d", {"f32[1,4,112,112]"}, {{"kernel", Ints{3, 3}}, {"stride", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}, {"f32[1,4,56,56]"}, ""},
    {"pool_missing_kernel", "maxpool2d", {"f32[1,4,5,5]"}, {}, {}, "missing required attribute 'kernel'"},
    {"pool_pad_too_big", "avgpool2d", {"f32[1,4,5,5]"}, {{"kernel", Ints{3, 3}}, {"pads", Ints{3, 0, 0, 0}}}, {}, "smaller than the kernel"},
    {"pool_empty", "maxpool2d", {"f32[1,1,0,0]"}, {{"kernel", Ints{3, 3}}, {"pads", Ints{2, 2, 2, 2}}}, {}, "no spatial elements"},
    {"pool_rank", "avgpool2d", {"f32[4,5,5]"}, {{"kernel", Ints{3, 3}}}, {}, "rank 4"},
    // concat / split
    {"concat", "concat", {"f32[1,2,5]", "f32[1,3,5]", "f32[1,1,5]"}, {{"axis", int64_t{1}}}, {"f32[1,6,5]"}, ""},
    {"concat_neg_axis", "concat", {"f32[2,3]", "f32[2,4]"}, {{"axis", int64_t{-1}}}, {"f32[2,7]"}, ""},
    {"concat_one", "concat", {"f32[2,3]"}, {{"axis", int64_t{0}}}, {"f32[2,3]"}, ""},
    {"concat_mismatch", "concat", {"f32[2,3]", "f32[3,3]"}, {{"axis", int64_t{1}}}, {}, "outside axis 1"},
    {"concat_axis", "concat", {"f32[2,3]", "f32[2,3]"}, {{"axis", int64_t{2}}}, {}, "axis 2 is out of range for rank 2"},
    {"concat_rank", "concat", {"f32[2,3]", "f32[2,3,1]"}, {{"axis", int64_t{0}}}, {}, "another rank"},
    {"concat_none", "concat", {}, {{"axis", int64_t{0}}}, {}, "takes at least 1 input(s), got 0"},
    {"split", "split", {"f32[2,6]"}, {{"axis", int64_t{1}}, {"sizes", Ints{1, 2, 3}}}, {"f32[2,1]", "f32[2,2]", "f32[2,3]"}, ""},
    {"split_sum", "split", {"f32[2,6]"}, {{"axis", int64_t{1}}, {"sizes", Ints{1, 2}}}, {}, "add up to 3"},
    {"split_empty", "split", {"f32[2,6]"}, {{"axis", int64_t{1}}, {"sizes", Ints{}}}, {}, "must not be empty"},
    // transpose / enlarge
    {"transpose", "transpose", {"f32[2,3,4]"}, {{"perm", Ints{2, 0, 1}}}, {"f32[4,2,3]"}, ""},
    {"transpose_bad", "transpose", {"f32[2,3,4]"}, {{"perm", Ints{0, 0, 1}}}, {}, "not a permutation"},
    {"transpose_rank", "transpose", {"f32[2,3]"}, {{"perm", Ints{0, 1, 2}}}, {}, "does not match rank"},
    {"enlarge", "enlarge", {"f32[4,4,1,3]"}, {{"kernel", Ints{3, 3}}}, {"f32[4,4,3,3]"}, ""},
    {"enlarge_odd", "enlarge", {"f32[4,4,1,1]"}, {{"kernel", Ints{2, 3}}}, {}, "larger by an even amount"},
    {"enlarge_shrink", "enlarge", {"f32[4,4,3,3]"}, {{"kernel", Ints{1, 1}}}, {}, "cannot enlarge kernel 3 to 1"},
    // constants
    {"const_pool", "const_pool", {}, {{"channels", int64_t{4}}, {"kernel", Ints{3, 3}}}, {"f32[4,1,3,3]"}, ""},
    {"const_iconv", "const_iconv", {}, {{"channels", int64_t{4}}, {"kernel", Ints{1, 3}}, {"dtype", "f64"}}, {"f64[4,4,1,3]"}, ""},
    {"const_iconv_even", "const_iconv", {}, {{"channels", int64_t{4}}, {"kernel", Ints{2, 2}}}, {}, "odd"},
    {"const_imm", "const_imm", {}, {{"size", int64_t{5}}}, {"f32[5,5]"}, ""},
    {"const_imm_zero", "const_imm", {}, {{"size", int64_t{0}}}, {}, "must be positive"},
    {"const_ones", "const_ones", {}, {{"shape", Ints{2, 3}}, {"dtype", "i64"}}, {"i64[2,3]"}, ""},
    {"const_ones_neg", "const_ones", {}, {{"shape", Ints{2, -3}}}, {}, "negative"},
    {"const_huge", "const_ones", {}, {{"shape", Ints{1 << 20, 1 << 20, 1 << 20}}}, {}, "elements"},
    {"const_arity", "const_ones", {"f32[2]"}, {{"shape", Ints{2}}}, {}, "takes 0 input(s), got 1"},
    // model ops
    {"batchnorm", "batchnorm", {"f32[2,3,4,4]", "f32[3]", "f32[3]", "f32[3]", "f32[3]"}, {}, {"f32[2,3,4,4]"}, ""},
    {"batchnorm_param", "batchnorm", {"f32[2,3,4,4]", "f32[3]", "f32[4]", "f32[3]", "f32[3]"}, {}, {}, "bias must have shape [3]"},
    {"batchnorm_eps", "batchnorm", {"f32[2,3]", "f32[3]", "f32[3]", "f32[3]", "f32[3]"}, {{"epsilon", -1.0}}, {}, "epsilon"},
    {"softmax", "softmax", {"f32[2,5]"}, {}, {"f32[2,5]"}, ""},
    {"softmax_axis", "softmax", {"f32[2,5]"}, {{"axis", int64_t{3}}}, {}, "out of range"},
    {"reshape", "reshape", {"f32[2,3,4]"}, {{"shape", Ints{6, -1}}}, {"f32[6,4]"}, ""},
    {"reshape_count", "reshape", {"f32[2,3,4]"}, {{"shape", Ints{5, 5}}}, {}, "cannot reshape"},
    {"reshape_two_unknown", "reshape", {"f32[2,3,4]"}, {{"shape", Ints{-1, -1}}}, {}, "more than one -1"},
    {"reshape_bad_unknown", "reshape", {"f32[2,3,4]"}, {{"shape", Ints{5, -1}}}, {}, "cannot reshape"},
    {"broadcast_add", "broadcast_add", {"f32[2,1,4]", "f32[3,1]"}, {}, {"f32[2,3,4]"}, ""},
    {"broadcast_mul", "broadcast_mul", {"f32[4]", "f32[]"}, {}, {"f32[4]"}, ""},
    {"broadcast_bad", "broadcast_add", {"f32[2,3]", "f32[4]"}, {}, {}, "do not broadcast"},
    {"broadcast_sub", "broadcast_sub", {"f32[3,1]", "f32[1,5]"}, {}, {"f32[3,5]"}, ""},
    {"broadcast_div", "broadcast_div", {"f32[2,3,4]", "f32[]"}, {}, {"f32[2,3,4]"}, ""},
    {"broadcast_div_bad", "broadcast_div", {"f32[2]", "f32[3]"}, {}, {}, "do not broadcast"},
    {"broadcast_sub_dtypes", "broadcast_sub", {"f32[2]", "f64[2]"}, {}, {}, "dtype"},
    {"layernorm", "layernorm", {"f32[2,8,16]", "f32[16]", "f32[16]"}, {}, {"f32[2,8,16]"}, ""},
    {"layernorm_axis", "layernorm", {"f32[2,8,16]", "f32[8,16]", "f32[8,16]"}, {{"axis", int64_t{1}}}, {"f32[2,8,16]"}, ""},
    {"layernorm_scale", "layernorm", {"f32[2,8,16]", "f32[8]", "f32[16]"}, {}, {}, "must have shape [16]"},
    {"pad", "pad", {"f32[1,3,4,4]"}, {{"pads", Ints{0, 0, 1, 2, 0, 0, 1, 2}}}, {"f32[1,3,6,8]"}, ""},
    {"pad_len", "pad", {"f32[1,3,4,4]"}, {{"pads", Ints{1, 1}}}, {}, "2 x rank = 8"},
    {"pad_neg", "pad", {"f32[4]"}, {{"pads", Ints{-1, 0}}}, {}, "non-negative"},
    {"slice", "slice", {"f32[4,10]"}, {{"axes", Ints{1}}, {"starts", Ints{1}}, {"ends", Ints{8}}, {"steps", Ints{3}}}, {"f32[4,3]"}, ""},
    {"slice_neg_axis", "slice", {"f32[4,10]"}, {{"axes", Ints{-2}}, {"starts", Ints{0}}, {"ends", Ints{2}}}, {"f32[2,10]"}, ""},
    {"slice_end", "slice", {"f32[4,10]"}, {{"axes", Ints{1}}, {"starts", Ints{0}}, {"ends", Ints{11}}}, {}, "0 <= start <= end <= 10"},
    {"slice_len", "slice", {"f32[4,10]"}, {{"axes", Ints{1}}, {"starts", Ints{0, 1}}, {"ends", Ints{2}}}, {}, "same length"},
    {"slice_twice", "slice", {"f32[4,10]"}, {{"axes", Ints{1, 1}}, {"starts", Ints{0, 0}}, {"ends", Ints{2, 2}}}, {}, "sliced twice"},
    {"slice_step", "slice", {"f32[4,10]"}, {{"axes", Ints{1}}, {"starts", Ints{0}}, {"ends", Ints{2}}, {"steps", Ints{0}}}, {}, "step 0 must be positive"},
    {"reduce_sum", "reduce_sum", {"f32[2,3,4]"}, {{"axes", Ints{1}}}, {"f32[2,1,4]"}, ""},
    {"reduce_mean", "reduce_mean", {"f32[2,3,4]"}, {{"axes", Ints{2, 1}}, {"keepdims", int64_t{0}}}, {"f32[2]"}, ""},
    {"reduce_max_all", "reduce_max", {"f32[2,3]"}, {{"axes", Ints{0, 1}}, {"keepdims", int64_t{0}}}, {"f32[]"}, ""},
    {"reduce_repeat", "reduce_sum", {"f32[2,3]"}, {{"axes", Ints{1, -1}}}, {}, "repeat an axis"},
    {"reduce_sum_empty_axis", "reduce_sum", {"f32[2,0]"}, {{"axes", Ints{1}}}, {"f32[2,1]"}, ""},
    {"reduce_mean_empty_axis", "reduce_mean", {"f32[2,0]"}, {{"axes", Ints{1}}}, {}, "reduces the empty axis 1"},
    {"reduce_max_empty_axis", "reduce_max", {"f32[0,2]"}, {{"axes", Ints{0}}}, {}, "reduces the empty axis 0"},
    {"reduce_empty", "reduce_sum", {"f32[2,3]"}, {{"axes", Ints{}}}, {}, "must not be empty"},
    // impossible shapes
    {"negative_dim", "relu", {"f32[2,-3]"}, {}, {}, "negative dimension"},
    {"too_large", "relu", {"f32[1048576,1048576,1048576]"}, {}, {}, "elements"},
    {"attr_kind", "concat", {"f32[2]"}, {{"axis", Ints{0}}}, {}, "must be an integer"},
};

INSTANTIATE_TEST_SUITE_P(Ops, ShapeInferenceTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.label; });

// Every op in the registry has a shape case above (sources excepted).
TEST(ShapeInferenceCoverage, EveryOpHasACase) {
  for (const OpInfo& info : AllOps()) {
    if (info.Has(kTraitSource)) continue;
    bool valid = false;
    for (const Case& c : kCases) valid |= (c.op == info.name && !c.expected.empty());
    EXPECT_TRUE(valid) << "no valid shape case for " << info.name;
  }
}

TEST(OpRegistry, NamesRoundTripAndAreUnique) {
  for (const OpInfo& info : AllOps()) {
    std::optional<OpKind> k = FindOp(info.name);
    ASSERT_TRUE(k.has_value()) << info.name;
    EXPECT_EQ(*k, info.kind);
    EXPECT_FALSE(info.summary.empty()) << info.name;
  }
  EXPECT_FALSE(FindOp("conv3d").has_value());
}

TEST(OpRegistry, GeneratorSetCoversTaso) {
  for (const char* name : {"matmul", "conv2d", "ewadd", "ewmul", "scalar_mul", "relu", "avgpool2d",
                           "maxpool2d", "concat", "split", "transpose", "enlarge", "const_pool",
                           "const_iconv", "const_imm", "const_ones"}) {
    ASSERT_TRUE(FindOp(name).has_value()) << name;
    EXPECT_TRUE(GetOpInfo(*FindOp(name)).Has(kTraitGenerator)) << name;
  }
}

TEST(ResolveWindow, SamePaddingPutsTheOddElementLast) {
  Attributes a(OpKind::kConv2d);
  ASSERT_TRUE(a.SetEnum("padding", "same").ok());
  ASSERT_TRUE(a.Set("stride", Ints{2, 2}).ok());
  absl::StatusOr<Window2d> w = ResolveWindow(8, 8, {3, 3}, a);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->out[0], 4);
  EXPECT_EQ(w->pads[0], 0);  // total padding 1: none before, one after
  EXPECT_EQ(w->pads[2], 1);
}

}  // namespace
}  // namespace lemma
