#!/bin/bash
# Everything a session with the lent GPU machine should measure, in one
# device call (docs/design-log.md says why), most important first. Here,
# from the project root:
#   the developers' device preparation script (prepare.sh gpu_vs_cpu, kept
#   with the device tool, outside this repository)
# then the device tool with carry [".device"], timeout_s 600 and
#   bash benches/device.sh
# Each step has its own timeout, and steps are skipped (with a line saying
# so) once 500 s have gone, so the call ends inside the tool's 600 s.
set -u
run() {
  if [ "$SECONDS" -gt 500 ]; then echo "[skipped: ${SECONDS}s gone] ${*:2}"; return; fi
  echo "-- ${*:2}"
  timeout "$1" bash .device/run.sh "${@:2}"
  echo "[exit $? at ${SECONDS}s]"
}
bench() { run "$1" nacc bench --backend gpu --budget 3 "${@:2}"; }
echo "== adapters (with the memory Vulkan reports) and the memory check"
run 20 nacc devices
run 30 nacc run --config assets/sparse_1m.toml --dry-run --backend gpu
echo "== GPU == CPU tests"
run 180 test-gpu_vs_cpu
echo "== this version (v11): seed, large, sparse-1m, trials, with kernel profiles"
bench 60 --network seed --network large --profile
bench 150 --network sparse-1m --network trials --profile --json
echo "== trials side by side on the block schedule (v11): 2 000/1 000/400, 1 and 64 trials"
for t in 1 64; do
  run 60 nacc run --scale 20 --trials $t --steps 2000 --backend gpu --quiet --out /tmp/trials$t
  grep -E '"(engine|simulation)"' /tmp/trials$t/summary.json
done
echo "== A/B, alternated: v6 (step schedule, step-by-step sums), v7 (step schedule, blocked input sums), v8+ (block schedule), fused seed"
for i in 1 2; do
  NACC_GPU_SCHEDULE=step NACC_GPU_BLOCK_MIN_SYNAPSES=1000000000000 bench 45 --network large
  NACC_GPU_SCHEDULE=step bench 45 --network large
  bench 45 --network seed --network large
  NACC_GPU_FUSED=1 bench 30 --network seed
done
echo "== sparse-1m scattered (v9): the price of an atomic against a gathered read (GATHER_MIN_ACTIVE)"
NACC_GPU_SPARSE=scatter bench 120 --network sparse-1m --json
echo "== large: spike words per synapse_block invocation (default 4)"
for w in 2 8; do NACC_BLOCK_CHUNK_WORDS=$w bench 45 --network large; done
