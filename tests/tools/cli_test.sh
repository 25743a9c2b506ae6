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
for c in print dot run zoo stats generate; do
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
check generate_budget 0 "stopped by the graph budget" -- "$lemma" generate "${gen[@]}" --max-graphs 5 --threads 1 -o "$tmp/b.rules"
"$lemma" generate "${gen[@]}" --threads 2 -o - 2>/dev/null > "$tmp/g3.rules"
same generate_stdout "$tmp/g1.rules" "$tmp/g3.rules"
check generate_unknown_word 2 "did you mean merge" -- "$lemma" generate marge -o "$tmp/x.rules"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
