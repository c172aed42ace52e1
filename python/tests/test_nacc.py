"""The Python package against the command line and against NumPy: the same
spikes (==), the same files, errors, signals, copies."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nacc
from conftest import ASSETS, cli

# The networks compared with `nacc run`, each with the steps it runs: the
# default; Izhikevich MSNs and FSIs with receptor kinetics; dense plasticity
# with dopamine and a stimulus; sparse recurrence with per-synapse delays;
# the striatum model (sparse, delays, recorded state, tonic dopamine).
CLI_CASES = [
    ("default", None, 300),
    ("msn_fsi", ASSETS / "msn_fsi.toml", 300),
    ("reward_learning", ASSETS / "reward_learning.toml", 1500),
    ("recurrent", ASSETS / "recurrent.toml", 120),
    ("nacc_striatum", ASSETS / "nacc_striatum.toml", 150),
]

# summary.json fields that are measured, not computed (times, rates)
MEASURED = {"wall_time_s", "steps_per_s", "neuron_steps_per_s"}


def network_of(config):
    return nacc.Network.default() if config is None else nacc.Network.from_file(config)


def cli_run(nacc_bin, out, config, *args):
    argv = ["run", "--quiet", "--backend", "cpu", "--out", str(out), *args]
    if config is not None:
        argv += ["--config", str(config)]
    r = cli(nacc_bin, *argv)
    assert r.returncode == 0, r.stderr
    return out


def same_files(a: Path, b: Path):
    """Every file of two out dirs byte for byte, summary.json but its
    measured fields."""
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b
    for name in names_a:
        if name == "summary.json":
            sa, sb = (json.loads((d / name).read_text()) for d in (a, b))
            for s in (sa, sb):
                for k in MEASURED:
                    s.pop(k)
            assert sa == sb, name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_the_default_network_runs():
    r = nacc.run(steps=200, backend="cpu")
    assert r.steps == 200 and r.seed == 0
    s = r.spikes["msn"]
    assert s.shape == (200, 20) and s.dtype == np.bool_
    assert r.spikes["input"].shape == (200, 100)
    assert s.any(), "the MSNs fire"
    assert r.summary["populations"][2]["spikes"] == int(s.sum())
    assert set(r.spikes) == {"input", "inter", "msn"}
    assert r.weights["fc1"].shape == (50, 100) and r.weights["fc1"].dtype == np.float32
    assert r.biases["fc1"].shape == (50,)


@pytest.mark.parametrize("name,config,steps", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_the_same_outputs_as_the_command_line(tmp_path, nacc_bin, name, config, steps):
    out = cli_run(nacc_bin, tmp_path / "cli", config, "--steps", str(steps), "--seed", "7")
    r = nacc.run(network_of(config), steps=steps, seed=7, backend="cpu")
    for pop in r.network.populations:
        assert np.array_equal(r.spikes_u8(pop), np.load(out / f"spikes_{pop}.npy")), pop
    for proj, w in r.weights.items():
        if isinstance(w, nacc.Coo):
            for part in ("post", "pre", "value"):
                assert np.array_equal(getattr(w, part), np.load(out / f"weights_{proj}_{part}.npy")), proj
            if w.delay is not None:
                assert np.array_equal(w.delay, np.load(out / f"weights_{proj}_delay.npy")), proj
        else:
            assert np.array_equal(w, np.load(out / f"weights_{proj}.npy")), proj
    for proj, w in r.initial_weights.items():
        assert np.array_equal(w, np.load(out / f"weights_{proj}_initial.npy")), proj
    for proj, b in r.biases.items():
        assert np.array_equal(b, np.load(out / f"bias_{proj}.npy")), proj
    for stem, st in r.state.items():
        assert np.array_equal(st.values, np.load(out / f"{stem}.npy")), stem
    if r.dopamine is not None:
        assert np.array_equal(r.dopamine, np.load(out / "dopamine.npy"))
    figs = r.figures()
    for fig, data in figs.items():
        assert data == (out / fig).read_bytes(), fig
    # and save() writes exactly the command line's files
    same_files(r.save(tmp_path / "py"), out)
    if name == "nacc_striatum":
        assert r.state, "the striatum model records membranes"
    if name == "reward_learning":
        assert r.initial_weights and r.dopamine is not None


def leaky_reference(W1, b1, W2, b2, W3, b3, X, beta=np.float32(0.9), thr=np.float32(1.0)):
    """The seed study's snntorch model (Leaky, subtract reset) in float32
    NumPy, written from snntorch's update: v = beta*v + I - thr*[v_prev > thr]."""
    v_int = np.zeros(W1.shape[0], np.float32)
    v_msn = np.zeros(W3.shape[0], np.float32)
    s_int = np.zeros((len(X), W1.shape[0]), bool)
    s_msn = np.zeros((len(X), W3.shape[0]), bool)
    for t, x in enumerate(X.astype(np.float32)):
        i_int = W1 @ x + b1
        v_int = (beta * v_int + i_int) - thr * (v_int > thr).astype(np.float32)
        si = (v_int > thr).astype(np.float32)
        i_msn = (W3 @ x + b3) - (W2 @ si + b2)
        v_msn = (beta * v_msn + i_msn) - thr * (v_msn > thr).astype(np.float32)
        s_int[t], s_msn[t] = si > 0, v_msn > thr
    return s_int, s_msn


def seed_study_weights(rng):
    """Weights and biases drawn as nn.Linear draws them, by state_dict key."""
    shapes = {"fc1": (50, 100), "fc2": (20, 50), "fc3": (20, 100)}
    sd = {}
    for name, (n_out, n_in) in shapes.items():
        k = 1 / np.sqrt(n_in)
        sd[f"{name}.weight"] = rng.uniform(-k, k, (n_out, n_in)).astype(np.float32)
        sd[f"{name}.bias"] = rng.uniform(-k, k, n_out).astype(np.float32)
    return sd


def test_input_spikes_and_a_state_dict_from_numpy_match_the_snntorch_update(tmp_path, nacc_bin):
    rng = np.random.default_rng(3)
    sd = seed_study_weights(rng)
    X = rng.random((400, 100)) < rng.uniform(0.1, 0.5, 100)
    # a state_dict also holds the Leaky layers' parameters: skipped
    with_leaky = dict(sd, **{"lif_int.beta": np.float32(0.9), "lif_msn.threshold": np.float32(1.0)})
    r = nacc.run(steps=400, backend="cpu", weights=with_leaky, input_spikes=X)
    ref_int, ref_msn = leaky_reference(
        *(sd[k] for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")), X
    )
    assert np.array_equal(r.spikes["input"], X)
    assert np.array_equal(r.spikes["inter"], ref_int)
    assert np.array_equal(r.spikes["msn"], ref_msn)
    assert ref_msn.any() and ref_int.any()
    assert np.array_equal(r.weights["fc2"], sd["fc2.weight"])
    # the command line with the same arrays as files gives the same spikes
    wdir = tmp_path / "w"
    wdir.mkdir()
    for key, a in sd.items():
        proj, part = key.split(".")
        np.save(wdir / (f"weights_{proj}.npy" if part == "weight" else f"bias_{proj}.npy"), a)
    np.save(tmp_path / "x.npy", X)
    out = cli_run(nacc_bin, tmp_path / "cli", None, "--weights", str(wdir), "--input-spikes", str(tmp_path / "x.npy"))
    for pop in ("inter", "msn"):
        assert np.array_equal(r.spikes_u8(pop), np.load(out / f"spikes_{pop}.npy"))
    # integer 0/1 input and float64 weights are taken as the same values
    r64 = nacc.run(steps=400, backend="cpu", input_spikes=X.astype(np.int64),
                   weights={k: v.astype(np.float64) for k, v in sd.items()})
    assert np.array_equal(r64.spikes["msn"], r.spikes["msn"])


def test_weights_not_given_keep_the_seeds():
    r0 = nacc.run(steps=100, seed=5, backend="cpu")
    w = np.zeros((20, 50), np.float32)
    r = nacc.run(steps=100, seed=5, backend="cpu", weights={"fc2": w})
    assert np.array_equal(r.weights["fc1"], r0.weights["fc1"])
    assert np.array_equal(r.weights["fc2"], w)
    assert np.array_equal(r.spikes["inter"], r0.spikes["inter"])


def test_a_sparse_projection_takes_coo_arrays(tmp_path):
    net = nacc.Network.from_file(ASSETS / "recurrent.toml")
    r0 = nacc.run(net, steps=50, seed=2, backend="cpu")
    given = {p: w for p, w in r0.weights.items()}
    r = nacc.run(net, steps=50, seed=2, backend="cpu", weights=given)
    for pop in net.populations:
        assert np.array_equal(r.spikes[pop], r0.spikes[pop])
    coo = next(w for w in given.values() if isinstance(w, nacc.Coo))
    assert coo.to_dense()[coo.post[0], coo.pre[0]] == coo.value[0]


def test_trials_have_a_leading_axis_and_trial_0_is_the_single_run(tmp_path, nacc_bin):
    r = nacc.run(steps=150, seed=4, trials=3, backend="cpu")
    assert r.trials == 3 and r.spikes["msn"].shape == (3, 150, 20)
    one = nacc.run(steps=150, seed=4, backend="cpu")
    assert np.array_equal(r.spikes["msn"][0], one.spikes["msn"])
    assert not np.array_equal(r.spikes["input"][1], r.spikes["input"][0])
    out = cli_run(nacc_bin, tmp_path / "cli", None, "--steps", "150", "--seed", "4", "--trials", "3")
    for pop in ("input", "inter", "msn"):
        assert np.array_equal(r.spikes_u8(pop), np.load(out / f"spikes_{pop}.npy"))


@pytest.mark.parametrize("config", [None, ASSETS / "msn_fsi.toml"], ids=["default", "msn_fsi"])
def test_the_gpu_equals_the_cpu(gpu_or_skip, config):
    net = network_of(config)
    cpu = nacc.run(net, steps=200, seed=9, backend="cpu")
    gpu = nacc.run(net, steps=200, seed=9, backend="gpu")
    assert gpu.adapter is not None and cpu.adapter is None
    for pop in net.populations:
        assert np.array_equal(gpu.spikes[pop], cpu.spikes[pop]), pop
    c = nacc.compare(net, steps=200, seed=9)
    assert c.identical and bool(c) and c.first_difference is None, c.report


def test_bad_input_raises_the_command_lines_message(tmp_path, nacc_bin):
    with pytest.raises(nacc.InputError) as e:
        nacc.run(steps=0)
    assert isinstance(e.value, ValueError) and str(e.value) == "--steps = 0: must be >= 1"
    # a rule of the run: the command line's message, word for word
    learning = ASSETS / "reward_learning.toml"
    with pytest.raises(nacc.InputError) as e:
        nacc.run(learning, trials=2, steps=10)
    r = cli(nacc_bin, "run", "--config", str(learning), "--trials", "2", "--steps", "10", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and str(e.value).startswith("--trials = 2: cannot be combined with plasticity")
    assert str(e.value) in r.stderr, (str(e.value), r.stderr)
    # a bad network field: the message of the same file on the command line
    bad = (ASSETS / "nacc.toml").read_text().replace("beta = 0.9", "beta = 1.5", 1)
    with pytest.raises(ValueError) as e:
        nacc.Network.from_toml(bad, "bad")
    (tmp_path / "bad.toml").write_text(bad)
    r = cli(nacc_bin, "run", "--config", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    rule = str(e.value).split(": ", 1)[1]
    assert "beta" in str(e.value) and "1.5" in str(e.value) and rule in r.stderr, (str(e.value), r.stderr)
    with pytest.raises(nacc.InputError, match=r"weights\['fc1'\]: shape \[50, 99\] found, expected \[50, 100\]"):
        nacc.run(steps=10, weights={"fc1": np.zeros((50, 99), np.float32)})
    with pytest.raises(nacc.InputError, match=r"weights\['fc1'\]: projection `fc1` is dense: give an \(N_post, N_pre\) array"):
        nacc.run(steps=10, weights={"fc1": ([0], [0], [0.5])})
    with pytest.raises(nacc.InputError, match="projection `.*` is sparse: give a nacc.Coo"):
        recurrent = nacc.Network.from_file(ASSETS / "recurrent.toml")
        sparse = next(p for p, d in recurrent.projections.items() if not d["dense"])
        nacc.run(recurrent, steps=10, weights={sparse: np.zeros((3, 3), np.float32)})
    with pytest.raises(nacc.InputError, match=r"weights\['fc1.bias'\]: shape \[49\] found, expected \[50\]"):
        nacc.run(steps=10, weights={"fc1.weight": np.zeros((50, 100)), "fc1.bias": np.zeros(49)})
    with pytest.raises(nacc.InputError, match="no projection `fc9`"):
        nacc.run(steps=10, weights={"fc9": np.zeros((50, 99))})
    with pytest.raises(nacc.InputError, match=r"input_spikes: value at \[3, 4\] is 2; spikes must be 0 or 1"):
        x = np.zeros((10, 100), np.int64)
        x[3, 4] = 2
        nacc.run(input_spikes=x)
    with pytest.raises(nacc.InputError, match="--backend = tpu"):
        nacc.run(steps=10, backend="tpu")
    with pytest.raises(nacc.InputError, match="--seed = -1"):
        nacc.run(steps=10, seed=-1)
    with pytest.raises(nacc.InputError, match="has no entry named `striatum`"):
        nacc.Network.default().with_changes({"population.striatum.size": 3})
    with pytest.raises(nacc.InputError, match="size"):
        nacc.Network.default().with_changes({"population.msn.size": 0})
    # the CLI's one-Poisson rule for a bare input array
    fields = nacc.Network.striatum().to_dict()
    del fields["stimulus"]
    three_inputs = nacc.Network.from_dict(fields)
    with pytest.raises(nacc.InputError, match="exactly one poisson population; this one has 3"):
        nacc.run(three_inputs, input_spikes=np.zeros((5, 200), bool))
    with pytest.raises(nacc.InputError, match="poisson population `amy` is not given"):
        nacc.run(three_inputs, input_spikes={"pfc": np.zeros((5, 200), bool), "hip": np.zeros((5, 100), bool)})
    with pytest.raises(nacc.InputError, match=r"input_spikes\['hip'\]: shape \[6, 100\] found, expected \(T, 100\) with T >= 1 \(T = 5"):
        nacc.run(three_inputs, input_spikes={"pfc": np.zeros((5, 200), bool), "hip": np.zeros((6, 100), bool),
                                             "amy": np.zeros((5, 100), bool)})


def test_changes_before_building():
    net = nacc.Network.default().with_changes({"population.msn.size": 40, "population.inter.beta": 0.8})
    assert net.populations["msn"] == 40
    assert net.to_dict()["population"][1]["beta"] == pytest.approx(0.8)
    r = nacc.run(net, steps=50, backend="cpu")
    assert r.spikes["msn"].shape == (50, 40)
    assert nacc.Network.default().scaled(3).populations["msn"] == 60
    rt = nacc.Network.from_dict(nacc.Network.default().to_dict())
    assert rt.to_toml() == nacc.Network.default().to_toml()


def test_ctrl_c_keeps_the_completed_steps():
    # long enough to be interrupted: the default network for 50 M steps
    steps, chunk = 50_000_000, 1000
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt) as e:
        nacc.run(steps=steps, chunk=chunk, seed=11, backend="cpu")
    assert time.monotonic() - t0 < 30, "stopped at the end of a chunk"
    assert isinstance(e.value, nacc.Interrupted)
    r = e.value.result
    assert 0 < r.steps < steps and r.steps % chunk == 0
    assert r.stopped == (r.steps, "SIGINT")
    assert r.spikes["msn"].shape == (r.steps, 20)
    whole = nacc.run(steps=r.steps, seed=11, backend="cpu")
    assert np.array_equal(whole.spikes["msn"], r.spikes["msn"])


def test_the_gil_is_released_while_the_engine_runs():
    done = threading.Event()
    ticks = 0

    def work():
        nacc.run(nacc.Network.default().scaled(20), steps=3000, backend="cpu")
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # a run that held the GIL would starve this loop to a tick or two
    # (before it entered the engine); ~1 ms a tick, the run takes ~0.2 s
    assert ticks > 10, f"the main thread ran only {ticks} times while the engine ran"


def test_save_with_packed_spikes_and_no_weight_files(tmp_path, nacc_bin):
    config = ASSETS / "reward_learning.toml"
    r = nacc.run(config, steps=600, seed=2, backend="cpu")
    out = cli_run(nacc_bin, tmp_path / "cli", config, "--steps", "600", "--seed", "2",
                  "--packed-spikes", "--no-weight-files")
    same_files(r.save(tmp_path / "py", packed_spikes=True, weight_files=False), out)
    assert (out / "spikes_d1_packed.npy").is_file() and (out / "weights_in_d1.npy").is_file()
    assert not (out / "weights_in_d2.npy").exists()


def test_save_then_nacc_render(tmp_path, nacc_bin):
    r = nacc.run(steps=300, seed=1, backend="cpu")
    out = r.save(tmp_path / "run")
    assert (out / "spikes_msn.npy").is_file() and (out / "summary.json").is_file()
    rr = cli(nacc_bin, "render", str(out), "--from", "100", "--to", "200")
    assert rr.returncode == 0, rr.stderr
    assert np.array_equal(np.load(out / "spikes_msn.npy"), r.spikes_u8("msn"))


def test_figures_are_png_bytes_for_jupyter(tmp_path):
    r = nacc.run(steps=200, backend="cpu")
    figs = r.figures()
    assert "nacc.png" in figs and all(f.startswith(b"\x89PNG") for f in figs.values())
    assert r.figure()._repr_png_() == figs["nacc.png"]
    assert r._repr_png_() == figs["nacc.png"]
    assert r.figure("raster_msn.png").save(tmp_path / "m.png").read_bytes() == figs["raster_msn.png"]
    assert list(tmp_path.iterdir()) == [tmp_path / "m.png"], "figures() writes nothing"


def test_a_large_spike_array_is_not_copied():
    r = nacc.run(nacc.Network.default().with_changes({"population.input.size": 100_000}), steps=100, backend="cpu")
    u8 = r.spikes_u8("input")
    assert u8.shape == (100, 100_000)
    # NumPy's array holds the vector nacc filled: its base is the Rust
    # container, and it owns no copy
    assert type(u8.base).__name__ == "PySliceContainer" and not u8.flags.owndata
    b = r.spikes["input"]
    assert b.base is not None and not b.flags.owndata
    assert np.shares_memory(b, b.base)
    packed = r.spikes_packed("input")
    assert packed.shape == (100, 12_500) and type(packed.base).__name__ == "PySliceContainer"
    assert np.array_equal(np.unpackbits(packed, axis=-1, count=100_000, bitorder="little"), u8)


def test_devices_and_dry_run(tmp_path):
    ds = nacc.devices()
    assert isinstance(ds, list) and all("name" in d and "used" in d for d in ds)
    d = nacc.dry_run(steps=1000, backend="cpu", out=tmp_path / "o")
    assert d.fits and "170 neurons" in d.report
    big = nacc.dry_run(nacc.Network.default().scaled(100_000), backend="cpu", out=tmp_path / "o")
    assert not big.fits
    assert not (tmp_path / "o").exists()


def test_progress_bar_and_a_path_as_network(capsys):
    r = nacc.run(str(ASSETS / "nacc.toml"), steps=2000, chunk=100, progress=True, backend="cpu")
    assert r.network.name == "nacc" and r.steps == 2000
    # the bar ends at the run's end (tqdm's, or the line on stderr)
    assert "2000/2000" in capsys.readouterr().err



def test_the_jupyter_example_runs(tmp_path, monkeypatch):
    nb = json.loads((Path(__file__).parents[1] / "examples" / "quickstart.ipynb").read_text())
    monkeypatch.chdir(tmp_path)
    scope = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "quickstart.ipynb", "exec"), scope)
    assert (tmp_path / "out_striatum" / "spikes_d1.npy").is_file()
    assert scope["result"]._repr_png_().startswith(b"\x89PNG")


def test_the_stubs_name_every_native_function_and_class():
    import ast

    stub = ast.parse((Path(nacc.__file__).parent / "_nacc.pyi").read_text())
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    native = {n for n in dir(nacc._nacc) if not n.startswith("_")}
    assert stubbed == native
    for cls in ("Net", "Run"):
        node = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == cls)
        methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        assert methods == {m for m in dir(getattr(nacc._nacc, cls)) if not m.startswith("_")}, cls


def test_a_failure_after_some_steps_keeps_them(gpu_or_skip, monkeypatch):
    # the GPU engine fails like a lost device after 300 steps (a test hook)
    monkeypatch.setenv("NACC_INJECT_DEVICE_LOSS", "300")
    with pytest.raises(nacc.RunFailed) as e:
        nacc.run(steps=1000, chunk=100, seed=6, backend="gpu")
    assert isinstance(e.value, nacc.RunError) and "device lost" in str(e.value)
    r = e.value.result
    assert r.steps == 300 and r.stopped[0] == 300
    monkeypatch.delenv("NACC_INJECT_DEVICE_LOSS")
    cpu = nacc.run(steps=300, seed=6, backend="cpu")
    assert np.array_equal(r.spikes["msn"], cpu.spikes["msn"])
