#!/usr/bin/env python3
"""Latency of a lemma graph under ONNX Runtime, the baseline of bench/cpu_bench.

Reads an ONNX model (FILE.onnx, e.g. written by lemma's exporter) or a graph in
lemma's text format (the ops the model zoo uses, rebuilt in ONNX with random
weights), and times it with ONNX Runtime's CPU provider (every graph
optimization on). Prints one JSON object: {"median_ms", "min_ms", "max_ms",
"runs", "threads", "version"}. Needs `pip install onnx onnxruntime numpy`.

    python3 bench/ort_latency.py model.lemma --threads 2 --runs 20

With --serve it prints {"ready": true, "version", "threads"} once the session
is made and warm, then answers each line N on stdin with {"ms": [...]}, the
times of N runs, until stdin ends: lemma_cpu_bench interleaves these runs with
its own, so that both see the same load.
"""

import argparse
import json
import math
import re
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

VALUE = re.compile(r"^\s*(input|weight)\s+([\w./-]+)\s*:\s*f32\[([0-9,]*)\]")
NODE = re.compile(r"^\s*(%?[\w./-]+)(?:\s*,\s*(%?[\w./-]+(?:\s*,\s*%?[\w./-]+)*))?\s*=\s*(\w+)\(([^)]*)\)\s*(\{.*\})?\s*:\s*(.*)$")
OUTPUT = re.compile(r"^\s*output\s+([\w./-]+)\s*=\s*(%?[\w./-]+)")
TYPE = re.compile(r"f32\[([0-9,]*)\]")


def parse_attrs(text):
    attrs = {}
    if not text:
        return attrs
    body = text.strip()[1:-1]
    for key, value in re.findall(r"(\w+)=(\[[^\]]*\]|[^,\s]+)", body):
        if value.startswith("["):
            attrs[key] = [int(v) for v in value[1:-1].split(",") if v]
        else:
            try:
                attrs[key] = int(value)
            except ValueError:
                try:
                    attrs[key] = float(value)
                except ValueError:
                    attrs[key] = value
    return attrs


def same_pads(size, kernel, stride, dilation):
    out = math.ceil(size / stride)
    total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    return total // 2, total - total // 2


def window_pads(attrs, in_hw, kernel):
    stride = attrs.get("stride", [1, 1])
    dilation = attrs.get("dilation", [1, 1])
    if attrs.get("padding") == "same":
        top, bottom = same_pads(in_hw[0], kernel[0], stride[0], dilation[0])
        left, right = same_pads(in_hw[1], kernel[1], stride[1], dilation[1])
        return [top, left, bottom, right]
    return attrs.get("pads", [0, 0, 0, 0])


def build(path):
    rng = np.random.default_rng(1)
    nodes, inputs, inits, outputs, shapes = [], [], [], [], {}
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def activation(name, act):
        op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}.get(act)
        if op is None:
            return name
        out = fresh(op.lower())
        nodes.append(helper.make_node(op, [name], [out]))
        return out

    renames = {}
    for line in open(path):
        if m := VALUE.match(line):
            kind, name, dims = m.group(1), m.group(2), [int(d) for d in m.group(3).split(",") if d]
            shapes[name] = dims
            if kind == "input":
                inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
            else:
                fan_in = dims[1] * dims[2] * dims[3] if len(dims) == 4 else (dims[0] if len(dims) == 2 else 1)
                bound = math.sqrt(6.0 / max(fan_in, 1))
                data = rng.uniform(-bound, bound, dims).astype(np.float32)
                inits.append(numpy_helper.from_array(data, name))
            continue
        if m := OUTPUT.match(line):
            outputs.append((m.group(1), renames.get(m.group(2), m.group(2))))
            continue
        m = NODE.match(line)
        if not m:
            continue
        results = [m.group(1)] + ([r.strip() for r in m.group(2).split(",")] if m.group(2) else [])
        op, args, attrs = m.group(3), [a.strip() for a in m.group(4).split(",") if a.strip()], parse_attrs(m.group(5))
        args = [renames.get(a, a) for a in args]
        types = [[int(d) for d in t.split(",") if d] for t in TYPE.findall(m.group(6))]
        for r, t in zip(results, types):
            shapes[r] = t
        out = results[0]
        if op == "conv2d":
            w = shapes[args[1]]
            kernel = w[2:]
            pads = window_pads(attrs, shapes[args[0]][2:], kernel)
            name = fresh("conv")
            nodes.append(helper.make_node("Conv", args, [name], kernel_shape=kernel,
                                          strides=attrs.get("stride", [1, 1]), pads=pads,
                                          dilations=attrs.get("dilation", [1, 1]),
                                          group=attrs.get("groups", 1)))
            renames[out] = activation(name, attrs.get("activation"))
            shapes[renames[out]] = shapes[out]
        elif op == "matmul":
            name = fresh("matmul")
            nodes.append(helper.make_node("MatMul", args, [name]))
            renames[out] = activation(name, attrs.get("activation"))
            shapes[renames[out]] = shapes[out]
        elif op in ("avgpool2d", "maxpool2d"):
            kernel = attrs["kernel"]
            pads = window_pads(attrs, shapes[args[0]][2:], kernel)
            if op == "avgpool2d":
                nodes.append(helper.make_node("AveragePool", args, [out], kernel_shape=kernel,
                                              strides=attrs.get("stride", [1, 1]), pads=pads,
                                              count_include_pad=attrs.get("count_include_pad", 0)))
            else:
                nodes.append(helper.make_node("MaxPool", args, [out], kernel_shape=kernel,
                                              strides=attrs.get("stride", [1, 1]), pads=pads))
        elif op in ("ewadd", "broadcast_add"):
            nodes.append(helper.make_node("Add", args, [out]))
        elif op in ("ewmul", "broadcast_mul", "scalar_mul"):
            nodes.append(helper.make_node("Mul", args, [out]))
        elif op in ("relu", "sigmoid", "tanh"):
            nodes.append(helper.make_node(op.capitalize(), args, [out]))
        elif op == "concat":
            nodes.append(helper.make_node("Concat", args, [out], axis=attrs["axis"]))
        elif op == "split":
            sizes = fresh("sizes")
            inits.append(numpy_helper.from_array(np.array(attrs["sizes"], dtype=np.int64), sizes))
            nodes.append(helper.make_node("Split", [args[0], sizes], results, axis=attrs["axis"]))
        elif op == "transpose":
            nodes.append(helper.make_node("Transpose", args, [out], perm=attrs["perm"]))
        elif op == "reshape":
            shape = fresh("shape")
            inits.append(numpy_helper.from_array(np.array(attrs["shape"], dtype=np.int64), shape))
            nodes.append(helper.make_node("Reshape", [args[0], shape], [out]))
        else:
            sys.exit(f"ort_latency.py: op '{op}' is not supported")
    graph_outputs = []
    for name, value in outputs:
        nodes.append(helper.make_node("Identity", [value], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[value]))
    graph = helper.make_graph(nodes, "lemma", inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, {i.name: shapes[i.name] for i in inputs}


def serve(session, feeds, threads):
    print(json.dumps({"ready": True, "version": ort.__version__, "threads": threads}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        times = []
        for _ in range(max(1, int(line))):
            start = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - start) * 1e3)
        print(json.dumps({"ms": times}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--serve", action="store_true",
                        help="answer lines N on stdin with the times of N runs")
    args = parser.parse_args()
    if args.graph.endswith(".onnx"):
        model = onnx.load(args.graph)
        inits = {i.name for i in model.graph.initializer}
        input_shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
                        for i in model.graph.input if i.name not in inits}
    else:
        model, input_shapes = build(args.graph)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    feeds = {name: rng.uniform(-1, 1, dims).astype(np.float32) for name, dims in input_shapes.items()}
    session.run(None, feeds)
    if args.serve:
        serve(session, feeds, args.threads)
        return
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times),
                      "max_ms": max(times), "runs": args.runs, "threads": args.threads,
                      "version": ort.__version__}))


if __name__ == "__main__":
    main()
