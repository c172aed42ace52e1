//! `nacc run`: resolve the options into a model, check everything that can
//! be checked before any work, simulate in chunks, then write the outputs.

mod dry_run;
mod in_memory;
mod report;
mod split;
mod summary;
mod write;

pub use dry_run::{DOES_NOT_FIT, DryRun, dry_run};
pub use in_memory::{InMemory, Simulated, save, simulate};
pub use write::write_figures;

use report::{Progress, not_started};
pub use report::{
    compare, compare_dry_run, devices, devices_json, signal_exit_code, signal_name, signal_number,
    table,
};
pub use summary::{network_title, progress_json, summary_json};

use crate::engine::gpu::{GpuContext, GpuEngine};
use crate::engine::plan::Plan;
use crate::engine::{Engine, InputSource, Stop, cpu::CpuEngine, simulate_chunks, simulate_until};
use crate::error::{Result, bad_value};
use crate::export;
use crate::figures::{self, View};
use crate::import;
use crate::memory::{Estimate, host_available};
use crate::network::Model;
use crate::network::Network;
use crate::outdir::OutDir;
use crate::record::SpikeRecord;
use crate::threads::Threads;
use crate::tuning::Tuning;
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
    /// The `NACC_*` knobs (the binary parses them).
    pub tuning: Tuning,
    /// The network and inputs when they are handed over in memory (the
    /// Python package) instead of as files.
    pub memory: InMemory,
    /// Set to the steps completed after every chunk (a progress bar
    /// outside this crate reads it).
    pub done: Option<Arc<AtomicUsize>>,
    /// The ranks of a run split across processes (`mpirun`); None in one.
    pub ranks: Option<crate::ranks::Ranks>,
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
            tuning: Tuning::default(),
            memory: InMemory::default(),
            done: None,
            ranks: None,
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
    if let Some(arrays) = &opts.memory.weights {
        import::load_weights_from(arrays.as_ref(), &mut model)?;
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
    let net = match (&opts.memory.network, &opts.config) {
        (Some(net), _) => net.clone(),
        (None, Some(path)) => Network::from_file(path)?,
        (None, None) => Network::default_nacc(),
    };
    let net = net.scaled(opts.scale)?;
    if opts.chunk == 0 {
        return Err(bad_value("--chunk", 0, "must be >= 1"));
    }
    if opts.steps == Some(0) {
        return Err(bad_value("--steps", 0, "must be >= 1"));
    }
    crate::trials::check_count(opts.trials)?;
    let in_memory = opts.memory.input_spikes.as_ref().map(|_| "arrays".into());
    if let Some(given) = opts.input_spikes.clone().or(in_memory)
        && net.stimulus.is_some()
    {
        return Err(bad_value(
            "--input-spikes",
            given.display(),
            "cannot replace the input of a network with a [stimulus]: its patterns shape the input, and the reward rules and responses.csv follow them; remove the [stimulus] (and its reward rules) or run without --input-spikes",
        ));
    }
    let given = match (&opts.input_spikes, &opts.memory.input_spikes) {
        (Some(path), _) => Some(import::load_input_spikes(path, &net)?),
        (None, Some(arrays)) => Some(in_memory::input_arrays(&net, arrays)?),
        (None, None) => None,
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
    plan: Option<Plan>,
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

    /// An error when the run would not fit the host's memory or the GPU's
    /// (unless `NACC_MEMORY_CHECK=off`).
    fn check_memory(&self, tuning: &Tuning) -> Result<()> {
        if !tuning.memory_check() {
            return Ok(());
        }
        crate::memory::check_fits(
            &self.estimate,
            self.software_gpu(),
            host_available(),
            self.gpu_memory(),
        )
    }
}

/// Every decision of a run that needs no building: what `run` and
/// `--dry-run` share.
fn plan(opts: &RunOptions) -> Result<Planned> {
    let (net, given, steps) = resolve(opts)?;
    check_trials(&net, opts.trials, given.is_some())?;
    if opts.trials == 1 {
        crate::ranks::check_partition(&net, split::ranks_of(opts).map_or(1, |c| c.size()))?;
    }
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
    let local = opts.ranks.as_ref().map_or(0, |c| c.local_rank());
    let gpu = choose_gpu_nth(opts.backend, opts.tuning.adapter.as_deref(), local)?;
    let plan = gpu.as_ref().map(|c| {
        GpuEngine::plan(
            c,
            &net,
            given.is_none(),
            chunk_of(opts, steps),
            trials,
            opts.tuning.gpu,
        )
    });
    // a streamed run keeps only the spike counts
    let held = if stream { 0 } else { steps };
    let mut estimate =
        crate::memory::estimate(&net, held, chunk_of(opts, steps), plan.as_ref(), trials);
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

/// The GPU engine on `gpu`, or the CPU engine when there is none, with the
/// adapter's name when a GPU runs it.
pub fn engine_on(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    input: &InputSource,
    chunk: usize,
    tuning: &Tuning,
) -> Result<(Box<dyn Engine>, Option<String>)> {
    match gpu {
        Some(ctx) => {
            let engine = GpuEngine::new(ctx.clone(), model, input, chunk, tuning.gpu)?;
            Ok((Box::new(engine), Some(ctx.describe())))
        }
        None => {
            let e = CpuEngine::with_options(model, &tuning.cpu, Threads::global())?;
            Ok((Box::new(e), None))
        }
    }
}

/// The GPU the backend option asks for, or None for the CPU engine.
/// `auto` takes only hardware: a software adapter (lavapipe, WARP) is far
/// slower than the CPU engine.
/// `adapter`: a part of the adapter's name (`NACC_ADAPTER`).
pub fn choose_gpu(backend: Backend, adapter: Option<&str>) -> Result<Option<GpuContext>> {
    choose_gpu_nth(backend, adapter, 0)
}

/// [`choose_gpu`], the `nth` GPU of its kind (a node's rank `nth`).
pub fn choose_gpu_nth(
    backend: Backend,
    adapter: Option<&str>,
    nth: usize,
) -> Result<Option<GpuContext>> {
    let named = || GpuContext::named_nth(adapter, nth);
    match backend {
        Backend::Cpu => Ok(None),
        Backend::Gpu => Ok(Some(named().map_err(|e| e.context("--backend gpu"))?)),
        Backend::Auto => Ok(named().ok().filter(|c| !c.is_software())),
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
    /// From the start of the run to the end of its steps.
    pub run_time: Duration,
    /// Whether each D1 population came to prefer the rewarded patterns
    /// (networks with a reward rule).
    pub preferences: Vec<crate::responses::Preference>,
    /// Every presentation of a stimulus pattern the steps hold whole, and
    /// how each population answered.
    pub presentations: Vec<crate::responses::Presentation>,
    /// The initial and learned weights of every plastic projection.
    pub learned: Vec<export::Learned>,
    /// What the ranks spent exchanging, when the run was split across them.
    pub exchanged: Option<crate::engine::Exchanged>,
}

pub fn run(opts: &RunOptions) -> Result<Outcome> {
    let started = Instant::now();
    let writes = split::writes(opts);
    let planned = split::together(
        opts,
        plan(opts).and_then(|planned| {
            // a network that cannot fit stops here, not in the middle of building
            planned.check_memory(&opts.tuning)?;
            if writes && opts.tuning.memory_check() {
                // and outputs the disk cannot hold stop here, not after the steps
                export::check_disk(&opts.out, planned.outputs)?;
            }
            // so does an out dir that is busy or holds files nacc did not write
            if writes {
                OutDir::precheck(&opts.out)?;
            }
            Ok(planned)
        }),
    )?;
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
    let prepared = build(opts, net, given, steps);
    let build_time = t_build.elapsed();
    // the lock of --out and a fresh staging directory beside it, which
    // replaces --out whole when the outputs are complete (rank 0's alone)
    let opened = prepared.and_then(|p| match writes {
        true => OutDir::open(&opts.out).map(|o| (p, Some(o))),
        false => Ok((p, None)),
    });
    let (prepared, mut out) = split::together(opts, opened)?;
    // from now on a signal stops the run at the end of a chunk
    if let Some(now) = &opts.exit_at_once {
        now.store(false, Ordering::SeqCst);
    }
    say(&match &gpu {
        Some(c) => format!("setting up the engine on {}", c.describe()),
        None => "setting up the CPU engine".into(),
    });
    let mut stepped = step(opts, gpu.as_ref(), &prepared, stream, out.as_mut())?;
    let steps = stepped.steps;
    let (stopped, failure) = stepped.ended();
    let times = (build_time, started);
    let Some(mut out) = out else {
        // another rank: rank 0 writes
        let outcome = write::finish(prepared, stepped, stream, stopped, times)?;
        return failure.map_or(Ok(outcome), Err);
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
        (None, Some((_, why))) => return Err(not_started(why, Some(&out))),
        (None, None) => None,
    };
    say(&format!(
        "writing the outputs to {}",
        out.target().display()
    ));
    let written = write::finish(prepared, stepped, stream, stopped, times).and_then(|o| {
        write::write_files(opts, out.dir(), &o, started.elapsed())?;
        Ok(o)
    });
    // a failure to write leaves --out as it was
    let mut outcome = written.map_err(|e| out.explain(e))?;
    // the whole run replaces --out in one step
    out.publish()?;
    if outcome.stopped.is_none() {
        // a signal that came too late to stop the run (in its last chunk,
        // or while the outputs were written): they were completed all the same
        outcome.late_signal = local_stop(opts)();
    }
    if let Some(e) = failure {
        let hint = match outcome.adapter.is_some() {
            true => "; `--backend cpu` runs without the GPU",
            false => "",
        };
        return Err(e.context(format!(
            "stopped after {steps} steps, whose outputs are in {}{hint}",
            out.target().display()
        )));
    }
    Ok(outcome)
}

/// What the steps of a run left: the records (one per trial; counts only
/// when streamed), how many steps completed and why the run ended early.
pub(crate) struct Stepped {
    records: Vec<SpikeRecord>,
    steps: usize,
    why: Option<Stop>,
    engine: String,
    adapter: Option<String>,
    /// The weights as plasticity left them, per projection.
    learned: Vec<Option<Vec<i32>>>,
    /// A streamed run keeps no record: it counts the responses as it goes.
    responses: crate::responses::ResponseCounter,
    /// Building the engine (fixed-point weights, uploads) is not simulating.
    setup_time: Duration,
    sim_time: Duration,
    /// What the ranks spent exchanging (a run split across ranks).
    exchanged: Option<crate::engine::Exchanged>,
}

impl Stepped {
    /// Why the steps ended early, if they did: (steps completed, the
    /// reason), and the failure when it was one (a signal is not).
    fn ended(&mut self) -> (Option<(usize, String)>, Option<crate::Error>) {
        match self.why.take() {
            Some(Stop::Signal(reason)) => (Some((self.steps, reason)), None),
            Some(Stop::Failed(e)) => (Some((self.steps, e.to_string())), Some(e)),
            None => (None, None),
        }
    }
}

/// The question a run asks after every chunk: the signal that asks it to
/// stop, by name (agreed by every rank, [`split::agreed`]).
fn stop_check(opts: &RunOptions) -> impl Fn() -> Option<String> + Sync + '_ {
    || {
        let sig = opts.stop.as_ref().map_or(0, |s| s.load(Ordering::SeqCst));
        let sig = split::agreed(opts, sig);
        (sig != 0).then(|| signal_name(sig as i32))
    }
}

/// [`stop_check`] of this process alone (trials split over ranks stop
/// each on its own: their records are cut to the steps all completed).
fn local_stop(opts: &RunOptions) -> impl Fn() -> Option<String> + Sync + '_ {
    || {
        let sig = opts.stop.as_ref()?.load(Ordering::SeqCst);
        (sig != 0).then(|| signal_name(sig as i32))
    }
}

/// Sets up the engine and runs the steps (all trials; a single trial
/// streamed to `out` chunk by chunk with `stream`; without `out`, in
/// memory).
fn step(
    opts: &RunOptions,
    gpu: Option<&Arc<GpuContext>>,
    prepared: &Prepared,
    stream: bool,
    out: Option<&mut OutDir>,
) -> Result<Stepped> {
    let model = &prepared.model;
    let chunk = chunk_of(opts, prepared.steps);
    let bar = Progress::new(prepared.steps as u64, opts.quiet, opts.done.clone());
    let check = stop_check(opts);
    let t0 = Instant::now();
    let mut responses = crate::responses::ResponseCounter::default();
    if opts.trials > 1 {
        let update = |done: usize| bar.update(done as u64);
        let (r, exchanged) = split::trials(
            opts,
            gpu,
            model,
            prepared.steps,
            chunk,
            update,
            &local_stop(opts),
        )?;
        bar.finish();
        return Ok(Stepped {
            steps: r.records.first().map_or(0, |x| x.steps()),
            records: r.records,
            why: r.stopped,
            engine: r.engine,
            adapter: r.adapter,
            learned: Vec::new(),
            responses,
            setup_time: r.setup,
            sim_time: t0.elapsed().saturating_sub(r.setup),
            exchanged,
        });
    }
    let (mut engine, adapter) = split::engine(opts, gpu, model, &prepared.input, chunk)?;
    let setup_time = t0.elapsed();
    // a signal while the engine was set up: no step is taken
    if let Some(why) = check() {
        return Err(not_started(&why, out.as_deref()));
    }
    let net = &model.net;
    let progress = |done: usize| bar.update(done as u64);
    let (record, steps, why) = if let (true, Some(out)) = (stream, out) {
        // counts only in memory; the spikes go to disk chunk by chunk
        let mut counts = SpikeRecord::with_capacity(net, 0)?;
        export::write_config(out.dir(), net, model.seed)?;
        let mut files = export::SpikeStream::create(out.dir(), net, opts.packed_spikes)?;
        let mut state = export::StateStream::create(out.dir(), net)?;
        let mut on_chunk = |c: &crate::record::ChunkSpikes| {
            counts.count(c);
            let rows: Vec<&[u32]> = c.bits.iter().map(|b| &b[..]).collect();
            responses.add(net, &rows, c.steps);
            files.append(c)?;
            state.append(c)?;
            // summary.json says how many steps the files hold, and the first
            // chunk replaces --out (so that a killed run leaves its
            // completed chunks there)
            let progress = progress_json(opts, model, files.steps(), prepared.steps);
            export::write_json_as(&out.dir().join("summary.json"), false, &progress)?;
            out.publish()
        };
        let input = &prepared.input;
        let (done, why) = simulate_chunks(
            engine.as_mut(),
            net,
            input,
            prepared.steps,
            chunk,
            &mut on_chunk,
            progress,
            &check,
        )?;
        (counts, done, why)
    } else if stream {
        // another rank of a streamed run: rank 0 writes the spikes, this
        // one keeps their counts
        let mut counts = SpikeRecord::with_capacity(net, 0)?;
        let (done, why) = simulate_chunks(
            engine.as_mut(),
            net,
            &prepared.input,
            prepared.steps,
            chunk,
            &mut |c| {
                counts.count(c);
                Ok(())
            },
            progress,
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
            progress,
            &check,
        )?;
        let steps = record.steps();
        (record, steps, why)
    };
    let sim_time = t0.elapsed().saturating_sub(setup_time);
    bar.finish();
    // the weights as plasticity left them (the run's outputs are kept even
    // if they cannot be read)
    let learned = match engine.plastic_weights() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("nacc: warning: the learned weights could not be read: {e}");
            Vec::new()
        }
    };
    Ok(Stepped {
        records: vec![record],
        steps,
        why,
        engine: engine.describe(),
        adapter,
        learned,
        responses,
        setup_time,
        sim_time,
        exchanged: engine.exchanged(),
    })
}

/// Why `net` (in `trials` trials) cannot run here, when this machine has
/// not the host memory for it, or its hardware GPU not the GPU memory: on
/// the GPU (when there is one) and the CPU engine at once, spike counts
/// only. `NACC_MEMORY_CHECK=off` runs it anyway.
pub fn memory_shortfall(
    net: &Network,
    trials: usize,
    gpu: Option<&GpuContext>,
    tuning: &Tuning,
) -> Option<String> {
    if !tuning.memory_check() {
        return None;
    }
    let needed = match gpu {
        Some(c) => {
            let plan = crate::engine::gpu::GpuEngine::plan(c, net, true, 1000, trials, tuning.gpu);
            if trials > 1 {
                crate::memory::estimate(net, 0, 1000, Some(&plan), trials)
            } else {
                crate::memory::estimate_both(net, 1000, &plan)
            }
        }
        None => crate::memory::estimate(net, 0, 1000, None, trials),
    };
    crate::memory::shortfall_of(
        &needed,
        gpu.is_some_and(GpuContext::is_software),
        crate::memory::host_available(),
        gpu.and_then(GpuContext::hardware_memory),
    )
    .map(|(why, _)| why)
}
