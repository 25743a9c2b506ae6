#!/usr/bin/python3
"""The TASO benchmark graphs (jiazhihao/TASO examples/*.py) re-expressed in PyTorch.

The specification lemma's C++ zoo (bench/models.h) follows, kept here as the
PyTorch side of bench/torch_latency.py. Runs on Debian's python3-torch (1.13)
as well as newer PyTorch.

Shapes and wiring follow TASO's examples, including their quirks (noted inline):
convs carry no bias and no BatchNorm; activations are fused into convs in TASO, so
here a conv is followed by ReLU exactly where TASO says activation="RELU".
TASO padding "SAME" == k//2 for odd kernels (same output size, ceil(n/stride)).
Random weights (He-normal, so deep BN-free nets stay finite), float32, eval mode.
squeezenet is standard SqueezeNet 1.1 (not in TASO's examples).
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv(nn.Module):
    """TASO conv2d: no bias, padding SAME (k//2) or VALID (0), optional fused ReLU."""
    def __init__(self, cin, cout, k, stride=1, groups=1, relu=True, same=True):
        super().__init__()
        k = (k, k) if isinstance(k, int) else k
        pad = (k[0] // 2, k[1] // 2) if same else 0
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)
        self.relu = relu

    def forward(self, x):
        x = self.conv(x)
        return F.relu(x) if self.relu else x


def maxpool(x, k=3, s=2, same=True):
    return F.max_pool2d(x, k, s, k // 2 if same else 0)


def avgpool(x, k=3, s=1, same=True):
    return F.avg_pool2d(x, k, s, k // 2 if same else 0, count_include_pad=False)


# ---------------------------------------------------------------- ResNet-50 / ResNeXt-50
class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, expansion, groups=1):
        super().__init__()
        cout = expansion * width
        self.c1 = Conv(cin, width, 1)
        self.c2 = Conv(width, width, 3, stride, groups)
        self.c3 = Conv(width, cout, 1, relu=False)
        # TASO's projection shortcut has a ReLU (unusual, kept)
        self.proj = Conv(cin, cout, 1, stride) if stride > 1 or cin != cout else None

    def forward(self, x):
        t = self.c3(self.c2(self.c1(x)))
        return F.relu((self.proj(x) if self.proj is not None else x) + t)


class ResNetLike(nn.Module):
    def __init__(self, cin, widths, depths, expansion, groups=1, stem=False):
        super().__init__()
        layers = [Conv(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)] if stem else []
        for i, (w, d) in enumerate(zip(widths, depths)):
            for j in range(d):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(Bottleneck(cin, w, stride, expansion, groups))
                cin = expansion * w
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def resnet50():  # TASO: no stem/classifier, input 1x64x56x56
    return ResNetLike(64, [64, 128, 256, 512], [3, 4, 6, 3], expansion=4)


def resnext_block():  # the first bottleneck of resnext50, on the stem's output
    return Bottleneck(64, 128, 1, 2, groups=32)


def resnext50():  # TASO: 7x7 stem, widths 128..1024, expansion 2, 32 groups
    return ResNetLike(64, [128, 256, 512, 1024], [3, 4, 6, 3], expansion=2, groups=32, stem=True)


# ---------------------------------------------------------------- NASNet-A (TASO variant)
class SepConv(nn.Module):
    """TASO seperable_conv: depthwise kxk (no act) then pointwise 1x1 (no act)."""
    def __init__(self, c, k, stride=1):
        super().__init__()
        self.dw = Conv(c, c, k, stride, groups=c, relu=False)
        self.pw = Conv(c, c, 1, relu=False)

    def forward(self, x):
        return self.pw(self.dw(x))


class NormalCell(nn.Module):
    def __init__(self, c_prev, c_cur, c):
        super().__init__()
        # TASO's fit() is a 1x1 squeeze here: prev and cur always share spatial size
        self.sq_cur, self.sq_prev = Conv(c_cur, c, 1), Conv(c_prev, c, 1)
        self.s = nn.ModuleList([SepConv(c, 3) for _ in range(5)])

    def forward(self, prev, cur):
        cur, prev = self.sq_cur(cur), self.sq_prev(prev)
        s = self.s
        outs = [s[0](cur) + cur,
                s[1](prev) + s[2](cur),
                avgpool(cur) + prev,
                avgpool(prev) + avgpool(prev),  # TASO computes the same pool twice
                s[3](prev) + s[4](prev)]
        return torch.cat(outs, 1)


class ReductionCell(nn.Module):
    def __init__(self, c_prev, c_cur, c):
        super().__init__()
        self.sq_cur, self.sq_prev = Conv(c_cur, c, 1), Conv(c_prev, c, 1)
        self.p7a, self.c5 = SepConv(c, 7, 2), SepConv(c, 5, 2)
        self.p7b, self.p5, self.o3 = SepConv(c, 7, 2), SepConv(c, 5, 2), SepConv(c, 3)

    def forward(self, prev, cur):
        cur, prev = self.sq_cur(cur), self.sq_prev(prev)
        o0 = self.p7a(prev) + self.c5(cur)
        o1 = maxpool(cur) + self.p7b(prev)
        o2 = avgpool(cur, 3, 2) + self.p5(prev)
        o3 = maxpool(cur) + self.o3(o0)
        o4 = avgpool(o0) + o1
        return torch.cat([o0, o1, o2, o3, o4], 1)


class NasNetA(nn.Module):
    def __init__(self, c=128, normal_cells=5, stages=3):
        super().__init__()
        self.stem = Conv(3, 64, 7, 2)
        cells, c_in = [], 64
        for _ in range(stages):
            c_prev = c_cur = c_in
            for _ in range(normal_cells):
                cells.append(NormalCell(c_prev, c_cur, c))
                c_prev, c_cur = c_cur, 5 * c
            c *= 2
            cells.append(ReductionCell(c_prev, c_cur, c))
            c_in = 5 * c
        self.cells = nn.ModuleList(cells)

    def forward(self, x):
        x = maxpool(self.stem(x))
        prev = cur = x
        for cell in self.cells:
            if isinstance(cell, ReductionCell):
                x = cell(prev, cur)
                prev = cur = x
            else:
                prev, cur = cur, cell(prev, cur)
        return x


# ---------------------------------------------------------------- NASRNN
class NasRNN(nn.Module):
    """5 unrolled NAS cells, hidden 512, batch 1; each cell: 8 x (x@W + h@U) then a fixed
    tree of relu/sigmoid/tanh and add/mul. Initial state is a weight (as in TASO)."""
    def __init__(self, hidden=512, length=5):
        super().__init__()
        self.length = length
        self.h0 = nn.Parameter(torch.randn(1, hidden))
        self.w = nn.ParameterList(
            [nn.Parameter(torch.randn(hidden, hidden) / math.sqrt(hidden)) for _ in range(length * 16)])

    def cell(self, i, x, h):
        w = self.w[16 * i:16 * i + 16]
        t = [x @ w[2 * j] + h @ w[2 * j + 1] for j in range(8)]
        m0 = torch.relu(t[0]) + torch.sigmoid(t[3])
        m1 = torch.sigmoid(t[1]) + torch.tanh(t[2])
        m2 = torch.sigmoid(t[4]) * torch.tanh(t[5])
        m3 = torch.sigmoid(t[6]) * torch.relu(t[7])
        m4 = torch.sigmoid(m1) + torch.tanh(m2)
        m5 = torch.tanh(m0) * torch.tanh(m3)
        return torch.tanh(torch.tanh(m4) * torch.tanh(m5))

    def forward(self, *xs):
        h = self.h0
        for i in range(self.length):
            h = self.cell(i, xs[i], h)
        return h


# ---------------------------------------------------------------- BERT (TASO variant)
class Bert(nn.Module):
    """8 attention layers on a (batch*seq, hidden) = (16*64, 1024) input, 16 heads.
    TASO quirks kept: no softmax/scale/layernorm/FFN, K is not transposed (valid as
    seq == head_dim == 64), and the final linear is applied to the layer *input*, so the
    attention result is a dead-end sink; it is returned as an extra output so no
    compiler can drop it (TASO's graph keeps every sink)."""
    def __init__(self, batch=16, seq=64, hidden=1024, heads=16, layers=8):
        super().__init__()
        self.shape, self.layers = (batch, seq, heads, hidden // heads), layers
        self.w = nn.ParameterList(
            [nn.Parameter(torch.randn(hidden, hidden) / math.sqrt(hidden)) for _ in range(4 * layers)])

    def forward(self, x):
        x, sinks = torch.relu(x), []
        b, s, h, d = self.shape
        for i in range(self.layers):
            wq, wk, wv, wo = self.w[4 * i:4 * i + 4]
            q, k, v = [(x @ w).reshape(b, s, h, d).transpose(1, 2) for w in (wq, wk, wv)]
            a = ((q @ k) @ v).transpose(1, 2).reshape(b * s, h * d)
            sinks.append(a)
            x = x @ wo
        return (x, *sinks)


# ---------------------------------------------------------------- Inception-v3 (TASO variant)
class Branches(nn.Module):
    """Parallel branches concatenated on channels; a branch is a list of Conv specs
    (cout, k, stride, same) or the strings 'avg'/'max' (3x3 pool) at its head."""
    def __init__(self, cin, branches):
        super().__init__()
        self.branches = nn.ModuleList()
        self.cout = 0
        for spec in branches:
            layers, c = [], cin
            for op in spec:
                if op == 'avg':
                    layers.append(nn.AvgPool2d(3, 1, 1, count_include_pad=False))
                elif op == 'max':
                    layers.append(nn.MaxPool2d(3, 2))  # VALID
                else:
                    cout, k, s, same = op
                    layers.append(Conv(c, cout, k, s, same=same))
                    c = cout
            self.branches.append(nn.Sequential(*layers))
            self.cout += c

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class InceptionE(nn.Module):  # branches that fork in the middle (1x3 | 3x1)
    def __init__(self, cin):
        super().__init__()
        self.b1 = Conv(cin, 320, 1)
        self.b3, self.b3a, self.b3b = Conv(cin, 384, 1), Conv(384, 384, (1, 3)), Conv(384, 384, (3, 1))
        self.d1, self.d2 = Conv(cin, 448, 1), Conv(448, 384, 3)
        self.da, self.db = Conv(384, 384, (1, 3)), Conv(384, 384, (3, 1))
        self.pool = Conv(cin, 192, 1)
        self.cout = 2048

    def forward(self, x):
        b3, d = self.b3(x), self.d2(self.d1(x))
        return torch.cat([self.b1(x), self.b3a(b3), self.b3b(b3), self.da(d), self.db(d),
                          self.pool(avgpool(x))], 1)


def _a(pool_c):
    return [[(64, 1, 1, True)], [(48, 1, 1, True), (64, 5, 1, True)],
            [(64, 1, 1, True), (96, 3, 1, True), (96, 3, 1, True)], ['avg', (pool_c, 1, 1, True)]]


def _c(c7):
    return [[(192, 1, 1, True)],
            [(c7, 1, 1, True), (c7, (1, 7), 1, True), (192, (7, 1), 1, True)],
            [(c7, 1, 1, True), (c7, (7, 1), 1, True), (c7, (1, 7), 1, True),
             (c7, (7, 1), 1, True), (192, (1, 7), 1, True)],
            ['avg', (192, 1, 1, True)]]


class InceptionV3(nn.Module):
    def __init__(self):
        super().__init__()
        V = False  # VALID padding
        front = [Conv(3, 32, 3, 2, same=V), Conv(32, 32, 3, same=V), Conv(32, 64, 3),
                 nn.MaxPool2d(3, 2), Conv(64, 80, 1), Conv(80, 192, 3, same=V), nn.MaxPool2d(3, 2)]
        blocks, c = [], 192
        specs = [_a(32), _a(64), _a(64),
                 [[(384, 3, 2, V)], [(64, 1, 1, True), (96, 3, 1, True), (96, 3, 2, V)], ['max']],
                 _c(128), _c(160), _c(160), _c(192),
                 [[(192, 1, 1, True), (320, 3, 2, V)],
                  [(192, 1, 1, True), (192, (1, 7), 1, True), (192, (7, 1), 1, True), (192, 3, 2, V)],
                  ['max']]]
        for spec in specs:
            blocks.append(Branches(c, spec))
            c = blocks[-1].cout
        blocks += [InceptionE(c), InceptionE(2048)]
        self.net = nn.Sequential(*front, *blocks)

    def forward(self, x):
        # TASO's "global_avg" pool uses its default kernel (1,1): an identity-sized pool
        return avgpool(self.net(x), 1, 1)


# ---------------------------------------------------------------- SqueezeNet 1.1 (standard)
class Fire(nn.Module):
    def __init__(self, cin, sq, e1, e3):
        super().__init__()
        self.sq = nn.Conv2d(cin, sq, 1)
        self.e1, self.e3 = nn.Conv2d(sq, e1, 1), nn.Conv2d(sq, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.sq(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


def squeezenet():
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


# ---------------------------------------------------------------- registry
# name -> (constructor, input shapes); batch sizes are TASO's (bert 16x64 tokens, inception 32)
MODELS = {
    'bert':        (Bert,        [(16 * 64, 1024)]),
    'nasnet_a':    (NasNetA,     [(1, 3, 224, 224)]),
    'nasrnn':      (NasRNN,      [(1, 512)] * 5),
    'resnext_block': (resnext_block, [(1, 64, 56, 56)]),
    'resnet50':    (resnet50,    [(1, 64, 56, 56)]),
    'resnext50':   (resnext50,   [(1, 3, 224, 224)]),
    'inceptionv3': (InceptionV3, [(32, 3, 299, 299)]),
    'squeezenet':  (squeezenet,  [(1, 3, 224, 224)]),
}


def build(name, seed=0):
    """Return (model in eval mode, tuple of random float32 inputs)."""
    ctor, shapes = MODELS[name]
    torch.manual_seed(seed)
    model = ctor().eval()
    for m in model.modules():  # He-normal keeps activations O(1) without BatchNorm
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
    return model, tuple(torch.rand(s) for s in shapes)


def count_flops(model, inputs):
    """FLOPs (2 per multiply-add) of conv and matmul ops, counted at the aten level."""
    from torch.utils._python_dispatch import TorchDispatchMode
    aten, total = torch.ops.aten, [0]

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is aten.convolution.default:
                w = args[1].shape
                total[0] += 2 * out.numel() * w[1] * w[2] * w[3]
            elif func in (aten.mm.default, aten.addmm.default, aten.bmm.default):
                a = args[-2] if func is aten.addmm.default else args[0]
                total[0] += 2 * out.numel() * a.shape[-1]
            return out

    with torch.no_grad(), Counter():
        model(*inputs)
    return total[0]


if __name__ == '__main__':
    for name in MODELS:
        model, inputs = build(name)
        with torch.no_grad():
            out = model(*inputs)
        out = out if isinstance(out, tuple) else (out,)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:12s} params {params / 1e6:7.2f}M  GFLOP {count_flops(model, inputs) / 1e9:8.2f}  "
              f"out {[tuple(o.shape) for o in out][:2]}{'...' if len(out) > 2 else ''}  "
              f"out std {out[0].std().item():.3g} finite {all(torch.isfinite(o).all().item() for o in out)}")
