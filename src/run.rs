//! `nacc run`: resolve the options into a model, check everything that can
//! be checked before any work, simulate in chunks, then write the outputs.

use crate::config::Network;
use crate::engine::gpu::{GpuContext, GpuEngine, GpuOptions};
use crate::engine::{Engine, InputSource, Stop, cpu::CpuEngine, simulate_chunks, simulate_until};
use crate::error::{Result, bad_value};
use crate::export;
use crate::figures::{self, View};
use crate::import;
use crate::memory::{Estimate, GpuPlan, host_available};
use crate::network::Model;
use crate::outdir::OutDir;
use crate::record::SpikeRecord;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Auto,
    Cpu,
    Gpu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }
}

pub const DEFAULT_STEPS: u64 = 1000;
pub const DEFAULT_CHUNK: usize = 1000;

/// Options of `nacc run`, as given on the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub steps: Option<u64>,
    pub seed: u64,
    pub scale: u64,
    pub out: PathBuf,
    pub backend: Backend,
    pub quiet: bool,
    pub weights: Option<PathBuf>,
    pub input_spikes: Option<PathBuf>,
    pub chunk: usize,
    /// Independent trials (input seeds differ, weights are shared).
    pub trials: usize,
    /// Set to a signal's number (SIGINT, SIGTERM) to stop at the end of the
    /// current chunk; the outputs then hold the completed steps.
    pub stop: Option<Arc<AtomicUsize>>,
    /// While true a signal ends nacc at once (set by the signal handlers of
    /// the binary); the run clears it when it has its out dir and starts
    /// stepping, from when a first signal sets `stop` instead.
    pub exit_at_once: Option<Arc<AtomicBool>>,
    /// Write the spikes to disk chunk by chunk instead of keeping them.
    pub stream: bool,
    /// Write the spikes 8 neurons a byte (`spikes_<pop>_packed.npy`).
    pub packed_spikes: bool,
    /// Write no weight files but learned ones (the others follow from
    /// config.toml and the seed).
    pub no_weight_files: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            config: None,
            steps: None,
            seed: 0,
            scale: 1,
            out: PathBuf::from("out"),
            backend: Backend::Auto,
            quiet: false,
            weights: None,
            input_spikes: None,
            chunk: DEFAULT_CHUNK,
            trials: 1,
            stop: None,
            exit_at_once: None,
            stream: false,
            packed_spikes: false,
            no_weight_files: false,
        }
    }
}

/// Everything `run` needs, validated, before any step is taken.
pub struct Prepared {
    pub model: Model,
    pub input: InputSource,
    pub steps: usize,
}

/// Turns the options into a model, input and step count; every check on the
/// options and input files happens here.
pub fn prepare(opts: &RunOptions) -> Result<Prepared> {
    let (net, given, steps) = resolve(opts)?;
    build(opts, net, given, steps)
}

/// The model of a resolved network (its weights from the seed or
/// `--weights`) and its input.
fn build(
    opts: &RunOptions,
    net: Network,
    given: Option<InputSource>,
    steps: usize,
) -> Result<Prepared> {
    let mut model = Model::build(net, opts.seed)?;
    if let Some(dir) = &opts.weights {
        import::load_weights(dir, &mut model)?;
    }
    let input = match given {
        Some(src) => src,
        None => InputSource::generated(&model),
    };
    Ok(Prepared {
        model,
        input,
        steps,
    })
}

/// The network, the given input (if any) and the step count of the
/// options, every check done, nothing built.
fn resolve(opts: &RunOptions) -> Result<(Network, Option<InputSource>, usize)> {
    let net = match &opts.config {
        Some(path) => Network::from_file(path)?,
        None => Network::default_nacc(),
    };
    let net = net.scaled(opts.scale)?;
    if opts.chunk == 0 {
        return Err(bad_value("--chunk", 0, "must be >= 1"));
    }
    if opts.steps == Some(0) {
        return Err(bad_value("--steps", 0, "must be >= 1"));
    }
    crate::trials::check_count(opts.trials)?;
    if let Some(path) = &opts.input_spikes
        && net.stimulus.is_some()
    {
        return Err(bad_value(
            "--input-spikes",
            path.display(),
            "cannot replace the input of a network with a [stimulus]: its patterns shape the input, and the reward rules and responses.csv follow them; remove the [stimulus] (and its reward rules) or run without --input-spikes",
        ));
    }
    let given = match &opts.input_spikes {
        Some(path) => Some(import::load_input_spikes(path, &net)?),
        None => None,
    };
    let steps = match (&given, opts.steps) {
        (Some((_, t)), Some(s)) if s > *t as u64 => {
            return Err(bad_value(
                "--steps",
                s,
                format!("the --input-spikes file holds only {t} steps"),
            ));
        }
        (_, Some(s)) => s,
        (Some((_, t)), None) => *t as u64,
        (None, None) => net.steps.unwrap_or(DEFAULT_STEPS),
    };
    if steps > u32::MAX as u64 {
        return Err(bad_value(
            "--steps",
            steps,
            format!("must be <= {}", u32::MAX),
        ));
    }
    Ok((net, given.map(|g| g.0), steps as usize))
}

/// The chunk a run of `steps` steps uses: --chunk, no longer than the run.
pub(crate) fn chunk_of(opts: &RunOptions, steps: usize) -> usize {
    opts.chunk.min(steps).max(1)
}

/// `--trials N` (N > 1) needs a network without plasticity and input
/// drawn from the seeds (not `given`).
fn check_trials(net: &Network, trials: usize, given: bool) -> Result<()> {
    if trials > 1 && net.projections.iter().any(|p| p.plasticity.is_some()) {
        return Err(bad_value(
            "--trials",
            trials,
            "cannot be combined with plasticity: every trial would learn its own weights; run one seed at a time (--seed)",
        ));
    }
    if trials > 1 && given {
        return Err(bad_value(
            "--trials",
            trials,
            "needs generated input: trials differ by their input seeds, so --input-spikes cannot be combined with it",
        ));
    }
    Ok(())
}

/// A run decided from its options before anything is built: the network,
/// its given input and steps, the GPU that runs it (if one does) and how,
/// whether its spikes are streamed, and the memory it needs.
struct Planned {
    net: Network,
    given: Option<InputSource>,
    steps: usize,
    gpu: Option<GpuContext>,
    plan: Option<GpuPlan>,
    stream: bool,
    estimate: Estimate,
    /// Bytes the outputs will take on disk, about.
    outputs: u64,
}

impl Planned {
    /// The GPU is a software one (lavapipe, WARP), whose buffers are host
    /// memory.
    fn software_gpu(&self) -> bool {
        self.gpu.as_ref().is_some_and(GpuContext::is_software)
    }

    /// A hardware GPU's memory, where its backend says.
    fn gpu_memory(&self) -> Option<u64> {
        self.gpu.as_ref().and_then(GpuContext::hardware_memory)
    }
}

/// Every decision of a run that needs no building: what `run` and
/// `--dry-run` share.
fn plan(opts: &RunOptions) -> Result<Planned> {
    let (net, given, steps) = resolve(opts)?;
    check_trials(&net, opts.trials, given.is_some())?;
    let trials = opts.trials.max(1);
    // stream the spikes to disk when asked, or when the record would not fit
    let record_bytes = SpikeRecord::bytes_needed(&net, steps) as u64 * trials as u64;
    let stream = opts.stream || host_available().is_some_and(|m| record_bytes > m / 2);
    if stream && trials > 1 {
        return Err(bad_value(
            "--trials",
            opts.trials,
            "cannot be streamed (--stream, or a record larger than half the memory): run fewer steps or trials",
        ));
    }
    let gpu = choose_gpu(opts.backend)?;
    let plan = gpu.as_ref().map(|c| {
        GpuEngine::plan(
            c,
            &net,
            given.is_none(),
            chunk_of(opts, steps),
            trials,
            GpuOptions::default(),
        )
    });
    // a streamed run keeps only the spike counts
    let held = if stream { 0 } else { steps };
    let mut estimate = crate::memory::estimate(&net, held, chunk_of(opts, steps), plan, trials);
    if !stream {
        estimate.host.push((
            "figures (canvases)".into(),
            figures::canvas_bytes(&net, figures::DEFAULT_WIDTH),
        ));
    }
    let outputs = export::output_bytes(
        &net,
        steps,
        trials,
        opts.packed_spikes,
        !opts.no_weight_files,
    );
    Ok(Planned {
        outputs,
        net,
        given,
        steps,
        gpu,
        plan,
        stream,
        estimate,
    })
}

/// What `--dry-run` found: its report, and whether the run fits this
/// machine's memory, GPU and disk (`nacc run --dry-run` exits
/// [`DOES_NOT_FIT`] when it does not).
pub struct DryRun {
    pub text: String,
    pub fits: bool,
}

/// The exit code of `nacc run --dry-run` for a run that would not fit.
pub const DOES_NOT_FIT: u8 = 3;

/// `--dry-run`: the memory the run would need, on the backend it would use,
/// computed from the network alone, and whether this machine has it.
pub fn dry_run(opts: &RunOptions) -> Result<DryRun> {
    let planned = plan(opts)?;
    let software_gpu = planned.software_gpu();
    let gpu_memory = planned
        .gpu
        .as_ref()
        .and_then(GpuContext::hardware_memory_info);
    let Planned {
        net,
        steps,
        gpu,
        plan,
        stream,
        estimate: e,
        outputs,
        ..
    } = planned;
    let mut fits = true;
    let mut s = format!(
        "{} neurons, {} synapses, {steps} steps, on {}\n",
        net.total_neurons(),
        net.total_synapses(),
        gpu.as_ref()
            .map_or("the CPU engine".to_string(), |c| c.describe())
    );
    if let Some(p) = &plan {
        s += &format!("GPU engine: {}\n", p.describe(opts.trials));
    }
    s += &e.render();
    if let Some(c) = &gpu {
        let limit = c.limits.max_buffer_size;
        s += &format!(
            "largest GPU buffer allowed: {}\n",
            crate::memory::human(limit)
        );
    }
    if stream {
        s += "spikes streamed to disk chunk by chunk (--stream, or a record larger than half the available memory): only their counts are kept\n";
    }
    if let Some(available) = host_available() {
        let needed = crate::memory::host_needed(&e, software_gpu);
        fits &= needed <= available;
        let what = if software_gpu {
            "host memory (the software GPU's buffers included)"
        } else {
            "host memory"
        };
        s += &format!(
            "{what}: {} needed, {} available on this machine: {}\n",
            crate::memory::human(needed),
            crate::memory::human(available),
            crate::memory::verdict(needed <= available),
        );
    }
    if let Some(free) = export::disk_available(&opts.out) {
        fits &= outputs <= free;
        s += &format!(
            "outputs: about {} on disk, {} free for {}: {}\n",
            crate::memory::human(outputs),
            crate::memory::human(free),
            opts.out.display(),
            crate::memory::verdict(outputs <= free),
        );
    }
    if let Some(m) = gpu_memory {
        let device = m.usable();
        fits &= e.gpu_bytes() <= device;
        s += &format!(
            "GPU memory: {} needed, {}: {}\n",
            crate::memory::human(e.gpu_bytes()),
            describe_device_memory(m),
            crate::memory::verdict(e.gpu_bytes() <= device),
        );
    }
    Ok(DryRun { text: s, fits })
}

/// The GPU engine on `gpu`, or the CPU engine when there is none, with the
/// adapter's name when a GPU runs it.
pub fn engine_on(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    input: &InputSource,
    chunk: usize,
) -> Result<(Box<dyn Engine>, Option<String>)> {
    match gpu {
        Some(ctx) => {
            let engine = GpuEngine::new(ctx.clone(), model, input, chunk, GpuOptions::default())?;
            Ok((Box::new(engine), Some(ctx.describe())))
        }
        None => Ok((Box::new(CpuEngine::new(model)?), None)),
    }
}

/// The GPU the backend option asks for, or None for the CPU engine.
/// `auto` takes only hardware: a software adapter (lavapipe, WARP) is far
/// slower than the CPU engine.
pub fn choose_gpu(backend: Backend) -> Result<Option<GpuContext>> {
    match backend {
        Backend::Cpu => Ok(None),
        Backend::Gpu => Ok(Some(
            GpuContext::new().map_err(|e| e.context("--backend gpu"))?,
        )),
        Backend::Auto => Ok(GpuContext::new().ok().filter(|c| !c.is_software())),
    }
}

/// Networks of at least this many synapses say what they are doing while
/// they are built, set up and written (on a terminal, without --quiet).
const LARGE_SYNAPSES: u64 = 10_000_000;

/// The result of a run, for printing.
pub struct Outcome {
    pub model: Model,
    /// The GPU adapter that ran the steps; None on the CPU.
    pub adapter: Option<String>,
    /// Trial 0 (the only one without --trials); counts only when streamed.
    pub record: SpikeRecord,
    /// Trials 1.. of --trials.
    pub other_trials: Vec<SpikeRecord>,
    /// Steps completed.
    pub steps: usize,
    /// The spikes went to disk chunk by chunk (--stream).
    pub streamed: bool,
    /// When a signal or a failure stopped the run: the steps completed and why.
    pub stopped: Option<(usize, String)>,
    /// A signal that came too late to stop the run (in its last chunk, or
    /// while the outputs were written): they were completed all the same.
    pub late_signal: Option<String>,
    pub steps_requested: usize,
    pub engine: String,
    /// Building the network (weights from the seed or --weights).
    pub build_time: Duration,
    /// Building the engine (fixed-point weights, GPU buffers and uploads).
    pub setup_time: Duration,
    /// Running the steps (with the input and the spikes' readback).
    pub sim_time: Duration,
    /// Whether each D1 population came to prefer the rewarded patterns
    /// (networks with a reward rule).
    pub preferences: Vec<crate::reward::Preference>,
}

pub fn run(opts: &RunOptions) -> Result<Outcome> {
    let started = Instant::now();
    let planned = plan(opts)?;
    // a network that cannot fit stops here, not in the middle of building
    crate::memory::check_fits(
        &planned.estimate,
        planned.software_gpu(),
        host_available(),
        planned.gpu_memory(),
    )?;
    // and outputs the disk cannot hold stop here, not after the steps
    export::check_disk(&opts.out, planned.outputs)?;
    // so does an out dir that is busy or holds files nacc did not write
    OutDir::precheck(&opts.out)?;
    let Planned {
        net,
        given,
        steps,
        gpu,
        stream,
        ..
    } = planned;
    let gpu = gpu.map(Arc::new);
    // a large network takes seconds to build and set up: say what is going on
    let net_is_large = net.total_synapses() >= LARGE_SYNAPSES;
    let say = |what: &str| {
        if !opts.quiet && net_is_large && std::io::stderr().is_terminal() {
            eprintln!("nacc: {what}");
        }
    };
    say(&format!(
        "building the network: {} neurons, {} synapses",
        net.total_neurons(),
        net.total_synapses()
    ));
    let t_build = Instant::now();
    let prepared = build(opts, net, given, steps)?;
    let build_time = t_build.elapsed();
    let model = prepared.model;
    let net = &model.net;
    // the lock of --out and a fresh staging directory beside it, which
    // replaces --out whole when the outputs are complete
    let mut out = OutDir::open(&opts.out)?;
    // from now on a signal stops the run at the end of a chunk
    if let Some(now) = &opts.exit_at_once {
        now.store(false, Ordering::SeqCst);
    }

    let chunk = chunk_of(opts, prepared.steps);
    let bar = Progress::new(prepared.steps as u64, opts.quiet);
    let check = || {
        let sig = opts.stop.as_ref()?.load(Ordering::SeqCst);
        (sig != 0).then(|| signal_name(sig as i32))
    };
    say(&match &gpu {
        Some(c) => format!("setting up the engine on {}", c.describe()),
        None => "setting up the CPU engine".into(),
    });
    let t0 = Instant::now();
    // building the engine (fixed-point weights, uploads) is not simulating
    let setup_time: Duration;
    let mut learned = Vec::new();
    // a streamed run keeps no record: it counts the responses as it goes
    let mut streamed_responses = crate::reward::ResponseCounter::default();
    let (records, steps, why, engine, adapter) = if opts.trials > 1 {
        let r = crate::trials::run(
            gpu.as_ref(),
            &model,
            opts.trials,
            prepared.steps,
            chunk,
            |done| bar.update(done as u64),
            &check,
        )?;
        let steps = r.records.first().map_or(0, |x| x.steps());
        setup_time = r.setup;
        (r.records, steps, r.stopped, r.engine, r.adapter)
    } else {
        let (mut engine, adapter) = engine_on(gpu.as_ref(), &model, &prepared.input, chunk)?;
        setup_time = t0.elapsed();
        // a signal while the engine was set up: no step is taken
        if let Some(why) = check() {
            return Err(not_started(&why, &out));
        }
        let (record, steps, why) = if stream {
            // counts only in memory; the spikes go to disk chunk by chunk
            let mut counts = SpikeRecord::with_capacity(net, 0)?;
            export::write_config(out.dir(), net, model.seed)?;
            let mut files = export::SpikeStream::create(out.dir(), net, opts.packed_spikes)?;
            let (done, why) = simulate_chunks(
                engine.as_mut(),
                net,
                &prepared.input,
                prepared.steps,
                chunk,
                &mut |c| {
                    counts.count(c);
                    let rows: Vec<&[u32]> = c.bits.iter().map(|b| &b[..]).collect();
                    streamed_responses.add(net, &rows, c.steps);
                    files.append(c)?;
                    // summary.json says how many steps the files hold, and
                    // the first chunk replaces --out (so that a killed run
                    // leaves its completed chunks there)
                    let progress =
                        crate::summary::progress_json(opts, &model, files.steps(), prepared.steps);
                    export::write_json_as(&out.dir().join("summary.json"), false, &progress)?;
                    out.publish()
                },
                |done| bar.update(done as u64),
                &check,
            )?;
            (counts, done, why)
        } else {
            let (record, why) = simulate_until(
                engine.as_mut(),
                net,
                &prepared.input,
                prepared.steps,
                chunk,
                |done| bar.update(done as u64),
                &check,
            )?;
            let steps = record.steps();
            (record, steps, why)
        };
        // the weights as plasticity left them (the run's outputs are kept
        // even if they cannot be read)
        match engine.plastic_weights() {
            Ok(w) => learned = w,
            Err(e) => eprintln!("nacc: warning: the learned weights could not be read: {e}"),
        }
        (vec![record], steps, why, engine.describe(), adapter)
    };
    let sim_time = t0.elapsed().saturating_sub(setup_time);
    bar.finish();
    let (stopped, failure) = match why {
        Some(Stop::Signal(reason)) => (Some((steps, reason)), None),
        Some(Stop::Failed(e)) => (Some((steps, e.to_string())), Some(e)),
        None => (None, None),
    };
    // nothing computed: --out keeps what it had
    let failure = match (failure, &stopped) {
        (failure, _) if steps > 0 => failure,
        (Some(e), _) => {
            return Err(e.context(format!(
                "stopped before the first step was complete; {} is unchanged",
                out.target().display()
            )));
        }
        (None, Some((_, why))) => return Err(not_started(why, &out)),
        (None, None) => None,
    };
    let dir = out.dir().to_path_buf();
    let dir = &dir;

    say(&format!(
        "writing the outputs to {}",
        out.target().display()
    ));
    let written = (move || -> Result<Outcome> {
        let net = &model.net;
        // Outputs: data first, summary.json last.
        if !stream {
            for (p, pop) in net.populations.iter().enumerate() {
                let recs: Vec<_> = records.iter().map(|r| &r.pops[p]).collect();
                export::write_spikes(dir, &pop.name, &recs, opts.trials > 1, opts.packed_spikes)?;
            }
        }
        let learned = learned_weights(&model, &learned)?;
        export::write_weights(dir, &model, &learned, opts.no_weight_files)?;
        export::write_config(dir, net, model.seed)?;
        let mut records = records.into_iter();
        let record = records.next().expect("at least one trial");
        if steps > 0 && !stream {
            let view = View {
                steps: 0..steps,
                neurons: None,
                width: figures::DEFAULT_WIDTH,
                height: None,
                title: crate::summary::network_title(opts),
            };
            draw_figures(dir, &model, &record, &view, &learned)?;
        }
        let presentations = if stream {
            streamed_responses.presentations(net)
        } else {
            crate::reward::responses(net, &record.pops)
        };
        let preferences = write_learning(dir, net, &learned, &presentations, steps)?;
        let outcome = Outcome {
            preferences,
            adapter,
            engine,
            model,
            record,
            other_trials: records.collect(),
            steps,
            streamed: stream,
            build_time,
            setup_time,
            sim_time,
            stopped,
            late_signal: None,
            steps_requested: prepared.steps,
        };
        let summary = crate::summary::summary_json(opts, &outcome, started.elapsed());
        export::write_json(&dir.join("summary.json"), &summary)?;
        Ok(outcome)
    })();
    // a failure to write leaves --out as it was
    let mut outcome = written.map_err(|e| out.explain(e))?;
    // the whole run replaces --out in one step
    out.publish()?;
    let dir = out.target();
    if outcome.stopped.is_none() {
        // a signal that came too late to stop the run (in its last chunk,
        // or while the outputs were written): they were completed all the same
        outcome.late_signal = check();
    }
    if let Some(e) = failure {
        let hint = if outcome.adapter.is_some() {
            "; `--backend cpu` runs without the GPU"
        } else {
            ""
        };
        return Err(e.context(format!(
            "stopped after {steps} steps, whose outputs are in {}{hint}",
            dir.display()
        )));
    }
    Ok(outcome)
}

/// [`export::Learned`] from the fixed-point weights the engine holds at
/// the end (`learned`).
fn learned_weights(model: &Model, learned: &[Option<Vec<i32>>]) -> Result<Vec<export::Learned>> {
    if learned.iter().all(Option::is_none) {
        return Ok(vec![None; model.net.projections.len()]);
    }
    // the initial weights of the learning projections only
    learned
        .iter()
        .enumerate()
        .map(|(j, wq)| {
            let Some(wq) = wq else { return Ok(None) };
            let q = model.quantize_projection(j, false)?;
            Ok(Some((q.to_linear(&q.wq), q.to_linear(wq))))
        })
        .collect()
}

/// The outputs of reward learning besides the weight files (which
/// `export::write_weights` writes): `dopamine.npy`, `weights_change_<proj>.png`
/// of every plastic projection, and with a stimulus `responses.csv` and
/// `learning.png` from `rows`. Returns the D1 preferences.
fn write_learning(
    dir: &std::path::Path,
    net: &Network,
    learned: &[export::Learned],
    rows: &[crate::reward::Presentation],
    steps: usize,
) -> Result<Vec<crate::reward::Preference>> {
    use crate::figures::learning;
    if net.dopamine.is_some() {
        let d = crate::reward::dopamine_trace(net, steps);
        export::write_atomic(&dir.join("dopamine.npy"), |f| {
            crate::npy::write_f32(f, &[steps], &d)
        })?;
    }
    for (j, w) in learned.iter().enumerate() {
        if let Some((before, after)) = w {
            learning::write_weight_change(dir, net, j, before, after, steps)?;
        }
    }
    if net.stimulus.is_none() {
        return Ok(Vec::new());
    }
    export::write_atomic(&dir.join("responses.csv"), |f| {
        std::io::Write::write_all(f, crate::reward::responses_csv(net, rows).as_bytes())
    })?;
    if !rows.is_empty() {
        learning::write_learning_curve(dir, net, rows)?;
    }
    Ok(crate::reward::preferences(net, rows))
}

/// The figures of a run (see [`figures`]): every population's raster and a
/// heatmap for every projection (dense or sparse) whose pre population is
/// Poisson
/// (with a plastic projection's learned weights, as `nacc render` draws it
/// from `weights_<proj>.npy`).
fn draw_figures(
    dir: &std::path::Path,
    model: &Model,
    record: &SpikeRecord,
    view: &figures::View,
    learned: &[export::Learned],
) -> Result<Vec<String>> {
    let net = &model.net;
    let pops: Vec<figures::PopData> = net
        .populations
        .iter()
        .zip(&record.pops)
        .map(|(p, rec)| figures::PopData { name: &p.name, rec })
        .collect();
    let projs: Vec<figures::ProjData> = net
        .projections
        .iter()
        .enumerate()
        .filter(|(_, p)| net.populations[p.pre].is_poisson())
        .map(|(j, _)| {
            let w = learned[j].as_ref().map_or(&model.weights[j].w, |l| &l.1);
            let synapses = match &model.weights[j].sparse {
                Some(rows) => figures::heatmap::Synapses::Sparse(rows, w),
                None => figures::heatmap::Synapses::Dense(w),
            };
            figures::ProjData::of(net, j, synapses)
        })
        .collect();
    let dopamine = net
        .dopamine
        .as_ref()
        .map(|_| crate::reward::dopamine_trace(net, view.steps.end));
    figures::write_all(dir, net.dt_ms, &pops, &projs, dopamine.as_deref(), view)
}

/// The table printed after a run.
pub fn table(o: &Outcome) -> String {
    let net = &o.model.net;
    let mut s = format!(
        "{:<12} {:>8} {:>10} {:>12} {:>10} {:>8}\n",
        "population", "kind", "size", "spikes", "rate (Hz)", "active"
    );
    for (p, r) in net.populations.iter().zip(&o.record.pops) {
        s += &format!(
            "{:<12} {:>8} {:>10} {:>12} {:>10.2} {:>7.1}%\n",
            p.name,
            if p.is_poisson() { "poisson" } else { "lif" },
            p.size,
            r.total(),
            r.rate_over(o.steps, net.dt_ms),
            100.0 * r.active_fraction()
        );
    }
    if let (Some(st), Some(d)) = (&net.stimulus, &net.dopamine) {
        let mut rewarded: Vec<&str> = Vec::new();
        for r in &d.rules {
            let name = st.patterns[r.pattern].name.as_str();
            if !rewarded.contains(&name) {
                rewarded.push(name);
            }
        }
        let rewarded = rewarded.join(", ");
        for p in &o.preferences {
            s += &format!(
                "{}: response to {rewarded} {:.1} Hz vs the others {:.1} Hz over the last quarter of presentations (first quarter: {:.1} vs {:.1}): {}\n",
                p.population,
                p.late_rewarded_hz,
                p.late_other_hz,
                p.early_rewarded_hz,
                p.early_other_hz,
                if p.prefers_rewarded {
                    format!("{} came to prefer {rewarded}", p.population)
                } else {
                    format!("{} did not come to prefer {rewarded}", p.population)
                }
            );
        }
    }
    s
}

/// A progress bar on stderr that appears only once a run has taken about a
/// second, and never when stderr is not a terminal or with `--quiet`.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
}

impl Progress {
    fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps  {rate}  eta {eta}",
            ) {
                // steps a second as a whole number ("666284 steps/s")
                let style = style.with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} steps/s", s.per_sec());
                    },
                );
                b.set_style(style);
            }
            b
        });
        Progress {
            bar,
            start: Instant::now(),
        }
    }

    fn update(&self, done: u64) {
        if let Some(b) = &self.bar {
            if b.is_hidden() && self.start.elapsed() > Duration::from_secs(1) {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            b.set_position(done);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `nacc compare --dry-run`: the memory both engines would need, and
/// whether this machine and its GPU have it.
pub fn compare_dry_run(opts: &RunOptions) -> Result<String> {
    let (net, given, steps) = resolve(opts)?;
    let ctx = GpuContext::new().map_err(|e| e.context("nacc compare needs a GPU"))?;
    let chunk = chunk_of(opts, steps);
    let plan = GpuEngine::plan(&ctx, &net, given.is_none(), chunk, 1, GpuOptions::default());
    let e = crate::memory::estimate_both(&net, chunk, plan);
    let mut s = format!(
        "{} neurons, {} synapses, {steps} steps, on the CPU engine and {}\n{}",
        net.total_neurons(),
        net.total_synapses(),
        ctx.describe(),
        e.render()
    );
    if let Some(available) = host_available() {
        let needed = crate::memory::host_needed(&e, ctx.is_software());
        s += &format!(
            "host memory: {} needed, {} available on this machine: {}\n",
            crate::memory::human(needed),
            crate::memory::human(available),
            crate::memory::verdict(needed <= available),
        );
    }
    Ok(s)
}

/// `nacc compare`: both engines on the same model and input.
pub fn compare(opts: &RunOptions) -> Result<crate::compare::Report> {
    if opts.trials != 1 {
        return Err(bad_value(
            "--trials",
            opts.trials,
            "nacc compare compares one trial; run it without --trials (the tests compare batched trials)",
        ));
    }
    let (net, given, steps) = resolve(opts)?;
    let ctx = GpuContext::new().map_err(|e| e.context("nacc compare needs a GPU"))?;
    let plan = GpuEngine::plan(
        &ctx,
        &net,
        given.is_none(),
        chunk_of(opts, steps),
        1,
        GpuOptions::default(),
    );
    crate::memory::check_fits(
        &crate::memory::estimate_both(&net, chunk_of(opts, steps), plan),
        ctx.is_software(),
        host_available(),
        ctx.hardware_memory(),
    )?;
    let prepared = build(opts, net, given, steps)?;
    crate::compare::compare(
        Arc::new(ctx),
        &prepared.model,
        &prepared.input,
        prepared.steps,
        chunk_of(opts, steps),
        GpuOptions::default(),
    )
}

/// "the GPU has X available ..." for a GPU's memory: its budget now where
/// the driver says, else its heap, and which.
fn describe_device_memory(m: crate::engine::gpu::context::DeviceMemory) -> String {
    let usable = crate::memory::human(m.usable());
    match m.budget {
        Some(_) => format!(
            "the GPU has {usable} available now (its driver's budget: the {} heap less what other programs hold)",
            crate::memory::human(m.heap)
        ),
        None => format!(
            "the GPU has {usable} available (its heap: the driver reports no budget, so other programs' use is not counted)"
        ),
    }
}

/// `nacc devices`: every adapter wgpu sees, and the one nacc would use.
pub fn devices() -> String {
    let adapters = crate::engine::gpu::context::list_adapters();
    if adapters.is_empty() {
        return format!("{}\n", crate::engine::gpu::context::NO_ADAPTER_HELP);
    }
    let chosen = GpuContext::new().ok().map(|c| c.info);
    let mut s = String::new();
    for a in &adapters {
        let i = &a.info;
        let l = &a.limits;
        let mark = match &chosen {
            Some(c) if c.name == i.name && c.backend == i.backend => "  <- used by --backend gpu",
            _ if !a.primary => "  (not used: nacc computes on Vulkan, Metal or DX12)",
            _ => "",
        };
        let timestamps = if a
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            "yes (nacc bench --profile)"
        } else {
            "no"
        };
        let memory = a.memory.map_or("not reported by the backend".into(), |m| {
            format!(
                "{} ({} bytes); {}",
                crate::memory::human(m.heap),
                m.heap,
                describe_device_memory(m)
            )
        });
        s += &format!(
            "{} ({:?}, {:?}){mark}\n    driver: {} {}\n    memory: {memory}\n    max storage binding: {} bytes, max buffer: {} bytes, workgroups per dimension: {}, storage buffers per stage: {}\n    timestamps inside compute passes: {timestamps}\n",
            i.name,
            i.backend,
            i.device_type,
            i.driver,
            i.driver_info,
            l.max_storage_buffer_binding_size,
            l.max_buffer_size,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage,
        );
    }
    s
}

/// "SIGINT", "SIGTERM" or the number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// The error of a run that a signal (`why`) stopped before it completed a
/// step: `--out` was left as it was.
fn not_started(why: &str, out: &OutDir) -> crate::error::Error {
    crate::error::Error::Signal(
        format!(
            "stopped by {why} before the first step was complete; {} is unchanged",
            out.target().display()
        ),
        signal_number(why),
    )
}

/// The number of a signal named by [`signal_name`].
pub fn signal_number(name: &str) -> i32 {
    match name {
        "SIGINT" => 2,
        "SIGTERM" => 15,
        n => n
            .strip_prefix("signal ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(2),
    }
}

/// The exit code of a run stopped by the signal `why` names: 128 + its
/// number (130 for SIGINT, 143 for SIGTERM).
pub fn signal_exit_code(why: &str) -> u8 {
    (128 + signal_number(why)) as u8
}
