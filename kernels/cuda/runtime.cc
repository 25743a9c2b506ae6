#include "kernels/cuda/runtime.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cuda/cost_model.h"
#include "kernels/cuda/nvrtc.h"
#include "kernels/cuda/plan.h"
#include "ir/status_macros.h"
#include "kernels/tensor.h"

namespace lemma::cuda {
namespace {

absl::Status CudaError(cudaError_t e, std::string_view what) {
  if (e == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(StrCat(what, ": ", cudaGetErrorString(e)));
}
absl::Status CudnnError(cudnnStatus_t s, std::string_view what) {
  if (s == CUDNN_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(StrCat(what, ": ", cudnnGetErrorString(s)));
}
absl::Status CublasError(cublasStatus_t s, std::string_view what) {
  if (s == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(StrCat(what, ": cuBLASLt status ", static_cast<int>(s)));
}

cudnnTensorFormat_t Format(Layout layout) {
  return layout == Layout::kNHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

absl::StatusOr<cudnnTensorDescriptor_t> Tensor4d(const TensorType& t) {
  cudnnTensorDescriptor_t d = nullptr;
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor"));
  LEMMA_RETURN_IF_ERROR(CudnnError(
      cudnnSetTensor4dDescriptor(d, Format(t.layout), CUDNN_DATA_FLOAT, static_cast<int>(t.dim(0)),
                                 static_cast<int>(t.dim(1)), static_cast<int>(t.dim(2)), static_cast<int>(t.dim(3))),
      StrCat("cuDNN tensor ", t.ToString())));
  return d;
}

cudnnActivationMode_t ActivationMode(Activation a) {
  switch (a) {
    case Activation::kRelu: return CUDNN_ACTIVATION_RELU;
    case Activation::kSigmoid: return CUDNN_ACTIVATION_SIGMOID;
    case Activation::kTanh: return CUDNN_ACTIVATION_TANH;
    case Activation::kNone: break;
  }
  return CUDNN_ACTIVATION_IDENTITY;
}

// A matrix operand of cuBLASLt (column-major): its op and layout.
struct LtMatrix {
  cublasOperation_t op = CUBLAS_OP_N;
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0;
};

// The r x c logical matrix stored with `layout`, presented as op(L) of a
// column-major L; `transposed` asks for its transpose instead.
LtMatrix Present(int64_t r, int64_t c, Layout layout, bool transposed) {
  const bool col = layout == Layout::kColMajor;
  LtMatrix m;
  if (col) {
    m.rows = static_cast<uint64_t>(r);
    m.cols = static_cast<uint64_t>(c);
    m.ld = r;
    m.op = transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  } else {
    m.rows = static_cast<uint64_t>(c);
    m.cols = static_cast<uint64_t>(r);
    m.ld = c;
    m.op = transposed ? CUBLAS_OP_N : CUBLAS_OP_T;
  }
  return m;
}

struct ConvState {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t act = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace = 0;
};
struct PoolState {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnPoolingDescriptor_t pool = nullptr;
};
struct BnState {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bn = nullptr;
  double epsilon = 0;
};
struct MatMulState {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t p = nullptr, q = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool swap = true;   // P is B and Q is A (row-major output)
  bool empty = false;  // a zero dimension: nothing to multiply
  size_t workspace = 0;
};

struct LibState {
  ConvState conv;
  PoolState pool;
  BnState bn;
  MatMulState mm;
};

}  // namespace

struct Executable::Impl {
  Graph graph;
  DeviceInfo device;
  const Driver* driver = nullptr;
  Plan plan;
  std::vector<StepInfo> steps;
  std::vector<LibState> lib;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t lt = nullptr;
  char* arena = nullptr;
  std::vector<void*> constants;
  int64_t constant_bytes = 0;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  std::vector<void*> modules;
  std::vector<void*> functions;  // per plan source
  std::vector<cudaEvent_t> events;
  bool profiling = false;

  ~Impl();
  void* Ptr(const BufferRef& ref) const {
    return ref.where == BufferRef::Where::kArena
               ? static_cast<void*>(arena + plan.placement.offsets[static_cast<size_t>(ref.index)])
               : constants[static_cast<size_t>(ref.index)];
  }
  absl::Status Upload(const NamedTensors<F32>& weights);
  absl::Status LoadKernels();
  absl::Status SetUpConv(size_t i, cpu::TuningLog* log);
  absl::Status SetUpPool(size_t i);
  absl::Status SetUpBatchNorm(size_t i);
  absl::Status SetUpMatMul(size_t i);
  absl::Status RunStep(size_t i);
  absl::Status Launch(const KernelLaunch& l);
};

Executable::Impl::~Impl() {
  for (LibState& s : lib) {
    if (s.conv.x) cudnnDestroyTensorDescriptor(s.conv.x);
    if (s.conv.y) cudnnDestroyTensorDescriptor(s.conv.y);
    if (s.conv.w) cudnnDestroyFilterDescriptor(s.conv.w);
    if (s.conv.conv) cudnnDestroyConvolutionDescriptor(s.conv.conv);
    if (s.conv.act) cudnnDestroyActivationDescriptor(s.conv.act);
    if (s.pool.x) cudnnDestroyTensorDescriptor(s.pool.x);
    if (s.pool.y) cudnnDestroyTensorDescriptor(s.pool.y);
    if (s.pool.pool) cudnnDestroyPoolingDescriptor(s.pool.pool);
    if (s.bn.x) cudnnDestroyTensorDescriptor(s.bn.x);
    if (s.bn.y) cudnnDestroyTensorDescriptor(s.bn.y);
    if (s.bn.bn) cudnnDestroyTensorDescriptor(s.bn.bn);
    if (s.mm.desc) cublasLtMatmulDescDestroy(s.mm.desc);
    if (s.mm.p) cublasLtMatrixLayoutDestroy(s.mm.p);
    if (s.mm.q) cublasLtMatrixLayoutDestroy(s.mm.q);
    if (s.mm.d) cublasLtMatrixLayoutDestroy(s.mm.d);
  }
  for (cudaEvent_t e : events) cudaEventDestroy(e);
  if (driver != nullptr) {
    for (void* m : modules) driver->module_unload(m);
  }
  for (void* c : constants) cudaFree(c);
  if (arena != nullptr) cudaFree(arena);
  if (workspace != nullptr) cudaFree(workspace);
  if (lt != nullptr) cublasLtDestroy(lt);
  if (cudnn != nullptr) cudnnDestroy(cudnn);
  if (stream != nullptr) cudaStreamDestroy(stream);
}

// Weights and folded values: computed on the host, uploaded once.
absl::Status Executable::Impl::Upload(const NamedTensors<F32>& weights) {
  absl::flat_hash_map<ValueId, Tensor<float>> host;
  for (NodeId id : graph.WeightNodes()) {
    const Node& n = graph.node(id);
    const std::string& name = n.names[0];
    auto it = weights.find(name);
    if (it == weights.end()) return absl::InvalidArgumentError(StrCat("weight '", name, "' has no value"));
    if (it->second.type.dims != n.outputs[0].dims) {
      return absl::InvalidArgumentError(StrCat("weight '", name, "' has dims ", DimsToString(it->second.type.dims),
                                               ", the graph says ", DimsToString(n.outputs[0].dims)));
    }
    host[ValueId{id, 0}] = WithLayout(it->second, n.outputs[0].layout);
  }
  for (NodeId id : plan.folded) {
    const Node& n = graph.node(id);
    std::vector<const Tensor<float>*> in;
    for (ValueId v : n.inputs) in.push_back(&host.at(v));
    absl::StatusOr<std::vector<Tensor<float>>> out = EvaluateNode<F32>(graph, id, in);
    if (!out.ok()) return out.status();
    for (size_t k = 0; k < out->size(); ++k) host[ValueId{id, static_cast<int32_t>(k)}] = std::move((*out)[k]);
  }
  for (ValueId v : plan.constants) {
    const Tensor<float>& t = host.at(v);
    void* p = nullptr;
    const size_t bytes = std::max<size_t>(t.data.size() * sizeof(float), 4);
    LEMMA_RETURN_IF_ERROR(CudaError(cudaMalloc(&p, bytes), StrCat("allocating ", graph.ValueLabel(v))));
    constants.push_back(p);
    constant_bytes += static_cast<int64_t>(bytes);
    LEMMA_RETURN_IF_ERROR(CudaError(cudaMemcpy(p, t.data.data(), t.data.size() * sizeof(float), cudaMemcpyHostToDevice),
                                    StrCat("uploading ", graph.ValueLabel(v))));
  }
  return absl::OkStatus();
}

absl::Status Executable::Impl::LoadKernels() {
  for (const std::string& source : plan.sources) {
    LEMMA_ASSIGN_OR_RETURN(std::string ptx, CompileToPtx(source, device.Arch()));
    void* module = nullptr;
    if (int r = driver->module_load_data(&module, ptx.c_str()); r != 0) {
      return absl::InternalError(StrCat("loading a generated kernel: ", driver->ErrorText(r)));
    }
    modules.push_back(module);
    void* function = nullptr;
    if (int r = driver->module_get_function(&function, module, "lemma_kernel"); r != 0) {
      return absl::InternalError(StrCat("finding lemma_kernel: ", driver->ErrorText(r)));
    }
    functions.push_back(function);
  }
  return absl::OkStatus();
}

absl::Status Executable::Impl::SetUpConv(size_t i, cpu::TuningLog* log) {
  const Step& step = plan.steps[i];
  const Node& n = graph.node(step.node);
  ConvState& c = lib[i].conv;
  const TensorType& xt = graph.type(n.inputs[0]);
  const TensorType& wt = graph.type(n.inputs[1]);
  const TensorType& yt = n.outputs[0];
  const std::string what = graph.Describe(step.node);
  LEMMA_ASSIGN_OR_RETURN(Window2d win, ResolveWindow(xt.dim(2), xt.dim(3), {wt.dim(2), wt.dim(3)}, n.attrs));
  if (step.padded_input) win.pads = {0, 0, 0, 0};
  LEMMA_ASSIGN_OR_RETURN(c.x, Tensor4d(step.padded_input ? *step.padded_input : xt));
  LEMMA_ASSIGN_OR_RETURN(c.y, Tensor4d(yt));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreateFilterDescriptor(&c.w), what));
  LEMMA_RETURN_IF_ERROR(CudnnError(
      cudnnSetFilter4dDescriptor(c.w, CUDNN_DATA_FLOAT, Format(wt.layout), static_cast<int>(wt.dim(0)),
                                 static_cast<int>(wt.dim(1)), static_cast<int>(wt.dim(2)), static_cast<int>(wt.dim(3))),
      StrCat(what, ": filter")));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreateConvolutionDescriptor(&c.conv), what));
  LEMMA_RETURN_IF_ERROR(CudnnError(
      cudnnSetConvolution2dDescriptor(c.conv, static_cast<int>(win.pads[0]), static_cast<int>(win.pads[1]),
                                      static_cast<int>(win.stride[0]), static_cast<int>(win.stride[1]),
                                      static_cast<int>(win.dilation[0]), static_cast<int>(win.dilation[1]),
                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      StrCat(what, ": convolution")));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnSetConvolutionGroupCount(c.conv, static_cast<int>(n.attrs.GetInt("groups"))),
                                   StrCat(what, ": groups")));
  // Full float32 arithmetic (no TF32), as the reference computes.
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnSetConvolutionMathType(c.conv, CUDNN_FMA_MATH), StrCat(what, ": math")));
  const Activation act = n.attrs.GetEnum<Activation>("activation");
  if (act != Activation::kNone) {
    LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreateActivationDescriptor(&c.act), what));
    LEMMA_RETURN_IF_ERROR(CudnnError(
        cudnnSetActivationDescriptor(c.act, ActivationMode(act), CUDNN_PROPAGATE_NAN, 0.0), StrCat(what, ": activation")));
  }
  const std::string target = TargetKey(device);
  const std::string workload = NodeWorkloadKey(graph, step.node);
  std::optional<cpu::TuningRecord> best;
  if (log != nullptr) best = log->Best("schedule", target, workload);
  if (best && best->config.contains("algo")) {
    c.algo = static_cast<cudnnConvolutionFwdAlgo_t>(best->config.at("algo"));
    steps[i].detail = StrCat("algo ", static_cast<int>(c.algo), " (log)");
  } else {
    // Measure every algorithm on the real buffers (their contents do not
    // matter), with up to 256 MiB of workspace.
    constexpr size_t kMaxWorkspace = size_t{256} << 20;
    void* ws = nullptr;
    size_t ws_bytes = kMaxWorkspace;
    if (cudaMalloc(&ws, ws_bytes) != cudaSuccess) {
      cudaGetLastError();
      ws = nullptr;
      ws_bytes = 0;
    }
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    const cudnnStatus_t s = cudnnFindConvolutionForwardAlgorithmEx(
        cudnn, c.x, Ptr(step.inputs[0]), c.w, Ptr(step.inputs[1]), c.conv, c.y, Ptr(step.output),
        CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf, ws, ws_bytes);
    if (ws != nullptr) cudaFree(ws);
    LEMMA_RETURN_IF_ERROR(CudnnError(s, StrCat(what, ": cudnnFindConvolutionForwardAlgorithmEx")));
    bool chosen = false;
    for (int k = 0; k < found; ++k) {
      if (perf[k].status != CUDNN_STATUS_SUCCESS) continue;
      if (log != nullptr) {
        cpu::TuningRecord r;
        r.kind = "schedule";
        r.target = target;
        r.workload = workload;
        r.template_name = "cudnn_conv";
        r.config = {{"algo", static_cast<int64_t>(perf[k].algo)},
                    {"workspace", static_cast<int64_t>(perf[k].memory)}};
        r.seconds = static_cast<double>(perf[k].time) * 1e-3;
        log->Add(std::move(r));
      }
      if (!chosen) {
        c.algo = perf[k].algo;
        chosen = true;
      }
    }
    if (!chosen) return absl::InternalError(StrCat(what, ": no cuDNN convolution algorithm works"));
    steps[i].detail = StrCat("algo ", static_cast<int>(c.algo), " (measured)");
  }
  LEMMA_RETURN_IF_ERROR(CudnnError(
      cudnnGetConvolutionForwardWorkspaceSize(cudnn, c.x, c.w, c.conv, c.y, c.algo, &c.workspace),
      StrCat(what, ": workspace size")));
  workspace_bytes = std::max(workspace_bytes, c.workspace);
  return absl::OkStatus();
}

absl::Status Executable::Impl::SetUpPool(size_t i) {
  const Step& step = plan.steps[i];
  const Node& n = graph.node(step.node);
  PoolState& p = lib[i].pool;
  const TensorType& xt = graph.type(n.inputs[0]);
  const std::string what = graph.Describe(step.node);
  const std::vector<int64_t>& k = n.attrs.GetInts("kernel");
  LEMMA_ASSIGN_OR_RETURN(Window2d win, ResolveWindow(xt.dim(2), xt.dim(3), {k[0], k[1]}, n.attrs));
  if (step.padded_input) win.pads = {0, 0, 0, 0};
  LEMMA_ASSIGN_OR_RETURN(p.x, Tensor4d(step.padded_input ? *step.padded_input : xt));
  LEMMA_ASSIGN_OR_RETURN(p.y, Tensor4d(n.outputs[0]));
  cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
  if (n.op == OpKind::kAvgPool2d) {
    mode = n.attrs.GetInt("count_include_pad") != 0 ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                    : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  }
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreatePoolingDescriptor(&p.pool), what));
  LEMMA_RETURN_IF_ERROR(CudnnError(
      cudnnSetPooling2dDescriptor(p.pool, mode, CUDNN_PROPAGATE_NAN, static_cast<int>(k[0]), static_cast<int>(k[1]),
                                  static_cast<int>(win.pads[0]), static_cast<int>(win.pads[1]),
                                  static_cast<int>(win.stride[0]), static_cast<int>(win.stride[1])),
      StrCat(what, ": pooling")));
  steps[i].detail = n.op == OpKind::kAvgPool2d ? "average" : "max";
  return absl::OkStatus();
}

absl::Status Executable::Impl::SetUpBatchNorm(size_t i) {
  const Step& step = plan.steps[i];
  const Node& n = graph.node(step.node);
  BnState& b = lib[i].bn;
  const std::string what = graph.Describe(step.node);
  b.epsilon = n.attrs.GetFloat("epsilon");
  if (b.epsilon < CUDNN_BN_MIN_EPSILON) {
    return absl::UnimplementedError(StrCat(what, ": epsilon ", b.epsilon, " is below cuDNN's minimum"));
  }
  LEMMA_ASSIGN_OR_RETURN(b.x, Tensor4d(graph.type(n.inputs[0])));
  LEMMA_ASSIGN_OR_RETURN(b.y, Tensor4d(n.outputs[0]));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreateTensorDescriptor(&b.bn), what));
  LEMMA_RETURN_IF_ERROR(
      CudnnError(cudnnDeriveBNTensorDescriptor(b.bn, b.x, CUDNN_BATCHNORM_SPATIAL), StrCat(what, ": batchnorm")));
  steps[i].detail = "inference, spatial";
  return absl::OkStatus();
}

absl::Status Executable::Impl::SetUpMatMul(size_t i) {
  const Step& step = plan.steps[i];
  const Node& n = graph.node(step.node);
  MatMulState& mm = lib[i].mm;
  const std::string what = graph.Describe(step.node);
  const TensorType& at = graph.type(n.inputs[0]);
  const TensorType& bt = graph.type(n.inputs[1]);
  const TensorType& ct = n.outputs[0];
  const int64_t m = ct.dims[ct.dims.size() - 2], nn = ct.dims.back(), k = at.dims.back();
  const int64_t batch = NumElements(std::span(ct.dims).first(ct.dims.size() - 2));
  const int64_t a_batch = NumElements(std::span(at.dims).first(at.dims.size() - 2));
  const int64_t b_batch = NumElements(std::span(bt.dims).first(bt.dims.size() - 2));
  const Layout al = at.rank() == 2 ? at.layout : Layout::kRowMajor;
  const Layout bl = bt.rank() == 2 ? bt.layout : Layout::kRowMajor;
  if (m == 0 || nn == 0 || k == 0 || batch == 0) {
    // cuBLASLt refuses empty matrices: the output is empty or all zeros.
    mm.empty = true;
    steps[i].detail = "empty";
    return absl::OkStatus();
  }
  mm.swap = !(ct.rank() == 2 && ct.layout == Layout::kColMajor);
  // Row-major output: D = C^T = B^T A^T (column-major); column-major: D = A B.
  const LtMatrix p = mm.swap ? Present(k, nn, bl, true) : Present(m, k, al, false);
  const LtMatrix q = mm.swap ? Present(m, k, al, true) : Present(k, nn, bl, false);
  const uint64_t d_rows = static_cast<uint64_t>(mm.swap ? nn : m), d_cols = static_cast<uint64_t>(mm.swap ? m : nn);
  LEMMA_RETURN_IF_ERROR(CublasError(cublasLtMatmulDescCreate(&mm.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), what));
  LEMMA_RETURN_IF_ERROR(CublasError(
      cublasLtMatmulDescSetAttribute(mm.desc, CUBLASLT_MATMUL_DESC_TRANSA, &p.op, sizeof p.op), what));
  LEMMA_RETURN_IF_ERROR(CublasError(
      cublasLtMatmulDescSetAttribute(mm.desc, CUBLASLT_MATMUL_DESC_TRANSB, &q.op, sizeof q.op), what));
  auto layout = [&](cublasLtMatrixLayout_t* l, uint64_t rows, uint64_t cols, int64_t ld, int64_t stride) -> absl::Status {
    LEMMA_RETURN_IF_ERROR(CublasError(cublasLtMatrixLayoutCreate(l, CUDA_R_32F, rows, cols, ld), what));
    if (batch > 1) {
      const int32_t count = static_cast<int32_t>(batch);
      LEMMA_RETURN_IF_ERROR(CublasError(
          cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count), what));
      LEMMA_RETURN_IF_ERROR(CublasError(
          cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
          what));
    }
    return absl::OkStatus();
  };
  const int64_t a_stride = a_batch == 1 ? 0 : m * k, b_stride = b_batch == 1 ? 0 : k * nn;
  LEMMA_RETURN_IF_ERROR(layout(&mm.p, p.rows, p.cols, p.ld, mm.swap ? b_stride : a_stride));
  LEMMA_RETURN_IF_ERROR(layout(&mm.q, q.rows, q.cols, q.ld, mm.swap ? a_stride : b_stride));
  LEMMA_RETURN_IF_ERROR(layout(&mm.d, d_rows, d_cols, static_cast<int64_t>(d_rows), m * nn));
  cublasLtMatmulPreference_t pref = nullptr;
  LEMMA_RETURN_IF_ERROR(CublasError(cublasLtMatmulPreferenceCreate(&pref), what));
  const size_t max_ws = size_t{32} << 20;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof max_ws);
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  const cublasStatus_t s =
      cublasLtMatmulAlgoGetHeuristic(lt, mm.desc, mm.p, mm.q, mm.d, mm.d, pref, 1, &result, &count);
  cublasLtMatmulPreferenceDestroy(pref);
  LEMMA_RETURN_IF_ERROR(CublasError(s, StrCat(what, ": cublasLtMatmulAlgoGetHeuristic")));
  if (count == 0) return absl::UnimplementedError(StrCat(what, ": cuBLASLt has no algorithm for this matmul"));
  mm.algo = result.algo;
  mm.workspace = result.workspaceSize;
  workspace_bytes = std::max(workspace_bytes, mm.workspace);
  steps[i].detail = StrCat("heuristic, batch ", batch, mm.swap ? ", row-major" : ", column-major");
  return absl::OkStatus();
}

absl::Status Executable::Impl::Launch(const KernelLaunch& l) {
  void* function = functions[static_cast<size_t>(l.source)];
  if (l.row) {
    RowParams p = l.row_params;
    if (p.rows == 0) return absl::OkStatus();
    p.in = reinterpret_cast<uint64_t>(Ptr(l.in[0]));
    p.out = reinterpret_cast<uint64_t>(Ptr(l.out));
    for (size_t k = 1; k < l.in.size() && k <= 2; ++k) p.aux[k - 1] = reinterpret_cast<uint64_t>(Ptr(l.in[k]));
    void* args[] = {&p};
    const unsigned blocks = static_cast<unsigned>((p.rows + 127) / 128);
    const int r = driver->launch_kernel(function, blocks, 1, 1, 128, 1, 1, 0, stream, args, nullptr);
    if (r != 0) return absl::InternalError(StrCat("launching ", l.what, ": ", driver->ErrorText(r)));
    return absl::OkStatus();
  }
  EwParams p = l.ew;
  if (p.n == 0) return absl::OkStatus();
  p.out = reinterpret_cast<uint64_t>(Ptr(l.out));
  for (size_t k = 0; k < l.in.size(); ++k) p.in[k] = reinterpret_cast<uint64_t>(Ptr(l.in[k]));
  void* args[] = {&p};
  const int64_t max_blocks = static_cast<int64_t>(std::max(device.multiprocessors, 1)) * 32;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((p.n + 255) / 256, max_blocks));
  const int r = driver->launch_kernel(function, blocks, 1, 1, 256, 1, 1, 0, stream, args, nullptr);
  if (r != 0) return absl::InternalError(StrCat("launching ", l.what, ": ", driver->ErrorText(r)));
  return absl::OkStatus();
}

absl::Status Executable::Impl::RunStep(size_t i) {
  const Step& step = plan.steps[i];
  const std::string& what = step.label;
  const float one = 1.0f, zero = 0.0f;
  for (const KernelLaunch& l : step.pre_launches) LEMMA_RETURN_IF_ERROR(Launch(l));
  switch (step.kind) {
    case StepKind::kGenerated:
      break;
    case StepKind::kConv: {
      const ConvState& c = lib[i].conv;
      LEMMA_RETURN_IF_ERROR(CudnnError(
          cudnnConvolutionForward(cudnn, &one, c.x, Ptr(step.inputs[0]), c.w, Ptr(step.inputs[1]), c.conv, c.algo,
                                  workspace, c.workspace, &zero, c.y, Ptr(step.output)),
          what));
      if (c.act != nullptr) {
        LEMMA_RETURN_IF_ERROR(CudnnError(
            cudnnActivationForward(cudnn, c.act, &one, c.y, Ptr(step.output), &zero, c.y, Ptr(step.output)), what));
      }
      break;
    }
    case StepKind::kPool: {
      const PoolState& p = lib[i].pool;
      LEMMA_RETURN_IF_ERROR(CudnnError(
          cudnnPoolingForward(cudnn, p.pool, &one, p.x, Ptr(step.inputs[0]), &zero, p.y, Ptr(step.output)), what));
      break;
    }
    case StepKind::kBatchNorm: {
      const BnState& b = lib[i].bn;
      LEMMA_RETURN_IF_ERROR(CudnnError(
          cudnnBatchNormalizationForwardInference(cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, b.x,
                                                  Ptr(step.inputs[0]), b.y, Ptr(step.output), b.bn,
                                                  Ptr(step.inputs[1]), Ptr(step.inputs[2]), Ptr(step.inputs[3]),
                                                  Ptr(step.inputs[4]), b.epsilon),
          what));
      break;
    }
    case StepKind::kMatMul: {
      const MatMulState& mm = lib[i].mm;
      if (mm.empty) {
        const size_t bytes = static_cast<size_t>(graph.node(step.node).outputs[0].num_elements()) * sizeof(float);
        if (bytes > 0) LEMMA_RETURN_IF_ERROR(CudaError(cudaMemsetAsync(Ptr(step.output), 0, bytes, stream), what));
        break;
      }
      const void* p = Ptr(step.inputs[mm.swap ? 1 : 0]);
      const void* q = Ptr(step.inputs[mm.swap ? 0 : 1]);
      LEMMA_RETURN_IF_ERROR(CublasError(cublasLtMatmul(lt, mm.desc, &one, p, mm.p, q, mm.q, &zero, Ptr(step.output),
                                                       mm.d, Ptr(step.output), mm.d, &mm.algo, workspace,
                                                       mm.workspace, stream),
                                        what));
      break;
    }
  }
  for (const KernelLaunch& l : step.launches) LEMMA_RETURN_IF_ERROR(Launch(l));
  return absl::OkStatus();
}

Executable::Executable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Executable::~Executable() = default;

absl::StatusOr<std::unique_ptr<Executable>> Executable::Compile(const Graph& graph, const NamedTensors<F32>& weights,
                                                                const RuntimeOptions& options) {
  LEMMA_ASSIGN_OR_RETURN(DeviceInfo device, QueryDevice(options.device));
  LEMMA_ASSIGN_OR_RETURN(const Driver* driver, GetDriver());
  LEMMA_ASSIGN_OR_RETURN(Plan plan, BuildPlan(graph, {.fuse = options.fuse}));
  auto impl = std::make_unique<Impl>();
  Impl& x = *impl;
  x.graph = graph;
  x.device = std::move(device);
  x.driver = driver;
  x.plan = std::move(plan);
  LEMMA_RETURN_IF_ERROR(CudaError(cudaSetDevice(options.device), "cudaSetDevice"));
  LEMMA_RETURN_IF_ERROR(CudaError(cudaFree(nullptr), "creating the CUDA context"));
  LEMMA_RETURN_IF_ERROR(CudaError(cudaStreamCreateWithFlags(&x.stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnCreate(&x.cudnn), "cudnnCreate"));
  LEMMA_RETURN_IF_ERROR(CudnnError(cudnnSetStream(x.cudnn, x.stream), "cudnnSetStream"));
  LEMMA_RETURN_IF_ERROR(CublasError(cublasLtCreate(&x.lt), "cublasLtCreate"));
  LEMMA_RETURN_IF_ERROR(x.Upload(weights));
  const int64_t arena = std::max<int64_t>(x.plan.placement.arena_bytes, 256);
  LEMMA_RETURN_IF_ERROR(CudaError(cudaMalloc(reinterpret_cast<void**>(&x.arena), static_cast<size_t>(arena)),
                                  StrCat("allocating the ", arena, "-byte arena")));
  LEMMA_RETURN_IF_ERROR(x.LoadKernels());
  x.lib.resize(x.plan.steps.size());
  for (size_t i = 0; i < x.plan.steps.size(); ++i) {
    const Step& s = x.plan.steps[i];
    StepInfo info;
    info.label = s.label;
    info.provider = std::string(StepKindName(s.kind));
    for (const KernelLaunch& l : s.launches) info.detail += StrCat(info.detail.empty() ? "" : "; ", l.what);
    const Node& n = graph.node(s.node);
    if (n.op == OpKind::kMatMul) {
      info.flops = 2.0 * static_cast<double>(n.outputs[0].num_elements()) * static_cast<double>(graph.type(n.inputs[0]).dims.back());
    } else if (n.op == OpKind::kConv2d) {
      const TensorType& w = graph.type(n.inputs[1]);
      info.flops = 2.0 * static_cast<double>(n.outputs[0].num_elements()) * static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
    }
    x.steps.push_back(std::move(info));
    switch (s.kind) {
      case StepKind::kConv: LEMMA_RETURN_IF_ERROR(x.SetUpConv(i, options.tuning_log)); break;
      case StepKind::kPool: LEMMA_RETURN_IF_ERROR(x.SetUpPool(i)); break;
      case StepKind::kBatchNorm: LEMMA_RETURN_IF_ERROR(x.SetUpBatchNorm(i)); break;
      case StepKind::kMatMul: LEMMA_RETURN_IF_ERROR(x.SetUpMatMul(i)); break;
      case StepKind::kGenerated: break;
    }
  }
  if (x.workspace_bytes > 0) {
    LEMMA_RETURN_IF_ERROR(CudaError(cudaMalloc(&x.workspace, x.workspace_bytes), "allocating the workspace"));
  }
  x.events.resize(x.plan.steps.size() + 1);
  for (cudaEvent_t& e : x.events) LEMMA_RETURN_IF_ERROR(CudaError(cudaEventCreate(&e), "cudaEventCreate"));
  return std::unique_ptr<Executable>(new Executable(std::move(impl)));
}

absl::StatusOr<NamedTensors<F32>> Executable::Run(const NamedTensors<F32>& inputs) {
  Impl& x = *impl_;
  for (const auto& [id, ref] : x.plan.inputs) {
    const Node& n = x.graph.node(id);
    auto it = inputs.find(n.names[0]);
    if (it == inputs.end()) return absl::InvalidArgumentError(StrCat("input '", n.names[0], "' has no value"));
    if (it->second.type.dims != n.outputs[0].dims) {
      return absl::InvalidArgumentError(StrCat("input '", n.names[0], "' has dims ", DimsToString(it->second.type.dims),
                                               ", the graph says ", DimsToString(n.outputs[0].dims)));
    }
    const Tensor<float> t = it->second.type.layout == n.outputs[0].layout ? it->second
                                                                          : WithLayout(it->second, n.outputs[0].layout);
    LEMMA_RETURN_IF_ERROR(CudaError(cudaMemcpyAsync(x.Ptr(ref), t.data.data(), t.data.size() * sizeof(float),
                                                    cudaMemcpyHostToDevice, x.stream),
                                    StrCat("uploading input '", n.names[0], "'")));
    // The host tensor is a temporary: wait for the copy before it goes.
    LEMMA_RETURN_IF_ERROR(CudaError(cudaStreamSynchronize(x.stream), "uploading inputs"));
  }
  if (x.profiling) LEMMA_RETURN_IF_ERROR(CudaError(cudaEventRecord(x.events[0], x.stream), "cudaEventRecord"));
  for (size_t i = 0; i < x.plan.steps.size(); ++i) {
    LEMMA_RETURN_IF_ERROR(x.RunStep(i));
    if (x.profiling) LEMMA_RETURN_IF_ERROR(CudaError(cudaEventRecord(x.events[i + 1], x.stream), "cudaEventRecord"));
  }
  NamedTensors<F32> out;
  for (const GraphOutput& o : x.graph.outputs()) {
    const TensorType& t = x.graph.type(o.value);
    Tensor<float> host{t, std::vector<float>(static_cast<size_t>(t.num_elements()))};
    LEMMA_RETURN_IF_ERROR(CudaError(cudaMemcpyAsync(host.data.data(), x.Ptr(x.plan.value_buffers.at(o.value)),
                                                    host.data.size() * sizeof(float), cudaMemcpyDeviceToHost, x.stream),
                                    StrCat("downloading output '", o.name, "'")));
    out[o.name] = std::move(host);
  }
  LEMMA_RETURN_IF_ERROR(CudaError(cudaStreamSynchronize(x.stream), "running the graph"));
  if (x.profiling) {
    for (size_t i = 0; i < x.plan.steps.size(); ++i) {
      float ms = 0;
      LEMMA_RETURN_IF_ERROR(CudaError(cudaEventElapsedTime(&ms, x.events[i], x.events[i + 1]), "cudaEventElapsedTime"));
      x.steps[i].seconds = static_cast<double>(ms) * 1e-3;
    }
  }
  return out;
}

void Executable::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<StepInfo>& Executable::steps() const { return impl_->steps; }
const DeviceInfo& Executable::device() const { return impl_->device; }

MemoryStats Executable::memory() const {
  MemoryStats m;
  m.arena_bytes = impl_->plan.placement.arena_bytes;
  m.naive_bytes = impl_->plan.placement.naive_bytes;
  m.constant_bytes = impl_->constant_bytes;
  m.workspace_bytes = static_cast<int64_t>(impl_->workspace_bytes);
  m.buffers = static_cast<int>(impl_->plan.buffers.size());
  return m;
}

std::string Executable::PlanText() const {
  std::string s;
  for (size_t i = 0; i < impl_->steps.size(); ++i) {
    const StepInfo& st = impl_->steps[i];
    s += StrCat(i, ": ", st.label, " [", st.provider, "] ", st.detail, "\n");
  }
  const MemoryStats m = memory();
  s += StrCat("memory: arena ", m.arena_bytes, " bytes (", m.naive_bytes, " without reuse), constants ",
              m.constant_bytes, " bytes, workspace ", m.workspace_bytes, " bytes\n");
  return s;
}

}  // namespace lemma::cuda
