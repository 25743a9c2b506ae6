#!/usr/bin/python3
"""Latency of a zoo model under PyTorch on the CPU, a baseline of bench/cpu_bench.

Builds MODEL from bench/zoo_torch.py (the PyTorch specification of lemma's
zoo; lemma's names, e.g. inception_v3, or the specification's), in eval mode
with random weights, and times its forward pass under torch.inference_mode()
with N intra-op threads and one inter-op thread, after a few warm-up runs.
Prints one JSON object: {"median_ms", "min_ms", "max_ms", "runs", "threads",
"version", "mode", "picked", "outputs"} where outputs lists the output shapes. Needs
Debian's python3-torch (scripts/install-bench-deps.sh), which runs under
/usr/bin/python3:

    /usr/bin/python3 bench/torch_latency.py resnet50 --threads 2 --runs 20

--mode picks how the module runs: eager, jit (traced with torch.jit.trace
and frozen with torch.jit.freeze), or auto (the default: both are built and
warmed, and the one with the lesser minimum of a few runs is kept; on
PyTorch 1.13 neither wins everywhere). "mode" says which ran, and "picked"
the minimum times in ms that chose it.

With --serve it prints {"ready": true, "version", "threads", "mode",
"picked", "outputs"} once the model is built and warm, then answers each line N on
stdin with {"ms": [...]}, the times of N runs, until stdin ends (the protocol
of bench/ort_latency.py): lemma_cpu_bench interleaves these runs with its own.
When PyTorch cannot be imported it prints {"error": "..."} and exits with 3.

OpenMP's threads wait passively (OMP_WAIT_POLICY=PASSIVE unless set): with
GOMP's default spinning, PyTorch on a shared 2-core machine at load 3.3 ran
ResNet-50 in a median 324-373 ms against 87-117 ms passive, since its spinning
waiters take the cores its workers need.
"""

import argparse
import json
import os
import statistics
import sys
import time

# Read by libgomp when torch loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
except ImportError as e:
    print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({e}); "
                               "scripts/install-bench-deps.sh installs Debian's python3-torch"}),
          flush=True)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_torch  # noqa: E402

# lemma's zoo names that differ from the specification's.
ALIASES = {"inception_v3": "inceptionv3"}
WARMUP_RUNS = 3
# Runs of each mode whose minimum picks the mode under --mode auto.
PICK_RUNS = 3
MODES = {"eager": "eager", "jit": "jit.trace+freeze"}


def runner(model, inputs):
    """A callable of no arguments that runs `model` on `inputs` for inference."""
    def run():
        with torch.inference_mode():
            return model(*inputs)
    return run


def load(name, threads, mode):
    """The model ready to run (a callable of no arguments), its output shapes,
    the mode that runs it, and the minimum times (ms) of each mode tried."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    spec = ALIASES.get(name, name)
    if spec not in zoo_torch.MODELS:
        sys.exit(f"torch_latency.py: no model '{name}' (known: {', '.join(zoo_torch.MODELS)})")
    model, inputs = zoo_torch.build(spec)
    model.eval()
    runs = {}
    if mode in ("eager", "auto"):
        runs["eager"] = runner(model, inputs)
    if mode in ("jit", "auto"):
        with torch.no_grad():
            runs["jit"] = runner(torch.jit.freeze(torch.jit.trace(model, inputs)), inputs)
    outputs = None
    for run in runs.values():
        for _ in range(WARMUP_RUNS):
            out = run()
        out = out if isinstance(out, tuple) else (out,)
        shapes = [list(o.shape) for o in out]
        if outputs is not None and shapes != outputs:
            sys.exit(f"torch_latency.py: {name}: eager and traced output shapes differ")
        outputs = shapes
    picked = {}
    if len(runs) > 1:
        picked = {m: round(min(timed(run, PICK_RUNS)), 3) for m, run in runs.items()}
        mode = min(picked, key=picked.get)
    else:
        mode = next(iter(runs))
    return runs[mode], outputs, mode, picked


def timed(run, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--mode", choices=["eager", "jit", "auto"], default="auto",
                        help="eager, jit.trace + freeze, or the faster of the two")
    parser.add_argument("--serve", action="store_true",
                        help="answer lines N on stdin with the times of N runs")
    args = parser.parse_args()
    run, outputs, mode, picked = load(args.model, args.threads, args.mode)
    info = {"version": torch.__version__, "threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
            "mode": MODES[mode], "picked": picked, "outputs": outputs}
    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps({"ms": timed(run, max(1, int(line)))}), flush=True)
        return
    times = timed(run, args.runs)
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times),
                      "max_ms": max(times), "runs": args.runs, **info}))


if __name__ == "__main__":
    main()
