"""A model of one step of a run split across N nodes of G GPUs each
(docs/performance.md, "Runs across processes"): what each term costs for
the NAcc striatum at the scale of a rat's hemisphere, and 10 and 100 times
it. Every input is a named constant below, with where it comes from.

    python3 benches/mpi_model.py
"""

# The network: assets/nacc_striatum.toml at --scale 1000 (issue 20).
NEURONS_COMPUTED = 2_772_000  # d1 + d2 + fsi, the populations that are split
STAGES = 3  # d1, d2, fsi: an exchange each per sub-chunk
FEEDBACK_DELAY_STEPS = 1  # FSI -> FSI and the collaterals: 1 ms at dt = 1 ms
GPU_BYTES = 21.6 * 2**30  # `nacc run --dry-run --backend gpu` on the hemisphere

# One GPU (an H100 or H200), from issue 20's model and the H100 measurements
# of performance.md (sparse-1m: 5.5e10 synaptic events/s, earlier kernels):
EVENTS_S = 0.15e-3  # 7.5e6 events a step at 5.5e10 events/s
MEMBRANES_S = 0.27e-3  # ~8 GFLOP a step (10 sub-steps of Izhikevich) at ~30 TFLOP/s
DISPATCH_S = 0.2e-3  # ~28 kernels a step at ~7 us: does not shrink with the slice
GPU_ROUND_TRIP_S = 30e-6  # a stage's chunk submitted, finished and read back (wgpu)
GPU_MEMORY = 141e9  # H200

# The interconnect: InfiniBand NDR, one 400 Gb/s port a node
LINK_LATENCY_S = 2e-6
NODE_BANDWIDTH = 50e9  # bytes/s into a node

GPUS_PER_NODE = 8


def step_terms(scale, nodes, gpus=GPUS_PER_NODE):
    """Seconds a step spends in each term (and whether it fits)."""
    ranks = nodes * gpus
    per_step_exchanges = STAGES / FEEDBACK_DELAY_STEPS
    # work that divides over the ranks, and dispatches that do not
    compute = (EVENTS_S + MEMBRANES_S) * scale / ranks + DISPATCH_S
    round_trips = per_step_exchanges * GPU_ROUND_TRIP_S
    # an all-gather of every population's bits: every rank receives all of
    # them, so a node takes G copies of what the other nodes computed
    spike_bytes = NEURONS_COMPUTED * scale / 8
    inbound = gpus * spike_bytes * (nodes - 1) / nodes
    bandwidth = inbound / NODE_BANDWIDTH
    # Open MPI's ring all-gather for large messages: P - 1 hops an exchange
    latency = per_step_exchanges * (ranks - 1) * LINK_LATENCY_S if ranks > 1 else 0.0
    fits = GPU_BYTES * scale / ranks <= GPU_MEMORY
    return {
        "compute": compute,
        "gpu round trips": round_trips,
        "latency": latency,
        "bandwidth": bandwidth,
        "spike_bytes": spike_bytes,
        "fits": fits,
    }


def main():
    print(f"{'network':<22} {'nodes x GPUs':>12} {'fits':>5} {'compute':>9} "
          f"{'round trips':>11} {'latency':>9} {'bandwidth':>10} {'step':>9} {'steps/s':>8} limit")
    for scale, name in [(1, "hemisphere (3.2 M)"), (10, "10x (32 M)"), (100, "100x (317 M)")]:
        for nodes in [1, 2, 4, 8, 16, 32]:
            t = step_terms(scale, nodes)
            terms = {k: t[k] for k in ["compute", "gpu round trips", "latency", "bandwidth"]}
            step = sum(terms.values())
            limit = max(terms, key=terms.get)
            ms = lambda x: f"{x * 1e3:.3f}"
            print(f"{name:<22} {nodes:>5} x {GPUS_PER_NODE:<4} {'yes' if t['fits'] else 'no':>5} "
                  f"{ms(terms['compute']):>9} {ms(terms['gpu round trips']):>11} "
                  f"{ms(terms['latency']):>9} {ms(terms['bandwidth']):>10} {ms(step):>9} "
                  f"{1 / step:>8.0f} {limit}")
        print(f"  spike bits a step: {t['spike_bytes'] / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
