#!/usr/bin/env bash
# The demo: build a ResNeXt block with lemma's graph builder, print it in the
# text format, draw it, run it through the reference evaluator, and optimize it;
# then optimize NASRNN, where lemma's proved rules merge matmuls.
set -euo pipefail
lemma=${1:-build/bin/lemma}
out=${2:-build/demo}
mkdir -p "$out"

echo "== lemma zoo resnext_block: the first ResNeXt-50 bottleneck, written with the builder"
"$lemma" zoo resnext_block -o "$out/resnext_block.lemma"
"$lemma" print "$out/resnext_block.lemma"

echo
echo "== lemma stats"
"$lemma" stats "$out/resnext_block.lemma"

echo
echo "== lemma dot: $out/resnext_block.dot and .svg"
"$lemma" dot "$out/resnext_block.lemma" -o "$out/resnext_block.dot" --svg "$out/resnext_block.svg"
ls -l "$out/resnext_block.dot" "$out/resnext_block.svg"

echo
echo "== lemma run: random inputs (seed 1) through the reference evaluator"
"$lemma" run "$out/resnext_block.lemma" --seed 1
"$lemma" run "$out/resnext_block.lemma" --seed 1 --domain modp

echo
if [[ -f rules/default.rules ]]; then
  echo "== lemma optimize: the block with lemma's proved rules (rules/default.rules)"
  "$lemma" optimize "$out/resnext_block.lemma" -o "$out/resnext_block.opt.lemma" --explain
else
  rules=tests/rules/data/handwritten.rules,tests/optimizer/data/extra.rules
  echo "== lemma optimize: rules/default.rules is not generated yet; the block with the"
  echo "   hand-written, random-tested rules ($rules)"
  "$lemma" optimize "$out/resnext_block.lemma" -o "$out/resnext_block.opt.lemma" --explain \
    --rules "$rules" --allow-tested
fi
"$lemma" run "$out/resnext_block.opt.lemma" --seed 1

# In the ResNeXt block the proved rule g1057 merges the two 1x1 convs of x
# into one conv over concatenated weights (a launch saved). NASRNN's gates
# multiply one input by several weights: merged, they save more.
if [[ -f rules/default.rules ]]; then
  echo
  echo "== lemma optimize: NASRNN (5 unrolled cells) with rules/default.rules"
  "$lemma" zoo nasrnn -o "$out/nasrnn.lemma"
  "$lemma" optimize "$out/nasrnn.lemma" -o "$out/nasrnn.opt.lemma" --budget 50 --explain
  echo "== lemma run: the original and the optimized NASRNN on the same random inputs"
  "$lemma" run "$out/nasrnn.lemma" --seed 1
  "$lemma" run "$out/nasrnn.opt.lemma" --seed 1
fi

# The optimized graph runs on lemma's CPU backend: generated LLVM kernels
# (fused elementwise chains) or oneDNN, whichever measures faster per step.
if [[ -f "$out/nasrnn.opt.lemma" ]]; then
  echo
  echo "== lemma bench: NASRNN before and after, compiled for this CPU (latency in ms)"
  "$lemma" bench "$out/nasrnn.lemma" --runs 50 | sed -n 2p
  "$lemma" bench "$out/nasrnn.opt.lemma" --runs 50 | sed -n 2p
fi
