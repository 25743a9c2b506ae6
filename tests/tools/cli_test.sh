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
for c in print dot run zoo stats verify; do
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

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
