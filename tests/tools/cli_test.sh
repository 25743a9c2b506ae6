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
check help 0 "^  explore +where rules match" -- "$lemma" --help
check no_args 2 "usage: lemma" -- "$lemma"
check unknown_command 2 "unknown command 'frobnicate'" -- "$lemma" frobnicate
for c in print dot run zoo stats rules import export generate optimize verify explore; do
  check "help_$c" 0 "^usage: lemma $c" -- "$lemma" "$c" --help
done
check unknown_option 2 "unknown option '--bogus'" -- "$lemma" print x --bogus
check missing_argument 2 "missing argument" -- "$lemma" print
check missing_value 2 "--seed expects a value" -- "$lemma" run x --seed

# zoo, print: the printed form is a fixed point.
check zoo_list 0 "resnext_block" -- "$lemma" zoo --list
check zoo_no_name_lists 0 "^squeezenet +SqueezeNet" -- "$lemma" zoo
check zoo_help_small 0 "--small" -- "$lemma" zoo --help
# Every model of TASO's benchmark is listed with a description, writes at both
# scales, and its small version runs through the reference evaluator.
for m in resnet50 resnext50 nasnet_a nasrnn bert inception_v3 squeezenet; do
  check "zoo_list_$m" 0 "^$m +[A-Z].* [0-9]+x[0-9]+" -- "$lemma" zoo --list
  check "zoo_write_$m" 0 "" -- "$lemma" zoo "$m" -o "$tmp/$m.lemma"
  check "zoo_small_$m" 0 "" -- "$lemma" zoo "$m" --small -o "$tmp/${m}_small.lemma"
  check "zoo_small_name_$m" 0 "^graph ${m}_small \\{" -- head -1 "$tmp/${m}_small.lemma"
  check "zoo_small_run_$m" 0 "^  y +f32\\[.*checksum sum" -- "$lemma" run "$tmp/${m}_small.lemma"
done
check zoo_small_stdout 0 "^graph resnext_block_small" -- "$lemma" zoo resnext_block --small
check zoo_full_flops 0 "conv\\+matmul +70.87 GFLOP" -- "$lemma" stats "$tmp/bert.lemma"
check zoo_small_unknown 1 "no model named 'nope'" -- "$lemma" zoo nope --small
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

# rules: listings, filters, JSON against its schema, pictures, errors.
rules="$data/rules/data/handwritten.rules"
schemas="$data/../tools/schemas"
validate="$data/tools/validate_json.py"
check rules_list 0 "^conv_merge +tested +2->3 +conv2d\(x, w1\); conv2d\(x, w2\) => split#0" -- "$lemma" rules list --rules "$rules"
check rules_list_count 0 "^11 of 11 rules" -- "$lemma" rules list --rules "$rules"
check rules_list_op 0 "^3 of 11 rules" -- "$lemma" rules list --rules "$rules" --op conv2d
check rules_list_status 0 "^0 of 11 rules" -- "$lemma" rules list --rules "$rules" --status proved
check rules_list_bad_status 1 "--status must be" -- "$lemma" rules list --rules "$rules" --status maybe
check rules_list_bad_op 1 "unknown op 'conv9d'" -- "$lemma" rules list --rules "$rules" --op conv9d
"$lemma" rules list --rules "$rules" --json > "$tmp/list.json"
check rules_list_json 0 "" -- "$validate" "$schemas/rules-list.schema.json" "$tmp/list.json"
"$lemma" rules show relu_concat --rules "$rules" --json > "$tmp/show.json"
check rules_show_json 0 "" -- "$validate" "$schemas/rules-show.schema.json" "$tmp/show.json"
check rules_show_json_text 0 '"text":"rule relu_concat \{' -- cat "$tmp/show.json"
"$lemma" rules stats --rules "$rules" --json > "$tmp/stats.json"
check rules_stats_json 0 "" -- "$validate" "$schemas/rules-stats.schema.json" "$tmp/stats.json"
check rules_stats_json_total 0 '"total":11' -- cat "$tmp/stats.json"
check rules_schema_rejects 1 "missing required 'total'" -- "$validate" "$schemas/rules-stats.schema.json" "$tmp/show.json"
check rules_show 0 "^# source: relu\(concat\(a, b\)\)" -- "$lemma" rules show relu_concat --rules "$rules"
check rules_show_missing 1 "no rule with id 'nope'" -- "$lemma" rules show nope --rules "$rules"
check rules_bad_action 2 "unknown action 'frob'" -- "$lemma" rules frob --rules "$rules"
check rules_missing_file 1 "cannot open '$tmp/none.rules'" -- "$lemma" rules list --rules "$tmp/none.rules"
check rules_corrupt_file 1 "bad.rules:3:[0-9]+: " -- bash -c "printf 'rule r {\n  source {\n    input : [2]\n' > '$tmp/bad.rules' && '$lemma' rules list --rules '$tmp/bad.rules'"
check rules_show_dot 0 "" -- "$lemma" rules show conv_merge --rules "$rules" --dot "$tmp/rule.dot"
check rules_show_dot_panels 0 "subgraph cluster_1" -- cat "$tmp/rule.dot"
check rules_show_dot_source 0 "label=\"source\"" -- cat "$tmp/rule.dot"
if command -v dot >/dev/null; then
  check rules_show_svg 0 "" -- "$lemma" rules show conv_merge --rules "$rules" --svg "$tmp/rule.svg"
  check rules_show_svg_content 0 "<svg" -- cat "$tmp/rule.svg"
fi
# ONNX: export, import, and the commands that read .onnx files directly.
check export_needs_output 1 "-o FILE.onnx is required" -- "$lemma" export "$tmp/block.lemma"
check export 0 "" -- "$lemma" export "$tmp/block.lemma" -o "$tmp/block.onnx" --seed 3
check export_bad_missing 1 "--missing-weights must be" -- "$lemma" export "$tmp/block.lemma" -o "$tmp/x.onnx" --missing-weights some
check export_error_missing 1 "weight 'w0'.*has no data" -- "$lemma" export "$tmp/block.lemma" -o "$tmp/x.onnx" --missing-weights error
check import 0 "" -- "$lemma" import "$tmp/block.onnx" -o "$tmp/back.lemma" --weights "$tmp/back.tensors"
check import_note 0 "not saved" -- "$lemma" import "$tmp/block.onnx" -o "$tmp/back2.lemma"
"$lemma" stats "$tmp/block.lemma" | grep 'structural hash' > "$tmp/h1"
"$lemma" stats "$tmp/block.onnx" | grep 'structural hash' > "$tmp/h2"
same onnx_round_trip_hash "$tmp/h1" "$tmp/h2"
check stats_onnx 0 "weights w/ data  4 of 4" -- "$lemma" stats "$tmp/block.onnx"
check print_onnx 0 "^graph resnext_block" -- "$lemma" print "$tmp/block.onnx"
check dot_onnx 0 "digraph" -- "$lemma" dot "$tmp/block.onnx"
# The exported weights are those of `run --seed 3 --domain f32`: the same checksums.
"$lemma" run "$tmp/block.lemma" --seed 3 --domain f32 --save "$tmp/o1.tensors" 2>/dev/null | tail -n +2 > "$tmp/r1"
"$lemma" run "$tmp/block.onnx" --seed 3 --domain f32 2>/dev/null | tail -n +2 > "$tmp/r2"
"$lemma" run "$tmp/back.lemma" --weights "$tmp/back.tensors" --seed 3 --domain f32 2>/dev/null | tail -n +2 > "$tmp/r3"
same run_onnx_same_checksum "$tmp/r1" "$tmp/r2"
same run_weights_same_checksum "$tmp/r1" "$tmp/r3"
check run_saved 0 "" -- test -s "$tmp/o1.tensors"
check export_from_onnx 0 "" -- "$lemma" export "$tmp/block.onnx" -o "$tmp/again.onnx" --missing-weights error
printf 'graph small {\n  input x: f32[2,3]\n  y = relu(x)\n  output y = y\n}\n' > "$tmp/small.lemma"
check run_bad_inputs 1 "'w0', which is no input or weight" -- "$lemma" run "$tmp/small.lemma" --inputs "$tmp/back.tensors"
check run_bad_weights 1 "'w0', which is no weight" -- "$lemma" run "$tmp/small.lemma" --weights "$tmp/back.tensors"
head -c 1000 "$tmp/block.onnx" > "$tmp/cut.onnx"
check import_truncated 1 "cut.onnx: not a valid ONNX model" -- "$lemma" import "$tmp/cut.onnx"
check print_truncated 1 "cut.onnx" -- "$lemma" print "$tmp/cut.onnx"
printf 'not a model at all' > "$tmp/junk.onnx"
check stats_junk 1 "junk.onnx" -- "$lemma" stats "$tmp/junk.onnx"
check import_missing 1 "nope.onnx" -- "$lemma" import "$tmp/nope.onnx"
check bad_dim 1 "--dim expects" -- "$lemma" print "$tmp/block.onnx" --dim batch
# generate: a small run, deterministic for any thread count; shards merge
# into the single-process file; clear errors.
gen=(--max-ops 2 --ops matmul,ewadd,scalar_mul,concat,split --inputs a1,b1,b2,s)
check generate 0 "wrote [0-9]+ rules to" -- "$lemma" generate "${gen[@]}" -o "$tmp/g1.rules" --threads 1
check generate_summary 0 "distinct fingerprints" -- "$lemma" generate "${gen[@]}" -o "$tmp/g2.rules" --threads 3
same generate_threads "$tmp/g1.rules" "$tmp/g2.rules"
check generate_content 0 "^rule g0001 \{" -- cat "$tmp/g1.rules"
check generate_status 0 "status tested" -- cat "$tmp/g1.rules"
check generate_origin 0 "origin \"lemma generate max_ops=2 seed=1 ops=" -- cat "$tmp/g1.rules"
check generate_shard0 0 "wrote shard 0/2" -- "$lemma" generate "${gen[@]}" --shard 0/2 -o "$tmp/sh.rules"
check generate_shard1 0 "wrote shard 1/2" -- "$lemma" generate "${gen[@]}" --shard 1/2 -o "$tmp/sh.rules"
check generate_merge 0 "merged 2 shard files" -- "$lemma" generate merge "$tmp/sh.rules.shard-1-of-2" "$tmp/sh.rules.shard-0-of-2" -o "$tmp/merged.rules"
same generate_merge_equal "$tmp/g1.rules" "$tmp/merged.rules"
check generate_merge_missing 1 "shard 1 of 2 is missing" -- "$lemma" generate merge "$tmp/sh.rules.shard-0-of-2" -o "$tmp/x.rules"
check generate_merge_no_files 2 "needs the shard files" -- "$lemma" generate merge -o "$tmp/x.rules"
check generate_no_output 2 "-o FILE is required" -- "$lemma" generate --max-ops 1
check generate_bad_op 1 "no generator op named 'conv3d'" -- "$lemma" generate --ops conv3d -o "$tmp/x.rules"
check generate_bad_max_ops 1 "max_ops must be 1 to 4" -- "$lemma" generate --max-ops 9 -o "$tmp/x.rules"
check generate_bad_shard 1 "--shard expects i/n" -- "$lemma" generate --shard 2 -o "$tmp/x.rules"
check generate_bad_time 1 "--time-limit expects seconds" -- "$lemma" generate --time-limit soon -o "$tmp/x.rules"
check generate_budget 0 "stopped by the budget" -- "$lemma" generate "${gen[@]}" --max-graphs 5 --threads 1 -o "$tmp/b.rules"
"$lemma" generate "${gen[@]}" --threads 2 -o - 2>/dev/null > "$tmp/g3.rules"
same generate_stdout "$tmp/g1.rules" "$tmp/g3.rules"
check generate_unknown_word 2 "did you mean merge" -- "$lemma" generate marge -o "$tmp/x.rules"
# optimize
rules="$data/rules/data/handwritten.rules,$data/optimizer/data/extra.rules"
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
# Measured costs: ops timed on the CPU backend, kept in a cache that a second
# run reads back (no timings are checked).
check optimize_measured 0 "cost model +measured on cpu " -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --cost measured \
  --cost-cache "$tmp/costs.jsonl" -o "$tmp/cell.measured.lemma"
check optimize_measured_cache 0 '"kind":"cost"' -- cat "$tmp/costs.jsonl"
check optimize_measured_fresh 0 "costs: [1-9][0-9]* ops measured, 0 from the cache" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --cost measured
check optimize_measured_cached 0 "costs: 0 ops measured, [1-9][0-9]* from the cache" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --cost measured \
  --cost-cache "$tmp/costs.jsonl"
check optimize_measured_output_runs 0 "checksum" -- "$lemma" run "$tmp/cell.measured.lemma"
check optimize_bad_cost 1 "--cost must be analytical, measured or cuda, not 'magic'" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --cost magic
check optimize_cache_needs_measured 1 "--cost-cache and --tuning-log need --cost measured or cuda" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --cost-cache "$tmp/costs.jsonl"
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
# optimize --explain-dir: a before/after picture of each rewrite; --json.
check optimize_explain_dir 0 "picture .*/steps/step-01-[a-z_]+\.dot" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --explain-dir "$tmp/steps"
step_dot=$(ls "$tmp"/steps/step-01-*.dot 2>/dev/null | head -1)
check optimize_explain_dir_before 0 'label="before"' -- cat "$step_dot"
check optimize_explain_dir_after 0 'label="after"' -- cat "$step_dot"
check optimize_explain_dir_title 0 'digraph "step 1: rule [a-z_]+ at ' -- cat "$step_dot"
if command -v dot >/dev/null; then
  check optimize_explain_dir_svg 0 "<svg" -- cat "${step_dot%.dot}.svg"
fi
check optimize_explain_delta 0 "^ +1\. rule [a-z_]+ at .* \[[a-z%0-9, ]+\] -> [0-9.]+ ms \(-[0-9.]+ ms\)" -- cat "$tmp/explain1"
"$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --allow-tested --explain --explain-dir "$tmp/steps2" --json \
  > "$tmp/opt.json" 2>"$tmp/opt.json.err"
check optimize_json 0 "" -- "$validate" "$schemas/optimize.schema.json" "$tmp/opt.json"
check optimize_json_step 0 '"steps":\[\{"index":1,"kind":"rule","rule":"[a-z_]+"' -- cat "$tmp/opt.json"
check optimize_json_picture 0 '"picture_dot":"[^"]*/steps2/step-01-' -- cat "$tmp/opt.json"
check optimize_json_text_on_stderr 0 "^cost after " -- cat "$tmp/opt.json.err"
check optimize_json_wrong_schema 1 "missing required 'matches'" -- "$validate" "$schemas/explore.schema.json" "$tmp/opt.json"
check optimize_json_stdout_twice 1 "both write to standard output" -- \
  "$lemma" optimize "$tmp/cell.lemma" --rules "$rules" --json -o -

# explore: every match with its cost effect, best first; JSON; the command loop.
check explore 0 "^ +1\. -[0-9.]+ ms -> [0-9.]+ ms  rule [a-z_]+ at [a-z%0-9, ]+ \[" -- \
  "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested
check explore_limit 0 "^[0-9]+ matches, best first \(3 shown\)" -- \
  "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --limit 3
check explore_proved_only 0 "no rule is usable" -- "$lemma" explore "$tmp/cell.lemma" --rules "$rules"
check explore_op 0 "^[0-9]+ matches on ewmul" -- \
  "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --op ewmul
if "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --op ewmul | grep -q "matmul_merge"; then
  echo "FAIL explore_op_filters"; failed=$((failed + 1)); else echo "ok   explore_op_filters"; passed=$((passed + 1)); fi
check explore_bad_op 1 "unknown op 'conv9d'" -- "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --op conv9d
check explore_bad_limit 1 "--limit must not be negative" -- "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --limit -1
check explore_missing_model 1 "none.lemma" -- "$lemma" explore "$tmp/none.lemma" --rules "$rules"
check explore_missing_rules 1 "none.rules" -- "$lemma" explore "$tmp/cell.lemma" --rules "$tmp/none.rules"
"$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --limit 0 \
  | sed -n 's/^ *[0-9]*\. \([-+][0-9.]*\) ms.*/\1/p' > "$tmp/deltas"
check explore_sorted 0 "" -- sort -g -c "$tmp/deltas"
check explore_all_listed 0 "^1[0-9]$" -- wc -l < "$tmp/deltas"
"$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --json --limit 0 --verbose > "$tmp/explore.json"
check explore_json 0 "" -- "$validate" "$schemas/explore.schema.json" "$tmp/explore.json"
check explore_json_first 0 '"matches":\[\{"index":1,"rule":"[a-z_]+","status":"tested","nodes":\["' -- cat "$tmp/explore.json"
"$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested --json --limit 0 > "$tmp/explore2.json"
same explore_json_deterministic "$tmp/explore.json" "$tmp/explore2.json"
check explore_json_wrong_schema 1 "missing required 'steps'" -- "$validate" "$schemas/optimize.schema.json" "$tmp/explore.json"
check explore_json_onnx_model 0 "" -- bash -c "'$lemma' export '$tmp/cell.lemma' -o '$tmp/cell.onnx' && \
  '$lemma' explore '$tmp/cell.onnx' --rules '$rules' --allow-tested --json | '$validate' '$schemas/explore.schema.json'"
# The command loop, scripted through standard input.
cat > "$tmp/session.in" <<SESSION
list 2
apply 1
cost
history
frobnicate
apply 99
show s
show nope
picture 1 $tmp/match.dot
picture 1 $tmp/match.png
undo
undo
cost
apply 1
apply 1
export $tmp/explored.lemma
export $tmp/explored.onnx
export $tmp/missing/dir/x.lemma
quit
list
SESSION
"$lemma" explore "$tmp/cell.lemma" --rules "$rules" --allow-tested -i < "$tmp/session.in" > "$tmp/session.out" 2>&1
check explore_session_exit 0 "" -- test $? -eq 0
check explore_session_list 0 "^12 matches, best first \(2 shown\)" -- cat "$tmp/session.out"
check explore_session_apply 0 "^applied rule matmul_merge at a, c: cost [0-9.]+ ms -> [0-9.]+ ms \(-[0-9.]+ ms\); [0-9]+ matches now" -- cat "$tmp/session.out"
check explore_session_cost 0 "^cost [0-9.]+ ms \(as given [0-9.]+ ms, 1\.[0-9]*[1-9][0-9]*x\); 14 nodes; 1 rewrites applied" -- cat "$tmp/session.out"
check explore_session_history 0 "^ +1\. rule matmul_merge at a, c: [0-9.]+ ms -> " -- cat "$tmp/session.out"
check explore_session_bad_command 0 "^error: unknown command 'frobnicate'" -- cat "$tmp/session.out"
check explore_session_bad_number 0 "^error: '99' is not a match number" -- cat "$tmp/session.out"
check explore_session_show 0 "^  s = ewadd\(a, b\) : f32\[1,64\]" -- cat "$tmp/session.out"
check explore_session_show_missing 0 "^error: no node 'nope'" -- cat "$tmp/session.out"
check explore_session_picture 0 "^wrote .*/match.dot" -- cat "$tmp/session.out"
check explore_session_picture_ext 0 "^error: picture file '.*match.png' must end in .dot or .svg" -- cat "$tmp/session.out"
check explore_session_undo 0 "^undid rule matmul_merge: cost [0-9.]+ ms; 12 matches now" -- cat "$tmp/session.out"
check explore_session_undo_empty 0 "^error: nothing to undo" -- cat "$tmp/session.out"
check explore_session_cost_back 0 "^cost [0-9.]+ ms \(as given [0-9.]+ ms, 1\.000x\); 13 nodes; 0 rewrites" -- cat "$tmp/session.out"
check explore_session_export_error 0 "^error: .*missing/dir" -- cat "$tmp/session.out"
check explore_session_quit 0 "^1$" -- bash -c "grep -c 'matches, best first' '$tmp/session.out'"
check explore_session_no_prompt 1 "" -- grep -q "explore>" "$tmp/session.out"
check explore_picture_panels 0 'label="before"' -- cat "$tmp/match.dot"
check explore_picture_after 0 'label="after"' -- cat "$tmp/match.dot"
check explore_picture_title 0 '^digraph "match 1: rule [a-z_]+ at [a-z%0-9, ]+ \([-+][0-9.]+ ms\)"' -- cat "$tmp/match.dot"
if command -v dot >/dev/null; then
  check explore_picture_svg 0 "^wrote .*/m.svg" -- bash -c "printf 'picture 1 $tmp/m.svg\n' | '$lemma' explore '$tmp/cell.lemma' --rules '$rules' --allow-tested -i"
  check explore_picture_svg_content 0 "<svg" -- cat "$tmp/m.svg"
fi
# The exported graphs are rewritten and compute what the original computes.
check explore_export_rewritten 0 "split\(" -- cat "$tmp/explored.lemma"
"$lemma" run "$tmp/cell.lemma" --seed 1 > "$tmp/orig.run" 2>/dev/null
for f in explored.lemma explored.onnx; do
  "$lemma" run "$tmp/$f" --seed 1 > "$tmp/$f.run" 2>/dev/null
  if [[ -s "$tmp/$f.run" && "$(round "$tmp/orig.run")" == "$(round "$tmp/$f.run")" ]]; then
    echo "ok   explore_export_same_outputs_$f"; passed=$((passed + 1))
  else
    echo "FAIL explore_export_same_outputs_$f"; cat "$tmp/orig.run" "$tmp/$f.run"; failed=$((failed + 1))
  fi
done
check explore_session_bad_model 1 "none.lemma" -- bash -c "echo list | '$lemma' explore '$tmp/none.lemma' --rules '$rules' -i"
check explore_json_interactive 1 "does not go with -i" -- "$lemma" explore "$tmp/cell.lemma" --rules "$rules" --json -i </dev/null
# verify: proves the hand-written rules, refutes the planted false ones, and
# names the file, line and rule of a bad one.
check verify_proves 0 "11 rules: 11 proved, 0 refuted" -- \
  "$lemma" verify "$data/rules/data/handwritten.rules" -o "$tmp/proved.rules" --threads 2 --timeout-ms 5000
check verify_output_status 0 'status proved "lemma-axioms-1-[0-9a-f]{8}"' -- cat "$tmp/proved.rules"
check verify_output_uses 0 "uses \[.*split_concat_0" -- cat "$tmp/proved.rules"
check verify_output_reparses 0 "11 rules: 11 proved" -- "$lemma" verify "$tmp/proved.rules" -o "$tmp/again.rules" --timeout-ms 5000 --threads 1
same verify_deterministic "$tmp/proved.rules" "$tmp/again.rules"
check verify_refutes 0 "rule matmul_commutes: refuted: at n=4: output y element" -- \
  "$lemma" verify "$data/rules/data/false.rules" -o "$tmp/false.rules"
check verify_refuted_note 0 'status refuted "at ' -- cat "$tmp/false.rules"
check verify_stdout 0 "^rule ewadd_commutes \{" -- "$lemma" verify "$data/rules/data/handwritten.rules"
check verify_no_progress_off_terminal 0 "^lemma verify: 3 rules" -- \
  bash -c "'$lemma' verify '$data/rules/data/false.rules' 2>&1 >/dev/null | grep -v '^rule '"
check verify_unknown_op 1 "unknown_op.rules:[0-9]+:[0-9]+: .*unknown op" -- \
  "$lemma" verify "$data/rules/data/errors/unknown_op.rules"
check verify_bad_shapes 1 "shapes_disagree.rules:[0-9]+:[0-9]+: rule [a-z0-9_]+: " -- \
  "$lemma" verify "$data/rules/data/errors/shapes_disagree.rules"
check verify_syntax 1 "missing_brace.rules:[0-9]+:[0-9]+: " -- \
  "$lemma" verify "$data/rules/data/errors/missing_brace.rules"
check verify_missing_file 1 "nope.rules" -- "$lemma" verify "$tmp/nope.rules"
check verify_bad_timeout 1 "--timeout-ms expects an integer" -- \
  "$lemma" verify "$data/rules/data/false.rules" --timeout-ms soon
check verify_bad_threads 1 "--threads" -- "$lemma" verify "$data/rules/data/false.rules" --threads -3
check verify_timeout_is_unknown 0 "rules: .* timed out" -- \
  "$lemma" verify "$data/verifier/data/proved/grouped.rules" --timeout-ms 1 -o "$tmp/t.rules"

# tune and bench: the CPU backend.
"$lemma" zoo resnext_block --small -o "$tmp/rb.lemma"
check tune 0 "tuned now +4 workloads" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune.jsonl" --threads 2
check tune_log_records 0 '^\{"kind":"schedule","target":".*","workload":"conv2d' -- head -1 "$tmp/tune.jsonl"
check tune_again_replays 0 "from the log +4 workloads" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune.jsonl"
# 3 candidates a workload, then those 3 (the default among them) twice more: 9 records each.
check tune_keep_best 0 "\(4 records, the one replayed for each workload; 32 dropped\)" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune_best.jsonl" --threads 2 --keep-best
check tune_keep_best_lines 0 "^4$" -- bash -c "wc -l < '$tmp/tune_best.jsonl'"
check tune_recheck 0 "rechecked +[0-9]+ workloads in the model \([0-9]+ steps\), 2 rounds" -- "$lemma" tune "$tmp/rb.lemma" --log "$tmp/tune.jsonl" --recheck --rounds 2
check tune_recheck_totals 0 "steps total +[0-9.]+ ms with the log's schedules, [0-9.]+ ms with the faster of each" -- "$lemma" tune "$tmp/rb.lemma" --log "$tmp/tune.jsonl" --recheck --rounds 1
check tune_rounds_alone 1 "--rounds is for --recheck" -- "$lemma" tune "$tmp/rb.lemma" --log "$tmp/tune.jsonl" --rounds 3
check tune_bad_rounds 1 "--rounds must be in" -- "$lemma" tune "$tmp/rb.lemma" --log "$tmp/tune.jsonl" --recheck --rounds 0
# A log directory: a file per machine, named after its target.
check tune_dir 0 "tuned now +4 workloads" -- bash -c "mkdir -p '$tmp/logs' && '$lemma' tune '$tmp/rb.lemma' --budget 2 --log '$tmp/logs' --threads 2"
check tune_dir_one_file 0 "^1$" -- bash -c "ls '$tmp/logs' | grep -c -- '-2t[.]jsonl$'"
check bench_dir_replays 0 "why: tuned schedule \(log\)" -- "$lemma" bench "$tmp/rb.lemma" --runs 1 --log "$tmp/logs" --plan --providers generated
check tune_dir_misplaced 1 "other[.]jsonl:1: a record of target '.*' belongs in " -- bash -c "f=\$(ls '$tmp/logs'/*.jsonl) && head -1 \"\$f\" > '$tmp/logs/other.jsonl' && '$lemma' bench '$tmp/rb.lemma' --runs 1 --log '$tmp/logs'"
check tune_cold 0 "weights timed cold" -- "$lemma" tune "$tmp/rb.lemma" --budget 2 --log "$tmp/tune_cold.jsonl" --weight-cache cold
check tune_cold_keys 0 'weights cold"' -- head -1 "$tmp/tune_cold.jsonl"
check tune_bad_weight_cache 1 "--weight-cache must be auto, warm or cold, not 'hot'" -- "$lemma" tune "$tmp/rb.lemma" --weight-cache hot
check tune_bad_budget 1 "--budget must be in" -- "$lemma" tune "$tmp/rb.lemma" --budget 0
check tune_time_limit 0 "time limit +0 s: 0 workloads cut short, 4 not tuned \(run again to go on\)" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune_limit.jsonl" --time-limit 0
check tune_time_limit_why 0 "default schedule \(not tuned: the time limit was reached\)" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune_limit.jsonl" --time-limit 0
check tune_time_limit_ample 0 "time limit +3600 s: 0 workloads cut short, 0 not tuned$" -- "$lemma" tune "$tmp/rb.lemma" --budget 2 --log "$tmp/tune_limit.jsonl" --time-limit 3600
check tune_bad_time_limit 1 "--time-limit must be in \[0, 1e7\] seconds, not -1" -- "$lemma" tune "$tmp/rb.lemma" --time-limit -1
check tune_corrupt_log 1 "bad.jsonl:2: not a tuning record" -- bash -c "printf '\n{oops\n' > '$tmp/bad.jsonl' && '$lemma' tune '$tmp/rb.lemma' --log '$tmp/bad.jsonl'"
check bench 0 "^latency over 5 runs: median [0-9.]+ ms" -- "$lemma" bench "$tmp/rb.lemma" --runs 5 --log "$tmp/tune.jsonl"
check bench_profile 0 "conv2d\+ewadd\+relu .* (generated|onednn) " -- "$lemma" bench "$tmp/rb.lemma" --runs 3
check bench_plan 0 "why: tuned schedule \(log\)" -- "$lemma" bench "$tmp/rb.lemma" --runs 1 --log "$tmp/tune.jsonl" --plan --providers generated
check bench_memory_once 0 "^1$" -- bash -c "'$lemma' bench '$tmp/rb.lemma' --runs 1 --log '$tmp/tune.jsonl' --plan --providers generated | grep -c '^memory: arena'"
check bench_after_idle 0 "^latency over 3 runs, each after 20 ms idle: median [0-9.]+ ms" -- "$lemma" bench "$tmp/rb.lemma" --runs 3 --pause-ms 20 --providers generated
check bench_after_idle_profile 0 "each step timed, each run after 20 ms idle" -- "$lemma" bench "$tmp/rb.lemma" --runs 3 --pause-ms 20 --providers generated
check bench_asm_dir 0 "^latency over 1 runs" -- "$lemma" bench "$tmp/rb.lemma" --runs 1 --providers generated --asm-dir "$tmp/asm/kernels"
check bench_asm_header 0 "^# conv2d" -- bash -c "cat '$tmp'/asm/kernels/lemma_kernel_*.s"
check bench_asm_code 0 "vfmadd|vmulps" -- bash -c "cat '$tmp'/asm/kernels/lemma_kernel_*.s"
check bench_asm_bad_dir 1 "--asm-dir .*: not a directory that can be made" -- "$lemma" bench "$tmp/rb.lemma" --runs 1 --asm-dir "$tmp/rb.lemma/x"
check bench_bad_pause 1 "--pause-ms must be in" -- "$lemma" bench "$tmp/rb.lemma" --pause-ms -1
check bench_bad_providers 1 "--providers must be" -- "$lemma" bench "$tmp/rb.lemma" --providers gpu
check bench_missing_file 1 "cannot open" -- "$lemma" bench "$tmp/none.lemma"
# bench on the GPU: a latency line where a device is present; elsewhere a
# clear error (no device or driver, or a build without CUDA) and exit 1.
if "$lemma" bench "$tmp/rb.lemma" --device cuda --runs 1 > /dev/null 2>&1; then
  check bench_cuda 0 "^latency over 3 runs" -- "$lemma" bench "$tmp/rb.lemma" --device cuda --runs 3 --plan
else
  check bench_cuda_absent 1 "^lemma bench: (no CUDA device|no CUDA driver|--device cuda: this lemma was built without)" \
    -- "$lemma" bench "$tmp/rb.lemma" --device cuda
fi
# The optimizer with GPU-measured costs: a cost report where a device is
# present; elsewhere the same clear error as bench's.
if "$lemma" bench "$tmp/rb.lemma" --device cuda --runs 1 > /dev/null 2>&1; then
  check optimize_cost_cuda 0 "^cost after" -- "$lemma" optimize "$tmp/rb.lemma" --cost cuda --budget 5 \
    --cost-cache "$tmp/gpu-costs.jsonl"
else
  check optimize_cost_cuda_absent 1 \
    "^lemma optimize: (no CUDA device|no CUDA driver|--cost cuda: this lemma was built without)" \
    -- "$lemma" optimize "$tmp/rb.lemma" --cost cuda
fi
check bench_bad_device 1 "--device must be cpu or cuda" -- "$lemma" bench "$tmp/rb.lemma" --device tpu
for c in tune bench; do
  check "help_$c" 0 "^usage: lemma $c" -- "$lemma" "$c" --help
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
