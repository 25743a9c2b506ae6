#!/usr/bin/env python3
"""Checks lemma's zoo against its PyTorch specification, number for number.

For each model, writes the full-size graph with `lemma zoo`, evaluates its
text with PyTorch ops (float64), feeding lemma's weight w<k> with the k-th
parameter of the zoo's PyTorch specification (bench/zoo_torch.py), and compares every output with the
module's own, along with the parameter count and models.count_flops. A
manual check, not part of the test suite: it needs PyTorch, which lemma does
not depend on.

    /usr/bin/python3 bench/zoo_vs_pytorch.py build/bin/lemma

(Debian's python3-torch, from scripts/install-bench-deps.sh.)
"""
import math
import os
import re
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

# lemma name -> models.py name; Inception-v3 runs at batch 1 (its graph has no
# reshape, so the interpreter follows the input's batch) and its FLOPs scale by 32.
MODELS = {'resnet50': 'resnet50', 'resnext50': 'resnext50', 'nasnet_a': 'nasnet_a',
          'nasrnn': 'nasrnn', 'bert': 'bert', 'inception_v3': 'inceptionv3',
          'squeezenet': 'squeezenet'}


def parse_attrs(text):
    attrs, depth, part, parts = {}, 0, '', []
    for ch in text:
        depth += {'[': 1, ']': -1}.get(ch, 0)
        if ch == ',' and depth == 0:
            parts.append(part)
            part = ''
        else:
            part += ch
    if part.strip():
        parts.append(part)
    for p in parts:
        key, value = p.strip().split('=', 1)
        if value.startswith('['):
            value = [int(t) for t in value[1:-1].split(',') if t]
        elif re.fullmatch(r'-?\d+', value):
            value = int(value)
        attrs[key] = value
    return attrs


def window(x, kernel, attrs):
    """Stride and F.pad padding (left, right, top, bottom) of a conv or pool."""
    stride = attrs.get('stride', [1, 1])
    if attrs.get('padding') == 'same':  # the odd element at the end
        pads = [0] * 4
        for i in range(2):
            n = x.shape[2 + i]
            total = max((-(-n // stride[i]) - 1) * stride[i] + kernel[i] - n, 0)
            pads[i], pads[i + 2] = total // 2, total - total // 2
    else:
        pads = attrs.get('pads', [0, 0, 0, 0])
    return stride, (pads[1], pads[3], pads[0], pads[2])


def evaluate(text, inputs, weights):
    """Outputs of the graph in lemma text `text`, by name."""
    env, outputs, weights = {}, {}, list(weights)
    for line in text.splitlines()[1:]:
        line = line.strip()
        if m := re.match(r'input (\S+): ', line):
            env[m.group(1)] = inputs.pop(0)
        elif m := re.match(r'weight (\S+): \w+\[([\d,]*)\]', line):
            env[m.group(1)] = weights.pop(0).reshape([int(t) for t in m.group(2).split(',')])
        elif m := re.match(r'output (\S+) = (\S+)', line):
            outputs[m.group(1)] = env[m.group(2)]
        elif m := re.match(r'(.+?) = (\w+)\(([^)]*)\)(?: \{(.*)\})? : ', line):
            op, a = m.group(2), parse_attrs(m.group(4) or '')
            args = [env[t.strip()] for t in m.group(3).split(',')]
            x = args[0]
            if op == 'conv2d':
                stride, pad = window(x, args[1].shape[2:], a)
                y = F.conv2d(F.pad(x, pad), args[1], stride=stride, groups=a.get('groups', 1))
                y = F.relu(y) if a.get('activation') == 'relu' else y
            elif op == 'maxpool2d':
                stride, pad = window(x, a['kernel'], a)
                y = F.max_pool2d(F.pad(x, pad, value=-math.inf), a['kernel'], stride)
            elif op == 'avgpool2d':  # padding never counts
                stride, pad = window(x, a['kernel'], a)
                total = F.avg_pool2d(F.pad(x, pad), a['kernel'], stride)
                y = total / F.avg_pool2d(F.pad(torch.ones_like(x), pad), a['kernel'], stride)
            elif op in ('ewadd', 'broadcast_add'):
                y = x + args[1]
            elif op == 'ewmul':
                y = x * args[1]
            elif op == 'matmul':
                y = x @ args[1]
            elif op in ('relu', 'sigmoid', 'tanh'):
                y = getattr(torch, op)(x)
            elif op == 'concat':
                y = torch.cat(args, a['axis'])
            elif op == 'reshape':
                y = x.reshape(a['shape'])
            elif op == 'transpose':
                y = x.permute(a['perm'])
            else:
                raise ValueError(f'no PyTorch meaning for {op}')
            env[m.group(1).split(',')[0].strip()] = y
    assert not weights, f'{len(weights)} parameters left over'
    return outputs


def main():
    lemma = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zoo_torch as models
    torch.set_default_dtype(torch.float64)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in MODELS.items():
            path = os.path.join(tmp, name + '.lemma')
            subprocess.run([lemma, 'zoo', name, '-o', path], check=True)
            stats = subprocess.run([lemma, 'stats', path], check=True, capture_output=True,
                                   text=True).stdout
            params = int(re.search(r'parameters +(\d+)', stats).group(1))
            gflop = float(re.search(r'conv\+matmul +(\S+) GFLOP', stats).group(1))
            ctor, shapes = models.MODELS[spec]
            batch = 1
            if spec == 'inceptionv3':
                batch, models.MODELS[spec] = shapes[0][0], (ctor, [(1,) + shapes[0][1:]])
            module, xs = models.build(spec)
            module = module.double()
            xs = [x.double() for x in xs]
            flops = models.count_flops(module, xs) * batch
            with torch.no_grad():
                want = module(*xs)
                want = want if isinstance(want, tuple) else (want,)
                got = list(evaluate(open(path).read(), list(xs), module.parameters()).values())
            err = max(((g - w).abs().max() / w.abs().max()).item() for g, w in zip(got, want))
            ok = (len(got) == len(want) and all(g.shape == w.shape for g, w in zip(got, want))
                  and err < 1e-12 and params == sum(p.numel() for p in module.parameters()))
            failed += not ok
            print(f'{"ok  " if ok else "FAIL"} {name:13s} params {params:>10d}  GFLOP {gflop:<7g} '
                  f'(models.py {flops / 1e9:.4f})  outputs {len(got)}  max rel error {err:.1e}')
    print(f'{len(MODELS) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
