//! `nacc._nacc`, the Python package's native module: it turns Python values
//! into the library's options and inputs and the library's results into
//! NumPy arrays. No simulation logic lives here: every check, every step and
//! every file is the library's, as for `nacc run`. `nacc/__init__.py` is the
//! API users call.

use nacc::Error;
use nacc::network::Network;
use nacc::run::{self, Backend, InMemory, Outcome, RunOptions};
use numpy::{PyArray, ndarray};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pyo3::create_exception!(
    nacc,
    InputError,
    PyValueError,
    "Bad input: a network field, an option or an array, named with its value and the rule it breaks (the command line's exit 2)."
);
pyo3::create_exception!(
    nacc,
    RunError,
    PyRuntimeError,
    "A failure while working on valid input (a device lost, memory, disk)."
);

/// The library's error as the Python exception of its kind.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::Input(m) => InputError::new_err(m),
        Error::Runtime(m) => RunError::new_err(m),
        Error::Signal(m, _) => PyKeyboardInterrupt::new_err(m),
    }
}

fn input_err(m: impl Into<String>) -> PyErr {
    InputError::new_err(m.into())
}

/// A network description (validated), with the name its figures carry.
#[pyclass(module = "nacc._nacc", frozen)]
#[derive(Clone)]
struct Net {
    net: Network,
    title: String,
}

#[pymethods]
impl Net {
    #[staticmethod]
    fn default_nacc() -> Net {
        Net {
            net: Network::default_nacc(),
            title: nacc::figures::DEFAULT_TITLE.into(),
        }
    }

    #[staticmethod]
    fn striatum() -> PyResult<Net> {
        Ok(Net {
            net: nacc::study::nacc_striatum().map_err(py_err)?,
            title: "nacc_striatum".into(),
        })
    }

    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<Net> {
        let net = Network::from_file(&path).map_err(py_err)?;
        // named as `nacc run --config` names it: the file's stem
        let title = run::network_title(&RunOptions {
            config: Some(path),
            ..Default::default()
        });
        Ok(Net { net, title })
    }

    #[staticmethod]
    fn from_toml(text: &str, title: String) -> PyResult<Net> {
        let net = Network::from_toml_str(text, &title).map_err(py_err)?;
        Ok(Net { net, title })
    }

    /// A network from the JSON of a dict with the network file's fields.
    #[staticmethod]
    fn from_json(text: &str, title: String) -> PyResult<Net> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| input_err(format!("network: {e}")))?;
        let toml = toml::to_string(&value).map_err(|e| {
            input_err(format!(
                "network: {e} (a network file holds tables, arrays, strings, numbers and booleans; no None)"
            ))
        })?;
        Net::from_toml(&toml, title)
    }

    fn scaled(&self, k: &Bound<'_, PyAny>) -> PyResult<Net> {
        let k = uint(k, "--scale")?;
        Ok(Net {
            net: self.net.clone().scaled(k).map_err(py_err)?,
            title: self.title.clone(),
        })
    }

    fn with_title(&self, title: String) -> Net {
        Net {
            net: self.net.clone(),
            title,
        }
    }

    #[getter]
    fn title(&self) -> String {
        self.title.clone()
    }

    fn to_toml(&self) -> String {
        self.net.to_toml()
    }

    /// Every field as JSON (through the network file's TOML).
    fn to_json(&self) -> PyResult<String> {
        let v: serde_json::Value = toml::from_str(&self.net.to_toml())
            .map_err(|e| RunError::new_err(format!("network: {e}")))?;
        Ok(v.to_string())
    }

    /// Populations (name, kind, size) and projections (name, pre, post,
    /// synapses), as JSON.
    fn outline(&self) -> String {
        let n = &self.net;
        let pops: Vec<_> = n
            .populations
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "kind": p.kind_name(), "size": p.size}))
            .collect();
        let projs: Vec<_> = n
            .projections
            .iter()
            .enumerate()
            .map(|(j, p)| {
                serde_json::json!({
                    "name": p.name,
                    "pre": n.populations[p.pre].name,
                    "post": n.populations[p.post].name,
                    "synapses": n.synapses(j),
                    "dense": p.conn.is_dense(),
                    "bias": p.bias,
                    "plastic": p.plasticity.is_some(),
                })
            })
            .collect();
        serde_json::json!({
            "populations": pops,
            "projections": projs,
            "neurons": n.total_neurons(),
            "synapses": n.total_synapses(),
            "dt_ms": n.dt_ms,
            "steps": n.steps,
        })
        .to_string()
    }
}

/// A non-negative integer option, or an error naming it.
fn uint(v: &Bound<'_, PyAny>, field: &str) -> PyResult<u64> {
    let shown = || v.repr().map_or("?".into(), |r| r.to_string());
    let i: i128 = v
        .call_method0("__index__")
        .and_then(|i| i.extract())
        .map_err(|_| input_err(format!("{field} = {}: must be an integer", shown())))?;
    u64::try_from(i)
        .map_err(|_| input_err(format!("{field} = {i}: must be an integer >= 0 and < 2^64")))
}

/// A NumPy array (C-contiguous, made so by `nacc/__init__.py`) as the
/// library's array, named `label` in errors.
fn array(label: &str, a: &Bound<'_, PyAny>) -> PyResult<nacc::npy::Array> {
    let descr: String = a.getattr("dtype")?.getattr("str")?.extract()?;
    let Some(dtype) = nacc::npy::DType::from_descr(&descr) else {
        let name: String = a.getattr("dtype")?.getattr("name")?.extract()?;
        return Err(input_err(format!(
            "{label}: dtype {name} found; nacc reads bool, uint8, uint16, uint32 and float32 arrays"
        )));
    };
    let shape: Vec<usize> = a.getattr("shape")?.extract()?;
    let bytes = a.call_method0("tobytes")?;
    let data = bytes.cast::<PyBytes>()?.as_bytes().to_vec();
    Ok(nacc::npy::Array { dtype, shape, data })
}

/// The options of a run, from `nacc/__init__.py`'s keyword arguments (a
/// dict): the command line's options by their long names.
fn options(net: &Net, o: &Bound<'_, PyDict>) -> PyResult<RunOptions> {
    let get = |k: &str| o.get_item(k);
    let mut opts = RunOptions {
        quiet: true,
        ..Default::default()
    };
    if let Some(v) = get("steps")?.filter(|v| !v.is_none()) {
        opts.steps = Some(uint(&v, "--steps")?);
    }
    if let Some(v) = get("seed")? {
        opts.seed = uint(&v, "--seed")?;
    }
    if let Some(v) = get("scale")? {
        opts.scale = uint(&v, "--scale")?;
    }
    if let Some(v) = get("trials")? {
        opts.trials = uint(&v, "--trials")? as usize;
    }
    if let Some(v) = get("chunk")? {
        opts.chunk = uint(&v, "--chunk")? as usize;
    }
    if let Some(v) = get("backend")? {
        let b: String = v.str()?.to_string();
        opts.backend = match b.as_str() {
            "auto" => Backend::Auto,
            "cpu" => Backend::Cpu,
            "gpu" => Backend::Gpu,
            _ => {
                return Err(input_err(format!(
                    "--backend = {b}: must be one of auto, cpu, gpu"
                )));
            }
        };
    }
    opts.tuning = tuning()?;
    if let Some(v) = get("adapter")?.filter(|v| !v.is_none()) {
        opts.tuning.adapter = Some(v.str()?.to_string());
    }
    let mut memory = InMemory {
        network: Some(net.net.clone()),
        title: Some(net.title.clone()),
        ..Default::default()
    };
    if let Some(v) = get("weights")?.filter(|v| !v.is_none()) {
        let mut arrays = nacc::import::Arrays::default();
        for item in v.try_iter()? {
            let (stem, label, a): (String, String, Bound<'_, PyAny>) = item?.extract()?;
            let arr = array(&label, &a)?;
            arrays.insert(stem, label, arr);
        }
        memory.weights = Some(Arc::new(arrays));
    }
    if let Some(v) = get("input_spikes")?.filter(|v| !v.is_none()) {
        let mut given = Vec::new();
        for item in v.try_iter()? {
            let (pop, label, a): (String, String, Bound<'_, PyAny>) = item?.extract()?;
            let arr = array(&label, &a)?;
            given.push((pop, label, arr));
        }
        memory.input_spikes = Some(Arc::new(given));
    }
    opts.memory = memory;
    Ok(opts)
}

/// The `NACC_*` knobs, as the command line reads them; the thread pool and
/// the CPU's instruction set are set once for the process.
fn tuning() -> PyResult<nacc::tuning::Tuning> {
    static PROCESS: std::sync::Once = std::sync::Once::new();
    let t = nacc::tuning::Tuning::from_vars(|var| std::env::var(var).ok()).map_err(py_err)?;
    let mut set = Ok(());
    PROCESS.call_once(|| {
        if let Some(n) = t.threads {
            set = nacc::threads::set_global(n);
        }
        if t.cpu_simd_portable {
            nacc::simd::set_portable(true);
        }
    });
    set.map_err(py_err)?;
    Ok(t)
}

/// Runs `work` on a worker thread with the GIL released, while this
/// (the calling, main) thread checks for Python signals every 20 ms and
/// reports the steps done to `progress(done, total)`. A signal whose
/// handler raises (Ctrl-C: KeyboardInterrupt) sets `stop` to SIGINT, so that
/// the run ends at the end of its chunk; the exception is returned beside
/// the work's result. A panic in the work becomes a RunError.
fn supervised<T: Send>(
    py: Python<'_>,
    stop: &AtomicUsize,
    done: &AtomicUsize,
    total: usize,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce() -> T + Send,
) -> (PyResult<T>, Option<PyErr>) {
    let progress = progress.map(|p| p.clone().unbind());
    let (result, raised) = py.detach(|| {
        std::thread::scope(|s| {
            // the worker says when it is done, so that a short run returns
            // at once instead of at the next check
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let worker = s.spawn(move || {
                let r = work();
                let _ = done_tx.send(());
                r
            });
            let mut raised: Option<PyErr> = None;
            let mut told = usize::MAX;
            // a panic drops the sender: Disconnected ends the wait too
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                done_rx.recv_timeout(Duration::from_millis(20))
            {
                Python::attach(|py| {
                    if let Err(e) = py.check_signals() {
                        stop.store(2, Ordering::SeqCst);
                        raised.get_or_insert(e);
                    }
                    let now = done.load(Ordering::SeqCst);
                    if let Some(p) = &progress
                        && now != told
                    {
                        told = now;
                        if let Err(e) = p.call1(py, (now, total)) {
                            e.print(py);
                        }
                    }
                });
            }
            // the bar ends where the run ended
            if let Some(p) = &progress {
                let now = done.load(Ordering::SeqCst);
                Python::attach(|py| p.call1(py, (now, total)).map_err(|e| e.print(py)).ok());
            }
            (worker.join(), raised)
        })
    });
    let result = result.map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        RunError::new_err(format!("internal error (please report it): {what}"))
    });
    (result, raised)
}

/// Runs a network in memory (`nacc run` without writing anything).
/// Returns the run, which holds the completed steps when a signal or a
/// failure ended it early (`interrupted`, `failure`).
#[pyfunction]
#[pyo3(signature = (net, options, progress=None))]
fn simulate(
    py: Python<'_>,
    net: &Net,
    options: &Bound<'_, PyDict>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Run> {
    let mut opts = self::options(net, options)?;
    let (stop, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    opts.stop = Some(stop.clone());
    opts.done = Some(done.clone());
    let total = opts.steps.unwrap_or(0) as usize;
    let (result, raised) = supervised(py, &stop, &done, total, progress, || run::simulate(&opts));
    let sim = match result? {
        Ok(sim) => sim,
        // a signal before the first step: KeyboardInterrupt as Python raised it
        Err(e @ Error::Signal(..)) => return Err(raised.unwrap_or_else(|| py_err(e))),
        Err(e) => return Err(py_err(e)),
    };
    Ok(Run {
        failure: sim.failure.map(|e| e.to_string()),
        interrupted: raised.is_some(),
        outcome: sim.outcome,
        opts,
    })
}

/// The results of a run, held in memory.
#[pyclass(module = "nacc._nacc", frozen)]
struct Run {
    outcome: Outcome,
    opts: RunOptions,
    /// The failure that ended the run early, if one did.
    failure: Option<String>,
    /// Ctrl-C (a Python signal handler that raised) ended it.
    interrupted: bool,
}

impl Run {
    fn records(&self) -> Vec<&nacc::record::SpikeRecord> {
        std::iter::once(&self.outcome.record)
            .chain(&self.outcome.other_trials)
            .collect()
    }

    fn population(&self, name: &str) -> PyResult<usize> {
        self.outcome
            .model
            .net
            .population_index(name)
            .ok_or_else(|| {
                let names: Vec<_> = self
                    .outcome
                    .model
                    .net
                    .populations
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                pyo3::exceptions::PyKeyError::new_err(format!(
                    "population `{name}`: the network has {}",
                    names.join(", ")
                ))
            })
    }

    fn projection(&self, name: &str) -> PyResult<usize> {
        let net = &self.outcome.model.net;
        net.projections
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                let names: Vec<_> = net.projections.iter().map(|p| p.name.as_str()).collect();
                pyo3::exceptions::PyKeyError::new_err(format!(
                    "projection `{name}`: the network has {}",
                    names.join(", ")
                ))
            })
    }
}

/// `v` as a NumPy array of `shape`, without a copy: NumPy's array owns
/// the vector's memory.
fn owned<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: Vec<usize>,
    v: Vec<T>,
) -> PyResult<Bound<'py, PyArray<T, ndarray::IxDyn>>> {
    let a = ndarray::Array::from_shape_vec(ndarray::IxDyn(&shape), v)
        .map_err(|e| RunError::new_err(format!("internal error (please report it): {e}")))?;
    Ok(PyArray::from_owned_array(py, a))
}

#[pymethods]
impl Run {
    /// A population's spikes as uint8 0/1, (steps, neurons), or (trials,
    /// steps, neurons) with trials; with `packed`, 8 neurons a byte
    /// (bit n % 8 of byte n / 8), as `spikes_<pop>[_packed].npy`.
    fn spikes<'py>(
        &self,
        py: Python<'py>,
        population: &str,
        packed: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = self.population(population)?;
        let recs: Vec<_> = self.records().iter().map(|r| &r.pops[p]).collect();
        let (steps, size) = (recs[0].steps(), recs[0].size);
        let row = nacc::export::spikes_row_len(size, packed);
        let per_trial = steps * row;
        let v = py
            .detach(|| -> nacc::Result<Vec<u8>> {
                let mut v =
                    nacc::error::try_zeroed::<u8>(per_trial * recs.len(), "the spike array")?;
                for (rec, out) in recs.iter().zip(v.chunks_mut(per_trial.max(1))) {
                    rec.write_rows(packed, out);
                }
                Ok(v)
            })
            .map_err(py_err)?;
        let shape = match self.opts.trials > 1 {
            true => vec![recs.len(), steps, row],
            false => vec![steps, row],
        };
        Ok(owned(py, shape, v)?.into_any())
    }

    /// A projection's weights as its files hold them: ("dense", w,
    /// initial or None) or ("sparse", post, pre, value, delay or None).
    fn weights<'py>(&self, py: Python<'py>, projection: &str) -> PyResult<Bound<'py, PyAny>> {
        use nacc::export::WeightArrays;
        let j = self.projection(projection)?;
        let o = &self.outcome;
        let net = &o.model.net;
        let proj = &net.projections[j];
        let (n_post, n_pre) = (
            net.populations[proj.post].size,
            net.populations[proj.pre].size,
        );
        let learned = o.learned.get(j).cloned().flatten();
        let t = match nacc::export::weight_arrays(&o.model, j, &learned) {
            WeightArrays::Dense { w, initial } => {
                let initial = match initial {
                    Some(i) => owned(py, vec![n_post, n_pre], i)?.into_any(),
                    None => py.None().into_bound(py),
                };
                ("dense", owned(py, vec![n_post, n_pre], w)?, initial)
                    .into_pyobject(py)?
                    .into_any()
            }
            WeightArrays::Sparse {
                post,
                pre,
                value,
                delay,
            } => {
                let n = pre.len();
                let delay = match delay {
                    Some(d) => owned(py, vec![n], d)?.into_any(),
                    None => py.None().into_bound(py),
                };
                (
                    "sparse",
                    owned(py, vec![n], post)?,
                    owned(py, vec![n], pre)?,
                    owned(py, vec![n], value)?,
                    delay,
                )
                    .into_pyobject(py)?
                    .into_any()
            }
        };
        Ok(t)
    }

    /// A projection's bias (N_post float32), None when it has none.
    fn bias<'py>(&self, py: Python<'py>, projection: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let j = self.projection(projection)?;
        let o = &self.outcome;
        match o.model.net.projections[j].bias {
            true => {
                let b = o.model.weights[j].b.clone();
                Ok(Some(owned(py, vec![b.len()], b)?.into_any()))
            }
            false => Ok(None),
        }
    }

    /// d(t) of every step (float32), None without `[dopamine]`.
    fn dopamine<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let net = &self.outcome.model.net;
        if net.dopamine.is_none() {
            return Ok(None);
        }
        let d = nacc::dopamine::dopamine_trace(net, self.outcome.steps);
        Ok(Some(owned(py, vec![d.len()], d)?.into_any()))
    }

    /// Every recorded variable: (file stem, population, variable, neurons,
    /// every, array (samples, neurons), or (trials, samples, neurons)).
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let net = &self.outcome.model.net;
        let trials = self.records();
        let mut out = Vec::new();
        for (k, (r, var)) in net.probes().into_iter().enumerate() {
            let rec = &net.records[r];
            let n = rec.neurons.len();
            let samples = rec.samples(self.outcome.steps as u64) as usize;
            let mut v = Vec::with_capacity(samples * n * trials.len());
            for t in &trials {
                v.extend_from_slice(&t.state[k][..samples * n]);
            }
            let shape = match self.opts.trials > 1 {
                true => vec![trials.len(), samples, n],
                false => vec![samples, n],
            };
            let file = net.state_file(r, var);
            let stem = file.trim_end_matches(".npy").to_string();
            let item = (
                stem,
                net.populations[rec.population].name.clone(),
                nacc::network::Record::var_name(net, var),
                rec.neurons.clone(),
                rec.every,
                owned(py, shape, v)?,
            );
            out.push(item.into_pyobject(py)?.into_any());
        }
        Ok(out)
    }

    /// summary.json of the run, as `save` writes it.
    fn summary_json(&self) -> String {
        run::summary_json(&self.opts, &self.outcome, self.outcome.run_time).to_string()
    }

    /// The table `nacc run` prints.
    fn table(&self) -> String {
        run::table(&self.outcome)
    }

    /// Writes the files of `nacc run --out dir` (dir replaced whole), with
    /// `--packed-spikes` and `--no-weight-files` as asked.
    fn save(
        &self,
        py: Python<'_>,
        dir: PathBuf,
        packed_spikes: bool,
        weight_files: bool,
    ) -> PyResult<()> {
        let opts = RunOptions {
            packed_spikes,
            no_weight_files: !weight_files,
            ..self.opts.clone()
        };
        py.detach(|| run::save(&opts, &self.outcome, &dir))
            .map_err(py_err)
    }

    /// The run's figures, as `nacc run` draws them: (file name, PNG bytes).
    fn figures<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let kept = std::sync::Mutex::new(Vec::new());
        py.detach(|| {
            run::write_figures(
                &self.opts,
                nacc::figures::Dest::Memory(&kept),
                &self.outcome,
            )
        })
        .map_err(py_err)?;
        let kept = kept.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(kept
            .into_iter()
            .map(|(name, bytes)| (name, PyBytes::new(py, &bytes)))
            .collect())
    }

    #[getter]
    fn steps(&self) -> usize {
        self.outcome.steps
    }
    #[getter]
    fn steps_requested(&self) -> usize {
        self.outcome.steps_requested
    }
    #[getter]
    fn stopped(&self) -> Option<(usize, String)> {
        self.outcome.stopped.clone()
    }
    #[getter]
    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }
    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }
    #[getter]
    fn engine(&self) -> String {
        self.outcome.engine.clone()
    }
    #[getter]
    fn adapter(&self) -> Option<String> {
        self.outcome.adapter.clone()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.outcome.model.seed
    }
    #[getter]
    fn trials(&self) -> usize {
        self.opts.trials.max(1)
    }
    #[getter]
    fn network(&self) -> Net {
        Net {
            net: self.outcome.model.net.clone(),
            title: run::network_title(&self.opts),
        }
    }
}

/// `nacc compare`: the CPU and the GPU on the same run. Returns (identical,
/// report text, first difference as JSON or None).
#[pyfunction]
fn compare(
    py: Python<'_>,
    net: &Net,
    options: &Bound<'_, PyDict>,
) -> PyResult<(bool, String, Option<String>)> {
    let opts = self::options(net, options)?;
    let (stop, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (result, raised) = supervised(py, &stop, &done, 0, None, || run::compare(&opts));
    if let Some(e) = raised {
        return Err(e);
    }
    let r = result?.map_err(py_err)?;
    let first = r.first_difference.as_ref().map(|d| {
        serde_json::json!({
            "kind": "spike", "step": d.step, "population": d.population, "neuron": d.neuron,
            "spike_cpu": d.spike_cpu, "spike_gpu": d.spike_gpu, "v_cpu": d.v_cpu, "v_gpu": d.v_gpu,
        })
    }).or_else(|| r.first_weight_difference.as_ref().map(|d| serde_json::json!({
        "kind": "weight", "step": d.step, "projection": d.projection, "pre": d.pre, "post": d.post,
        "wq_cpu": d.wq_cpu, "wq_gpu": d.wq_gpu,
    }))).or_else(|| r.first_state_difference.as_ref().map(|d| serde_json::json!({
        "kind": "state", "step": d.step, "file": d.file, "neuron": d.neuron, "cpu": d.cpu, "gpu": d.gpu,
    })));
    Ok((r.identical(), r.render(), first.map(|f| f.to_string())))
}

/// `nacc run --dry-run`: (report, fits).
#[pyfunction]
fn dry_run(py: Python<'_>, net: &Net, options: &Bound<'_, PyDict>) -> PyResult<(String, bool)> {
    let mut opts = self::options(net, options)?;
    if let Some(out) = options.get_item("out")?.filter(|v| !v.is_none()) {
        opts.out = out.extract()?;
    }
    let d = py.detach(|| run::dry_run(&opts)).map_err(py_err)?;
    Ok((d.text, d.fits))
}

/// `nacc devices` as JSON: every adapter wgpu sees.
#[pyfunction]
#[pyo3(signature = (adapter=None))]
fn devices(py: Python<'_>, adapter: Option<String>) -> String {
    py.detach(|| run::devices_json(adapter.as_deref()).to_string())
}

#[pymodule]
fn _nacc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("RunError", m.py().get_type::<RunError>())?;
    m.add_class::<Net>()?;
    m.add_class::<Run>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(dry_run, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    Ok(())
}
