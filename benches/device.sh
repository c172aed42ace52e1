#!/bin/bash
# Everything a session with the lent GPU machine should measure, in one
# device call (benches/NOTES.md says why). Here, from the project root:
#   ../shared/device/prepare.sh gpu_vs_cpu
# then the device tool with carry [".device"] and the command
#   bash benches/device.sh
# (about 6-8 minutes; every step has its own timeout, so one that hangs
# does not eat the rest).
set -u
run() { timeout "$1" bash .device/run.sh "${@:2}"; echo "[exit $?]"; }
echo "== GPU == CPU tests"
run 240 test-gpu_vs_cpu
echo "== large: step-by-step sums (v6) vs blocked (v7), alternated"
for i in 1 2; do
  NACC_GPU_BLOCK_MIN_SYNAPSES=1000000000000 run 60 nacc bench --backend gpu --network large --budget 3
  run 60 nacc bench --backend gpu --network large --budget 3
done
echo "== large: spike words per synapse_block invocation (default 4)"
for w in 2 8; do
  NACC_BLOCK_CHUNK_WORDS=$w run 60 nacc bench --backend gpu --network large --budget 3
done
echo "== the whole suite (seed and trials re-measured after the bounded fused dispatches)"
run 240 nacc bench --backend gpu --budget 3 --json
