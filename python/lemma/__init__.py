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

    opt = lemma.optimize(g, budget=200)        # lemma::Optimize with the shipped rules
    print(g.cost(), opt.cost(), opt.optimization.applied_rules)
    lemma.export_onnx(opt, "opt.onnx")         # the same weights' data
"""
import os

from ._lemma import (Graph, OptimizeResult, Tensor, _optimize, export_onnx, load, load_onnx,
                     op_names, parse, supported_onnx_ops)

__all__ = ["Graph", "OptimizeResult", "Tensor", "default_rules_path", "export_onnx", "load",
           "load_onnx", "op_names", "optimize", "parse", "supported_onnx_ops"]
__version__ = "0.1.0"


def default_rules_path():
    """The rule set lemma.optimize applies when given none: $LEMMA_RULES when set
    (one file, or several separated by commas), else the rules/default.rules that
    ships inside this package (copied there by the build and by pip install)."""
    env = os.environ.get("LEMMA_RULES")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules", "default.rules")


def _rules_arg(rules):
    if rules is None:
        return default_rules_path()
    if isinstance(rules, (str, os.PathLike)):
        return os.fspath(rules)
    return ",".join(os.fspath(r) for r in rules)


def optimize(graph, alpha=1.05, budget=1000, time_limit=60.0, rules=None, allow_tested=False,
             optimize_layouts=True, threads=0):
    """Optimizes `graph` with lemma's rules under the analytical cost model:
    lemma::Optimize(graph, rules, OptimizeOptions{alpha, budget, time_limit, ...})
    (optimizer/optimize.h).

    rules: a rules file, or a list of them; None is default_rules_path().
    alpha: keep graphs costing less than alpha x the best (at least 1).
    budget: expand at most this many graphs; time_limit: seconds of search.
    allow_tested: also apply rules that are only random-tested (else proved only).
    threads: worker threads (0: one per core); the result is the same for any number.

    Returns a new Graph that carries the data of the input's weights (so that
    export_onnx writes a runnable model); its `optimization` attribute is an
    OptimizeResult: cost_before, cost_after, speedup, applied_rules, steps, stats
    (explored, generated, ..., stop) and more. The same inputs give the same graph,
    unless the time limit stops the search. Raises ValueError on bad options or a
    missing rules file.
    """
    if budget is None:
        budget = 1000
    if time_limit is None:
        time_limit = 60.0
    return _optimize(graph, _rules_arg(rules), float(alpha), int(budget), float(time_limit),
                     bool(allow_tested), bool(optimize_layouts), int(threads))
