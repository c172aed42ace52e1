#!/usr/bin/env bash
# Runs two nacc binaries on the same networks, seeds and options, on the CPU
# and on the GPU (lavapipe or hardware), and compares every output file byte
# for byte. For refactors that must not change behaviour.
#   bash benches/same_outputs.sh OLD_BIN NEW_BIN WORKDIR [extra.toml ...]
set -uo pipefail
old=$1; new=$2; work=$3; shift 3
here="$(cd "$(dirname "$0")/.." && pwd)"
configs=("$here/assets/nacc.toml" "$here/assets/reward_learning.toml" "$@")
variants=("" "--trials 3" "--stream --chunk 64" "--packed-spikes --seed 5" "--seed 7 --scale 2" "--seed 3 --scale 30")
rm -rf "$work"; mkdir -p "$work"
fail=0; runs=0
for cfg in "${configs[@]}"; do
  for backend in cpu gpu; do
    for v in "${variants[@]}"; do
      tag="$(basename "$cfg" .toml)-$backend-$(echo "$v" | tr -c 'a-z0-9' '_')"
      for which in old new; do
        bin=$old; [ $which = new ] && bin=$new
        "$bin" run --config "$cfg" --steps 240 --backend $backend --quiet $v \
          --out "$work/$which/$tag" >"$work/$which-$tag.log" 2>&1
        echo "exit $?" >>"$work/$which-$tag.log"
      done
      runs=$((runs+1))
      # summary.json holds wall times; everything else must be identical
      # a refused run leaves no out dir: then its message must be the same
      if [ -e "$work/old/$tag" ] || [ -e "$work/new/$tag" ]; then
        diff -r -x summary.json "$work/old/$tag" "$work/new/$tag" >/dev/null 2>&1; same=$?
      else
        diff "$work/old-$tag.log" "$work/new-$tag.log" >/dev/null; same=$?
      fi
      if [ $same != 0 ] || ! diff <(tail -1 "$work/old-$tag.log") <(tail -1 "$work/new-$tag.log") >/dev/null; then
        echo "DIFFERENT: $tag"; fail=1
      else
        rm -rf "$work/old/$tag" "$work/new/$tag"  # identical: no need to keep
      fi
    done
  done
done
echo "$runs runs compared, $( [ $fail = 0 ] && echo 'all identical' || echo 'some differ')"
exit $fail
