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
for c in print dot run zoo stats rules; do
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

# tune and bench: the CPU backend.
"$lemma" zoo resnext_block --small -o "$tmp/rb.lemma"
check tune 0 "tuned now +4 workloads" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune.jsonl" --threads 2
check tune_log_records 0 '^\{"kind":"schedule","target":".*","workload":"conv2d' -- head -1 "$tmp/tune.jsonl"
check tune_again_replays 0 "from the log +4 workloads" -- "$lemma" tune "$tmp/rb.lemma" --budget 3 --log "$tmp/tune.jsonl"
check tune_bad_budget 1 "--budget must be in" -- "$lemma" tune "$tmp/rb.lemma" --budget 0
check tune_corrupt_log 1 "bad.jsonl:2: not a tuning record" -- bash -c "printf '\n{oops\n' > '$tmp/bad.jsonl' && '$lemma' tune '$tmp/rb.lemma' --log '$tmp/bad.jsonl'"
check bench 0 "^latency over 5 runs: median [0-9.]+ ms" -- "$lemma" bench "$tmp/rb.lemma" --runs 5 --log "$tmp/tune.jsonl"
check bench_profile 0 "conv2d\+ewadd\+relu .* (generated|onednn) " -- "$lemma" bench "$tmp/rb.lemma" --runs 3
check bench_plan 0 "why: tuned schedule \(log\)" -- "$lemma" bench "$tmp/rb.lemma" --runs 1 --log "$tmp/tune.jsonl" --plan --providers generated
check bench_bad_providers 1 "--providers must be" -- "$lemma" bench "$tmp/rb.lemma" --providers gpu
check bench_missing_file 1 "cannot open" -- "$lemma" bench "$tmp/none.lemma"
for c in tune bench; do
  check "help_$c" 0 "^usage: lemma $c" -- "$lemma" "$c" --help
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
