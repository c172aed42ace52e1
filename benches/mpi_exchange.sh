#!/usr/bin/env bash
# What splitting a run across ranks costs on one machine: for each network
# and rank count, the run's steps/s and the time spent exchanging spikes
# per step (summary.json's `ranks`), with `mpirun --oversubscribe` on this
# host. Needs nacc built with `--features mpi` and Open MPI.
#
#   bash benches/mpi_exchange.sh [NACC_BIN] [RANKS ...]
#
# Prints one line per run: network, neurons, ranks, steps, steps/s,
# exchange us/step, exchanges/step, bytes rank 0 sent/step, share of the
# simulation time spent exchanging.
set -euo pipefail
bin=${1:-target/release/nacc}
shift || true
ranks=("${@:-1 2 3 4}")
read -r -a ranks <<<"${ranks[*]}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# name | options | steps
cases=(
  "default x1|--scale 1|20000"
  "default x10|--scale 10|5000"
  "default x100|--scale 100|1000"
  "recurrent x1|--config assets/recurrent.toml|1000"
  "recurrent x2|--config assets/recurrent.toml --scale 2|300"
  "striatum x1|--config assets/nacc_striatum.toml|1000"
  "striatum x4|--config assets/nacc_striatum.toml --scale 4|300"
)
printf '%-26s %9s %5s %6s %10s %12s %10s %12s %7s\n' network neurons ranks steps steps/s exch_us/step exch/step bytes/step share
for c in "${cases[@]}"; do
  IFS='|' read -r name opts steps <<<"$c"
  for r in "${ranks[@]}"; do
    out="$work/o"
    rm -rf "$out"
    # shellcheck disable=SC2086
    mpirun --oversubscribe -n "$r" "$bin" run $opts --steps "$steps" --chunk 100 \
      --backend cpu --quiet --stream --out "$out" >/dev/null
    python3 - "$out/summary.json" "$name" "$r" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r = s["ranks"]
steps = s["steps"]
sim = s["wall_time_s"]["simulation"]
n = sum(p["size"] for p in s["populations"])
print(f'{sys.argv[2]:<26} {n:>9} {r["count"]:>5} {steps:>6} {steps / sim:>10.0f} '
      f'{r["exchange_s"] / steps * 1e6:>12.1f} {r["exchanges"] / steps:>10.2f} '
      f'{r["bytes_sent_by_rank_0"] / steps:>12.0f} {r["exchange_s"] / sim:>7.0%}')
PY
  done
done
