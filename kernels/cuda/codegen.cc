#include "kernels/cuda/codegen.h"

#include <bit>
#include <cstdio>

#include "ir/strings.h"

namespace lemma::cuda {
namespace {

// The device side of EwParams and RowParams: the same fields in the same
// order, all 8 bytes wide, so that the host structs can be passed as they are.
constexpr std::string_view kEwParams = R"(struct Params {
  unsigned long long out;
  unsigned long long in[8];
  long long n;
  long long rank;
  long long dims[8];
  long long out_offset;
  long long out_strides[8];
  long long in_offset[8];
  long long in_strides[8][8];
};
)";

constexpr std::string_view kRowParams = R"(struct Params {
  unsigned long long in;
  unsigned long long out;
  unsigned long long aux[2];
  long long rows;
  long long row_size;
  long long outer_rank;
  long long inner_rank;
  long long outer_dims[8];
  long long inner_dims[8];
  long long in_outer[8];
  long long in_inner[8];
  long long out_outer[8];
  long long out_inner[8];
  long long aux_inner[2][8];
  double epsilon;
};
)";

std::string Var(int i) { return StrCat("v", i); }

std::string FloatLiteral(float value) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "__int_as_float(0x%08x)", std::bit_cast<uint32_t>(value));
  return buf;
}

std::string InstrExpr(const EwInstr& in) {
  const std::string a = Var(in.a), b = Var(in.b);
  switch (in.op) {
    case EwOp::kLoad:
      return StrCat("((const float*)p.in[", in.input, "])[a", in.input, "]");
    case EwOp::kConst:
      return FloatLiteral(in.value);
    case EwOp::kAdd:
      return StrCat(a, " + ", b);
    case EwOp::kSub:
      return StrCat(a, " - ", b);
    case EwOp::kMul:
      return StrCat(a, " * ", b);
    case EwOp::kDiv:
      return StrCat(a, " / ", b);
    case EwOp::kRelu:
      return StrCat(a, " < 0.0f ? 0.0f : ", a);
    case EwOp::kSigmoid:
      return StrCat("1.0f / (1.0f + expf(-", a, "))");
    case EwOp::kTanh:
      return StrCat("tanhf(", a, ")");
    case EwOp::kGelu:
      return StrCat("0.5f * ", a, " * (1.0f + erff(", a, " * 0.70710678118654752f))");
  }
  return "0.0f";
}

std::string_view OpText(EwOp op) {
  switch (op) {
    case EwOp::kLoad: return "load";
    case EwOp::kConst: return "const";
    case EwOp::kAdd: return "add";
    case EwOp::kSub: return "sub";
    case EwOp::kMul: return "mul";
    case EwOp::kDiv: return "div";
    case EwOp::kRelu: return "relu";
    case EwOp::kSigmoid: return "sigmoid";
    case EwOp::kTanh: return "tanh";
    case EwOp::kGelu: return "gelu";
  }
  return "?";
}

}  // namespace

int EwProgram::Load(int input) {
  if (input >= num_inputs) num_inputs = input + 1;
  code.push_back({.op = EwOp::kLoad, .input = input});
  return static_cast<int>(code.size()) - 1;
}

int EwProgram::Const(float value) {
  code.push_back({.op = EwOp::kConst, .value = value});
  return static_cast<int>(code.size()) - 1;
}

int EwProgram::Unary(EwOp op, int a) {
  code.push_back({.op = op, .a = a});
  return static_cast<int>(code.size()) - 1;
}

int EwProgram::Binary(EwOp op, int a, int b) {
  code.push_back({.op = op, .a = a, .b = b});
  return static_cast<int>(code.size()) - 1;
}

std::string EwProgramText(const EwProgram& program) {
  std::string out;
  for (const EwInstr& in : program.code) {
    if (!out.empty()) out += ' ';
    out += OpText(in.op);
    if (in.op == EwOp::kLoad) out += StrCat(in.input);
  }
  return out;
}

std::string EwKernelSource(const EwProgram& program, int rank) {
  std::string s = StrCat("// lemma elementwise kernel: ", EwProgramText(program), "\n");
  s += kEwParams;
  s += StrCat("#define RANK ", rank, "\n");
  s += "extern \"C\" __global__ void lemma_kernel(const Params p) {\n";
  s += "  const long long step = (long long)gridDim.x * blockDim.x;\n";
  s += "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += step) {\n";
  s += "    long long rem = i;\n    long long o = p.out_offset;\n";
  for (int k = 0; k < program.num_inputs; ++k) s += StrCat("    long long a", k, " = p.in_offset[", k, "];\n");
  s += "#pragma unroll\n    for (int d = RANK - 1; d >= 0; --d) {\n";
  s += "      const long long c = rem % p.dims[d];\n      rem /= p.dims[d];\n";
  s += "      o += c * p.out_strides[d];\n";
  for (int k = 0; k < program.num_inputs; ++k) s += StrCat("      a", k, " += c * p.in_strides[", k, "][d];\n");
  s += "    }\n";
  for (size_t i = 0; i < program.code.size(); ++i) {
    s += StrCat("    const float ", Var(static_cast<int>(i)), " = ", InstrExpr(program.code[i]), ";\n");
  }
  s += StrCat("    ((float*)p.out)[o] = ", Var(static_cast<int>(program.code.size()) - 1), ";\n");
  s += "  }\n}\n";
  return s;
}

std::string RowKernelSource(RowKind kind) {
  std::string s = "// lemma row kernel\n";
  s += kRowParams;
  // Offsets of a row (outer index r) and of element j of a row.
  s += R"(__device__ void Offsets(const long long* dims, int rank, long long index,
                        const long long* s0, const long long* s1, long long* o0, long long* o1) {
  for (int d = rank - 1; d >= 0; --d) {
    const long long c = index % dims[d];
    index /= dims[d];
    *o0 += c * s0[d];
    *o1 += c * s1[d];
  }
}
extern "C" __global__ void lemma_kernel(const Params p) {
  const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= p.rows) return;
  const float* x = (const float*)p.in;
  float* y = (float*)p.out;
  long long xr = 0, yr = 0;
  Offsets(p.outer_dims, (int)p.outer_rank, r, p.in_outer, p.out_outer, &xr, &yr);
)";
  // Loops over the row: X(j) is the input offset of element j, Y(j) the output's.
  const std::string loop =
      "  for (long long j = 0; j < p.row_size; ++j) {\n"
      "    long long xo = xr, yo = yr;\n"
      "    Offsets(p.inner_dims, (int)p.inner_rank, j, p.in_inner, p.out_inner, &xo, &yo);\n";
  switch (kind) {
    case RowKind::kReduceSum:
    case RowKind::kReduceMean:
      s += "  float acc = 0.0f;\n" + loop + "    acc += x[xo];\n  }\n";
      if (kind == RowKind::kReduceMean) s += "  acc = acc / (float)p.row_size;\n";
      s += "  y[yr] = acc;\n";
      break;
    case RowKind::kReduceMax:
      s += "  float acc = __int_as_float(0xff800000);\n" + loop +
           "    acc = fmaxf(acc, x[xo]);\n  }\n  y[yr] = acc;\n";
      break;
    case RowKind::kSoftmax:
      s += "  if (p.row_size == 0) return;\n  float shift = __int_as_float(0xff800000);\n" + loop +
           "    shift = fmaxf(shift, x[xo]);\n  }\n  float sum = 0.0f;\n" + loop +
           "    const float e = expf(x[xo] - shift);\n    y[yo] = e;\n    sum += e;\n  }\n"
           "  const float inv = 1.0f / sum;\n" + loop + "    y[yo] = y[yo] * inv;\n  }\n";
      break;
    case RowKind::kLayerNorm:
      s += "  const float* scale = (const float*)p.aux[0];\n"
           "  const float* bias = (const float*)p.aux[1];\n"
           "  if (p.row_size == 0) return;\n  float sum = 0.0f;\n" + loop +
           "    sum += x[xo];\n  }\n  const float mean = sum / (float)p.row_size;\n"
           "  float squares = 0.0f;\n" + loop +
           "    const float d = x[xo] - mean;\n    squares += d * d;\n  }\n"
           "  const float rstd = rsqrtf(squares / (float)p.row_size + (float)p.epsilon);\n" + loop +
           "    long long so = 0, bo = 0;\n"
           "    Offsets(p.inner_dims, (int)p.inner_rank, j, p.aux_inner[0], p.aux_inner[1], &so, &bo);\n"
           "    y[yo] = (x[xo] - mean) * rstd * scale[so] + bias[bo];\n  }\n";
      break;
  }
  s += "}\n";
  return s;
}

uint64_t SourceHash(const std::string& source) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : source) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace lemma::cuda
