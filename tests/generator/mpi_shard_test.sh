#!/usr/bin/env bash
# Runs `lemma generate` as two MPI ranks: each learns its shard from Open
# MPI's environment and writes its shard file; `lemma generate merge` must
# then write the same rule file as a single process.
set -euo pipefail
lemma=$1
if ! command -v mpirun >/dev/null; then
  echo "mpirun not found (Debian: openmpi-bin): skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--max-ops 3 --ops matmul,ewadd,relu,concat2d_axis1,split2d_axis1 --inputs a1,b1,b2 --quiet --threads 1)
flags=(--oversubscribe)
[[ $(id -u) -eq 0 ]] && flags+=(--allow-run-as-root)
mpirun "${flags[@]}" -n 2 "$lemma" generate "${args[@]}" -o "$tmp/out.rules"
for i in 0 1; do
  [[ -s "$tmp/out.rules.shard-$i-of-2" ]] || { echo "FAIL: no shard file $i"; exit 1; }
done
"$lemma" generate merge "$tmp/out.rules.shard-0-of-2" "$tmp/out.rules.shard-1-of-2" -o "$tmp/merged.rules" --quiet
"$lemma" generate "${args[@]}" -o "$tmp/single.rules"
if ! cmp -s "$tmp/merged.rules" "$tmp/single.rules"; then
  echo "FAIL: merged shards differ from the single-process run"
  diff "$tmp/merged.rules" "$tmp/single.rules" | head -20
  exit 1
fi
echo "ok: $(grep -c '^rule' "$tmp/single.rules") rules, merged shards equal the single run"
