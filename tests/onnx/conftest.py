"""Shared helpers of lemma's ONNX tests: the lemma program, ONNX Runtime, and
model building with onnx.helper. Nothing is downloaded: every model is built
here or by lemma."""
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import lemma_tensors  # noqa: E402

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

LEMMA = os.environ.get("LEMMA", "lemma")


def lemma(*args, expect=0):
    """Runs the lemma program; returns its stdout+stderr. Fails on an unexpected exit code."""
    p = subprocess.run([LEMMA, *map(str, args)], capture_output=True, text=True)
    out = p.stdout + p.stderr
    assert p.returncode == expect, f"lemma {' '.join(map(str, args))} exited {p.returncode}:\n{out}"
    return out


def ort_run(path, feeds):
    """Outputs of the model at `path` in ONNX Runtime, by output name."""
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feeds)))


def ort_inputs(path):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [(i.name, i.shape) for i in s.get_inputs()]


def make_model(nodes, inputs, outputs, inits=(), opset=17, value_info=()):
    """A model of `nodes`; inputs and outputs are (name, shape) with float32 elements
    (an output shape may be None), inits are (name, ndarray)."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in inits],
        value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def random_inputs(path, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in ort_inputs(path)}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


__all__ = ["lemma", "ort_run", "ort_inputs", "make_model", "random_inputs", "lemma_tensors",
           "helper", "numpy_helper", "TensorProto", "onnx"]
