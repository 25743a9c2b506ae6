"""lemma: a tensor-graph superoptimizer.

    import lemma
    g = lemma.load_onnx("model.onnx")          # graph + weight data
    print(g.ops(), g.outputs)                  # inspect
    lemma.export_onnx(g, "out.onnx")           # opset 17, runs in ONNX Runtime

    g = lemma.Graph("block")                   # build by hand, as in TASO
    x = g.input("x", [1, 64, 56, 56])
    w = g.weight("w", [64, 64, 3, 3])
    y = g.conv2d(x, w, padding="same", activation="relu")
    g.output("y", g.add(x, y))
    out = g.run({"x": x_array})                # the reference evaluator
"""
from ._lemma import (Graph, Tensor, export_onnx, load, load_onnx, op_names, parse,
                     supported_onnx_ops)

__all__ = ["Graph", "Tensor", "export_onnx", "load", "load_onnx", "op_names", "optimize",
           "parse", "supported_onnx_ops"]
__version__ = "0.1.0"


def optimize(graph, alpha=1.05, budget=None, time_limit=None, rules=None):
    """Optimizes `graph` with lemma's proved rules under its cost model.

    This is where lemma::Optimize(graph, rules, OptimizeOptions{alpha, budget,
    time_limit}) (optimizer/optimize.h) is bound once the optimizer is part of the
    build; until then it raises NotImplementedError.
    """
    raise NotImplementedError("lemma.optimize: the optimizer is not in this build of lemma")
