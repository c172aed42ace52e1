//! `--trials N`: N independent trials of one network (same weights and
//! rates, input drawn with each trial's seed, see
//! [`crate::engine::trial_seed`]). On a GPU a network small enough for the
//! fused kernel runs every trial in one dispatch (one workgroup a trial);
//! larger ones run side by side on the block schedule (the trial in the
//! grid's z of every dispatch), in batches of as many as fit; the rest
//! (stimulus patterns, whose input the host draws; sums too large for the
//! block schedule) one trial after another. The CPU engine advances all
//! trials chunk by chunk, trials spread over threads, the fixed-point
//! weights shared. When a signal or a failure stops the run, every record
//! kept ends at the same step: trials run together stop together; of trials
//! run in turn, those that completed are kept (or the first batch, stopped
//! together, when none had).

use crate::engine::cpu::CpuEngine;
use crate::engine::gpu::{GpuContext, GpuEngine, GpuOptions};
use crate::engine::plan::Plan;
use crate::engine::{InputSource, Stop, run_chunk_from, run_chunks, simulate_until, to_the_end};
use crate::error::{Error, Result};
use crate::network::Model;
use crate::record::{ChunkSpikes, SpikeRecord};
use crate::threads::Threads;
use rayon::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAX_TRIALS: usize = 65_535;

/// `--trials` must be within 1..=[`MAX_TRIALS`].
pub fn check_count(trials: usize) -> Result<()> {
    if (1..=MAX_TRIALS).contains(&trials) {
        Ok(())
    } else {
        Err(crate::error::bad_value(
            "--trials",
            trials,
            format!("must be within 1..={MAX_TRIALS}"),
        ))
    }
}

/// Asked after every chunk: Some(reason) ends the run there.
pub type StopCheck<'a> = &'a (dyn Fn() -> Option<String> + Sync);

/// The records of every trial, and what ran them.
pub struct TrialRun {
    pub records: Vec<SpikeRecord>,
    pub engine: String,
    pub adapter: Option<String>,
    /// Why the run ended early, if it did (all records end at the same
    /// step; fewer records than trials when they ran in turn).
    pub stopped: Option<Stop>,
    /// Time spent building engines (fixed-point weights, uploads), not
    /// running steps.
    pub setup: Duration,
    /// GPU engines built: trials run in turn (in batches, or one at a
    /// time) restart one engine where they can.
    pub engines_built: usize,
}

/// Runs `trials` trials of `steps` steps in chunks of `chunk`, on the GPU
/// of `gpu` or, without one, on the CPU engine.
pub fn run(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
    tuning: &crate::tuning::Tuning,
    progress: impl FnMut(usize),
    stop: StopCheck,
) -> Result<TrialRun> {
    check_count(trials)?;
    run_range(gpu, model, 0..trials, steps, chunk, tuning, progress, stop)
}

/// [`run`] of the trials `these` of a run (a rank's share, `ranks::trials`).
#[allow(clippy::too_many_arguments)]
pub fn run_range(
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    these: std::ops::Range<usize>,
    steps: usize,
    chunk: usize,
    tuning: &crate::tuning::Tuning,
    mut progress: impl FnMut(usize),
    stop: StopCheck,
) -> Result<TrialRun> {
    let trials = these.len();
    let inputs: Vec<InputSource> = these
        .map(|t| InputSource::generated_trial(model, t))
        .collect();
    let Some(ctx) = gpu else {
        let (records, stopped, setup) = run_cpu(model, &inputs, steps, chunk, &mut progress, stop)?;
        return Ok(TrialRun {
            records,
            engine: cpu_engine_name(trials),
            adapter: None,
            stopped,
            setup,
            engines_built: 0,
        });
    };
    run_gpu(
        ctx.clone(),
        model,
        &inputs,
        steps,
        chunk,
        tuning.gpu,
        &mut progress,
        stop,
    )
}

/// What runs `trials` trials on the CPU ([`run_cpu`]).
pub fn cpu_engine_name(trials: usize) -> String {
    let threads = crate::threads::count().min(trials);
    let simd = crate::simd::describe();
    format!("cpu reference, {trials} trials over {threads} threads, {simd}")
}

/// The trials of `inputs` on the GPU of `ctx`, built with `opts`.
#[allow(clippy::too_many_arguments)]
pub fn run_gpu(
    ctx: Arc<GpuContext>,
    model: &Model,
    inputs: &[InputSource],
    steps: usize,
    chunk: usize,
    opts: GpuOptions,
    progress: &mut dyn FnMut(usize),
    stop: StopCheck,
) -> Result<TrialRun> {
    let trials = inputs.len();
    let name = ctx.describe();
    // trials side by side need the input drawn on the GPU (generated, and
    // no stimulus patterns): all in one dispatch of the fused kernel, or
    // batches of as many as fit on the block schedule
    let plan = GpuEngine::plan(&ctx, &model.net, true, chunk, trials, opts);
    let mut setup = Duration::ZERO;
    // batches side by side, else one trial after another (its input may be
    // drawn on the host), on one engine restarted where it can be
    let batch = plan.trials.max(1);
    let (mut engine, mut built) = (None, 0);
    let mut records = Vec::new();
    let mut stopped = None;
    for (b, these) in inputs.chunks(batch).enumerate() {
        let t = Instant::now();
        let next = engine_for(&mut engine, these, &mut built, || {
            GpuEngine::new_trials(ctx.clone(), model, these, chunk, opts)
        });
        setup += t.elapsed();
        let Some(gpu) = next_engine(next, !records.is_empty(), &mut stopped)? else {
            break;
        };
        let before = b * batch * steps;
        let mut part_progress = |done: usize| progress((before + done * these.len()) / trials);
        let (recs, why) = if batch > 1 {
            run_batched(
                gpu,
                model,
                these.len(),
                steps,
                chunk,
                &mut part_progress,
                stop,
            )?
        } else {
            let (rec, why) = simulate_until(
                gpu,
                &model.net,
                &these[0],
                steps,
                chunk,
                part_progress,
                stop,
            )?;
            (vec![rec], why)
        };
        records.extend(recs);
        if why.is_some() {
            stopped = why;
            break;
        }
    }
    // a stop leaves the batch (or trial) it interrupted short and the later
    // ones unrun: keep the trials that completed (the first ones: the
    // outputs' trial axis is as long as they are), or the interrupted first
    // batch when none did
    keep_completed(&mut records, steps);
    Ok(TrialRun {
        records,
        engine: format!("{name}, {}", plan.describe(trials)),
        adapter: Some(name),
        stopped,
        setup,
        engines_built: built,
    })
}

/// The engine for the trials of `these` in `slot`: the one there,
/// restarted, where it can be (see [`GpuEngine::restart`]); else a new one
/// from `build` (the old one dropped first, its GPU memory with it),
/// counted in `built`.
fn engine_for<'a>(
    slot: &'a mut Option<GpuEngine>,
    these: &[InputSource],
    built: &mut usize,
    build: impl FnOnce() -> Result<GpuEngine>,
) -> Result<&'a mut GpuEngine> {
    let restarted = match slot.as_mut() {
        Some(e) => e.restart(these)?,
        None => false,
    };
    if !restarted {
        *slot = None;
        *built += 1;
        *slot = Some(build()?);
    }
    Ok(slot.as_mut().expect("an engine was just put there"))
}

/// Every trial on the batched GPU engine, chunk by chunk.
pub fn run_batched(
    gpu: &mut GpuEngine,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
    progress: &mut dyn FnMut(usize),
    stop: StopCheck,
) -> Result<(Vec<SpikeRecord>, Option<Stop>)> {
    let net = &model.net;
    let mut records = (0..trials)
        .map(|_| SpikeRecord::with_capacity(net, steps))
        .collect::<Result<Vec<_>>>()?;
    let mut bufs: Vec<ChunkSpikes> = (0..trials)
        .map(|_| ChunkSpikes::new(net, chunk.min(steps)))
        .collect();
    let (_, why) = run_chunks(steps, chunk, progress, stop, |_, n| {
        for b in &mut bufs {
            b.resize(net, n);
        }
        if let Err(e) = gpu.run_chunk_trials(&mut bufs) {
            return Ok(Err(e));
        }
        for (r, b) in records.iter_mut().zip(&bufs) {
            r.append(b);
        }
        Ok(Ok(()))
    })?;
    Ok((records, why))
}

/// The engine for the next trials; when it cannot be built (out of memory,
/// a lost device) after some trials have run, None, with the failure in
/// `stopped`: the run keeps the trials it has.
fn next_engine<T>(
    built: Result<T>,
    ran_some: bool,
    stopped: &mut Option<Stop>,
) -> Result<Option<T>> {
    match built {
        Ok(engine) => Ok(Some(engine)),
        Err(e) if ran_some => {
            *stopped = Some(Stop::Failed(e));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Of the records of trials run in turn (alone or in batches side by side),
/// the last batch of which may have been stopped: keeps those that hold all
/// `steps` steps, or, when none does, the first batch's (stopped together,
/// they are equally long).
fn keep_completed(records: &mut Vec<SpikeRecord>, steps: usize) {
    let complete = records.iter().take_while(|r| r.steps() == steps).count();
    if complete > 0 {
        records.truncate(complete);
    }
}

/// Every trial on the CPU engine, all advancing chunk by chunk, trials
/// spread over threads (each trial single-threaded, weights shared); with
/// the time it took to build the engines.
pub fn run_cpu(
    model: &Model,
    inputs: &[InputSource],
    steps: usize,
    chunk: usize,
    progress: &mut dyn FnMut(usize),
    stop: StopCheck,
) -> Result<(Vec<SpikeRecord>, Option<Stop>, Duration)> {
    let net = &model.net;
    let started = Instant::now();
    let plan = Plan::cpu(net, &Default::default());
    let quantized: Vec<Arc<_>> = crate::engine::cpu::quantize(model, &plan)?
        .into_iter()
        .map(Arc::new)
        .collect();
    // per trial: its engine, its chunk buffer and its record
    let mut trials: Vec<(CpuEngine, ChunkSpikes, SpikeRecord)> = inputs
        .iter()
        .map(|_| {
            Ok((
                CpuEngine::with_quantized(model, &quantized, &plan, Threads::SINGLE),
                ChunkSpikes::new(net, chunk.min(steps)),
                SpikeRecord::with_capacity(net, steps)?,
            ))
        })
        .collect::<Result<_>>()?;
    let setup = started.elapsed();
    let threads = crate::threads::count().clamp(1, inputs.len().max(1));
    let per = inputs.len().div_ceil(threads).max(1);
    let (done, why) = run_chunks(steps, chunk, progress, stop, |done, n| {
        let failed: Vec<Error> = trials
            .par_chunks_mut(per)
            .zip(inputs.par_chunks(per))
            .filter_map(|(part, ins)| {
                let mut run = || -> Result<()> {
                    for ((engine, buf, rec), input) in part.iter_mut().zip(ins) {
                        buf.resize(net, n);
                        run_chunk_from(engine, net, input, done as u64, buf)?;
                        rec.append(buf);
                    }
                    Ok(())
                };
                run().err()
            })
            .collect();
        Ok(failed.into_iter().next().map_or(Ok(()), Err))
    })?;
    // after a failure some trials may hold the failed chunk: keep what
    // every trial completed
    let records = trials
        .into_iter()
        .map(|(_, _, mut r)| {
            r.truncate(net, done);
            r
        })
        .collect();
    Ok((records, why, setup))
}

/// [`run_cpu`] to the end: a failure is an error.
pub fn run_cpu_all(
    model: &Model,
    inputs: &[InputSource],
    steps: usize,
    chunk: usize,
) -> Result<Vec<SpikeRecord>> {
    let (records, why, _) = run_cpu(model, inputs, steps, chunk, &mut |_| {}, &|| None)?;
    to_the_end((records, why))
}

/// [`run_batched`] to the end: a failure is an error.
pub fn run_batched_all(
    gpu: &mut GpuEngine,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
) -> Result<Vec<SpikeRecord>> {
    to_the_end(run_batched(
        gpu,
        model,
        trials,
        steps,
        chunk,
        &mut |_| {},
        &|| None,
    )?)
}
