#!/usr/bin/env bash
# Drives the lemma program the way a user does: exit codes, messages, outputs.
set -u
lemma=$1
data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {  # check NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAIL $name: exit $rc, wanted $want"; echo "$out" | head -20; failed=$((failed + 1)); return
  fi
  if [[ -n "$pattern" ]] && ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output lacks /$pattern/"; echo "$out" | head -20; failed=$((failed + 1)); return
  fi
  echo "ok   $name"
  passed=$((passed + 1))
}

same() {  # same NAME FILE_A FILE_B
  if cmp -s "$2" "$3"; then echo "ok   $1"; passed=$((passed + 1));
  else echo "FAIL $1: $2 and $3 differ"; diff "$2" "$3" | head; failed=$((failed + 1)); fi
}

# Help and usage.
check help 0 "planned, not in this build yet" -- "$lemma" --help
check no_args 2 "usage: lemma" -- "$lemma"
check unknown_command 2 "unknown command 'frobnicate'" -- "$lemma" frobnicate
for c in print dot run zoo stats optimize; do
  check "help_$c" 0 "^usage: lemma $c" -- "$lemma" "$c" --help
done
check unknown_option 2 "unknown option '--bogus'" -- "$lemma" print x --bogus
check missing_argument 2 "missing argument" -- "$lemma" print
check missing_value 2 "--seed expects a value" -- "$lemma" run x --seed

# zoo, print: the printed form is a fixed point.
check zoo_list 0 "resnext_block" -- "$lemma" zoo --list
check zoo_write 0 "" -- "$lemma" zoo resnext_block -o "$tmp/block.lemma"
check zoo_unknown 1 "no model named 'nope'" -- "$lemma" zoo nope
check print 0 "^graph resnext_block" -- "$lemma" print "$tmp/block.lemma"
"$lemma" print "$tmp/block.lemma" -o "$tmp/again.lemma"
same print_fixed_point "$tmp/block.lemma" "$tmp/again.lemma"

# stats
check stats 0 "conv2d +4" -- "$lemma" stats "$tmp/block.lemma"

# dot
check dot 0 "" -- "$lemma" dot "$tmp/block.lemma" -o "$tmp/block.dot"
check dot_content 0 "digraph" -- cat "$tmp/block.dot"
if command -v dot >/dev/null; then
  check dot_svg 0 "" -- "$lemma" dot "$tmp/block.lemma" -o "$tmp/b.dot" --svg "$tmp/block.svg"
  check svg_content 0 "<svg" -- cat "$tmp/block.svg"
fi

# run: deterministic for a seed, different for another seed, three domains.
"$lemma" run "$tmp/block.lemma" --seed 7 > "$tmp/run1" 2>/dev/null
"$lemma" run "$tmp/block.lemma" --seed 7 > "$tmp/run2" 2>/dev/null
"$lemma" run "$tmp/block.lemma" --seed 8 > "$tmp/run3" 2>/dev/null
same run_deterministic "$tmp/run1" "$tmp/run2"
if cmp -s "$tmp/run1" "$tmp/run3"; then echo "FAIL run_seed_matters"; failed=$((failed + 1));
else echo "ok   run_seed_matters"; passed=$((passed + 1)); fi
check run_output 0 "y +f32\[1,256,56,56\] +checksum sum" -- cat "$tmp/run1"
check run_f32 0 "checksum sum" -- "$lemma" run "$tmp/block.lemma" --domain f32
check run_modp 0 "sum mod p" -- "$lemma" run "$tmp/block.lemma" --domain modp
check run_bad_domain 1 "--domain must be" -- "$lemma" run "$tmp/block.lemma" --domain f16
check run_bad_seed 1 "--seed expects an integer" -- "$lemma" run "$tmp/block.lemma" --seed x

# Bad input: clear errors naming the file, non-zero exit, no half-written output.
check missing_file 1 "nope.lemma" -- "$lemma" print "$tmp/nope.lemma"
printf 'graph g {\n  input x: f32[2,3]\n  y = conv3d(x)\n  output y = y\n}\n' > "$tmp/bad.lemma"
check unknown_op 1 "bad.lemma:3:[0-9]+: .*unknown op 'conv3d'" -- "$lemma" print "$tmp/bad.lemma"
printf 'graph g {\n  input x: f32[2,3]\n  w = matmul(x, x)\n  output w = w\n}\n' > "$tmp/shape.lemma"
check bad_shape 1 "shape.lemma:3:[0-9]+: .*matmul: inner dimensions differ" -- "$lemma" run "$tmp/shape.lemma"
check no_partial_output 1 "" -- "$lemma" print "$tmp/block.lemma" -o "$tmp/missing/dir/out.lemma"
if ls "$tmp/missing" >/dev/null 2>&1; then echo "FAIL no_partial_output_dir"; failed=$((failed + 1)); fi
for f in "$data"/ir/data/*.lemma; do
  [[ -f "$f" ]] || continue
  check "run_$(basename "$f" .lemma)" 0 "checksum" -- "$lemma" run "$f"
done

# optimize: the default rule set is looked up in the current directory.
rules="$data/rules/data/handwritten.rules,$data/optimizer/data/extra.rules"
check optimize_default_rules_missing 1 "default rule set rules/default.rules does not exist" -- \
  bash -c "cd '$tmp' && '$lemma' optimize '$tmp/block.lemma'"
check optimize_rules_missing 1 "cannot read the rules file $tmp/none.rules" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$tmp/none.rules"
check optimize_bad_alpha 1 "alpha must be at least 1" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules" --alpha 0.5
check optimize_bad_alpha_text 1 "--alpha expects a number" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules" --alpha x
check optimize_proved_only 0 "0 of [0-9]+ rules usable \(proved\)" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules"
check optimize 0 "cost after +[0-9.]+ ms" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules" --allow-tested -o "$tmp/opt.lemma"
check optimize_output_runs 0 "y +f32\[1,256,56,56\]" -- "$lemma" run "$tmp/opt.lemma"
check optimize_time 0 "optimized in [0-9.]+ s" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules" --allow-tested --budget 10
check optimize_budget 0 "graphs explored.*stopped: budget" -- \
  "$lemma" optimize "$tmp/block.lemma" --rules "$rules" --allow-tested --budget 0
# A model with matches: NASRNN-like cells (x@W + h@U) written in the text format.
cat > "$tmp/cell.lemma" <<'GRAPH'
graph cell {
  input x: f32[1,64]
  weight h: f32[1,64]
  weight w1: f32[64,64]
  weight u1: f32[64,64]
  weight w2: f32[64,64]
  weight u2: f32[64,64]
  a = matmul(x, w1)
  b = matmul(h, u1)
  c = matmul(x, w2)
  d = matmul(h, u2)
  s = ewadd(a, b)
  t = ewadd(c, d)
  r = ewmul(s, t)
  output y = r
}
GRAPH
"$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --explain -o "$tmp/cell.opt.lemma" \
  > "$tmp/explain1" 2>/dev/null
"$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --explain > "$tmp/explain2" 2>/dev/null
same optimize_deterministic "$tmp/explain1" "$tmp/explain2"
check optimize_explain 0 "^ +1\. rule [a-z_]+ at " -- cat "$tmp/explain1"
check optimize_cheaper 0 "cost after .*\(1\.[0-9]*[1-9][0-9]*x\)" -- cat "$tmp/explain1"
missing=0
for id in $(sed -n 's/^ *[0-9]*\. rule \([A-Za-z0-9_.-]*\) at .*/\1/p' "$tmp/explain1"); do
  grep -q "^rule $id {" "$data/rules/data/handwritten.rules" "$data/optimizer/data/extra.rules" || {
    echo "FAIL optimize_explain_rules_exist: no rule $id"; missing=1; }
done
if [[ $missing -eq 0 ]] && grep -q " rule " "$tmp/explain1"; then
  echo "ok   optimize_explain_rules_exist"; passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
check optimize_cell_output_runs 0 "checksum" -- "$lemma" run "$tmp/cell.opt.lemma"
"$lemma" run "$tmp/cell.lemma" --seed 3 > "$tmp/cell.run" 2>/dev/null
"$lemma" run "$tmp/cell.opt.lemma" --seed 3 > "$tmp/cell.opt.run" 2>/dev/null
# The same outputs up to rounding: compare the checksums to 4 significant digits.
round() { sed -E 's/.*checksum sum ([-0-9.e+]+).*/\1/' "$1" | grep -v graph | xargs printf '%.4g\n'; }
if [[ "$(round "$tmp/cell.run")" == "$(round "$tmp/cell.opt.run")" ]]; then
  echo "ok   optimize_same_outputs"; passed=$((passed + 1))
else
  echo "FAIL optimize_same_outputs"; cat "$tmp/cell.run" "$tmp/cell.opt.run"; failed=$((failed + 1))
fi
check optimize_progress 0 " 1 explored .* best [0-9.]+ ms" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --progress
check optimize_graph_to_stdout 0 "^graph cell" -- \
  bash -c "'$lemma' optimize '$tmp/cell.lemma' --rules '$rules' --allow-tested -o - 2>/dev/null"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
