#!/usr/bin/env bash
# nacc's random draws through PractRand, in the orders nacc consumes them
# (examples/rng_stream.rs: neurons of a step, one neuron's steps,
# neighbouring seeds, neighbouring trials, synapses of a projection).
# Not part of CI: a run of 2^32 bytes per order takes minutes.
#
#   bash benches/rng_battery.sh PRACTRAND_SRC [MAX]
#
# PRACTRAND_SRC is PractRand 0.94's public source (a checkout of it, with
# include/, src/ and tools/RNG_test.cpp); MAX is the most each order is
# tested with (PractRand's -tlmax, default 4GB). RNG_test is built into
# target/practrand/ once. Each order prints PractRand's last report:
# "no anomalies" up to MAX, or the size at which it failed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: bash benches/rng_battery.sh PRACTRAND_SRC [MAX]}
max=${2:-4GB}
bin=target/practrand
if [ ! -x "$bin/RNG_test" ]; then
  mkdir -p "$bin/obj"
  (cd "$bin/obj" && g++ -O3 -w -pthread -I"$src/include" -c \
    "$src"/src/*.cpp "$src"/src/RNGs/*.cpp "$src"/src/RNGs/other/*.cpp)
  ar rcs "$bin/libPractRand.a" "$bin"/obj/*.o
  g++ -O3 -pthread -I"$src/include" -o "$bin/RNG_test" "$src/tools/RNG_test.cpp" "$bin/libPractRand.a"
fi
cargo build --release --quiet --example rng_stream
for order in neurons steps seeds trials synapses; do
  echo "== $order (up to $max)"
  target/release/examples/rng_stream "$order" 0 \
    | "$bin/RNG_test" stdin32 -tlmax "$max" -multithreaded 2>&1 \
    | grep -E "length=|no anomalies|FAIL|suspicious|unusual" | tail -3
done
