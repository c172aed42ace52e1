"""nacc: a spiking neural network simulator of the Nucleus Accumbens.

The same Rust engines as the ``nacc`` command line (a CPU reference and WGSL
GPU kernels that agree bit for bit), with NumPy arrays in and out::

    import nacc
    result = nacc.run(steps=1000, seed=0)        # the default NAcc network
    result.spikes["msn"]                         # (1000, 20) bool
    result.save("out")                           # exactly `nacc run`'s files

A run with the same network, options and seed gives exactly the spikes of
``nacc run`` with the same options. Bad input raises :class:`InputError` (a
``ValueError``) with the command line's message, which names the option
(``--steps``), the value and the rule; Ctrl-C raises :class:`Interrupted`
(a ``KeyboardInterrupt``) at the end of the current chunk, holding the
completed steps. docs/python.md is the guide.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _nacc
from ._nacc import InputError, RunError

__version__: str = _nacc.__version__

__all__ = [
    "Network",
    "Result",
    "Coo",
    "Figure",
    "Comparison",
    "DryRun",
    "State",
    "run",
    "compare",
    "dry_run",
    "devices",
    "InputError",
    "RunError",
    "RunFailed",
    "Interrupted",
]

PathLike = Union[str, "os.PathLike[str]"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run at the end of a chunk.

    ``result`` holds the completed steps, as ``nacc run`` keeps them in its
    out dir when it is interrupted.
    """

    def __init__(self, message: str, result: "Result") -> None:
        super().__init__(message)
        self.result = result


class RunFailed(RunError):
    """A failure (a lost device, say) ended a run after some steps.

    ``result`` holds the steps completed before it.
    """

    def __init__(self, message: str, result: "Result") -> None:
        super().__init__(message)
        self.result = result


class Network:
    """A validated network description: populations, projections, stimulus,
    dopamine, recorded state (the network file of docs/network-file.md).

    Build one with :meth:`default`, :meth:`striatum`, :meth:`from_file`,
    :meth:`from_toml` or :meth:`from_dict`; change it with
    :meth:`with_changes` or :meth:`scaled`. Networks are immutable: every
    change returns a new one, checked as a network file is.
    """

    def __init__(self, native: "_nacc.Net") -> None:
        self._net = native
        self._outline: Dict[str, Any] = json.loads(native.outline())

    @classmethod
    def default(cls) -> "Network":
        """The default NAcc network (``assets/nacc.toml``: 100 Poisson
        inputs, 50 interneurons, 20 MSNs), as ``nacc run`` without
        ``--config``."""
        return cls(_nacc.Net.default_nacc())

    @classmethod
    def striatum(cls) -> "Network":
        """The NAcc striatum literature model (``assets/nacc_striatum.toml``,
        docs/models/nacc-striatum.md)."""
        return cls(_nacc.Net.striatum())

    @classmethod
    def from_file(cls, path: PathLike) -> "Network":
        """A network file (TOML); its name (figures, summary) is the file's
        stem, as with ``nacc run --config``."""
        return cls(_nacc.Net.from_file(os.fspath(path)))

    @classmethod
    def from_toml(cls, text: str, name: str = "network") -> "Network":
        """A network file's text."""
        return cls(_nacc.Net.from_toml(text, name))

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any], name: str = "network") -> "Network":
        """A network from a dict with the network file's fields (as
        :meth:`to_dict` returns them)."""
        try:
            text = json.dumps(fields)
        except (TypeError, ValueError) as e:
            raise InputError(f"network: {e}") from None
        return cls(_nacc.Net.from_json(text, name))

    def to_dict(self) -> Dict[str, Any]:
        """Every field, resolved and explicit (a fresh dict to change and
        pass to :meth:`from_dict`)."""
        return json.loads(self._net.to_json())

    def to_toml(self) -> str:
        """The network file's text, every field explicit (as ``config.toml``
        of a run)."""
        return self._net.to_toml()

    def with_changes(self, changes: Mapping[str, Any]) -> "Network":
        """A copy with fields changed, each named by a dotted path through
        the network file's tables, arrays of tables by their ``name``::

            net.with_changes({"population.msn.size": 40,
                              "projection.fc2.init": "uniform",
                              "dt_ms": 0.5})
        """
        fields = self.to_dict()
        for path, value in changes.items():
            _set_path(fields, path, value)
        return Network.from_dict(fields, self.name)

    def scaled(self, k: int) -> "Network":
        """Every population ``k`` times larger, as ``--scale K`` (a sparse
        projection keeps each neuron's synapse count)."""
        return Network(self._net.scaled(k))

    def named(self, name: str) -> "Network":
        """The same network under another name (figures, summary.json)."""
        return Network(self._net.with_title(name))

    @property
    def name(self) -> str:
        """The name its figures and summary.json carry."""
        return self._net.title

    @property
    def populations(self) -> Dict[str, int]:
        """Population name -> size, in file order."""
        return {p["name"]: p["size"] for p in self._outline["populations"]}

    @property
    def projections(self) -> Dict[str, Dict[str, Any]]:
        """Projection name -> {pre, post, synapses, dense, bias, plastic}."""
        return {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in self._outline["projections"]}

    @property
    def neurons(self) -> int:
        return self._outline["neurons"]

    @property
    def synapses(self) -> int:
        return self._outline["synapses"]

    def run(self, **options: Any) -> "Result":
        """:func:`run` on this network."""
        return run(self, **options)

    def __repr__(self) -> str:
        pops = ", ".join(f"{n} {s}" for n, s in self.populations.items())
        return f"<nacc.Network {self.name!r}: {pops}; {self.synapses} synapses>"


def _set_path(fields: Dict[str, Any], path: str, value: Any) -> None:
    """Sets the field at a dotted path (arrays of tables by name)."""
    parts = path.split(".")
    here: Any = fields
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "the network"
        if isinstance(here, list):
            found = [x for x in here if isinstance(x, dict) and x.get("name") == part]
            if not found:
                names = ", ".join(str(x.get("name")) for x in here if isinstance(x, dict))
                raise InputError(f"{path}: {where} has no entry named `{part}`; it has {names}")
            if last:
                raise InputError(f"{path}: names a whole entry of {where}; name one of its fields")
            here = found[0]
        elif isinstance(here, dict):
            if last:
                here[part] = value
            elif part in here:
                here = here[part]
            else:
                raise InputError(f"{path}: {where} has no table `{part}`; it has {', '.join(here)}")
        else:
            raise InputError(f"{path}: {where} is a value, not a table")


NetworkLike = Union[Network, PathLike, None]


def _network(network: NetworkLike) -> Network:
    if network is None:
        return Network.default()
    if isinstance(network, Network):
        return network
    if isinstance(network, (str, os.PathLike)):
        return Network.from_file(network)
    raise InputError(
        f"network = {network!r}: must be a nacc.Network, a network file's path or None (the default network)"
    )


def _numpy(x: Any) -> np.ndarray:
    """A NumPy array from an array, a list or a torch tensor (detached, on
    the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _floats(x: Any, label: str) -> np.ndarray:
    a = _numpy(x)
    if a.dtype.kind in "fiu":
        # float64 (NumPy's default) is rounded to the nearest float32, as
        # `a.astype(np.float32)`: nacc's weights are float32
        return np.ascontiguousarray(a, dtype=np.float32)
    return np.ascontiguousarray(a)


def _indices(x: Any, label: str, dtype: Any) -> np.ndarray:
    a = _numpy(x)
    if a.dtype.kind in "iu":
        if a.size and a.min() < 0:
            k = int(np.flatnonzero(a < 0)[0])
            raise InputError(f"{label}: value {k} is {a.flat[k]}; indices must be >= 0")
        if a.size and int(a.max()) > np.iinfo(dtype).max:
            k = int(np.argmax(a))
            raise InputError(f"{label}: value {k} is {a.flat[k]}; must be <= {np.iinfo(dtype).max}")
        return np.ascontiguousarray(a, dtype=dtype)
    return np.ascontiguousarray(a)


def _spikes_array(x: Any, label: str) -> np.ndarray:
    a = _numpy(x)
    if a.dtype.kind in "iu" and a.dtype != np.uint8:
        bad = np.flatnonzero((a != 0) & (a != 1))
        if bad.size:
            at = np.unravel_index(int(bad[0]), a.shape)
            where = ", ".join(str(int(i)) for i in at)
            raise InputError(f"{label}: value at [{where}] is {a[at]}; spikes must be 0 or 1")
        return np.ascontiguousarray(a, dtype=np.uint8)
    return np.ascontiguousarray(a)


class Coo(NamedTuple):
    """A sparse projection's synapses (the COO files of ``nacc run``):
    one entry per synapse, sorted by post then pre."""

    post: np.ndarray
    pre: np.ndarray
    value: np.ndarray
    shape: Tuple[int, int]
    delay: Optional[np.ndarray] = None

    def to_dense(self) -> np.ndarray:
        """The ``nn.Linear.weight`` layout (N_post x N_pre), zeros where
        there is no synapse."""
        w = np.zeros(self.shape, np.float32)
        w[self.post, self.pre] = self.value
        return w

    def to_scipy(self) -> Any:
        """A ``scipy.sparse.coo_matrix`` (needs SciPy)."""
        import scipy.sparse

        return scipy.sparse.coo_matrix((self.value, (self.post, self.pre)), shape=self.shape)


def _weight_arrays(net: Network, weights: Mapping[str, Any]) -> List[Tuple[str, str, np.ndarray]]:
    """`weights` (projection name, or a ``state_dict``'s ``<proj>.weight``
    and ``<proj>.bias``) as the arrays of ``--weights DIR``, by file stem."""
    projs = net.projections
    out: List[Tuple[str, str, np.ndarray]] = []
    for key, value in weights.items():
        label = f"weights[{key!r}]"
        name, _, part = str(key).rpartition(".")
        if name and part not in ("weight", "bias"):
            # a state_dict's other entries (a Leaky layer's beta and
            # threshold): neuron parameters, which the network file sets
            continue
        if not name:
            name, part = str(key), "weight"
        if name not in projs:
            raise InputError(f"{label}: the network has no projection `{name}`; it has {', '.join(projs)}")
        if part == "bias":
            if not projs[name]["bias"]:
                raise InputError(f"{label}: projection `{name}` has no bias (bias = false in its network)")
            out.append((f"bias_{name}", label, _floats(value, label)))
            continue
        coo = isinstance(value, Coo) or (isinstance(value, tuple) and len(value) in (3, 4))
        sparse = coo or hasattr(value, "tocoo")
        if sparse == projs[name]["dense"]:
            want = (
                "an (N_post, N_pre) array"
                if projs[name]["dense"]
                else "a nacc.Coo, a tuple (post, pre, value[, delay]) or a SciPy sparse matrix"
            )
            kind = "dense" if projs[name]["dense"] else "sparse"
            raise InputError(f"{label}: projection `{name}` is {kind}: give {want}")
        if coo:
            post, pre, val = value[0], value[1], value[2]
            delay = value.delay if isinstance(value, Coo) else (value[3] if len(value) == 4 else None)
        elif sparse:
            m = value.tocoo()
            order = np.lexsort((m.col, m.row))
            post, pre, val, delay = m.row[order], m.col[order], m.data[order], None
        else:
            out.append((f"weights_{name}", label, _floats(value, label)))
            continue
        out.append((f"weights_{name}_post", f"{label}.post", _indices(post, f"{label}.post", np.uint32)))
        out.append((f"weights_{name}_pre", f"{label}.pre", _indices(pre, f"{label}.pre", np.uint32)))
        out.append((f"weights_{name}_value", f"{label}.value", _floats(val, f"{label}.value")))
        if delay is not None:
            out.append((f"weights_{name}_delay", f"{label}.delay", _indices(delay, f"{label}.delay", np.uint16)))
    return out


def _input_arrays(input_spikes: Any) -> List[Tuple[str, str, np.ndarray]]:
    if isinstance(input_spikes, Mapping):
        return [
            (str(pop), f"input_spikes[{pop!r}]", _spikes_array(a, f"input_spikes[{pop!r}]"))
            for pop, a in input_spikes.items()
        ]
    # one array: the network's only Poisson population
    return [("", "input_spikes", _spikes_array(input_spikes, "input_spikes"))]


def _options(net: Network, **kw: Any) -> Dict[str, Any]:
    opts = {k: v for k, v in kw.items() if k not in ("weights", "input_spikes")}
    if kw.get("weights") is not None:
        opts["weights"] = _weight_arrays(net, kw["weights"])
    if kw.get("input_spikes") is not None:
        opts["input_spikes"] = _input_arrays(kw["input_spikes"])
    return opts


def _progress(total: int) -> Tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar: tqdm's (terminal or notebook) when tqdm is installed,
    else a line on stderr."""
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="steps")

        def update(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        return update, bar.close
    except ImportError:

        def line(done: int, _total: int) -> None:
            width = 40
            filled = width * done // max(total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} steps")
            sys.stderr.flush()

        return line, lambda: sys.stderr.write("\n")


def run(
    network: NetworkLike = None,
    *,
    steps: Optional[int] = None,
    seed: int = 0,
    backend: str = "auto",
    trials: int = 1,
    chunk: int = 1000,
    scale: int = 1,
    input_spikes: Any = None,
    weights: Optional[Mapping[str, Any]] = None,
    adapter: Optional[str] = None,
    progress: bool = False,
) -> "Result":
    """Runs a network and keeps its results in memory (``nacc run`` without
    writing anything; :meth:`Result.save` writes its files).

    - ``network``: a :class:`Network`, a network file's path, or None for
      the default NAcc network.
    - ``steps``: the network file's ``steps``, the input's length, else 1000.
    - ``seed``: weights, rates and Poisson input all follow from it.
    - ``backend``: ``"auto"`` (a hardware GPU if there is one, else the
      CPU engine), ``"cpu"`` or ``"gpu"`` (any adapter, software included).
    - ``trials``: independent trials (input seeds differ, weights shared);
      spike arrays then have a leading trials axis.
    - ``chunk``: steps per engine call; Ctrl-C stops at a chunk's end.
    - ``scale``: every population ``scale`` times larger.
    - ``input_spikes``: (T, N) 0/1 array (bool or integers) replacing the
      Poisson input of the network's one Poisson population, or a dict
      population -> array giving every Poisson population.
    - ``weights``: projection -> (N_post, N_pre) array, or a torch
      ``state_dict`` (``fc1.weight``, ``fc1.bias``; tensors are taken as
      they are; its other entries, such as a Leaky layer's ``beta``, are
      neuron parameters, which the network sets, and are skipped); a sparse projection takes a :class:`Coo`, a tuple
      ``(post, pre, value[, delay])`` or a SciPy sparse matrix. Projections
      not given keep their weights from the seed. Floats are rounded to
      float32.
    - ``adapter``: part of the GPU adapter's name (``NACC_ADAPTER``).
    - ``progress``: a progress bar (tqdm's where installed).

    The engines run with the GIL released. Raises :class:`InputError` for
    bad input, :class:`Interrupted` on Ctrl-C (completed steps in its
    ``result``), :class:`RunFailed` when a failure ended the run after some
    steps, :class:`RunError` otherwise.
    """
    net = _network(network)
    opts = _options(
        net,
        steps=steps,
        seed=seed,
        backend=backend,
        trials=trials,
        chunk=chunk,
        scale=scale,
        input_spikes=input_spikes,
        weights=weights,
        adapter=adapter,
    )
    callback, close = None, None
    if progress:
        total = steps or net._outline.get("steps") or 1000
        if input_spikes is not None and steps is None:
            first = next(iter(input_spikes.values())) if isinstance(input_spikes, Mapping) else input_spikes
            total = len(first)
        callback, close = _progress(int(total))
    try:
        native = _nacc.simulate(net._net, opts, callback)
    finally:
        if close is not None:
            close()
    result = Result(native)
    if native.interrupted:
        raise Interrupted(
            f"stopped by SIGINT after {result.steps} of {result.steps_requested} steps; "
            "the completed steps are in this exception's `result`",
            result,
        )
    if native.failure is not None:
        raise RunFailed(
            f"{native.failure}; stopped after {result.steps} steps, which are in this exception's `result`",
            result,
        )
    return result


class Figure(bytes):
    """A PNG figure's bytes; shown inline in Jupyter."""

    name: str

    def __new__(cls, name: str, data: bytes) -> "Figure":
        f = super().__new__(cls, data)
        f.name = name
        return f

    def _repr_png_(self) -> bytes:
        return bytes(self)

    def save(self, path: PathLike) -> Path:
        """Writes the PNG to ``path``."""
        p = Path(path)
        p.write_bytes(self)
        return p

    def __repr__(self) -> str:
        return f"<nacc.Figure {self.name} ({len(self)} bytes)>"


class State(NamedTuple):
    """A recorded variable (``[[record]]``): its samples (samples x
    neurons, with trials first), the population, the variable, the neurons
    recorded and the steps between samples."""

    values: np.ndarray
    population: str
    variable: str
    neurons: List[int]
    every: int


class _Lazy(Mapping):
    """A mapping whose values are computed on first access and kept."""

    def __init__(self, keys: List[str], get: Callable[[str], Any]) -> None:
        self._keys, self._get, self._kept = keys, get, {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(f"{key!r}: there are {', '.join(self._keys)}")
        if key not in self._kept:
            self._kept[key] = self._get(key)
        return self._kept[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: ..." for k in self._keys) + "}"


class Result:
    """A run's results, in memory. Every array equals the file ``nacc run``
    writes for it; spike arrays are built once by nacc and handed to NumPy
    without a copy."""

    def __init__(self, native: "_nacc.Run") -> None:
        self._run = native
        net = native.network
        self.network = Network(net)
        pops = list(self.network.populations)
        projs = self.network.projections
        self.spikes: Mapping[str, np.ndarray] = _Lazy(pops, lambda p: self.spikes_u8(p).view(np.bool_))
        """Population -> bool spikes (steps, neurons), trials first with trials."""
        self.weights: Mapping[str, Union[np.ndarray, Coo]] = _Lazy(list(projs), self._weights)
        """Projection -> (N_post, N_pre) float32 (learned, when plastic), or :class:`Coo`."""
        self.initial_weights: Mapping[str, np.ndarray] = _Lazy(
            [p for p, d in projs.items() if d["plastic"] and d["dense"]], lambda p: self._run.weights(p)[2]
        )
        """A plastic projection's weights before learning."""
        self.biases: Mapping[str, np.ndarray] = _Lazy(
            [p for p, d in projs.items() if d["bias"]], lambda p: self._run.bias(p)
        )
        """Projection -> bias (N_post float32), for projections with ``bias``."""

    def spikes_u8(self, population: str) -> np.ndarray:
        """A population's spikes as uint8 0/1, the layout of
        ``spikes_<pop>.npy``."""
        return self._run.spikes(population, False)

    def spikes_packed(self, population: str) -> np.ndarray:
        """A population's spikes 8 neurons a byte (bit n % 8 of byte n / 8),
        as ``spikes_<pop>_packed.npy``: 1/8 of the memory.
        ``np.unpackbits(a, axis=-1, count=N, bitorder="little")`` unpacks it."""
        return self._run.spikes(population, True)

    def _weights(self, projection: str) -> Union[np.ndarray, Coo]:
        w = self._run.weights(projection)
        if w[0] == "dense":
            return w[1]
        d = self.network.projections[projection]
        pops = self.network.populations
        return Coo(w[1], w[2], w[3], (pops[d["post"]], pops[d["pre"]]), w[4])

    @property
    def dopamine(self) -> Optional[np.ndarray]:
        """d(t) of every step (float32), None without ``[dopamine]``."""
        return self._run.dopamine()

    @property
    def state(self) -> Dict[str, State]:
        """Recorded variables by the stem of their file
        (``state_<pop>_<var>``)."""
        return {s[0]: State(s[5], s[1], s[2], list(s[3]), s[4]) for s in self._run.state()}

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json, as :meth:`save` writes it (docs/outputs.md)."""
        return json.loads(self._run.summary_json())

    @property
    def steps(self) -> int:
        """Steps completed."""
        return self._run.steps

    @property
    def steps_requested(self) -> int:
        return self._run.steps_requested

    @property
    def stopped(self) -> Optional[Tuple[int, str]]:
        """(steps completed, why) when a signal or a failure ended the run early."""
        return self._run.stopped

    @property
    def seed(self) -> int:
        return self._run.seed

    @property
    def trials(self) -> int:
        return self._run.trials

    @property
    def engine(self) -> str:
        """The engine that ran the steps."""
        return self._run.engine

    @property
    def adapter(self) -> Optional[str]:
        """The GPU adapter that ran them; None on the CPU engine."""
        return self._run.adapter

    def save(self, out: PathLike = "out", *, packed_spikes: bool = False, weight_files: bool = True) -> Path:
        """Writes the files of ``nacc run --out OUT`` (spikes, weights,
        state, figures, config.toml, summary.json), ``out`` replaced whole
        as ``nacc run`` replaces it; ``nacc render OUT`` redraws them.
        ``packed_spikes``: ``--packed-spikes`` (8 neurons a byte);
        ``weight_files=False``: ``--no-weight-files`` (only learned
        weights; the others follow from config.toml and the seed)."""
        self._run.save(os.fspath(out), packed_spikes, weight_files)
        return Path(out)

    def figures(self) -> Dict[str, Figure]:
        """Every figure ``nacc run`` draws (nacc.png, rasters, heatmaps,
        traces, learning), as PNG bytes by file name; nothing is written."""
        return {name: Figure(name, data) for name, data in self._run.figures()}

    def figure(self, name: str = "nacc.png") -> Figure:
        """One figure by file name (default: the overview, nacc.png)."""
        figs = self.figures()
        if name not in figs:
            raise KeyError(f"{name!r}: this run's figures are {', '.join(figs)}")
        return figs[name]

    def table(self) -> str:
        """The table ``nacc run`` prints."""
        return self._run.table()

    def _repr_png_(self) -> bytes:
        return bytes(self.figure())

    def __repr__(self) -> str:
        return f"<nacc.Result {self.network.name!r}: {self.steps} steps, seed {self.seed}, {self.engine}>\n{self.table()}"


class Comparison(NamedTuple):
    """``nacc compare``: whether the CPU and the GPU gave the same spikes,
    membranes, weights and state (``==``), the report, and the first
    difference (step, population or projection, neuron, both values)."""

    identical: bool
    report: str
    first_difference: Optional[Dict[str, Any]]

    def __bool__(self) -> bool:
        return self.identical

    def __str__(self) -> str:
        return self.report


def compare(
    network: NetworkLike = None,
    *,
    steps: Optional[int] = None,
    seed: int = 0,
    chunk: int = 1000,
    scale: int = 1,
    input_spikes: Any = None,
    weights: Optional[Mapping[str, Any]] = None,
    adapter: Optional[str] = None,
) -> Comparison:
    """Runs the network on the CPU engine and on the GPU and compares them
    with ``==`` (``nacc compare``). Needs a GPU adapter (any, software
    included)."""
    net = _network(network)
    opts = _options(
        net, steps=steps, seed=seed, chunk=chunk, scale=scale,
        input_spikes=input_spikes, weights=weights, adapter=adapter,
    )
    identical, report, first = _nacc.compare(net._net, opts)
    return Comparison(identical, report, json.loads(first) if first else None)


class DryRun(NamedTuple):
    """``nacc run --dry-run``: the memory a run needs, and whether this
    machine, its GPU and the disk of ``out`` have it."""

    report: str
    fits: bool

    def __str__(self) -> str:
        return self.report


def dry_run(
    network: NetworkLike = None,
    *,
    steps: Optional[int] = None,
    seed: int = 0,
    backend: str = "auto",
    trials: int = 1,
    chunk: int = 1000,
    scale: int = 1,
    adapter: Optional[str] = None,
    out: PathLike = "out",
) -> DryRun:
    """The memory estimate of a run, computed from the network alone;
    nothing is built."""
    net = _network(network)
    opts = _options(
        net, steps=steps, seed=seed, backend=backend, trials=trials,
        chunk=chunk, scale=scale, adapter=adapter,
    )
    opts["out"] = os.fspath(out)
    report, fits = _nacc.dry_run(net._net, opts)
    return DryRun(report, fits)


def devices(adapter: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every GPU adapter wgpu sees (``nacc devices``): name, backend,
    device_type, driver, memory_bytes, limits, and ``used``: the one
    ``backend="gpu"`` takes."""
    return json.loads(_nacc.devices(adapter))
