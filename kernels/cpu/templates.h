#ifndef LEMMA_KERNELS_CPU_TEMPLATES_H_
#define LEMMA_KERNELS_CPU_TEMPLATES_H_

// The templates of the CPU backend, one factory per family (internal; use
// MakeTemplate in kernels/cpu/lowering.h). Each returns null when the group is
// outside what it lowers.

#include <memory>

#include "kernels/cpu/lowering.h"

namespace lemma::cpu {

/// Elementwise ops and data movement (pad, enlarge, transpose, slice), with
/// the fused chain: one loop over the output in its storage order.
std::unique_ptr<Template> MakeElementwiseTemplate(const Group& group, const LoweringContext& c);
/// concat: one copy per input into its slice of the output.
std::unique_ptr<Template> MakeConcatTemplate(const Group& group, const LoweringContext& c);
/// avgpool2d and maxpool2d: a reduction over the window, vectorized along the
/// output's width or its channels.
std::unique_ptr<Template> MakePoolTemplate(const Group& group, const LoweringContext& c);
/// matmul: a tiled GEMM with a register-blocked micro-kernel (broadcast A,
/// vector B), B packed in panels when it is a constant.
std::unique_ptr<Template> MakeMatMulTemplate(const Group& group, const LoweringContext& c);
/// conv2d, NCHW or NHWC: direct (register tile over output channels and
/// width), GEMM form for 1x1 convs, or im2col then GEMM; weights packed.
/// Computed channels-last (pixels x channel vectors) or NCHW (channels x
/// pixel vectors) whatever the layouts: a dense conv with a channels-last
/// side computes channels-last, a grouped one NCHW, through copies of the
/// input and of the product where a layout differs.
std::unique_ptr<Template> MakeConvTemplate(const Group& group, const LoweringContext& c);

/// reduce_sum, reduce_mean, reduce_max: one reduction, vectorized along the
/// innermost kept dim.
std::unique_ptr<Template> MakeReduceTemplate(const Group& group, const LoweringContext& c);
/// softmax and layernorm: two reductions into temps (max and sum of exps;
/// mean and 1/std), then the normalized result with the fused chain.
std::unique_ptr<Template> MakeNormalizeTemplate(const Group& group, const LoweringContext& c);
/// reshape of data that is not contiguous (contiguous data is a view): a copy
/// in row-major order into row-major storage; no chain.
std::unique_ptr<Template> MakeReshapeTemplate(const Group& group, const LoweringContext& c);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_TEMPLATES_H_
