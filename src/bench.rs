//! `nacc bench`: a fixed suite of networks on the chosen backend, with the
//! CPU engine measured in the same run for the speed-up.
//!
//! Each network runs a warm-up chunk, then as many steps as fit a time
//! budget (at most its step count), so that slow backends still report a
//! figure. Only the simulation loop is timed (input generation, steps,
//! readback of the spikes), not building the network.

use crate::engine::gpu::GpuContext;
use crate::engine::plan::BLOCK_STEPS;
use crate::engine::{Engine, InputSource, run_chunk_from};
use crate::error::Result;
use crate::network::Model;
use crate::network::Network;
use crate::record::{ChunkSpikes, SpikeRecord};
use crate::run::{Backend, engine_on};
use crate::tuning::Tuning;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One network of the suite.
pub struct Case {
    pub name: &'static str,
    /// What it is, for the table.
    pub about: &'static str,
    /// The network, or why it cannot run in this version.
    pub network: std::result::Result<Network, &'static str>,
    /// Steps at most.
    pub steps: usize,
    /// Too large for the CPU engine or a software GPU within a benchmark:
    /// runs only on a hardware GPU, or when named (why, for the table).
    pub gpu_only: Option<&'static str>,
    /// Independent trials run together (1: a plain run).
    pub trials: usize,
    /// A name that chooses this case with others (`nacc-striatum`: its
    /// three scales).
    pub group: Option<&'static str>,
}

/// The NAcc striatum model (issue 20) at three scales.
pub const NACC_STRIATUM: &str = "nacc-striatum";

/// The NAcc striatum model at `scale` without its `[[record]]`s (which
/// would hold the GPU to the step schedule).
pub fn nacc_striatum(scale: u64) -> std::result::Result<Network, &'static str> {
    let mut net = crate::study::nacc_striatum()
        .and_then(|n| n.scaled(scale))
        .map_err(|_| "invalid built-in network")?;
    net.records.clear();
    Ok(net)
}

/// The sparse-1m network of issue 5 (`assets/sparse_1m.toml`): input
/// 500 000, inter 300 000, msn 200 000; fixed fan-in 1 000 from the input
/// into each population and 100 from inter into msn (520 M synapses).
pub const SPARSE_1M_TOML: &str = include_str!("../assets/sparse_1m.toml");

/// The recurrent network of issue 18 (`assets/recurrent.toml`): the
/// `large` input into 10 000 MSNs (fan-in 1 000) inhibiting each other
/// through 2 % collaterals with delays drawn in 1-5 ms.
pub const RECURRENT_TOML: &str = include_str!("../assets/recurrent.toml");

/// The Izhikevich MSN/FSI network of issue 19 (`assets/msn_fsi.toml`): the
/// size of `large` (10 000 Poisson afferents at 2-10 Hz, 5 000 FSIs, 2 000
/// MSNs, dense) with AMPA, NMDA and GABA_A conductances; about 44 Hz FSIs
/// and 6 Hz MSNs.
pub const MSN_FSI_TOML: &str = include_str!("../assets/msn_fsi.toml");

/// [`RECURRENT_TOML`] opened: the collaterals come from a stand-in LIF
/// population of 10 000 that fires as the MSNs do (each neuron with its
/// own Poisson driver, 0.03-0.13 spikes a step, about the MSNs' mean rate
/// in `recurrent`), with their delays of 1-5 ms, or (`delayed` false)
/// without: the same spikes and synaptic events from a LIF population, as
/// the MSNs' own, so the variants differ by what the delays cost; `delay`:
/// what replaces their `delay_ms = [1.0, 5.0]`.
pub fn recurrent_open(delay: &str) -> std::result::Result<Network, &'static str> {
    let text = RECURRENT_TOML
        .replacen("delay_ms = [1.0, 5.0]", delay, 1)
        .replacen("pre = \"msn\"", "pre = \"stand_in\"", 1)
        + "\n[[population]]\nname = \"driver\"\nsize = 10000\nkind = \"poisson\"\nrate = [0.03, 0.13]\n\
           [[population]]\nname = \"stand_in\"\nsize = 10000\nkind = \"lif\"\nbeta = 0.0\nreset = \"zero\"\n\
           [[projection]]\nname = \"drive\"\npre = \"driver\"\npost = \"stand_in\"\none_to_one = true\n\
           bias = false\ninit = \"constant\"\nweight = 2.0\n";
    Network::from_toml_str(&text, "recurrent-open").map_err(|_| "invalid built-in network")
}

/// The suite of issues 5, 18 and 19: seed, large, msn-fsi, sparse-1m,
/// trials, and the recurrent network with its variants.
pub fn suite() -> Vec<Case> {
    vec![
        Case {
            name: "seed",
            about: "100/50/20 dense",
            network: Ok(Network::default_nacc()),
            steps: 1_000_000,
            gpu_only: None,
            trials: 1,
            group: None,
        },
        Case {
            name: "large",
            about: "10 000/5 000/2 000 dense",
            network: Network::default_nacc()
                .scaled(100)
                .map_err(|_| "cannot scale"),
            steps: 2_000,
            gpu_only: None,
            trials: 1,
            group: None,
        },
        Case {
            name: "msn-fsi",
            about: "10 000/5 000/2 000 dense, Izhikevich, AMPA/NMDA/GABA_A",
            network: Network::from_toml_str(MSN_FSI_TOML, "msn-fsi")
                .map_err(|_| "invalid built-in network"),
            steps: 2_000,
            gpu_only: None,
            trials: 1,
            group: None,
        },
        Case {
            name: "sparse-1m",
            about: "500 000/300 000/200 000, fixed fan-in",
            network: Network::from_toml_str(SPARSE_1M_TOML, "sparse-1m")
                .map_err(|_| "invalid built-in network"),
            steps: 1_000,
            gpu_only: Some(
                "520 M synapses: tens of seconds to build and tens of milliseconds a step without a hardware GPU (the 2-core dev machine: ~16 s to build and set up, 0.05 s a step, 6 GB); `--network sparse-1m` runs it anyway",
            ),
            trials: 1,
            group: None,
        },
        Case {
            name: "trials",
            about: "seed network x 1 024 trials",
            network: Ok(Network::default_nacc()),
            steps: 20_000,
            gpu_only: None,
            trials: 1024,
            group: None,
        },
        Case {
            name: "recurrent",
            about: "10 000 -> 10 000 MSN, 2 % collaterals, delays 1-5 ms",
            network: Network::from_toml_str(RECURRENT_TOML, "recurrent")
                .map_err(|_| "invalid built-in network"),
            steps: 5_000,
            gpu_only: None,
            trials: 1,
            group: None,
        },
    ]
    .into_iter()
    .chain(
        [
            (
                "recurrent-open",
                "collaterals from a LIF stand-in, delays 1-5 ms",
                "delay_ms = [1.0, 5.0]",
            ),
            (
                "recurrent-open-3",
                "the same, every delay 3 ms",
                "delay_ms = 3.0",
            ),
            ("recurrent-open-0", "the same without delays", ""),
        ]
        .map(|(name, about, delay)| Case {
            name,
            about,
            network: recurrent_open(delay),
            steps: 5_000,
            gpu_only: None,
            trials: 1,
            group: None,
        }),
    )
    .chain([
        (
            "nacc-striatum-10k",
            "NAcc striatum x4: 11 088 striatal + 1 600 afferents, 10 M synapses",
            4,
            None,
        ),
        (
            "nacc-striatum-300k",
            "NAcc striatum x100: 277 200 striatal + 40 000 afferents, 252 M synapses",
            100,
            Some(
                "252 M synapses: ~15 s to build and set up and 4 GiB without a hardware GPU; runs when named (`--network nacc-striatum-300k`, or `nacc-striatum` for the three scales)",
            ),
        ),
        (
            "nacc-striatum-2.8m",
            "NAcc striatum x1000 (a hemisphere): 2.77 M striatal + 0.4 M afferents, 2.5 G synapses",
            1000,
            Some(
                "2.5 G synapses: 42 GiB of host memory and 22 GiB on the GPU; runs on a hardware GPU, or when named (`--network nacc-striatum-2.8m`)",
            ),
        ),
    ]
    .map(|(name, about, scale, gpu_only)| Case {
        name,
        about,
        network: nacc_striatum(scale),
        steps: 2_000,
        gpu_only,
        trials: 1,
        group: Some(NACC_STRIATUM),
    }))
    .collect()
}

/// A measured run.
#[derive(Debug, Clone)]
pub struct Measure {
    pub steps: usize,
    pub wall: Duration,
    /// Synaptic events: pre spikes x post neurons, summed over projections.
    pub events: u64,
    /// Steps the engine ran, the warm-up included.
    pub ran: usize,
}

impl Measure {
    pub fn steps_per_s(&self) -> f64 {
        self.steps as f64 / self.wall.as_secs_f64().max(1e-12)
    }
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64().max(1e-12)
    }
}

/// Runs `engine` for a warm-up chunk, then chunk after chunk until
/// `max_steps` steps or `budget` have passed, whichever comes first.
pub fn measure(
    engine: &mut dyn Engine,
    model: &Model,
    max_steps: usize,
    budget: Duration,
) -> Result<Measure> {
    measure_agreed(engine, model, max_steps, budget, &|x| x)
}

/// Of a run split across ranks, the largest of every rank's `x` (the
/// identity in one process): every timing that decides how many steps run
/// is agreed, so that every rank runs the same ones.
pub type Agree<'a> = &'a dyn Fn(u64) -> u64;

/// [`measure`] with its timings agreed by `agree`.
fn measure_agreed(
    engine: &mut dyn Engine,
    model: &Model,
    max_steps: usize,
    budget: Duration,
    agree: Agree,
) -> Result<Measure> {
    let secs = |t: Instant| agree(t.elapsed().as_nanos() as u64) as f64 * 1e-9;
    let net = &model.net;
    let input = InputSource::generated(model);
    // one step (first-use costs), then (when that was not slow) two blocks
    // of BLOCK_STEPS for the estimate: one step alone pays for a whole
    // block's sums where projections sum in blocks
    let mut buf = ChunkSpikes::new(net, 1);
    let t = Instant::now();
    run_chunk_from(engine, net, &input, 0, &mut buf)?;
    let mut warm = 1;
    let mut per_step = secs(t);
    if per_step < budget.as_secs_f64() / 4.0 && max_steps > 1 {
        let more = max_steps.min(2 * BLOCK_STEPS);
        buf.resize(net, more);
        let t = Instant::now();
        run_chunk_from(engine, net, &input, 1, &mut buf)?;
        per_step = secs(t) / more as f64;
        warm += more;
    }
    let m = timed(
        model,
        budget,
        per_step,
        max_steps,
        agree,
        |counts, done, n| {
            buf.resize(net, n);
            run_chunk_from(engine, net, &input, (warm + done) as u64, &mut buf)?;
            counts.count(&buf);
            Ok(())
        },
    )?;
    Ok(Measure {
        ran: warm + m.steps,
        ..m
    })
}

/// Steps `nacc bench --profile` times kernel by kernel: 4 blocks.
pub const PROFILE_STEPS: usize = 4 * BLOCK_STEPS;

/// Runs [`PROFILE_STEPS`] more steps of `engine` (which has run `ran`) with
/// a timestamp around every dispatch: per kernel, microseconds and
/// dispatches per step, the kernels' total and the span from the first
/// dispatch to the last (the difference is the gaps between dispatches).
/// A string saying why not where the engine cannot.
pub fn profile(engine: &mut dyn Engine, model: &Model, ran: usize) -> Result<serde_json::Value> {
    if !engine.start_profile() {
        return Ok(json!(
            "not available: the engine cannot time its dispatches (a GPU with timestamps inside compute passes can; `nacc devices` says)"
        ));
    }
    let net = &model.net;
    let mut buf = ChunkSpikes::new(net, PROFILE_STEPS);
    let input = InputSource::generated(model);
    run_chunk_from(engine, net, &input, ran as u64, &mut buf)?;
    let p = engine.take_profile().unwrap_or_default();
    let per_step = |ns: f64| ns / 1e3 / p.steps.max(1) as f64;
    let kernels: Vec<serde_json::Value> = p
        .kernels
        .iter()
        .map(|(name, ns, n)| {
            json!({
                "kernel": name,
                "us_per_step": per_step(*ns),
                "dispatches_per_step": *n as f64 / p.steps.max(1) as f64,
            })
        })
        .collect();
    Ok(json!({
        "steps": p.steps,
        "kernels": kernels,
        "busy_us_per_step": per_step(p.kernels.iter().map(|k| k.1).sum()),
        "span_us_per_step": per_step(p.span_ns),
        "untimed_dispatches": p.untimed,
    }))
}

/// The timed loop of a benchmark: `run(counts, done, n)` runs the `n` steps
/// after the `done` timed ones and counts their spikes into `counts`, chunk
/// after chunk of about a tenth of the budget (at `per_step` seconds a
/// step), until `max_steps` steps or `budget` have passed.
fn timed(
    model: &Model,
    budget: Duration,
    per_step: f64,
    max_steps: usize,
    agree: Agree,
    mut run: impl FnMut(&mut SpikeRecord, usize, usize) -> Result<()>,
) -> Result<Measure> {
    let chunk = timed_chunk(budget, per_step, max_steps);
    let mut counts = SpikeRecord::with_capacity(&model.net, 0)?;
    let (mut steps, t) = (0usize, Instant::now());
    let within = |t: Instant| agree(t.elapsed().as_nanos() as u64) < budget.as_nanos() as u64;
    while steps < max_steps && within(t) {
        let n = chunk.min(max_steps - steps);
        run(&mut counts, steps, n)?;
        steps += n;
    }
    Ok(Measure {
        steps,
        wall: t.elapsed(),
        events: events(model, &counts),
        ran: steps,
    })
}

/// Synaptic events of the spikes `counts` holds: every pre spike times its
/// fan-out (dense, every post; sparse, the mean out-degree).
fn events(model: &Model, counts: &SpikeRecord) -> u64 {
    let net = &model.net;
    net.projections
        .iter()
        .zip(&model.weights)
        .map(|(p, w)| {
            let spikes = counts.pops[p.pre].total() as f64;
            (spikes * w.w.len() as f64 / net.populations[p.pre].size as f64).round() as u64
        })
        .sum()
}

/// An error naming the first of `names` that is not a network of the suite.
pub fn check_names(names: &[String]) -> Result<()> {
    let mut known: Vec<&str> = suite().iter().map(|c| c.name).collect();
    known.push(NACC_STRIATUM);
    match names.iter().find(|n| !known.contains(&n.as_str())) {
        Some(n) => Err(crate::error::bad_value(
            "--network",
            n,
            format!("must be one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Runs the suite (only the networks `only` names, when it names any),
/// reporting one JSON object per network (also for skipped ones, with
/// `skipped` and the reason); stops early when `report` returns false.
/// `with_profile`: on a GPU, also time each kernel ([`profile`]).
pub fn run(
    backend: Backend,
    budget: Duration,
    only: &[String],
    with_profile: bool,
    tuning: &Tuning,
    ranks: Option<&crate::ranks::Ranks>,
    mut report: impl FnMut(&serde_json::Value) -> bool,
) -> Result<()> {
    check_names(only)?;
    let ranks = ranks.filter(|c| c.size() > 1);
    let agree = |x: u64| ranks.map_or(x, |c| c.max(x));
    // one device for the whole suite (a node's rank r takes its GPU r)
    let local = ranks.map_or(0, |c| c.local_rank());
    let gpu = crate::run::choose_gpu_nth(backend, tuning.adapter.as_deref(), local);
    let gpu = crate::ranks::agree(ranks, gpu)?.map(Arc::new);
    // every line records the knobs that were set
    let knobs: serde_json::Map<String, serde_json::Value> = tuning
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut report = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["tuning"] = json!(knobs);
        report(&v)
    };
    let hardware_gpu = gpu.as_ref().is_some_and(|c| !c.is_software());
    let named = |c: &Case| {
        only.iter()
            .any(|n| n == c.name || c.group == Some(n.as_str()))
    };
    let chosen = |c: &Case| only.is_empty() || named(c);
    for case in suite().into_iter().filter(chosen) {
        // a network too large for the backend runs only when named
        let net = match case.network {
            Ok(_) if case.gpu_only.is_some() && !hardware_gpu && !named(&case) => {
                Err(case.gpu_only.unwrap_or_default())
            }
            other => other,
        };
        // a network this machine has not the memory for is skipped too
        let net = net.map_err(String::from).and_then(|n| {
            match crate::run::memory_shortfall(&n, case.trials, gpu.as_deref(), tuning) {
                Some(why) => Err(why),
                None => Ok(n),
            }
        });
        let net = match across_ranks(net, case.trials, ranks.is_some(), &agree) {
            Ok(n) => n,
            Err(why) => {
                if !report(&json!({ "network": case.name, "about": case.about, "skipped": why })) {
                    return Ok(());
                }
                continue;
            }
        };
        let t = Instant::now();
        let model = Model::build(net, 0)?;
        let build_s = t.elapsed().as_secs_f64();
        if case.trials > 1 {
            let v = measure_trials(
                gpu.as_ref(),
                &model,
                case.trials,
                case.steps,
                budget,
                tuning,
            )?;
            let more = report(&json!({
                "network": case.name,
                "about": case.about,
                "backend": v.2.as_ref().map_or("cpu", |_| "gpu"),
                "engine": v.1,
                "build_s": build_s,
                "neurons": model.net.total_neurons(),
                "synapses": model.net.total_synapses(),
                "trials": case.trials,
                "steps": v.0.steps,
                "wall_s": v.0.wall.as_secs_f64(),
                "steps_per_s": v.0.steps_per_s(),
                "neuron_steps_per_s": v.0.steps_per_s() * (model.net.total_neurons() * case.trials as u64) as f64,
                "events_per_s": v.0.events_per_s(),
                "cpu_steps_per_s": v.3.as_ref().map(|c| c.steps_per_s()),
                "speedup_vs_cpu": v.3.as_ref().map(|c| v.0.steps_per_s() / c.steps_per_s()),
            }));
            if !more {
                return Ok(());
            }
            continue;
        }
        let t = Instant::now();
        // a network the device cannot hold (a buffer above its limit) is
        // skipped, as one the memory cannot
        let (mut engine, adapter) = match engine_of(gpu.as_ref(), &model, tuning, ranks) {
            Ok(e) => e,
            Err(crate::Error::Input(why)) => {
                if !report(&json!({ "network": case.name, "about": case.about, "skipped": why })) {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let setup_s = t.elapsed().as_secs_f64();
        let m = measure_agreed(engine.as_mut(), &model, case.steps, budget, &agree)?;
        let exchanged = engine.exchanged();
        let profiled = if with_profile && adapter.is_some() && ranks.is_none() {
            Some(profile(engine.as_mut(), &model, m.ran)?)
        } else {
            None
        };
        // the CPU engine in the same run, for the speed-up
        let cpu = if adapter.is_some() && ranks.is_none() {
            let threads = crate::threads::Threads::global();
            let mut e = crate::engine::cpu::CpuEngine::with_options(&model, &tuning.cpu, threads)?;
            Some(measure(&mut e, &model, case.steps, budget / 2)?)
        } else {
            None
        };
        let bytes_per_step = (m.events as f64 / m.steps as f64) * 4.0;
        let more = report(&json!({
            "network": case.name,
            "about": case.about,
            "backend": if adapter.is_some() { "gpu" } else { "cpu" },
            "engine": engine.describe(),
            "build_s": build_s,
            "setup_s": setup_s,
            "neurons": model.net.total_neurons(),
            "synapses": model.weights.iter().map(|w| w.w.len() as u64).sum::<u64>(),
            "steps": m.steps,
            "wall_s": m.wall.as_secs_f64(),
            "steps_per_s": m.steps_per_s(),
            "events_per_s": m.events_per_s(),
            "weight_bytes_per_step": bytes_per_step,
            "gb_per_s": bytes_per_step * m.steps_per_s() / 1e9,
            "cpu_steps_per_s": cpu.as_ref().map(|c| c.steps_per_s()),
            "speedup_vs_cpu": cpu.as_ref().map(|c| m.steps_per_s() / c.steps_per_s()),
            "profile": profiled,
            "ranks": ranks.map(|c| c.size()),
            "exchange_s_per_step": exchanged.map(|x| x.time.as_secs_f64() / m.ran as f64),
            "exchange_share": exchanged.map(|x| x.time.as_secs_f64() / m.wall.as_secs_f64().max(1e-12) * m.steps as f64 / m.ran as f64),
            "bytes_sent_per_step": exchanged.map(|x| x.bytes as f64 / m.ran as f64),
        }));
        if !more {
            return Ok(());
        }
    }
    Ok(())
}

/// A case's network (or why it is skipped) split across ranks: trials are
/// `nacc run --trials`'s; a network any rank skips, every rank skips.
fn across_ranks(
    net: std::result::Result<Network, String>,
    trials: usize,
    split: bool,
    agree: Agree,
) -> std::result::Result<Network, String> {
    match net {
        Ok(_) if split && trials > 1 => Err(RANKS_TRIALS.to_string()),
        net => match (agree(net.is_err() as u64), net) {
            (1, Ok(_)) => Err("skipped on another rank (its memory or GPU)".into()),
            (_, net) => net,
        },
    }
}

/// The engine a case runs on: the backend's, or this rank's share of the
/// network split across `ranks`.
fn engine_of(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    tuning: &Tuning,
    ranks: Option<&crate::ranks::Ranks>,
) -> Result<(Box<dyn Engine>, Option<String>)> {
    let input = InputSource::generated(model);
    let Some(c) = ranks else {
        return engine_on(gpu, model, &input, 1000, tuning);
    };
    let make = |m: &Model, given: &InputSource, steps: usize| {
        engine_on(gpu, m, given, steps, tuning).map(|e| e.0)
    };
    let e = crate::ranks::SplitEngine::new(c.clone(), model, 1000, &make)?;
    Ok((Box::new(e), gpu.map(|g| g.describe())))
}

/// Why `nacc bench` split across ranks skips the cases of trials.
const RANKS_TRIALS: &str = "a case of trials: across ranks, `nacc run --trials` splits the trials with no exchange, so they scale as separate runs; bench them in one process";

/// Times `trials` trials of `model` run together: on the GPU in one
/// dispatch a chunk (when the backend takes a GPU), and on the CPU engine
/// (trials over threads) for the speed-up. Returns the measure, the engine,
/// the adapter and the CPU measure.
fn measure_trials(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    trials: usize,
    max_steps: usize,
    budget: Duration,
    tuning: &Tuning,
) -> Result<(Measure, String, Option<String>, Option<Measure>)> {
    let net = &model.net;
    let inputs: Vec<InputSource> = (0..trials)
        .map(|t| InputSource::generated_trial(model, t))
        .collect();

    // the CPU engine, trials over threads: a probe, then as many steps as fit half the budget
    let cpu = |budget: Duration| -> Result<Measure> {
        let t = Instant::now();
        crate::trials::run_cpu_all(model, &inputs, 5, 5)?;
        let per_step = t.elapsed().as_secs_f64() / 5.0;
        let steps = ((budget.as_secs_f64() / per_step.max(1e-9)) as usize).clamp(5, max_steps);
        let t = Instant::now();
        let recs = crate::trials::run_cpu_all(model, &inputs, steps, steps.min(1000))?;
        let wall = t.elapsed();
        Ok(Measure {
            steps,
            wall,
            events: recs.iter().map(|r| events(model, r)).sum(),
            ran: steps,
        })
    };
    let Some(ctx) = gpu else {
        let m = cpu(budget)?;
        return Ok((m, crate::trials::cpu_engine_name(trials), None, None));
    };
    let name = ctx.describe();
    let plan = crate::engine::gpu::GpuEngine::plan(ctx, net, true, 1000, trials, tuning.gpu);
    let mut gpu =
        crate::engine::gpu::GpuEngine::new_trials(ctx.clone(), model, &inputs, 1000, tuning.gpu)?;
    let mut bufs: Vec<ChunkSpikes> = (0..trials).map(|_| ChunkSpikes::new(net, 20)).collect();
    let t = Instant::now();
    gpu.run_chunk_trials(&mut bufs)?;
    let per_step = t.elapsed().as_secs_f64() / 20.0;
    let m = timed(
        model,
        budget,
        per_step,
        max_steps,
        &|x| x,
        |counts, _, n| {
            for b in &mut bufs {
                b.resize(net, n);
            }
            gpu.run_chunk_trials(&mut bufs)?;
            for b in &bufs {
                counts.count(b);
            }
            Ok(())
        },
    )?;
    Ok((
        m,
        format!("{name}, {}", plan.describe(trials)),
        Some(name),
        Some(cpu(budget / 2)?),
    ))
}

/// One line of the human-readable table.
pub fn table_line(v: &serde_json::Value) -> String {
    if let Some(why) = v["skipped"].as_str() {
        return format!(
            "{:<10} skipped ({}): {why}",
            v["network"].as_str().unwrap_or(""),
            v["about"].as_str().unwrap_or("")
        );
    }
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let speed = match v["speedup_vs_cpu"].as_f64() {
        Some(s) if s < 10.0 => format!("{s:>9.2}x"),
        Some(s) => format!("{s:>9.0}x"),
        None => format!("{:>10}", "-"),
    };
    let gb = v["gb_per_s"]
        .as_f64()
        .map_or(format!("{:>8}", "-"), |g| format!("{g:>8.2}"));
    let mut line = format!(
        "{:<10} {:>9} {:>11} {:>7} {:>12.0} {:>10.2e} {gb} {:>13} {speed}",
        v["network"].as_str().unwrap_or(""),
        v["neurons"].as_u64().unwrap_or(0),
        v["synapses"].as_u64().unwrap_or(0),
        v["steps"].as_u64().unwrap_or(0),
        f("steps_per_s"),
        f("events_per_s"),
        v["cpu_steps_per_s"]
            .as_f64()
            .map_or("-".into(), |c| format!("{c:.0}")),
    );
    if let Some(t) = v["trials"].as_u64() {
        line += &format!(
            "   ({t} trials: {:.2e} neuron-steps/s)",
            f("neuron_steps_per_s")
        );
    }
    if let Some(engine) = v["engine"].as_str() {
        line += &format!("\n           on {engine}");
        if let (Some(b), Some(s)) = (v["build_s"].as_f64(), v["setup_s"].as_f64()) {
            line += &format!(" (untimed: network built in {b:.2} s, engine set up in {s:.2} s)");
        }
    }
    match &v["profile"] {
        serde_json::Value::String(why) => line += &format!("\n           profile {why}"),
        serde_json::Value::Object(p) => {
            let g = |k: &str| p.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
            line += &format!(
                "\n           profile over {} steps, us a step: kernels {:.2}, first start to last end {:.2}",
                p.get("steps").and_then(|x| x.as_u64()).unwrap_or(0),
                g("busy_us_per_step"),
                g("span_us_per_step")
            );
            for k in p
                .get("kernels")
                .and_then(|k| k.as_array())
                .into_iter()
                .flatten()
            {
                line += &format!(
                    "\n             {:<22} {:>9.2} us/step {:>7.3} dispatches/step",
                    k["kernel"].as_str().unwrap_or(""),
                    k["us_per_step"].as_f64().unwrap_or(f64::NAN),
                    k["dispatches_per_step"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        _ => {}
    }
    line
}

pub const TABLE_HEADER: &str = "network      neurons    synapses   steps      steps/s   events/s     GB/s   CPU steps/s   speed-up";

/// Steps a timed chunk holds: about a tenth of the budget at `per_step`
/// seconds a step, in whole blocks, from 16 to 992 steps, at most `max_steps`.
fn timed_chunk(budget: Duration, per_step: f64, max_steps: usize) -> usize {
    let n = (budget.as_secs_f64() / 10.0 / per_step.max(1e-9)) as usize;
    // whole blocks of BLOCK_STEPS (a chunk that ends inside a block pays for
    // the whole block's sums), at most 992 = 62 blocks
    n.next_multiple_of(BLOCK_STEPS)
        .clamp(BLOCK_STEPS, 992)
        .min(max_steps)
}
