#ifndef LEMMA_KERNELS_CUDA_CODEGEN_H_
#define LEMMA_KERNELS_CUDA_CODEGEN_H_

// CUDA C++ for the kernels the GPU runtime generates, compiled at run time by
// NVRTC. Two families:
//
//  * elementwise kernels: one thread per element of an iteration space (up to
//    kMaxRank dims), each of up to kMaxInputs inputs and the output read or
//    written at an offset plus one stride per iteration dim (0 for a
//    broadcast dim), and a small SSA program over the loaded values. Fused
//    chains (conv + add + relu, ...), broadcasting and every copy (transpose,
//    slice, concat, pad, reshape) are such kernels;
//  * row kernels: one thread per row of an outer space, looping over an inner
//    space (reductions, softmax, layernorm).
//
// Every module exports `extern "C" __global__ void lemma_kernel(Params)`; the
// parameters are one struct whose layout EwParams / RowParams mirror on the
// host. Shapes and strides are parameters, so that the source depends only on
// the program and a module serves every shape.

#include <cstdint>
#include <string>
#include <vector>

namespace lemma::cuda {

inline constexpr int kMaxRank = 8;
inline constexpr int kMaxInputs = 8;

/// One instruction of an elementwise program. Operands are earlier
/// instructions (by index).
enum class EwOp : uint8_t {
  kLoad,   // input `input` at this thread's element
  kConst,  // the float `value` (bit-exact)
  kAdd,
  kSub,
  kMul,
  kDiv,
  kRelu,
  kSigmoid,
  kTanh,
  kGelu,
};

struct EwInstr {
  EwOp op = EwOp::kLoad;
  int a = -1;
  int b = -1;
  int input = -1;
  float value = 0;
};

/// A program: the value of its last instruction is stored.
struct EwProgram {
  int num_inputs = 0;
  std::vector<EwInstr> code;

  int Load(int input);
  int Const(float value);
  int Unary(EwOp op, int a);
  int Binary(EwOp op, int a, int b);
};

/// Host mirror of the elementwise kernels' parameters.
struct EwParams {
  uint64_t out = 0;
  uint64_t in[kMaxInputs] = {};
  int64_t n = 0;  // elements of the iteration space
  int64_t rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t out_offset = 0;
  int64_t out_strides[kMaxRank] = {};
  int64_t in_offset[kMaxInputs] = {};
  int64_t in_strides[kMaxInputs][kMaxRank] = {};
};

/// The row kernels.
enum class RowKind : uint8_t { kReduceSum, kReduceMean, kReduceMax, kSoftmax, kLayerNorm };

/// Host mirror of the row kernels' parameters. Outer dims index rows; inner
/// dims index the elements of a row. `aux` are layernorm's scale and bias,
/// read at inner strides only.
struct RowParams {
  uint64_t in = 0;
  uint64_t out = 0;
  uint64_t aux[2] = {};
  int64_t rows = 0;
  int64_t row_size = 0;
  int64_t outer_rank = 0;
  int64_t inner_rank = 0;
  int64_t outer_dims[kMaxRank] = {};
  int64_t inner_dims[kMaxRank] = {};
  int64_t in_outer[kMaxRank] = {};
  int64_t in_inner[kMaxRank] = {};
  int64_t out_outer[kMaxRank] = {};
  int64_t out_inner[kMaxRank] = {};
  int64_t aux_inner[2][kMaxRank] = {};
  double epsilon = 0;
};

/// The CUDA C++ of an elementwise kernel running `program` over `rank` dims.
std::string EwKernelSource(const EwProgram& program, int rank);
/// The CUDA C++ of a row kernel of `kind`.
std::string RowKernelSource(RowKind kind);
/// A short description of a program: "load0 load1 add relu".
std::string EwProgramText(const EwProgram& program);
/// A stable 64-bit hash of a source text (FNV-1a), the key of compiled modules.
uint64_t SourceHash(const std::string& source);

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_CODEGEN_H_
