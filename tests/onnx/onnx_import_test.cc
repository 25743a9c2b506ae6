// The ONNX importer's error paths: every malformed or unsupported model gives a
// clear error naming the file (and the node, op type and opset where a node is
// at fault), never a crash.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/onnx_import.h"
#include "onnx/onnx_pb.h"

namespace lemma {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A model under construction: f32 inputs and outputs, nodes, initializers.
class ModelMaker {
 public:
  explicit ModelMaker(int64_t opset = 17) {
    model_.set_ir_version(8);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("g");
  }
  ModelMaker& Input(const std::string& name, std::vector<int64_t> dims,
                    int32_t type = onnx::TensorProto::FLOAT) {
    Info(model_.mutable_graph()->add_input(), name, dims, type);
    return *this;
  }
  ModelMaker& Output(const std::string& name, std::vector<int64_t> dims = {}) {
    auto* info = model_.mutable_graph()->add_output();
    if (dims.empty()) {
      info->set_name(name);
      info->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    } else {
      Info(info, name, dims, onnx::TensorProto::FLOAT);
    }
    return *this;
  }
  onnx::NodeProto* Node(const std::string& op, std::vector<std::string> in,
                        std::vector<std::string> out, const std::string& name = "") {
    onnx::NodeProto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  onnx::TensorProto* Initializer(const std::string& name, std::vector<int64_t> dims,
                                 std::vector<float> values) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return t;
  }
  onnx::ModelProto& proto() { return model_; }
  std::string Bytes() const { return model_.SerializeAsString(); }
  absl::StatusOr<Model> Import() const { return ParseOnnxModel(Bytes(), "m.onnx"); }

 private:
  static void Info(onnx::ValueInfoProto* info, const std::string& name,
                   const std::vector<int64_t>& dims, int32_t type) {
    info->set_name(name);
    auto* tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto model_;
};

// A small valid model: y = Relu(Conv(x, w) + b).
ModelMaker ConvModel() {
  ModelMaker m;
  m.Input("x", {1, 2, 4, 4}).Output("y", {1, 3, 4, 4});
  m.Initializer("w", {3, 2, 1, 1}, {1, 2, 3, 4, 5, 6});
  m.Initializer("b", {3}, {0.5, -1, 2});
  m.Node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  m.Node("Relu", {"c"}, {"y"}, "relu");
  return m;
}

std::string Message(const absl::StatusOr<Model>& m) {
  return m.ok() ? "OK" : std::string(m.status().message());
}

TEST(OnnxImport, ReadsAValidModel) {
  absl::StatusOr<Model> m = ConvModel().Import();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->weights.size(), 2u);
  EXPECT_EQ(m->graph.outputs().size(), 1u);
  EXPECT_EQ(m->weights.at("w").ToDoubles(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(OnnxImport, CorruptBytes) {
  absl::StatusOr<Model> m = ParseOnnxModel("\x0a\xff\xff\xff\xff\x0f garbage", "m.onnx");
  EXPECT_THAT(Message(m), AllOf(HasSubstr("m.onnx"), HasSubstr("not a valid ONNX model")));
}

TEST(OnnxImport, EveryTruncationFailsCleanly) {
  const std::string bytes = ConvModel().Bytes();
  int errors = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<Model> m = ParseOnnxModel(bytes.substr(0, n), "m.onnx");
    if (!m.ok()) {
      ++errors;
      EXPECT_THAT(std::string(m.status().message()), HasSubstr("m.onnx: ")) << n;
    }
  }
  EXPECT_EQ(errors, static_cast<int>(bytes.size()));
  EXPECT_THAT(Message(ParseOnnxModel(bytes.substr(0, bytes.size() / 2), "m.onnx")),
              HasSubstr("truncated or corrupt"));
}

TEST(OnnxImport, UnknownOpNamesNodeTypeAndOpset) {
  ModelMaker m(15);
  m.Input("x", {2}).Output("y");
  m.Node("Erf", {"x"}, {"y"}, "my_erf");
  EXPECT_THAT(Message(m.Import()), AllOf(HasSubstr("m.onnx: node 'my_erf' (Erf, opset 15)"),
                                          HasSubstr("op 'Erf' of opset 15 is not supported")));
}

TEST(OnnxImport, UnnamedNodeIsNamedByIndex) {
  ModelMaker m;
  m.Input("x", {2}).Output("y");
  m.Node("Relu", {"x"}, {"r"});
  m.Node("Cos", {"r"}, {"y"});
  EXPECT_THAT(Message(m.Import()), HasSubstr("node #1 (Cos, opset 17)"));
}

TEST(OnnxImport, OtherDomainsAreRefused) {
  ModelMaker m;
  m.Input("x", {2}).Output("y");
  m.Node("FusedGemm", {"x"}, {"y"}, "f")->set_domain("com.microsoft");
  EXPECT_THAT(Message(m.Import()), HasSubstr("domain 'com.microsoft'"));
}

TEST(OnnxImport, OpsetOutOfRange) {
  ModelMaker m(9);
  m.Input("x", {2}).Output("y");
  m.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(Message(m.Import()), HasSubstr("opset 9 is not supported (lemma reads opsets 11 to 21)"));
  ModelMaker none;
  none.proto().clear_opset_import();
  EXPECT_THAT(Message(none.Import()), HasSubstr("imports no opset"));
}

TEST(OnnxImport, MissingInitializer) {
  ModelMaker m;
  m.Input("x", {1, 2, 4, 4}).Output("y");
  m.Node("Conv", {"x", "w"}, {"y"}, "conv");
  EXPECT_THAT(Message(m.Import()),
              AllOf(HasSubstr("node 'conv' (Conv, opset 17)"), HasSubstr("input 'w' is not defined")));
}

TEST(OnnxImport, NodesOutOfOrder) {
  ModelMaker m;
  m.Input("x", {2}).Output("y");
  m.Node("Relu", {"r"}, {"y"}, "second");
  m.Node("Relu", {"x"}, {"r"}, "first");
  EXPECT_THAT(Message(m.Import()), AllOf(HasSubstr("node 'second'"), HasSubstr("'r' is not defined")));
}

TEST(OnnxImport, ValueDefinedTwice) {
  ModelMaker m;
  m.Input("x", {2}).Output("y");
  m.Node("Relu", {"x"}, {"y"}, "a");
  m.Node("Relu", {"x"}, {"y"}, "b");
  EXPECT_THAT(Message(m.Import()), HasSubstr("'y' is defined twice"));
}

TEST(OnnxImport, DeclaredShapeDisagrees) {
  ModelMaker m = ConvModel();
  m.proto().mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()
      ->mutable_shape()->mutable_dim(1)->set_dim_value(5);
  EXPECT_THAT(Message(m.Import()),
              AllOf(HasSubstr("m.onnx: node 'relu' (Relu, opset 17)"),
                    HasSubstr("declares f32[1,5,4,4] but lemma infers f32[1,3,4,4]")));
}

TEST(OnnxImport, InconsistentShapesNameTheNode) {
  ModelMaker m;
  m.Input("x", {1, 5, 4, 4}).Output("y");
  m.Initializer("w", {3, 2, 1, 1}, {1, 2, 3, 4, 5, 6});
  m.Node("Conv", {"x", "w"}, {"y"}, "conv");
  EXPECT_THAT(Message(m.Import()), AllOf(HasSubstr("node 'conv'"), HasSubstr("conv2d: weight")));
  ModelMaker add;
  add.Input("a", {2, 3}).Input("b", {4}).Output("y");
  add.Node("Add", {"a", "b"}, {"y"}, "add");
  EXPECT_THAT(Message(add.Import()), AllOf(HasSubstr("node 'add'"), HasSubstr("do not broadcast")));
}

TEST(OnnxImport, DimensionTooLarge) {
  ModelMaker m;
  m.Input("x", {int64_t{1} << 20, int64_t{1} << 20, 1 << 10}).Output("y");
  m.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(Message(m.Import()), AllOf(HasSubstr("m.onnx"), HasSubstr("graph input 'x'")));

  // An initializer that claims 2^40 elements but holds 4 bytes: refused before allocating.
  ModelMaker big;
  big.Input("x", {2}).Output("y");
  onnx::TensorProto* t = big.Initializer("w", {int64_t{1} << 20, int64_t{1} << 20}, {});
  t->set_raw_data("abcd");
  big.Node("Add", {"x", "w"}, {"y"}, "add");
  EXPECT_THAT(Message(big.Import()), HasSubstr("initializer 'w'"));

  // A pad whose output would be too large.
  ModelMaker pad;
  pad.Input("x", {4096, 4096}).Output("y");
  onnx::TensorProto* pads = pad.proto().mutable_graph()->add_initializer();
  pads->set_name("p");
  pads->set_data_type(onnx::TensorProto::INT64);
  pads->add_dims(4);
  for (int64_t p : {int64_t{0}, int64_t{0}, int64_t{1} << 20, int64_t{1} << 20}) pads->add_int64_data(p);
  pad.Node("Pad", {"x", "p"}, {"y"}, "pad");
  EXPECT_THAT(Message(pad.Import()), AllOf(HasSubstr("node 'pad'"), HasSubstr("has more than")));
}

TEST(OnnxImport, InitializerDataDoesNotMatchItsDims) {
  ModelMaker m;
  m.Input("x", {3}).Output("y");
  onnx::TensorProto* t = m.Initializer("w", {3}, {});
  t->set_raw_data(std::string(7, '\0'));
  m.Node("Add", {"x", "w"}, {"y"}, "add");
  EXPECT_THAT(Message(m.Import()), HasSubstr("needs 12 bytes of raw data, the file has 7"));
  ModelMaker few;
  few.Input("x", {3}).Output("y");
  few.Initializer("w", {3}, {1, 2});
  few.Node("Add", {"x", "w"}, {"y"}, "add");
  EXPECT_THAT(Message(few.Import()), HasSubstr("has 3 elements, the file holds 2"));
}

TEST(OnnxImport, ExternalDataAndOtherTypesAreRefused) {
  ModelMaker m;
  m.Input("x", {3}).Output("y");
  onnx::TensorProto* t = m.Initializer("w", {3}, {});
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  m.Node("Add", {"x", "w"}, {"y"}, "add");
  EXPECT_THAT(Message(m.Import()), HasSubstr("external data"));
  ModelMaker half;
  half.Input("x", {3}, onnx::TensorProto::FLOAT16).Output("y");
  half.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(Message(half.Import()), HasSubstr("FLOAT16"));
}

TEST(OnnxImport, SymbolicDimensions) {
  ModelMaker m;
  m.Input("x", {2}).Output("y");
  m.proto().mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->mutable_shape()->mutable_dim(0)->set_dim_param("batch");
  m.Node("Relu", {"x"}, {"y"});
  EXPECT_THAT(Message(m.Import()), HasSubstr("symbolic dimension 'batch'"));
  OnnxImportOptions options;
  options.dim_params["batch"] = 7;
  absl::StatusOr<Model> ok = ParseOnnxModel(m.Bytes(), "m.onnx", options);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->graph.type(*ok->graph.FindOutput("y")).dims, Dims{7});
}

TEST(OnnxImport, UnsupportedAttributesAreNamed) {
  ModelMaker m;
  m.Input("x", {1, 1, 4, 4}).Output("y");
  onnx::NodeProto* n = m.Node("Pad", {"x", "p"}, {"y"}, "pad");
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name("mode");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("reflect");
  EXPECT_THAT(Message(m.Import()), AllOf(HasSubstr("node 'pad'"), HasSubstr("mode 'reflect'")));
  ModelMaker t;
  t.Input("x", {1, 1, 4, 4}).Output("y");
  onnx::NodeProto* p = t.Node("MaxPool", {"x"}, {"y"}, "pool");
  onnx::AttributeProto* k = p->add_attribute();
  k->set_name("kernel_shape");
  k->set_type(onnx::AttributeProto::FLOAT);
  EXPECT_THAT(Message(t.Import()), HasSubstr("attribute 'kernel_shape' must be a list of integers"));
}

}  // namespace
}  // namespace lemma
