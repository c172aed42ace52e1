"""The Python package against the command line, alternated in one sitting:
the seed network (100/50/20) and `large` (10 000/5 000/2 000 dense), each
run by `nacc run` and by `nacc.run()` in turn; the cost of a short run's
call; and the time to hand the spikes of 1 000 000 neurons x 1 000 steps
to NumPy.

    .venv/bin/python benches/python_vs_cli.py target/release/nacc [--rounds 5]

Steps/s are summary.json's (the simulation's steps over its time, the same
timer in both); wall is the whole call: the process for `nacc run`
(building, simulating, writing every file and figure), `nacc.run()` for
Python (building and simulating; nothing written). Prints one JSON line a
run and a summary per network.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

import nacc

NETWORKS = {
    # name: (scale of the default network, steps)
    "seed": (1, 1_000_000),
    "large": (100, 1_000),
}


def cli_run(binary, scale, steps, out):
    t0 = time.perf_counter()
    subprocess.run(
        [binary, "run", "--quiet", "--backend", "cpu", "--scale", str(scale), "--steps", str(steps),
         "--no-weight-files", "--out", out],
        check=True,
    )
    wall = time.perf_counter() - t0
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)["steps_per_s"], wall


def py_run(scale, steps):
    t0 = time.perf_counter()
    r = nacc.run(scale=scale, steps=steps, backend="cpu")
    wall = time.perf_counter() - t0
    return r.summary["steps_per_s"], wall


def per_call(binary, rounds):
    """The cost of a short run: 100 steps of the seed network, 50 calls of
    `nacc.run()`, against the `nacc run` process (which also writes)."""
    net = nacc.Network.default()
    nacc.run(net, steps=100, backend="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            t0 = time.perf_counter()
            for seed in range(50):
                nacc.run(net, steps=100, seed=seed, backend="cpu")
            py = (time.perf_counter() - t0) / 50
            t0 = time.perf_counter()
            for seed in range(10):
                subprocess.run([binary, "run", "--quiet", "--backend", "cpu", "--steps", "100", "--seed", str(seed),
                                "--out", os.path.join(tmp, "o")], check=True)
            cli = (time.perf_counter() - t0) / 10
            print(json.dumps({"per_call": "seed, 100 steps", "python_ms": py * 1e3, "cli_process_ms": cli * 1e3}),
                  flush=True)


def handoff(rounds):
    """1 000 000 Poisson neurons x 1 000 steps: their spikes as uint8 (1 GB),
    as bool (a view of those) and packed (125 MB)."""
    net = nacc.Network.default().with_changes({"population.input.size": 1_000_000})
    r = nacc.run(net, steps=1000, backend="cpu")
    for _ in range(rounds):
        t0 = time.perf_counter()
        u8 = r.spikes_u8("input")
        t_u8 = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = u8.view(np.bool_)
        t_bool = time.perf_counter() - t0
        t0 = time.perf_counter()
        packed = r.spikes_packed("input")
        t_packed = time.perf_counter() - t0
        print(json.dumps({
            "handoff": "1M neurons x 1000 steps", "uint8_s": t_u8, "uint8_gb_per_s": u8.nbytes / t_u8 / 1e9,
            "bool_view_s": t_bool, "packed_s": t_packed, "packed_gb_per_s": packed.nbytes / t_packed / 1e9,
            "spikes": int(b.sum()),
        }), flush=True)
        del u8, b, packed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for name, (scale, steps) in NETWORKS.items():
        got = {"cli": [], "python": []}
        walls = {"cli": [], "python": []}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.rounds):
                for who in ("cli", "python") if i % 2 == 0 else ("python", "cli"):
                    if who == "cli":
                        sps, wall = cli_run(args.binary, scale, steps, os.path.join(tmp, f"out{i}"))
                    else:
                        sps, wall = py_run(scale, steps)
                    got[who].append(sps)
                    walls[who].append(wall)
                    print(json.dumps({"network": name, "who": who, "round": i, "steps_per_s": sps, "wall_s": wall}),
                          flush=True)
        c, p = statistics.median(got["cli"]), statistics.median(got["python"])
        print(json.dumps({
            "network": name, "steps": steps, "median_steps_per_s_cli": c, "median_steps_per_s_python": p,
            "python_over_cli": p / c, "median_wall_s_cli": statistics.median(walls["cli"]),
            "median_wall_s_python": statistics.median(walls["python"]),
        }), flush=True)
    per_call(args.binary, args.rounds)
    handoff(args.rounds)


if __name__ == "__main__":
    main()
