// Templates for matmul and conv2d. Both lower to one loop structure, the
// GEMM form: out[batch.., i, j] = sum over the reduction axes of A * B, where
// A is read by broadcast (one element for all lanes) and B by vectors along j.
// The register tile is mr rows of i by nr columns of j (nr / vector_width
// vectors); tiles of mc rows, nc columns and kc reduction steps keep A, B and
// C in cache; the loop order and the parallel loops are knobs:
//
//   order 0: batch.. j/nc k/kc i/mc j/nr i/mr k/ku [window] k(u) i(u) j(v,u)
//   order 1: batch.. i/mc k/kc j/nc i/mr j/nr k/ku [window] k(u) i(u) j(v,u)
//
// A matmul is A = the left operand, B = the right one (packed in panels of nr
// columns when it is a constant). A conv in NCHW is A = the weights (packed in
// panels of mr output channels), B = the input along the output width (or
// along height x width for a 1x1 stride-1 conv, or along the columns of an
// im2col buffer); in NHWC it is A = the input along the width and B = the
// weights along the output channels.

#include <algorithm>

#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cpu/template_util.h"
#include "kernels/cpu/templates.h"
#include "kernels/tensor.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

int64_t Get(const Config& config, const std::string& name, int64_t fallback) {
  auto it = config.find(name);
  return it == config.end() ? fallback : it->second;
}

int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t CeilDiv(int64_t x, int64_t m) { return (x + m - 1) / m; }

// Accumulator vectors a register tile may use: the registers but those that
// hold B's vectors and A's broadcast.
int64_t MaxTileVectors(int registers) { return registers - 4; }

// The axes of a GEMM-form nest.
struct GemmAxes {
  std::vector<int> batch;
  int i = -1, j = -1;
  std::vector<int> reductions;  // reductions[0] is tiled by kc and ku
};

// The tile sizes of a config, clamped to the problem.
struct GemmTiles {
  int64_t mr, nr, mc, nc, kc, ku;
  int order, par;
  bool unroll_window;
  // The window loops (reductions[1..]) run outside the reductions[0] loop
  // rather than inside it ("taps" knob).
  bool taps_outside;
};

// What a template supplies to LowerGemm.
struct GemmProblem {
  std::string name;
  std::vector<std::pair<std::string, int64_t>> batch;
  int64_t m = 1, n = 1;
  std::vector<std::pair<std::string, int64_t>> reductions;
  // The product A * B at the point, for the given axes and tiles.
  std::function<int(LaunchBuilder&, const GemmAxes&, const GemmTiles&)> product;
  // The group output's logical dims at the point.
  std::function<std::vector<AffineIndex>(const GemmAxes&)> out_dims;
  Activation activation = Activation::kNone;
  // When >= 0: the product (with the activation, without the group's chain)
  // goes to this temp of the Lowered, stored as out_temp_access says, instead
  // of to the group's output.
  int out_temp = -1;
  ValueAccess out_temp_access;
  // When >= 0: the batch axis p.batch[rows_inside] (a conv's output rows)
  // runs inside the cache-block loops (just before k/kc) rather than
  // outermost, so that a block of weights too large for the caches is read
  // from memory once for every row, not once per row.
  int rows_inside = -1;
};

absl::StatusOr<GemmTiles> ResolveTiles(const Config& config, const GemmProblem& p, int v,
                                       int registers) {
  GemmTiles t;
  t.mr = std::min(Get(config, "mr", 8), p.m);
  t.nr = std::min(Get(config, "nr", 3) * v, RoundUp(p.n, v));
  if (t.mr * CeilDiv(t.nr, v) > MaxTileVectors(registers)) {
    return absl::InvalidArgumentError(
        StrCat("a ", t.mr, "x", t.nr, " register tile needs more than ", MaxTileVectors(registers),
               " vector registers"));
  }
  t.mc = t.mr * Get(config, "mc", 12);
  t.nc = t.nr * Get(config, "nc", 8);
  const int64_t k = p.reductions.front().second;
  t.kc = std::min(Get(config, "kc", 256), k);
  t.ku = std::min(Get(config, "ku", 4), t.kc);
  if (t.kc % t.ku != 0) t.ku = 1;
  t.order = static_cast<int>(Get(config, "order", 0));
  t.par = static_cast<int>(Get(config, "par", 1));
  t.unroll_window = Get(config, "unroll_window", 0) != 0;
  t.taps_outside = p.reductions.size() > 1 && Get(config, "taps", 0) != 0;
  return t;
}

// Level roles of an axis cut by tiles {outer?, mid?}: which level each role
// is, or -1 when the axis has no such level.
struct Roles {
  int outer = -1, mid = -1, inner = -1;
};

// Tiles of an axis of `extent` with an outer tile `outer`, a register tile
// `reg` and whether the last level is the register level (else the last level
// is a plain loop inside `reg`-sized steps).
Roles CutAxis(int64_t extent, int64_t outer, int64_t reg, std::vector<int64_t>& tiles) {
  Roles r;
  tiles.clear();
  int level = 0;
  if (reg <= 1) {
    // No register tile along this axis: an outer tile and a plain loop.
    if (outer > 1 && outer < extent) {
      tiles.push_back(outer);
      r.outer = level++;
    }
    r.mid = level;
    return r;
  }
  if (outer < extent && outer > reg) {
    tiles.push_back(outer);
    r.outer = level++;
  }
  if (reg < extent) {
    tiles.push_back(reg);
    r.mid = level++;
  }
  r.inner = level;
  return r;
}

absl::Status LowerGemm(LaunchBuilder& b, const Group& group, const GemmProblem& p,
                       const Config& config, ValueId out) {
  bool empty = p.m < 1 || p.n < 1;
  for (const auto& [name, extent] : p.batch) empty = empty || extent < 1;
  for (const auto& [name, extent] : p.reductions) empty = empty || extent < 1;
  if (empty) return absl::InvalidArgumentError("a dimension of the product is empty");
  // "half" picks vectors of half the target's width (ymm with AVX-512).
  const int v = Get(config, "half", 0) != 0 && b.vector_width() >= 8 ? b.vector_width() / 2
                                                                      : b.vector_width();
  absl::StatusOr<GemmTiles> tiles = ResolveTiles(config, p, v, b.context().vector_registers());
  if (!tiles.ok()) return tiles.status();
  const GemmTiles& t = *tiles;
  LoopNest& nest = b.nest();
  GemmAxes ax;
  for (const auto& [name, extent] : p.batch) ax.batch.push_back(nest.AddAxis(name, extent));
  ax.i = nest.AddAxis("i", p.m);
  ax.j = nest.AddAxis("j", p.n);
  for (const auto& [name, extent] : p.reductions) ax.reductions.push_back(nest.AddReduction(name, extent));
  const int k = ax.reductions.front();
  const int64_t kext = p.reductions.front().second;

  nest.SetReduction(Combiner::kSum, p.product(b, ax, t));
  int expr = ApplyActivation(nest, p.activation, nest.Acc());
  const std::vector<AffineIndex> dims = p.out_dims(ax);
  if (p.out_temp >= 0) {
    nest.SetResult(b.Temp(p.out_temp, true), OutIndex(p.out_temp_access, dims), expr);
  } else {
    expr = ApplyChain(b, group, expr, dims);
    nest.SetResult(b.Value(out, true), OutIndex(b.Access(out), dims), expr);
  }

  Schedule s = Schedule::Default(nest);
  s.order.clear();
  const Roles ri = CutAxis(p.m, t.mc, t.mr, s.tiles[U(ax.i)]);
  const Roles rj = CutAxis(RoundUp(p.n, 1), t.nc, t.nr, s.tiles[U(ax.j)]);
  Roles rk;
  {
    std::vector<int64_t>& kt = s.tiles[U(k)];
    int level = 0;
    if (t.kc < kext) {
      kt.push_back(t.kc);
      rk.outer = level++;
    }
    const int64_t span = kt.empty() ? kext : kt.back();
    if (t.ku > 1 && t.ku < span + (kt.empty() ? 1 : 0) && span % t.ku == 0) {
      kt.push_back(t.ku);
      rk.mid = level++;
      rk.inner = level;
    } else {
      rk.mid = level;
    }
  }
  auto add = [&](int axis, int level) {
    if (level >= 0) s.order.push_back({axis, level});
  };
  const int rows = p.rows_inside >= 0 ? ax.batch[U(p.rows_inside)] : -1;
  // rows=2: the rows inside the register-tile loops as well, so that each
  // panel of weights (kc channels x window x nr columns) serves every row
  // before the next panel is read.
  const bool rows_in_k = rows >= 0 && Get(config, "rows", 0) == 2;
  for (int a : ax.batch) {
    if (a != rows) add(a, 0);
  }
  // The k/kc loop, with the rows placed inside the cache blocks before it.
  auto add_k = [&] {
    if (rows >= 0 && !rows_in_k) add(rows, 0);
    add(k, rk.outer);
  };
  switch (t.order) {
    case 0:  // j/nc k/kc i/mc j/nr i/mr
      add(ax.j, rj.outer), add_k(), add(ax.i, ri.outer);
      add(ax.j, rj.mid), add(ax.i, ri.mid);
      break;
    case 1:  // i/mc k/kc j/nc i/mr j/nr
      add(ax.i, ri.outer), add_k(), add(ax.j, rj.outer);
      add(ax.i, ri.mid), add(ax.j, rj.mid);
      break;
    case 2:  // j/nc i/mc k/kc j/nr i/mr
      add(ax.j, rj.outer), add(ax.i, ri.outer), add_k();
      add(ax.j, rj.mid), add(ax.i, ri.mid);
      break;
    default:  // i/mc j/nc k/kc i/mr j/nr
      add(ax.i, ri.outer), add(ax.j, rj.outer), add_k();
      add(ax.i, ri.mid), add(ax.j, rj.mid);
      break;
  }
  if (rows_in_k) add(rows, 0);
  // The window loops: inside the k loop, or around it. Inside, one k step
  // holds every tap, and the broadcasts of neighbouring taps read the same
  // inputs: LLVM keeps them in registers across the taps and, past 32
  // registers, spills accumulators. Around it, each k step reads distinct
  // inputs (for channels-last reads, the next channels of one pixel).
  if (t.taps_outside) {
    for (size_t r = 1; r < ax.reductions.size(); ++r) add(ax.reductions[r], 0);
  }
  add(k, rk.mid);
  if (!t.taps_outside) {
    for (size_t r = 1; r < ax.reductions.size(); ++r) {
      add(ax.reductions[r], 0);
      if (t.unroll_window) s.unrolled.push_back({ax.reductions[r], 0});
    }
  }
  add(k, rk.inner);
  add(ax.i, ri.inner);
  add(ax.j, rj.inner);
  if (rk.inner >= 0) s.unrolled.push_back({k, rk.inner});
  if (ri.inner >= 0) s.unrolled.push_back({ax.i, ri.inner});
  s.unrolled.push_back({ax.j, rj.inner});
  s.vector_axis = ax.j;
  s.vector_width = v;
  // Threads share the batch loops and up to `par` tile loops after them (the
  // rows inside the cache blocks count as a batch loop).
  int parallel = static_cast<int>(ax.batch.size()) - (rows >= 0 ? 1 : 0);
  int extra = 0;
  while (parallel < static_cast<int>(s.order.size()) && (extra < t.par || s.order[U(parallel)].axis == rows)) {
    const LoopRef l = s.order[U(parallel)];
    if (nest.axis(l.axis).reduction || s.IsUnrolled(l)) break;
    if (l.axis != rows) ++extra;
    ++parallel;
  }
  s.parallel = parallel;
  b.Finish(s);
  return absl::OkStatus();
}

// The knob space and defaults shared by the GEMM-form templates.
std::vector<Knob> GemmKnobs() {
  return {{"mr", {1, 2, 4, 6, 8, 12, 14}}, {"nr", {1, 2, 3, 4}},  // nr in vectors
          {"mc", {1, 2, 4, 8, 12, 16, 32}}, {"nc", {1, 2, 4, 8, 16}},
          {"kc", {64, 128, 256, 384, 512, 1 << 20}}, {"ku", {1, 2, 4}},
          {"order", {0, 1, 2, 3}},           {"par", {1, 2, 3}},
          {"half", {0, 1}}};
}

// Cache tiles of a GEMM whose batch loops run `outer` times: mc x nc blocks of
// register tiles, made smaller until threads have kMinParallelBlocks blocks to
// share (the order-2 schedule shares the batch loops and the j/nc and i/mc
// loops, which stop at the k/kc loop): a small GEMM (a conv on a 13x13 image)
// otherwise runs as one block on one thread.
constexpr int64_t kMinParallelBlocks = 8;

// The fraction of the lanes of register tiles `nr` vectors wide that `n`
// columns fill: the last tile is computed whole.
double LaneUse(int64_t n, int64_t nr, int v) {
  return static_cast<double>(n) / static_cast<double>(RoundUp(n, nr * v));
}

// The register tile of a GEMM: 8 rows x 3 vectors by default (6 x 2 with 16
// registers). kPixels: the columns are the output pixels of a dense
// NCHW conv (the rows its output channels, the weights broadcast); then the
// tile is 6 x 4, or 12 x 2 when that fills more lanes (14x14 images: 88%
// against 77%). Single-thread CPU time of the zoo's dense NCHW convs
// (bench/conv_sweep), against 8 x 3 in the same run: 1x1 convs on 56x56
// images 0.64-1.05x, on 28x28 0.90-1.03x, on 14x14 0.96-1.04x (12 x 2), on
// 7x7 0.80-0.98x; 3x3 convs 1.0-1.04x; stems of 3 channels 0.95-1.13x (a tie
// when run again). Channels-last convs (the columns their output channels)
// measured up to 1.4x slower with 6 x 4; kChannels (their columns)
// takes 8 x 2 where 2 vectors fill more lanes than 3 (320 or 128 channels):
// 1.1-1.35x faster on Inception-v3's 3x3/2 192x17x17 -> 320 (conv_sweep).
struct RegisterTile {
  int64_t rows, vectors;
};

// What the columns of a GEMM are, for its default register tile.
// kChannelsTapsOutside: output channels of a conv whose window taps run
// outside its channel loop ("taps" knob), so that no broadcast input stays in
// a register from one tap to the next and a tile may take 4 vectors.
enum class Columns { kOther, kPixels, kChannels, kChannelsTapsOutside };

// Relative speed of channels-last register tiles 4, 3 and 2 vectors wide (6,
// 8 and 12 rows: 24 accumulators) when both fill their lanes and rows: fewer
// broadcasts per FMA for wider tiles. On 2 threads, Inception-v3's NHWC convs
// with windows measured 6 x 4 at 1.0-1.1x the speed of 8 x 3 where both fill
// their rows (80x73x73 -> 192, 48x35x35 5x5 -> 64).
constexpr double kChannelsTileSpeed[] = {0.0, 0.0, 0.88, 0.96, 1.0};

// The channels-last register tile (kChannelsTapsOutside) of `m` pixels x `n`
// channels: the one of 4, 3 or 2 vectors (6, 8 or 12 rows) whose lanes, rows
// (tiles of even size: 17 pixels as 6 + 6 + 5) and kChannelsTileSpeed give the
// most; 8x8 images take 8 x 3, 7x7 ones 7 x 3, 17x17 and larger 6 x 4 when
// the channels fill 4 vectors.
RegisterTile ChannelsTapsOutsideTile(int64_t m, int64_t n, int v) {
  RegisterTile best{1, 1};
  double best_score = -1;
  for (int64_t nr : {4, 3, 2}) {
    if (nr > 2 && nr * v > RoundUp(n, v)) continue;
    const int64_t cap = 24 / nr;
    const int64_t tiles = CeilDiv(m, cap);
    const double rows = static_cast<double>(m) / static_cast<double>(tiles * cap);
    const double score = LaneUse(n, nr, v) * rows * kChannelsTileSpeed[nr];
    if (score > best_score + 1e-9) {
      best_score = score;
      best = {CeilDiv(m, tiles), nr};
    }
  }
  return best;
}

RegisterTile DefaultRegisterTile(int64_t m, int64_t n, int v, int registers, Columns columns) {
  if (columns == Columns::kChannelsTapsOutside && registers >= 32 && n > v) {
    return ChannelsTapsOutsideTile(m, n, v);
  }
  int64_t nr = std::min<int64_t>(registers >= 32 ? 3 : 2, CeilDiv(n, v));
  int64_t cap = registers >= 32 ? 8 : 6;
  if (columns == Columns::kPixels && registers >= 32 && n > 2 * v) {
    nr = LaneUse(n, 2, v) > LaneUse(n, 4, v) + 0.05 ? 2 : 4;
    cap = 24 / nr;
  }
  if (columns == Columns::kChannels && registers >= 32 && n > 2 * v &&
      LaneUse(n, 2, v) > LaneUse(n, 3, v)) {
    nr = 2;
  }
  return {std::min<int64_t>(std::min<int64_t>(cap, m), MaxTileVectors(registers) / nr), nr};
}

Config GemmDefault(int64_t m, int64_t n, int v, int registers, int64_t outer = 1,
                   Columns columns = Columns::kOther) {
  const RegisterTile tile = DefaultRegisterTile(m, n, v, registers, columns);
  const int64_t chunks = tile.vectors, mr = tile.rows;
  int64_t mc = 12, nc = 8;
  auto blocks = [&] { return outer * CeilDiv(m, mc * mr) * CeilDiv(n, nc * chunks * v); };
  for (;;) {
    if (blocks() >= kMinParallelBlocks) break;
    // Blocks that halving mc (nc) would add: > 1 while a block holds more
    // than one register tile on that side.
    const double row_room = mc > 1 ? static_cast<double>(CeilDiv(m, mr)) / CeilDiv(m, mc * mr) : 1;
    const double col_room =
        nc > 1 ? static_cast<double>(CeilDiv(n, chunks * v)) / CeilDiv(n, nc * chunks * v) : 1;
    if (row_room <= 1 && col_room <= 1) break;
    if (col_room >= row_room) {
      nc /= 2;
    } else {
      mc = mc == 12 ? 8 : mc / 2;
    }
  }
  return {{"mr", mr}, {"nr", chunks}, {"mc", mc}, {"nc", nc}, {"kc", 256},
          {"ku", 4},  {"order", 2},   {"par", 2}};
}

// Packs rows(o, kk) of a [groups][rows][k] matrix into panels of `panel` rows:
// out[g][o / panel][kk][o % panel], zero-padded.
std::vector<float> PackPanels(int64_t groups, int64_t rows, int64_t k, int64_t panel,
                              const std::function<float(int64_t g, int64_t o, int64_t kk)>& at) {
  const int64_t padded = RoundUp(rows, panel);
  std::vector<float> out(U(groups * padded * k), 0.0f);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t o = 0; o < rows; ++o) {
      for (int64_t kk = 0; kk < k; ++kk) {
        out[U(((g * (padded / panel) + o / panel) * k + kk) * panel + o % panel)] = at(g, o, kk);
      }
    }
  }
  return out;
}

// The index of packed element (g, o, kk) where kk is given as an index.
AffineIndex PackedIndex(int g_axis, int64_t groups, int o_axis, int64_t rows, const AffineIndex& kk,
                        int64_t k, int64_t panel) {
  const int64_t padded = RoundUp(rows, panel);
  AffineIndex index;
  if (groups > 1) index.Add(g_axis, padded * k);
  if (panel > 1) {
    index.Add(o_axis, k * panel, AxisPart::kQuotient, panel);
    index.Add(o_axis, 1, AxisPart::kRemainder, panel);
  } else {
    index.Add(o_axis, k);
  }
  AddScaled(index, kk, panel);
  return index;
}

// ---- matmul.

class MatMulTemplate : public Template {
 public:
  MatMulTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {
    const Node& n = context_.graph().node(group_.root);
    a_ = context_.Access(n.inputs[0]);
    b_ = context_.Access(n.inputs[1]);
    const Dims& od = n.outputs[0].dims;
    m_ = od[od.size() - 2];
    n_ = od.back();
    k_ = a_.dims.back();
    batch_.assign(od.begin(), od.end() - 2);
  }

  std::string name() const override { return "gemm"; }
  std::vector<Knob> Space() const override {
    std::vector<Knob> knobs = GemmKnobs();
    if (b_.constant != nullptr) knobs.push_back({"pack", {0, 1}});
    return knobs;
  }
  Config DefaultConfig() const override {
    int64_t outer = 1;
    for (int64_t d : batch_) outer *= d;
    Config c = GemmDefault(m_, n_, context_.vector_width(), context_.vector_registers(), outer);
    // Rows that fit one register tile (a matrix-vector product, batch 1)
    // read each block of B once: cutting the reduction into kc blocks saves
    // no cache traffic, and each kc block is a parallel job of its own
    // (order 2 shares the loops inside k/kc). NASRNN's 512x512 products took
    // 0.44 ms for 8 with kc 256 and 0.25 ms with the whole reduction.
    if (CeilDiv(m_, c["mr"]) == 1) c["kc"] = int64_t{1} << 20;
    if (b_.constant != nullptr) c["pack"] = 1;
    return c;
  }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& node = g.node(group_.root);
    Lowered lowered;
    lowered.flops = GroupFlops(g, group_);
    LaunchBuilder b(group_.Label(g), context_, lowered);
    const bool pack = b_.constant != nullptr && Get(config, "pack", 1) != 0;
    GemmProblem p;
    for (size_t d = 0; d < batch_.size(); ++d) p.batch.push_back({StrCat("b", d), batch_[d]});
    p.m = m_;
    p.n = n_;
    p.reductions = {{"k", k_}};
    p.activation = node.attrs.GetEnum<Activation>("activation");
    const size_t ob = batch_.size();
    // Batch offset of an operand with batch dims `dims` (right-aligned).
    auto batch_index = [&](const GemmAxes& ax, const Dims& dims, const std::vector<int64_t>& strides) {
      AffineIndex index;
      const size_t rank = dims.size() - 2;
      for (size_t d = 0; d < rank; ++d) {
        if (dims[d] != 1) index.Add(ax.batch[ob - rank + d], strides[d]);
      }
      return index;
    };
    p.product = [&](LaunchBuilder& lb, const GemmAxes& ax, const GemmTiles& t) {
      LoopNest& nest = lb.nest();
      const size_t ra = a_.dims.size();
      AffineIndex ai = batch_index(ax, a_.dims, a_.strides);
      ai.Add(ax.i, a_.strides[ra - 2]).Add(ax.reductions[0], a_.strides[ra - 1]);
      const int a = nest.Load(lb.Value(node.inputs[0]), ai);
      const size_t rb = b_.dims.size();
      if (!pack) {
        AffineIndex bi = batch_index(ax, b_.dims, b_.strides);
        bi.Add(ax.reductions[0], b_.strides[rb - 2]).Add(ax.j, b_.strides[rb - 1]);
        return nest.Mul(a, nest.Load(lb.Value(node.inputs[1]), bi));
      }
      // B packed per batch of B in panels of nr columns: [bb][j/nr][k][j%nr].
      const Dims bbatch(b_.dims.begin(), b_.dims.end() - 2);
      const int64_t batches = NumElements(bbatch);
      const std::vector<int64_t> rm = RowMajorStrides(bbatch);
      const int64_t nr = t.nr;
      const int64_t panel_size = RoundUp(n_, nr) * k_;
      std::vector<float> packed(U(batches * panel_size), 0.0f);
      for (int64_t bb = 0; bb < batches; ++bb) {
        int64_t base = 0, rest = bb;
        for (size_t d = bbatch.size(); d-- > 0;) {
          base += rest % bbatch[d] * b_.strides[d];
          rest /= bbatch[d];
        }
        std::vector<float> one = PackPanels(1, n_, k_, nr, [&](int64_t, int64_t j, int64_t kk) {
          return b_.constant[base + kk * b_.strides[rb - 2] + j * b_.strides[rb - 1]];
        });
        std::copy(one.begin(), one.end(), packed.begin() + bb * panel_size);
      }
      AffineIndex bi = batch_index(ax, b_.dims, rm.empty() ? std::vector<int64_t>{} : rm);
      for (IndexTerm& term : bi.terms) term.coeff *= panel_size;
      AffineIndex kk({{ax.reductions[0], 1}});
      AddScaled(bi, PackedIndex(0, 1, ax.j, n_, kk, k_, nr), 1);
      return nest.Mul(a, nest.Load(lb.NewConstant(std::move(packed)), bi));
    };
    p.out_dims = [&](const GemmAxes& ax) {
      std::vector<AffineIndex> dims;
      for (int a : ax.batch) dims.push_back(AffineIndex({{a, 1}}));
      dims.push_back(AffineIndex({{ax.i, 1}}));
      dims.push_back(AffineIndex({{ax.j, 1}}));
      return dims;
    };
    if (absl::Status s = LowerGemm(b, group_, p, config, group_.output(g)); !s.ok()) return s;
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
  ValueAccess a_, b_;
  int64_t m_ = 1, n_ = 1, k_ = 1;
  Dims batch_;
};

// ---- conv2d.

// Conv algorithms (the "algo" knob).
constexpr int64_t kDirect = 0;  // windows read the input, guards at the borders
constexpr int64_t kIm2col = 1;  // an im2col copy, then a GEMM (NCHW)
constexpr int64_t kPadded = 2;  // a zero-padded copy, then windows without guards
constexpr int64_t kBorders = 3;  // windows inside the input without guards, the border with them

// The least output channels per group and reduction length (input channels
// per group x window) for which the default schedule copies into im2col form:
// below them windows over the input in place measured faster on the zoo's
// convs (depthwise and grouped convs up to 10x, 3-channel stems 1.2-1.9x).
constexpr int64_t kIm2colMinRows = 64;
// The most output pixels for which an NCHW conv computes channels-last by
// default (then copies to NCHW): up to 16x16 images, where NCHW vectors along
// the width measured 1.3-1.7x slower on the zoo's 3x3 convs.
constexpr int64_t kChannelsLastMaxPixels = 256;
// The least lane use of vectors along height x width below which a 1x1 NCHW
// conv computes channels-last by default, then copies to NCHW (a transpose in
// registers): 7x7 images (77%) measured 1.15-1.25x faster that way, 14x14
// (88%) a little slower.
constexpr double kPointwiseChannelsLastLaneUse = 0.8;
// Weights of a group from which the output rows of a conv go inside the cache
// blocks, and the weight block those blocks are cut to (L2-sized): a chain of
// 512x7x7 3x3 convs measured 2x slower with the rows outermost, every row
// reading 9 MB of weights from memory.
constexpr int64_t kRowsInsideMinWeightBytes = 1 << 20;
constexpr int64_t kWeightBlockBytes = 512 << 10;
constexpr int64_t kWeightPanelBytes = 80 << 10;
constexpr int64_t kRowsInsideBlocks = 4;
constexpr int64_t kIm2colMinReduction = 64;
// The most output channels per group for which a padded grouped NCHW conv
// reads its input in place by default (guards at the borders) instead of
// copying it padded first: with few rows per group the copy costs about as
// much as the conv. The tuners chose the direct form for 18 of the zoo's 20
// such convs with 1 to 8 channels per group on AMD EPYC, and for ResNeXt's
// 32x4 3x3 conv on 56x56 on Intel Xeon, where it runs in 0.22-0.26 ms
// against 0.44-0.51 with the copy; 16 and 32 channels per group kept it.
constexpr int64_t kDirectGroupedMaxRows = 8;
// The least products per output for which strided or column-spanning windows
// compute channels-last by default (3-channel stems stay NCHW).
constexpr int64_t kChannelsLastMinReduction = 64;

// Whether dims h, w of `a` can be walked as one axis of h * w (or w is 1).
bool Flattenable(const ValueAccess& a) {
  return a.dims[3] == 1 || a.dims[2] == 1 || a.strides[2] == a.dims[3] * a.strides[3];
}

class ConvTemplate : public Template {
 public:
  ConvTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    x_ = context_.Access(n.inputs[0]);
    w_ = context_.Access(n.inputs[1]);
    out_ = context_.Access(group_.output(g));
    groups_ = n.attrs.GetInt("groups");
    og_ = w_.dims[0] / groups_;
    cg_ = w_.dims[1];
    kh_ = w_.dims[2];
    kw_ = w_.dims[3];
    win_ = ResolveWindow(x_.dims[2], x_.dims[3], {kh_, kw_}, n.attrs);
    nhwc_ = out_.strides[1] == 1 && out_.dims[1] > 1;
    pointwise_ = kh_ == 1 && kw_ == 1 && win_.ok() && win_->stride[0] == 1 &&
                 win_->stride[1] == 1 && win_->pads[0] == 0 && win_->pads[1] == 0 &&
                 win_->pads[2] == 0 && win_->pads[3] == 0;
    // A 1x1 conv walks height x width as one axis when everything it reads
    // and writes at the output point allows it.
    flatten_ = pointwise_ && Flattenable(x_) && Flattenable(out_);
    std::vector<NodeId> inside = {group_.root};
    for (NodeId id : group_.chain) {
      for (ValueId in : g.node(id).inputs) {
        if (std::find(inside.begin(), inside.end(), in.node) != inside.end()) continue;
        const ValueAccess a = context_.Access(in);
        if (a.dims.size() == 4 && !Flattenable(a)) flatten_ = false;
      }
      inside.push_back(id);
    }
  }

  std::string name() const override { return nhwc_ ? "conv_nhwc" : "conv_nchw"; }

  std::vector<Knob> Space() const override {
    std::vector<Knob> knobs = GemmKnobs();
    knobs.push_back({"unroll_window", {0, 1}});
    if (kh_ * kw_ > 1) knobs.push_back({"taps", {0, 1}});
    if (!pointwise_) {
      knobs.push_back(nhwc_ ? Knob{"algo", {kDirect, kPadded}} : Knob{"algo", {kDirect, kIm2col, kPadded}});
    }
    if (w_.constant != nullptr) knobs.push_back({"pack", {0, 1}});
    knobs.push_back(nhwc_ ? Knob{"cf", {0, 1}} : Knob{"cl", {0, 1}});
    if (FlatPaddedPossible()) knobs.push_back({"flat", {0, 1}});
    if (!pointwise_) knobs.push_back({"rows", {0, 1, 2}});
    return knobs;
  }

  // Whether the default schedule of an NCHW conv computes channels-last (then
  // copies to NCHW, a transpose in registers), with at least two vectors of
  // output channels: when its input is channels-last (vectors along the
  // width would gather it). Otherwise its output channels must fill whole
  // vectors, and then any of:
  // - its windows are strided or span columns, with at least
  //   kChannelsLastMinReduction products per output (3-channel stems stay NCHW).
  //   Vectors along the output width would read every other input column
  //   (shuffles, or an im2col copy) or one unaligned vector per column of the
  //   window. On 2 threads channels-last measured 1.1-1.5x faster on the
  //   zoo's 3x3/2 convs, a tie on its 1x1/2 ones, and 1.0-1.8x on its 3x3,
  //   5x5 and 1x7 ones; 7x1 windows measured 0.9-1.1x and stay NCHW;
  // - a window larger than 1x1 on a small image (kChannelsLastMaxPixels),
  //   where vectors along the output width leave many lanes empty;
  // - a 1x1 conv whose height x width fills less than
  //   kPointwiseChannelsLastLaneUse of the lanes (7x7 images); elsewhere the
  //   copy back to NCHW costs more than it saves.
  bool DefaultChannelsLast() const {
    const int v = context_.vector_width();
    if (nhwc_ || !win_.ok() || groups_ != 1 || og_ < 2 * v) return false;
    // The last vector of output channels may be part-filled here: SqueezeNet's
    // 512 -> 1000 1x1 classifier on 13x13 took 6.4 ms with vectors along the
    // width against 1.08 ms channels-last.
    if (InputChannelsLast()) return true;
    if (og_ % v != 0) return false;
    const int64_t pixels = win_->out[0] * win_->out[1];
    if ((win_->stride[1] > 1 || kw_ > 1) && kk() >= kChannelsLastMinReduction) return true;
    if (kh_ * kw_ > 1) return pixels <= kChannelsLastMaxPixels;
    return std::max(LaneUse(pixels, 2, v), LaneUse(pixels, 4, v)) < kPointwiseChannelsLastLaneUse;
  }
  bool InputChannelsLast() const { return x_.strides[1] == 1 && x_.dims[1] > 1; }
  // Whether the default reads a padded grouped NCHW conv's input in place
  // (kDirectGroupedMaxRows); its register tiles then span the row's pixels
  // as a dense conv's do (4 vectors for 56 pixels, not 2 tiles of 3).
  bool ReadGroupedInPlace() const {
    return !pointwise_ && win_.ok() && groups_ > 1 && og_ <= kDirectGroupedMaxRows && !nhwc_ &&
           !InputChannelsLast() && win_->pads[0] + win_->pads[1] + win_->pads[2] + win_->pads[3] > 0;
  }

  // Whether the default schedule of a channels-last conv computes NCHW into a
  // temp, then copies to its output: grouped and depthwise convs, whose few
  // output channels per group leave vectors along them mostly empty (NHWC
  // measured 2-8x slower on the zoo's grouped and depthwise convs).
  bool DefaultChannelsFirst() const { return nhwc_ && groups_ > 1; }

  Config DefaultConfig() const override {
    const int v = context_.vector_width();
    if (DefaultChannelsLast()) return ChannelsLastDefault();
    // Whether the GEMM's rows are the output pixels (channels-last) or the
    // output channels.
    const bool cl_compute = nhwc_ && !DefaultChannelsFirst();
    const int64_t oh = win_.ok() ? win_->out[0] : 1, ow = win_.ok() ? win_->out[1] : 1;
    int64_t algo = kDirect;
    if (!pointwise_ && win_.ok()) {
      const bool padded = win_->pads[0] + win_->pads[1] + win_->pads[2] + win_->pads[3] > 0;
      // A channels-last input is copied (padded or not) into NCHW order.
      algo = padded || (InputChannelsLast() && !cl_compute) ? kPadded : kDirect;
      // Windows along a row fill ow of the lanes of ceil(ow / v) vectors; im2col
      // walks height x width instead, at the price of a copy. The copy pays
      // when the GEMM after it is large on both sides: few output channels per
      // group (depthwise and grouped convs) leave its register tile mostly
      // empty, and a short reduction (a stem's 3 input channels) does too little
      // work per copied element; windows read the input in place instead.
      const double lanes = static_cast<double>(ow) / static_cast<double>(RoundUp(ow, v));
      if (!nhwc_ && w_.constant != nullptr && (win_->stride[1] > 1 || lanes < 0.85) &&
          og_ >= kIm2colMinRows && cg_ * kh_ * kw_ >= kIm2colMinReduction) {
        algo = kIm2col;
      }
    }
    // Windows over a padded copy whose rows are walked as one axis (the
    // padding columns computed and dropped) when rows of ow outputs would
    // leave lanes empty and the padding columns are few; preferred to im2col,
    // whose copy is kh x kw times the input (0.65-0.8x the time on the zoo's
    // 3x3 and 7x1 convs, 1 to 8 images).
    const bool grouped_in_place = ReadGroupedInPlace();
    const bool flat = !grouped_in_place && FlatPaddedPossible() && ow % v != 0 &&
                      (PaddedWidth() - ow) * 8 <= ow;
    if (flat) algo = kPadded;
    if (grouped_in_place) algo = kDirect;
    // The GEMM's columns: height x width when flattened or im2col, else width.
    const int64_t spatial = flatten_ || algo == kIm2col ? oh * ow : flat ? FlatColumns() : ow;
    const int regs = context_.vector_registers();
    // The batch loops threads share: images, groups and, for windows along a
    // row, the output rows.
    const int64_t outer = x_.dims[0] * groups_ * (flatten_ || algo == kIm2col || flat ? 1 : oh);
    const bool taps_outside = cl_compute && TapsOutsideDefault();
    Config c = cl_compute ? GemmDefault(spatial, og_, v, regs, outer,
                                        taps_outside ? Columns::kChannelsTapsOutside : Columns::kOther)
                          : GemmDefault(og_, spatial, v, regs, outer,
                                        groups_ == 1 || grouped_in_place ? Columns::kPixels
                                                                          : Columns::kOther);
    c["unroll_window"] = 1;
    if (!pointwise_) c["algo"] = algo;
    if (flat) c["flat"] = 1;
    if (algo == kDirect || algo == kPadded) {
      // The unrolled window already gives a long body: no unrolling of the
      // channel loop on top, and a third loop shared by threads.
      c["ku"] = pointwise_ ? 4 : 1;
      c["par"] = 3;
      if (!flat) RowsInsideDefault(c, /*weights_on_rows=*/!cl_compute);
    }
    if (taps_outside) TapsOutside(c);
    if (w_.constant != nullptr) c["pack"] = 1;
    if (nhwc_ && !cl_compute) c["cf"] = 1;
    return c;
  }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    if (!win_.ok()) return win_.status();
    const Graph& g = context_.graph();
    Lowered lowered;
    lowered.flops = GroupFlops(g, group_);
    const bool pack = w_.constant != nullptr && Get(config, "pack", 1) != 0;
    const int64_t algo = pointwise_ ? kDirect : Get(config, "algo", kDirect);
    const bool cl = !nhwc_ && Get(config, "cl", 0) != 0;
    const bool cf = nhwc_ && Get(config, "cf", 0) != 0;
    // Whether the GEMM's rows are output pixels: channels-last outputs but
    // for cf, NCHW ones with cl.
    const bool cl_compute = (nhwc_ && !cf) || cl;
    if (algo == kIm2col && (nhwc_ || cl || !pack)) {
      return absl::InvalidArgumentError("im2col needs NCHW and constant (packed) weights");
    }
    const bool flat = Get(config, "flat", 0) != 0;
    if (flat && (cl || algo != kPadded || !FlatPaddedPossible())) {
      return absl::InvalidArgumentError(
          "flat padded rows need the padded algorithm, NCHW, stride 1 and a channels-first input");
    }
    int col = -1;
    if (algo == kIm2col) col = Im2col(lowered);
    InputSource source = Direct();
    if (algo == kPadded) source = PadInput(lowered, InputChannelsLast() && cl_compute);
    LaunchBuilder b(group_.Label(g), context_, lowered);
    const bool rows = Get(config, "rows", 0) != 0;
    GemmProblem p = cl_compute ? NhwcProblem(pack, source, rows)
                               : NchwProblem(pack, col, source, flat, rows);
    ValueAccess copy_access;
    if (flat) {
      // The product over padded rows into a temp [n][channel][y * wp + x],
      // then the outputs (x < ow) copied out with the chain.
      const Dims& od = out_.dims;
      const int64_t wp = PaddedWidth(), plane = od[2] * wp;
      lowered.temps.push_back(od[0] * od[1] * plane);
      p.out_temp = static_cast<int>(lowered.temps.size()) - 1;
      p.out_temp_access.dims = od;
      p.out_temp_access.strides = {od[1] * plane, plane, 0, 1};
      p.out_temp_access.elements = od[0] * od[1] * plane;
      copy_access = p.out_temp_access;
      copy_access.strides = {od[1] * plane, plane, wp, 1};
    }
    if (cl || cf) {
      // The product into a temp in the GEMM's layout (channels-last for cl,
      // NCHW for cf), then the chain on the way to the output.
      const Dims& od = out_.dims;
      lowered.temps.push_back(od[0] * od[1] * od[2] * od[3]);
      p.out_temp = static_cast<int>(lowered.temps.size()) - 1;
      p.out_temp_access.dims = od;
      p.out_temp_access.strides =
          cl ? std::vector<int64_t>{od[1] * od[2] * od[3], 1, od[3] * od[1], od[1]}
             : std::vector<int64_t>{od[1] * od[2] * od[3], od[2] * od[3], od[3], 1};
      p.out_temp_access.elements = od[0] * od[1] * od[2] * od[3];
    }
    if (absl::Status s = LowerGemm(b, group_, p, config, group_.output(g)); !s.ok()) return s;
    if (cl || cf) CopyOut(lowered, p.out_temp, p.out_temp_access);
    if (flat) CopyOut(lowered, p.out_temp, copy_access);
    return lowered;
  }

 private:
  const Node& node() const { return context_.graph().node(group_.root); }
  int64_t kk() const { return cg_ * kh_ * kw_; }

  // Whether windows over a padded copy can walk its rows as one axis: NCHW
  // output, stride 1 (output column x of row y reads the copy, made NCHW, at
  // y * wp + x + window offset, affine in y * wp + x).
  bool FlatPaddedPossible() const {
    return !nhwc_ && !pointwise_ && win_.ok() && win_->stride[0] == 1 && win_->stride[1] == 1;
  }
  // The width of the padded copy, and the columns of the flat GEMM: every
  // padded row but the last, whose padding columns are not needed.
  int64_t PaddedWidth() const { return win_->out[1] + (kw_ - 1) * win_->dilation[1]; }
  int64_t FlatColumns() const { return (win_->out[0] - 1) * PaddedWidth() + win_->out[1]; }

  // The default config of the channels-last form: windows in place (padded
  // copy when the conv pads), register tiles of output pixels x output
  // channel vectors, as for an NHWC conv.
  Config ChannelsLastDefault() const {
    const int v = context_.vector_width();
    const int64_t oh = win_->out[0], ow = win_->out[1];
    const bool padded = win_->pads[0] + win_->pads[1] + win_->pads[2] + win_->pads[3] > 0;
    const int64_t spatial = flatten_ ? oh * ow : ow;
    const int64_t outer = x_.dims[0] * (flatten_ ? 1 : oh);
    const bool taps_outside = TapsOutsideDefault();
    Config c = GemmDefault(spatial, og_, v, context_.vector_registers(), outer,
                           taps_outside ? Columns::kChannelsTapsOutside : Columns::kChannels);
    // Row tiles of even size: as few as tiles of the default rows need, the
    // pixels shared out evenly (7 + 7 for 14 pixels, 6 + 6 + 5 for 17, where
    // 8 + 8 + 1 leaves a tile of one row).
    const int64_t row_tiles = CeilDiv(spatial, c["mr"]);
    c["mr"] = CeilDiv(spatial, row_tiles);
    c["unroll_window"] = 1;
    c["cl"] = 1;
    if (!pointwise_) {
      // Strided windows read the input in place: a padded copy holds about
      // stride^2 times the pixels the conv writes.
      c["algo"] = padded && win_->stride[0] == 1 && win_->stride[1] == 1 ? kPadded : kDirect;
      c["ku"] = 1;
      c["par"] = 3;
      if (!flatten_) RowsInsideDefault(c, /*weights_on_rows=*/false);
    }
    if (taps_outside) TapsOutside(c);
    if (w_.constant != nullptr) c["pack"] = 1;
    return c;
  }

  // Whether the default channels-last schedule runs the window taps outside
  // the channel loop: a dense conv with a window that reads a channels-last
  // input, where the channel loop inside walks contiguous inputs. With the
  // taps inside, LLVM keeps the broadcasts that neighbouring taps share in
  // registers and spills accumulators (8 x 3 and 6 x 4 tiles). On 2 threads,
  // Inception-v3's NHWC convs measured 1.1-1.5x faster with the taps outside
  // and ChannelsTapsOutsideTile's tiles (554 against 627 ms for all its
  // distinct convs, bench/conv_sweep). An NCHW input stays with the taps
  // inside: the channel loop would jump between planes (0.9-0.98x on the
  // 147x147 convs).
  bool TapsOutsideDefault() const {
    return win_.ok() && !pointwise_ && kh_ * kw_ > 1 && groups_ == 1 && InputChannelsLast();
  }
  // The knobs of a taps-outside schedule: the channel loop unrolled by 4 in
  // place of the window.
  static void TapsOutside(Config& c) {
    c["taps"] = 1;
    c["ku"] = 4;
    c["unroll_window"] = 0;
  }

  // Windows along rows read every weight once per output row. When the
  // weights of a group outgrow the caches, the rows go inside the cache
  // blocks (weights_on_rows: the weights are the GEMM's rows, else its
  // columns):
  // - for one image, inside the register-tile loops too (rows=2): each panel
  //   of weights (a register tile's output channels x kc input channels x
  //   the window) comes from memory once and serves every row from the
  //   caches, kc cut until a panel fits kWeightPanelBytes. Rows inside the k
  //   loop are not shared by threads, so the output channels are cut into
  //   kRowsInsideBlocks blocks for them. A chain of 512-channel 3x3 convs on
  //   7x7 images (weights evicted by the next ones, as in ResNet-50) measured
  //   1.4x faster than with rows=1, and NCHW ones 1.25x.
  // - for several images (rows=1; and 1x1 convs over height x width, which
  //   have no rows), before the k loop: blocks of output
  //   channels cut to kWeightBlockBytes per kc step, the input rows of an image
  //   reused across them. rows=2 measured 1.1-1.2x slower on Inception-v3's
  //   strided and 8x8 convs at batch 32, whose panels then walk the whole
  //   image for each register tile.
  void RowsInsideDefault(Config& c, bool weights_on_rows) const {
    const int64_t taps = kh_ * kw_;
    if (og_ * kk() * 4 <= kRowsInsideMinWeightBytes || win_->out[0] < 2) return;
    const int v = context_.vector_width();
    if (x_.dims[0] > 1 || flatten_) {
      c["rows"] = 1;
      auto block = [&] {
        const int64_t side = weights_on_rows ? c["mc"] * c["mr"] : c["nc"] * c["nr"] * v;
        return side * std::min(c["kc"], cg_) * taps * 4;
      };
      while (block() > kWeightBlockBytes && !weights_on_rows && c["nc"] > 1) c["nc"] /= 2;
      while (block() > kWeightBlockBytes && c["kc"] > 64) c["kc"] /= 2;
      return;
    }
    c["rows"] = 2;
    // Two vectors of output channels where they divide them: smaller panels
    // of whole vectors (the 512-channel 7x7 chain measured 1.1x faster with
    // 7x2 tiles and kc 64 than with 7x3 and kc 32).
    if (!weights_on_rows && c["nr"] > 2 && og_ % (2 * v) == 0) {
      // Rows of up to 12 pixels, shared out evenly (7 + 7 for 14).
      const int64_t ow = win_->out[1];
      c["nr"] = 2;
      c["mr"] = CeilDiv(ow, CeilDiv(ow, 12));
    }
    const int64_t tile = weights_on_rows ? c["mr"] : c["nr"] * v;
    auto panel = [&] { return tile * std::min(c["kc"], cg_) * taps * 4; };
    while (panel() > kWeightPanelBytes && c["kc"] > 16 && c["kc"] / 2 % c["ku"] == 0) c["kc"] /= 2;
    int64_t& per_block = c[weights_on_rows ? "mc" : "nc"];
    per_block = std::clamp<int64_t>(CeilDiv(og_, tile) * groups_ / kRowsInsideBlocks, 1, per_block);
  }

  // Copies the product in a temp to the group's output, applying the group's
  // chain on the way.
  void CopyOut(Lowered& lowered, int temp, const ValueAccess& temp_access) const {
    const Graph& g = context_.graph();
    LaunchBuilder b(StrCat(group_.Label(g), nhwc_ ? "/nhwc" : "/nchw"), context_, lowered);
    LoopNest& nest = b.nest();
    const ValueId out = group_.output(g);
    const ValueAccess oa = b.Access(out);
    const std::vector<AffineIndex> dim_index = AxesForDims(nest, oa);
    int expr = nest.Load(b.Temp(temp, false), OutIndex(temp_access, dim_index));
    expr = ApplyChain(b, group_, expr, dim_index);
    nest.SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);
    // Height x width walked as one axis where every operand allows it.
    nest = CoalesceAxes(nest);
    b.Finish(ElementwiseSchedule(nest, context_.vector_width(), 1, kParallelMinElements));
  }

  // The weights packed in panels of `panel` output channels of each group,
  // reduction index (c, ky, kx): [g][og/panel][c*kh*kw + ky*kw + kx][og%panel].
  // Weights packed in panels along the reduction k = (c, ky, kx), or
  // k = (ky, kx, c) when `taps_outside`.
  std::vector<float> PackWeights(int64_t panel, bool taps_outside) const {
    return PackPanels(groups_, og_, kk(), panel, [&](int64_t g, int64_t o, int64_t k) {
      const int64_t c = taps_outside ? k % cg_ : k / (kh_ * kw_);
      const int64_t tap = taps_outside ? k / cg_ : k % (kh_ * kw_);
      const int64_t ky = tap / kw_, kx = tap % kw_;
      return w_.constant[(g * og_ + o) * w_.strides[0] + c * w_.strides[1] + ky * w_.strides[2] +
                         kx * w_.strides[3]];
    });
  }

  // The weight at (g, og, reduction index) for a GEMM side of `panel`.
  int WeightLoad(LaunchBuilder& b, int g_axis, int o_axis, const AffineIndex& k_index,
                 const AffineIndex& c_term, const AffineIndex& ky_term, const AffineIndex& kx_term,
                 bool pack, int64_t panel, bool taps_outside) const {
    if (pack) {
      return b.nest().Load(b.NewConstant(PackWeights(panel, taps_outside)),
                           PackedIndex(g_axis, groups_, o_axis, og_, k_index, kk(), panel));
    }
    AffineIndex wi;
    if (groups_ > 1) wi.Add(g_axis, og_ * w_.strides[0]);
    wi.Add(o_axis, w_.strides[0]);
    AddScaled(wi, c_term, w_.strides[1]);
    AddScaled(wi, ky_term, w_.strides[2]);
    AddScaled(wi, kx_term, w_.strides[3]);
    return b.nest().Load(b.Value(node().inputs[1]), wi);
  }

  // Where the conv reads its input: the input value, with guards for the
  // padding, or a padded copy in a temp, without.
  struct InputSource {
    int temp = -1;
    std::vector<int64_t> strides;  // of dims N, C, H, W
    int64_t h = 0, w = 0;
    int64_t pad_top = 0, pad_left = 0;
  };

  InputSource Direct() const {
    return {-1, x_.strides, x_.dims[2], x_.dims[3], win_->pads[0], win_->pads[1]};
  }

  // Copies the input into a temp with the padding made explicit (zeros),
  // channels-last (PaddedChannelsLastCopy: zeros, then an unguarded copy) or
  // NCHW (one guarded copy), holding every row and column the windows read.
  InputSource PadInput(Lowered& lowered, bool channels_last) const {
    const Graph& g = context_.graph();
    const int64_t hp = (win_->out[0] - 1) * win_->stride[0] + (kh_ - 1) * win_->dilation[0] + 1;
    const int64_t wp = (win_->out[1] - 1) * win_->stride[1] + (kw_ - 1) * win_->dilation[1] + 1;
    if (channels_last) {
      const PaddedCopy copy = PaddedChannelsLastCopy(lowered, context_, group_.Label(g), node().inputs[0],
                                                     x_, hp, wp, win_->pads[0], win_->pads[1], 0.0f);
      return {copy.temp, copy.strides, hp, wp, 0, 0};
    }
    const int64_t n = x_.dims[0], c = x_.dims[1];
    ValueAccess padded;
    padded.dims = {n, c, hp, wp};
    padded.strides = {c * hp * wp, hp * wp, wp, 1};
    padded.elements = n * c * hp * wp;
    LaunchBuilder b(StrCat(group_.Label(g), "/pad"), context_, lowered);
    int temp = -1;
    const int out = b.NewTemp(padded.elements, true, &temp);
    const std::vector<AffineIndex> dims = AxesForDims(b.nest(), padded);
    AffineIndex y = dims[2], x = dims[3];
    y.offset -= win_->pads[0];
    x.offset -= win_->pads[1];
    AffineIndex index;
    AddScaled(index, dims[0], x_.strides[0]);
    AddScaled(index, dims[1], x_.strides[1]);
    AddScaled(index, y, x_.strides[2]);
    AddScaled(index, x, x_.strides[3]);
    const int load = b.nest().Load(b.Value(node().inputs[0]), index,
                                   {{y, x_.dims[2]}, {x, x_.dims[3]}}, 0.0f);
    b.nest().SetResult(out, OutIndex(padded, dims), load);
    b.Finish(ElementwiseSchedule(b.nest(), context_.vector_width(), 2, kParallelMinElements));
    return {temp, padded.strides, hp, wp, 0, 0};
  }

  // The input element for output (n, g, c, y, x) and window (ky, kx); y and x
  // may be null for a flattened 1x1 conv (then `p` walks both).
  int InputLoad(LaunchBuilder& b, const InputSource& src, int n_axis, int g_axis,
                const AffineIndex& c, const AffineIndex& y, const AffineIndex& x, int ky,
                int kx) const {
    AffineIndex iy, ix;
    AddScaled(iy, y, win_->stride[0]);
    AddScaled(ix, x, win_->stride[1]);
    if (ky >= 0) iy.Add(ky, win_->dilation[0]);
    if (kx >= 0) ix.Add(kx, win_->dilation[1]);
    iy.offset -= src.pad_top;
    ix.offset -= src.pad_left;
    AffineIndex index;
    if (n_axis >= 0) index.Add(n_axis, src.strides[0]);
    if (groups_ > 1) index.Add(g_axis, cg_ * src.strides[1]);
    AddScaled(index, c, src.strides[1]);
    AddScaled(index, iy, src.strides[2]);
    AddScaled(index, ix, src.strides[3]);
    std::vector<Guard> guards;
    const int64_t oh = win_->out[0], ow = win_->out[1];
    const int64_t reach_y = (oh - 1) * win_->stride[0] + (kh_ - 1) * win_->dilation[0] - src.pad_top;
    const int64_t reach_x = (ow - 1) * win_->stride[1] + (kw_ - 1) * win_->dilation[1] - src.pad_left;
    if (src.pad_top > 0 || reach_y >= src.h) guards.push_back({iy, src.h});
    if (src.pad_left > 0 || reach_x >= src.w) guards.push_back({ix, src.w});
    const int buffer = src.temp >= 0 ? b.Temp(src.temp, false) : b.Value(node().inputs[0]);
    return b.nest().Load(buffer, index, guards, 0.0f);
  }

  // im2col into a temp: col[n][g][c*kh*kw + ky*kw + kx][y*ow + x]. Returns the temp.
  int Im2col(Lowered& lowered) const {
    const Graph& g = context_.graph();
    LaunchBuilder b(StrCat(group_.Label(g), "/im2col"), context_, lowered);
    LoopNest& nest = b.nest();
    const int64_t n = x_.dims[0], oh = win_->out[0], ow = win_->out[1];
    const int na = nest.AddAxis("n", n), ga = nest.AddAxis("g", groups_), ca = nest.AddAxis("c", cg_);
    const int kya = nest.AddAxis("ky", kh_), kxa = nest.AddAxis("kx", kw_);
    const int ya = nest.AddAxis("y", oh), xa = nest.AddAxis("x", ow);
    int temp = -1;
    const int64_t p = oh * ow;
    const int col = b.NewTemp(n * groups_ * kk() * p, true, &temp);
    // The loads read axes ky and kx as spatial axes of this copy.
    AffineIndex iy({{ya, win_->stride[0]}, {kya, win_->dilation[0]}}, -win_->pads[0]);
    AffineIndex ix({{xa, win_->stride[1]}, {kxa, win_->dilation[1]}}, -win_->pads[1]);
    AffineIndex index({{na, x_.strides[0]}, {ga, cg_ * x_.strides[1]}, {ca, x_.strides[1]}});
    AddScaled(index, iy, x_.strides[2]);
    AddScaled(index, ix, x_.strides[3]);
    std::vector<Guard> guards = {{iy, x_.dims[2]}, {ix, x_.dims[3]}};
    const int load = nest.Load(b.Value(node().inputs[0]), index, guards, 0.0f);
    AffineIndex out({{na, groups_ * kk() * p},
                     {ga, kk() * p},
                     {ca, kh_ * kw_ * p},
                     {kya, kw_ * p},
                     {kxa, p},
                     {ya, ow},
                     {xa, 1}});
    nest.SetResult(col, out, load);
    b.Finish(ElementwiseSchedule(nest, context_.vector_width(), 1, kParallelMinElements));
    return temp;
  }

  // NCHW: i = output channel in the group (A = weights), j = output width (or
  // height x width, or the im2col column).
  GemmProblem NchwProblem(bool pack, int col_temp, const InputSource& src,
                          bool flat_padded = false, bool rows_inside = false) const {
    GemmProblem p;
    const int64_t n = out_.dims[0], oh = win_->out[0], ow = win_->out[1];
    const bool columns = col_temp >= 0;
    const bool flat = flatten_ || columns || flat_padded;
    p.batch = {{"n", n}, {"g", groups_}};
    if (!flat) p.batch.push_back({"y", oh});
    if (!flat && rows_inside) p.rows_inside = 2;
    p.m = og_;
    p.n = flat_padded ? FlatColumns() : flat ? oh * ow : ow;
    if (columns || pointwise_) {
      p.reductions = {{"k", kk()}};
    } else {
      p.reductions = {{"c", cg_}, {"ky", kh_}, {"kx", kw_}};
    }
    p.activation = node().attrs.GetEnum<Activation>("activation");
    p.product = [this, pack, columns, flat, flat_padded, col_temp, n, oh, ow, src](
                    LaunchBuilder& b, const GemmAxes& ax, const GemmTiles& t) {
      const int na = ax.batch[0], ga = ax.batch[1];
      const bool split = ax.reductions.size() == 3;
      const AffineIndex c = AffineIndex({{ax.reductions[0], 1}});
      const AffineIndex ky = split ? AffineIndex({{ax.reductions[1], 1}}) : AffineIndex();
      const AffineIndex kx = split ? AffineIndex({{ax.reductions[2], 1}}) : AffineIndex();
      AffineIndex kflat = c;
      if (split && t.taps_outside) {
        kflat = AffineIndex({{ax.reductions[1], kw_ * cg_}, {ax.reductions[2], cg_}, {ax.reductions[0], 1}});
      } else if (split) {
        kflat = AffineIndex({{ax.reductions[0], kh_ * kw_}, {ax.reductions[1], kw_}, {ax.reductions[2], 1}});
      }
      const int w = WeightLoad(b, ga, ax.i, kflat, c, ky, kx, pack, t.mr, t.taps_outside);
      int x;
      if (columns) {
        const int64_t p_size = oh * ow;
        AffineIndex ci({{na, groups_ * kk() * p_size}, {ax.reductions[0], p_size}, {ax.j, 1}});
        if (groups_ > 1) ci.Add(ga, kk() * p_size);
        x = b.nest().Load(b.Temp(col_temp, false), ci);
      } else if (flat_padded) {
        // The padded copy at (c, j + window offset) for j = y * wp + x.
        x = InputLoad(b, src, na, ga, c, AffineIndex(), AffineIndex({{ax.j, 1}}),
                      split ? ax.reductions[1] : -1, split ? ax.reductions[2] : -1);
      } else if (flat) {
        // 1x1, stride 1, no padding: the input at (c, p) for p = y * w + x.
        x = InputLoad(b, src, na, ga, c, AffineIndex(), AffineIndex({{ax.j, 1}}), -1, -1);
      } else {
        x = InputLoad(b, src, na, ga, c, AffineIndex({{ax.batch[2], 1}}), AffineIndex({{ax.j, 1}}),
                      split ? ax.reductions[1] : -1, split ? ax.reductions[2] : -1);
      }
      (void)n;
      return b.nest().Mul(w, x);
    };
    p.out_dims = [this, flat](const GemmAxes& ax) {
      AffineIndex o({{ax.i, 1}});
      if (groups_ > 1) o.Add(ax.batch[1], og_);
      std::vector<AffineIndex> dims = {AffineIndex({{ax.batch[0], 1}}), o};
      if (flat) {
        dims.push_back(AffineIndex());
        dims.push_back(AffineIndex({{ax.j, 1}}));
      } else {
        dims.push_back(AffineIndex({{ax.batch[2], 1}}));
        dims.push_back(AffineIndex({{ax.j, 1}}));
      }
      return dims;
    };
    return p;
  }

  // NHWC: i = output width (or height x width) (A = the input), j = output
  // channel in the group (B = weights).
  GemmProblem NhwcProblem(bool pack, const InputSource& src, bool rows_inside = false) const {
    GemmProblem p;
    const int64_t n = out_.dims[0], oh = win_->out[0], ow = win_->out[1];
    p.batch = {{"n", n}};
    if (!flatten_) p.batch.push_back({"y", oh});
    if (!flatten_ && rows_inside) p.rows_inside = 1;
    p.batch.push_back({"g", groups_});
    p.m = flatten_ ? oh * ow : ow;
    p.n = og_;
    if (pointwise_) {
      p.reductions = {{"c", cg_}};
    } else {
      p.reductions = {{"c", cg_}, {"ky", kh_}, {"kx", kw_}};
    }
    p.activation = node().attrs.GetEnum<Activation>("activation");
    p.product = [this, pack, src](LaunchBuilder& b, const GemmAxes& ax, const GemmTiles& t) {
      const int na = ax.batch[0], ga = ax.batch.back();
      const bool split = ax.reductions.size() == 3;
      const AffineIndex c = AffineIndex({{ax.reductions[0], 1}});
      const AffineIndex ky = split ? AffineIndex({{ax.reductions[1], 1}}) : AffineIndex();
      const AffineIndex kx = split ? AffineIndex({{ax.reductions[2], 1}}) : AffineIndex();
      AffineIndex kflat = c;
      if (split && t.taps_outside) {
        kflat = AffineIndex({{ax.reductions[1], kw_ * cg_}, {ax.reductions[2], cg_}, {ax.reductions[0], 1}});
      } else if (split) {
        kflat = AffineIndex({{ax.reductions[0], kh_ * kw_}, {ax.reductions[1], kw_}, {ax.reductions[2], 1}});
      }
      int x;
      if (flatten_) {
        x = InputLoad(b, src, na, ga, c, AffineIndex(), AffineIndex({{ax.i, 1}}), -1, -1);
      } else {
        x = InputLoad(b, src, na, ga, c, AffineIndex({{ax.batch[1], 1}}), AffineIndex({{ax.i, 1}}),
                      split ? ax.reductions[1] : -1, split ? ax.reductions[2] : -1);
      }
      const int w = WeightLoad(b, ga, ax.j, kflat, c, ky, kx, pack, t.nr, t.taps_outside);
      return b.nest().Mul(x, w);
    };
    p.out_dims = [this](const GemmAxes& ax) {
      AffineIndex o({{ax.j, 1}});
      if (groups_ > 1) o.Add(ax.batch.back(), og_);
      std::vector<AffineIndex> dims = {AffineIndex({{ax.batch[0], 1}}), o};
      if (flatten_) {
        dims.push_back(AffineIndex());
      } else {
        dims.push_back(AffineIndex({{ax.batch[1], 1}}));
      }
      dims.push_back(AffineIndex({{ax.i, 1}}));
      return dims;
    };
    return p;
  }

  Group group_;
  const LoweringContext& context_;
  ValueAccess x_, w_, out_;
  int64_t groups_ = 1, og_ = 1, cg_ = 1, kh_ = 1, kw_ = 1;
  absl::StatusOr<Window2d> win_;
  bool nhwc_ = false, pointwise_ = false, flatten_ = false;
};

// A depthwise conv (one input and one output channel per group) whose input
// and output are channels-last: vectors along the channels, each output
// vector the sum over the window of input vectors times weight vectors (the
// weights packed [ky][kx][channel]), the window unrolled, as a pool is. The
// GEMM form would broadcast one input per output channel and fill one lane
// of each vector; computing NCHW (cf) copies the input and output across
// layouts instead.
class DepthwiseNhwcTemplate : public Template {
 public:
  DepthwiseNhwcTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  // Whether `group`'s conv is such a conv.
  static bool Applies(const Group& group, const LoweringContext& context) {
    const Graph& g = context.graph();
    const Node& n = g.node(group.root);
    const ValueAccess x = context.Access(n.inputs[0]), w = context.Access(n.inputs[1]);
    const ValueAccess out = context.Access(group.output(g));
    if (x.dims.size() != 4 || w.dims.size() != 4 || out.dims.size() != 4) return false;
    const int64_t groups = n.attrs.GetInt("groups");
    return groups > 1 && w.dims[1] == 1 && w.dims[0] == groups && x.dims[1] == groups &&
           x.strides[1] == 1 && out.strides[1] == 1 &&
           ResolveWindow(x.dims[2], x.dims[3], {w.dims[2], w.dims[3]}, n.attrs).ok();
  }

  std::string name() const override { return "conv_dw_nhwc"; }
  std::vector<Knob> Space() const override {
    return {{"unroll", {1, 2, 4}}, {"unroll_window", {0, 1}}, {"algo", {kDirect, kPadded, kBorders}}};
  }
  // A padded conv runs its interior (the outputs whose windows stay inside
  // the input) without guards, and the border around it with them (kBorders):
  // guards on every load of the unrolled window (a mask computed per load)
  // measured 5x the time of the loop without them on a 3x3 128x56x56 conv,
  // and a padded copy costs a pass over the input.
  Config DefaultConfig() const override {
    const Node& n = context_.graph().node(group_.root);
    const ValueAccess x = context_.Access(n.inputs[0]), w = context_.Access(n.inputs[1]);
    absl::StatusOr<Window2d> win = ResolveWindow(x.dims[2], x.dims[3], {w.dims[2], w.dims[3]}, n.attrs);
    const bool padded = win.ok() && win->pads[0] + win->pads[1] + win->pads[2] + win->pads[3] > 0;
    return {{"unroll", 4}, {"unroll_window", 1}, {"algo", padded ? kBorders : kDirect}};
  }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    Lowered lowered;
    lowered.flops = GroupFlops(g, group_);
    const ValueAccess xa = context_.Access(n.inputs[0]), wa = context_.Access(n.inputs[1]);
    const ValueId out = group_.output(g);
    const ValueAccess oa = context_.Access(out);
    const int64_t channels = xa.dims[1], kh = wa.dims[2], kw = wa.dims[3];
    absl::StatusOr<Window2d> win = ResolveWindow(xa.dims[2], xa.dims[3], {kh, kw}, n.attrs);
    if (!win.ok()) return win.status();
    const int64_t reach_y = (win->out[0] - 1) * win->stride[0] + (kh - 1) * win->dilation[0] + 1;
    const int64_t reach_x = (win->out[1] - 1) * win->stride[1] + (kw - 1) * win->dilation[1] + 1;
    // The input the windows read: the value, or a channels-last copy of the
    // rows and columns they reach with the padding made zeros.
    const int64_t algo = Get(config, "algo", kDirect);
    const bool copied = algo == kPadded;
    int temp = -1;
    std::vector<int64_t> strides = xa.strides;
    int64_t pad_top = win->pads[0], pad_left = win->pads[1];
    if (copied) {
      const PaddedCopy padded = PaddedChannelsLastCopy(lowered, context_, group_.Label(g), n.inputs[0],
                                                       xa, reach_y, reach_x, pad_top, pad_left, 0.0f);
      temp = padded.temp;
      strides = padded.strides;
      pad_top = pad_left = 0;
    }
    int packed = -1;  // the weights packed [ky][kx][c], a constant of `lowered`
    if (wa.constant != nullptr) {
      std::vector<float> data(U(kh * kw * channels));
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t a = 0; a < kh; ++a) {
          for (int64_t e = 0; e < kw; ++e) {
            data[U((a * kw + e) * channels + c)] =
                wa.constant[c * wa.strides[0] + a * wa.strides[2] + e * wa.strides[3]];
          }
        }
      }
      lowered.constants.push_back(std::move(data));
      packed = static_cast<int>(lowered.constants.size()) - 1;
    }
    // One launch for the output rows [r0, r0 + rows) and columns [c0, c0 +
    // cols), with or without guards on the input, shared by threads or not.
    auto launch = [&](int64_t r0, int64_t rows, int64_t c0, int64_t cols, bool guard, bool share) {
      if (rows <= 0 || cols <= 0) return;
      LaunchBuilder b(group_.Label(g), context_, lowered);
      LoopNest& nest = b.nest();
      const int source = copied ? b.Temp(temp, false) : b.Value(n.inputs[0]);
      ValueAccess box = oa;
      box.dims[2] = rows;
      box.dims[3] = cols;
      std::vector<AffineIndex> dim_index = AxesForDims(nest, box);
      dim_index[2].offset += r0;
      dim_index[3].offset += c0;
      const int spatial = nest.num_axes();
      const int ky = nest.AddReduction("ky", kh), kx = nest.AddReduction("kx", kw);
      AffineIndex iy, ix;
      AddScaled(iy, dim_index[2], win->stride[0]);
      iy.Add(ky, win->dilation[0]);
      iy.offset -= pad_top;
      AddScaled(ix, dim_index[3], win->stride[1]);
      ix.Add(kx, win->dilation[1]);
      ix.offset -= pad_left;
      // The copy holds every row and column the windows reach; the input may
      // end before them, or start after the padding.
      std::vector<Guard> guards;
      if (guard && (pad_top > 0 || reach_y - pad_top > xa.dims[2])) guards.push_back({iy, xa.dims[2]});
      if (guard && (pad_left > 0 || reach_x - pad_left > xa.dims[3])) guards.push_back({ix, xa.dims[3]});
      AffineIndex index;
      AddScaled(index, dim_index[0], strides[0]);
      AddScaled(index, dim_index[1], strides[1]);
      AddScaled(index, iy, strides[2]);
      AddScaled(index, ix, strides[3]);
      const int x = nest.Load(source, index, guards, 0.0f);
      int w;
      if (packed >= 0) {
        AffineIndex wi({{ky, kw * channels}, {kx, channels}});
        AddScaled(wi, dim_index[1], 1);
        w = nest.Load(b.Constant(packed), wi);
      } else {
        AffineIndex wi({{ky, wa.strides[2]}, {kx, wa.strides[3]}});
        AddScaled(wi, dim_index[1], wa.strides[0]);
        w = nest.Load(b.Value(n.inputs[1]), wi);
      }
      nest.SetReduction(Combiner::kSum, nest.Mul(x, w));
      int expr = ApplyActivation(nest, n.attrs.GetEnum<Activation>("activation"), nest.Acc());
      expr = ApplyChain(b, group_, expr, dim_index);
      nest.SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);
      // The channels (the innermost output axis) vectorized, `unroll`
      // vectors of them held in registers across the window loops. Threads
      // share the loops outside the output rows (images and rows): sharing
      // every loop would decode the row, column and channel block from one
      // index for every few vectors.
      const int vec = spatial - 1;
      const bool parallel =
          share && box.dims[0] * box.dims[1] * rows * cols >= kParallelMinElements / 4;
      b.Finish(WindowSchedule(nest, vec, ky, kx, context_.vector_width(), Get(config, "unroll", 4),
                              Get(config, "unroll_window", 1) != 0, parallel ? std::min(vec, 2) : 0));
    };
    const int64_t oh = win->out[0], ow = win->out[1];
    if (algo != kBorders) {
      launch(0, oh, 0, ow, !copied, true);
      return lowered;
    }
    // The interior: output rows y whose window rows y * stride - pad + k *
    // dilation (k < kh) all lie in [0, height), likewise for columns.
    auto inside = [](int64_t pad, int64_t stride, int64_t span, int64_t size, int64_t n_out) {
      const int64_t first = CeilDiv(pad, stride);
      const int64_t room = size - 1 + pad - span;  // y * stride <= room
      const int64_t end = room < 0 ? 0 : std::min(n_out, room / stride + 1);
      return std::pair<int64_t, int64_t>{std::min(first, n_out), std::max(end, std::min(first, n_out))};
    };
    const auto [y0, y1] = inside(pad_top, win->stride[0], (kh - 1) * win->dilation[0], xa.dims[2], oh);
    const auto [x0, x1] = inside(pad_left, win->stride[1], (kw - 1) * win->dilation[1], xa.dims[3], ow);
    if (y1 <= y0 || x1 <= x0) {
      launch(0, oh, 0, ow, true, true);  // all border
      return lowered;
    }
    launch(y0, y1 - y0, x0, x1 - x0, false, true);
    // The border: rows above and below, then the columns left and right of
    // the interior.
    launch(0, y0, 0, ow, true, true);
    launch(y1, oh - y1, 0, ow, true, true);
    launch(y0, y1 - y0, 0, x0, true, true);
    launch(y0, y1 - y0, x1, ow - x1, true, true);
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
};

}  // namespace

std::unique_ptr<Template> MakeMatMulTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<MatMulTemplate>(group, c);
}

std::unique_ptr<Template> MakeConvTemplate(const Group& group, const LoweringContext& c) {
  if (DepthwiseNhwcTemplate::Applies(group, c)) return std::make_unique<DepthwiseNhwcTemplate>(group, c);
  return std::make_unique<ConvTemplate>(group, c);
}

}  // namespace lemma::cpu
