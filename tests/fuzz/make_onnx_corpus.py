#!/usr/bin/env python3
"""Writes the ONNX fuzz target's seed corpus (tests/fuzz/onnx_corpus/): the small
models of tests/onnx/test_onnx_ops.py, one per supported op, the shape chains of
tests/onnx/test_onnx_shape_chains.py, plus a few that the
importer must refuse. Run it from the repository root after changing those tests."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "onnx"))
os.environ.setdefault("LEMMA", "lemma")
import test_onnx_ops  # noqa: E402
import test_onnx_shape_chains as chains  # noqa: E402
from conftest import helper, make_model  # noqa: E402

out = os.path.join(os.path.dirname(__file__), "onnx_corpus")
os.makedirs(out, exist_ok=True)
models = {name: m for name, (m, _) in test_onnx_ops.CASES.items()}
models["chain_flatten_opset11"] = chains.flatten_chain(11)
models["chain_flatten_opset13"] = chains.flatten_chain(13)
for opset in (11, 13, 18):
    models[f"chain_axes_forms_opset{opset}"] = chains.axes_forms(opset)
models["bad_unsupported_op"] = make_model([helper.make_node("Erf", ["x"], ["y"])], [("x", [2])],
                                          [("y", None)])
models["bad_declared_shape"] = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [2, 3])],
                                          [("y", [3, 2])])
for name, model in sorted(models.items()):
    data = model.SerializeToString()
    if len(data) <= 16384:
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(data)
print(f"wrote {len(os.listdir(out))} models to {out}")
