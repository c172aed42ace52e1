#!/usr/bin/env python3
"""nacc's physical models against Brian2 (issue 19; not run in CI).

Runs the same single-neuron and small-network cases in nacc (CPU engine,
float32, docs/arithmetic.md §7-§8) and in Brian2 (float64, numpy target,
forward Euler at the same step), and reports for each case the largest
difference in spike time (spikes matched in order) and in the membrane v
(every sample, up to the first spike that differs, and over the whole run).

Usage: python3 benches/validate_brian2.py [path/to/nacc] [--out DIR]
(Brian2 2.9 and NumPy < 2.4 in the environment; docs/models.md has the
figures and what explains them.)

The cases run both simulators on the same schedule of one step:
- nacc: at step t the synapses take their arrivals (g = g decay + w), then
  the membrane is updated with them (one sub-step: substeps = 1, so that
  Brian2's step is nacc's sub-step), then the threshold and the reset.
- Brian2: the same order through its schedule: the decay of g runs
  `before_synapses` of step t-1 and the input spike of nacc's step t is
  given at t-1 (delivered in the `synapses` slot), so both engines update
  v at step t with g(t); v is recorded at the end of each step.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

NACC = next((a for a in sys.argv[1:] if not a.startswith("--")), "target/release/nacc")
OUT = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None

PRESETS = {
    # C (pF), k, v_r, v_t, v_peak (mV), a (1/ms), b, c (mV), d, v_b
    "msn": (50.0, 1.0, -80.0, -25.0, 40.0, 0.01, -20.0, -55.0, 150.0, None),
    "fsi": (20.0, 1.0, -55.0, -40.0, 25.0, 0.2, 0.025, -45.0, 0.0, -55.0),
    "rs": (100.0, 0.7, -60.0, -40.0, 35.0, 0.03, -2.0, -50.0, 100.0, None),
    "msn_humphries": (15.2, 1.0, -80.0, -29.7, 40.0, 0.01, -20.0, -55.0, 91.0, None),
}


def run_nacc(text, steps, tmp, name):
    d = os.path.join(tmp, name)
    cfg = d + ".toml"
    with open(cfg, "w") as f:
        f.write(text)
    subprocess.run(
        [NACC, "run", "--config", cfg, "--steps", str(steps), "--backend", "cpu",
         "--quiet", "--out", d],
        check=True,
    )
    return d


def izh_population(name, preset, size, i_ext, extra=""):
    return (
        f'[[population]]\nname = "{name}"\nsize = {size}\nkind = "izhikevich"\n'
        f'preset = "{preset}"\ni_ext_pa = {i_ext}\nsubsteps = 1\n{extra}'
    )


def brian_izh(b2, n, preset, i_ext, dt_ms, extra_eqs="", extra_i=""):
    C, k, vr, vt, vp, a, b, c, d, vb = PRESETS[preset]
    ms, mV, pA, pF, nS = b2.ms, b2.mV, b2.pA, b2.pF, b2.nS
    u_inf = (
        "b_ * (v - vr)" if vb is None
        else "b_ * int(v >= vb) * (v - vb)**3 / mV**2"
    )
    eqs = f"""
    dv/dt = (k*(v - vr)*(v - vt) - u + I_ext + I_syn) / C : volt
    du/dt = a * ({u_inf} - u) : amp
    I_syn = {extra_i or '0*pA'} : amp
    {extra_eqs}
    """
    ns = dict(C=C * pF, k=k * nS / mV, vr=vr * mV, vt=vt * mV, a=a / ms,
              b_=(b * nS) if vb is None else (b * nS), vb=(vb or 0) * mV,
              I_ext=i_ext * pA)
    g = b2.NeuronGroup(n, eqs, threshold=f"v >= {vp}*mV",
                       reset=f"v = {c}*mV; u += {d}*pA", method="euler",
                       namespace=ns)
    g.v = vr * mV
    return g


def compare(name, t_nacc, t_b2, v_nacc, v_b2, dt):
    """Largest spike-time and v differences: v over the samples up to the
    last spike both place at the same step before their first difference
    (while they are in lock-step: within a step of a threshold crossing a
    spike one step apart makes v differ by the spike's height), and over
    all."""
    n = min(len(t_nacc), len(t_b2))
    dts = np.abs(np.array(t_nacc[:n]) - np.array(t_b2[:n]))
    first_bad = next((i for i in range(n) if dts[i] > 0.5 * dt), n)
    if first_bad == n and len(t_nacc) == len(t_b2):
        cut = len(v_nacc)
    elif first_bad > 0:
        cut = int(round(t_nacc[first_bad - 1] / dt))
    else:
        cut = 0
    dv = np.abs(v_nacc - v_b2)
    r = {
        "case": name,
        "spikes_nacc": len(t_nacc),
        "spikes_brian2": len(t_b2),
        "max_spike_time_diff_ms": float(dts.max()) if n else 0.0,
        "spikes_equal_to_the_step": int(first_bad),
        "max_v_diff_mV_before": float(dv[:cut].max()) if cut else 0.0,
        "max_v_diff_mV_all": float(dv.max()),
    }
    print(json.dumps(r))
    return r


def euler(preset, i_ext, steps, dt, dtype):
    """The preset with a constant current in plain NumPy, forward Euler as
    docs/arithmetic.md §7.2 writes it, in `dtype`: (v trace, spike steps)."""
    C, k, vr, vt, vp, a, b, c, d, vb = PRESETS[preset]
    f = dtype
    hc, ha = f(dt / C), f(dt * a)
    k, vr, vt, vp, b, c, d, i = (f(x) for x in (k, vr, vt, vp, b, c, d, i_ext))
    v, u = vr, f(0.0)
    vs, spikes = np.zeros(steps), []
    for t in range(steps):
        dv = ((k * (v - vr)) * (v - vt) - u) + i
        if vb is None:
            target = b * (v - vr)
        else:
            y = v - f(vb)
            target = f(0.0) if v < f(vb) else b * ((y * y) * y)
        u_new = u + ha * (target - u)
        v = v + dv * hc
        u = u_new
        if v >= vp:
            spikes.append(t)
            v, u = c, u + d
        vs[t] = v
    return vs, spikes


def single_neuron(b2, tmp, preset, i_ext, ms=1000.0, dt=0.1):
    steps = int(round(ms / dt))
    d = run_nacc(
        f"dt_ms = {dt}\n" + izh_population("n", preset, 1, i_ext)
        + '[[record]]\npopulation = "n"\nvariables = ["v"]\n',
        steps, tmp, f"{preset}_{i_ext}")
    v = np.load(os.path.join(d, "state_n_v.npy"))[:, 0].astype(np.float64)
    t = np.nonzero(np.load(os.path.join(d, "spikes_n.npy"))[:, 0])[0] * dt
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.ms
    g = brian_izh(b2, 1, preset, i_ext, dt)
    sm = b2.SpikeMonitor(g)
    vm = b2.StateMonitor(g, "v", record=True, when="end")
    b2.run(steps * dt * b2.ms)
    tb = list(np.round(np.array(sm.t / b2.ms) / dt) * dt)
    r = compare(f"{preset} {i_ext} pA", list(t), tb, v, vm.v[0] / b2.mV, dt)
    # the same Euler in NumPy: float32 is nacc's arithmetic (== expected),
    # float64 Brian2's; their difference is the rounding's alone
    v32, s32 = euler(preset, i_ext, steps, dt, np.float32)
    v64, s64 = euler(preset, i_ext, steps, dt, np.float64)
    same = bool(np.array_equal(v32.astype(np.float32), v.astype(np.float32)))
    r64 = compare(f"  numpy float64 vs float32, {preset} {i_ext} pA",
                  [x * dt for x in s32], [x * dt for x in s64], v32, v64, dt)
    print(json.dumps({"case": f"  nacc == numpy float32, {preset} {i_ext} pA", "equal": same}))
    return r


def iaf_neuron(b2, tmp, i_ext, ms=500.0, dt=0.1):
    steps = int(round(ms / dt))
    d = run_nacc(
        f"dt_ms = {dt}\n[[population]]\nname = \"n\"\nsize = 1\nkind = \"iaf\"\n"
        f"i_ext_pa = {i_ext}\nt_ref_ms = 2.0\n"
        '[[record]]\npopulation = "n"\nvariables = ["v"]\n',
        steps, tmp, f"iaf_{i_ext}")
    v = np.load(os.path.join(d, "state_n_v.npy"))[:, 0].astype(np.float64)
    t = np.nonzero(np.load(os.path.join(d, "spikes_n.npy"))[:, 0])[0] * dt
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.ms
    ms_, mV, pA, pF = b2.ms, b2.mV, b2.pA, b2.pF
    g = b2.NeuronGroup(
        1, "dv/dt = (-(v - -70*mV) + I*10*ms/(250*pF)) / (10*ms) : volt (unless refractory)\nI : amp",
        # nacc holds the neuron for t_ref after its spike's step, as NEST
        # does; Brian2 from the spike's time, a step less
        threshold="v >= -55*mV", reset="v = -70*mV", refractory=2 * ms_ + dt * ms_,
        method="exact")
    g.v = -70 * mV
    g.I = i_ext * pA
    sm = b2.SpikeMonitor(g)
    vm = b2.StateMonitor(g, "v", record=True, when="end")
    b2.run(steps * dt * ms_)
    tb = list(np.round(np.array(sm.t / ms_) / dt) * dt)
    return compare(f"iaf {i_ext} pA", list(t), tb, v, vm.v[0] / mV, dt)


NETWORK = """dt_ms = 0.1
[[population]]
name = "ctx"
size = 40
kind = "poisson"
rate_hz = [20.0, 60.0]
{fsi}
{msn}
[[projection]]
name = "ff"
pre = "ctx"
post = "fsi"
synapse = "ampa"
init = "uniform"
low = 0.0
high = 1.0
[[projection]]
name = "inh"
pre = "fsi"
post = "msn"
synapse = "gaba_a"
init = "uniform"
low = 0.0
high = 3.0
delay_ms = 0.1
[[projection]]
name = "glu"
pre = "ctx"
post = "msn"
synapse = "ampa"
init = "uniform"
low = 0.0
high = 3.0
[[projection]]
name = "nmda"
pre = "ctx"
post = "msn"
synapse = "nmda"
init = "uniform"
low = 0.0
high = 0.5
[[record]]
population = "msn"
variables = ["v"]
[[record]]
population = "fsi"
variables = ["v"]
"""


def small_network(b2, tmp, ms=1000.0):
    """40 Poisson afferents -> 5 FSIs (AMPA) -> 5 MSNs (GABA_A, one step
    of delay: Brian2 delivers a spike of step t at t + 1), the afferents ->
    MSNs (AMPA, NMDA); nacc's input spikes and weights given to Brian2."""
    dt = 0.1
    steps = int(round(ms / dt))
    text = NETWORK.format(fsi=izh_population("fsi", "fsi", 5, 60.0),
                          msn=izh_population("msn", "msn", 5, 150.0))
    d = run_nacc(text, steps, tmp, "network")
    load = lambda f: np.load(os.path.join(d, f))
    inp = load("spikes_ctx.npy")
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.ms
    ms_, mV, nS = b2.ms, b2.mV, b2.nS
    syn_i = {
        "fsi": "g_ff * (0*mV - v)",
        "msn": "g_inh * (-60*mV - v) + g_glu * (0*mV - v)"
               " + g_nmda * (0*mV - v) * B",
    }
    syn_e = {
        "fsi": "g_ff : siemens",
        "msn": "g_inh : siemens\ng_glu : siemens\ng_nmda : siemens\n"
               "B = 1 / (1 + 1.0/3.57 * exp(-0.062 * v/mV)) : 1",
    }
    groups = {p: brian_izh(b2, 5, p, {"fsi": 60.0, "msn": 150.0}[p], dt,
                           syn_e[p], syn_i[p]) for p in ("fsi", "msn")}
    # nacc's step t input, given at t - 1 (delivered before step t's update)
    t_idx, n_idx = np.nonzero(inp)
    keep = t_idx >= 1
    gen = b2.SpikeGeneratorGroup(40, n_idx[keep], (t_idx[keep] - 1) * dt * ms_)
    objs = [gen, *groups.values()]
    taus = {"ff": 6.0, "inh": 4.0, "glu": 6.0, "nmda": 160.0}
    posts = {"ff": "fsi", "inh": "msn", "glu": "msn", "nmda": "msn"}
    for proj, post in posts.items():
        pre = gen if proj != "inh" else groups["fsi"]
        w = load(f"weights_{proj}.npy")  # N_post x N_pre, nS
        s = b2.Synapses(pre, groups[post], "w : siemens", on_pre=f"g_{proj} += w")
        s.connect()
        s.w = w.T.reshape(-1).astype(np.float64) * nS
        decay = float(np.exp(-dt / taus[proj]))
        groups[post].run_regularly(f"g_{proj} *= {decay}", when="before_synapses")
        objs.append(s)
    # the arrivals of nacc's step 0 (Brian2 gives none before its first
    # update): its conductances' initial values
    for proj, post in posts.items():
        if proj != "inh":
            w = load(f"weights_{proj}.npy")
            setattr(groups[post], f"g_{proj}", (w @ inp[0].astype(np.float64)) * nS)
    mons = {p: (b2.SpikeMonitor(g), b2.StateMonitor(g, "v", record=True, when="end"))
            for p, g in groups.items()}
    net = b2.Network(*objs, *[m for pair in mons.values() for m in pair])
    net.run(steps * dt * ms_)
    out = []
    for p, (sm, vm) in mons.items():
        spikes = load(f"spikes_{p}.npy")
        v = load(f"state_{p}_v.npy").astype(np.float64)
        for i in range(5):
            t = list(np.nonzero(spikes[:, i])[0] * dt)
            tb = list(np.round(np.array(sm.t[sm.i == i] / ms_) / dt) * dt)
            out.append(compare(f"network {p} {i}", t, tb, v[:, i], vm.v[i] / mV, dt))
    return out


def main():
    import brian2 as b2
    b2.prefs.codegen.target = "numpy"
    tmp = OUT or tempfile.mkdtemp(prefix="nacc-brian2-")
    os.makedirs(tmp, exist_ok=True)
    results = []
    for preset, currents in [("msn", [320.0, 500.0]), ("fsi", [100.0, 200.0]),
                             ("rs", [100.0, 300.0]), ("msn_humphries", [300.0, 500.0])]:
        for i in currents:
            results.append(single_neuron(b2, tmp, preset, i))
    for i in [400.0, 800.0]:
        results.append(iaf_neuron(b2, tmp, i))
    results.extend(small_network(b2, tmp))
    worst_t = max(r["max_spike_time_diff_ms"] for r in results)
    worst_v = max(r["max_v_diff_mV_before"] for r in results)
    print(json.dumps({"largest_spike_time_diff_ms": worst_t,
                      "largest_v_diff_mV_before_divergence": worst_v}))


if __name__ == "__main__":
    main()
