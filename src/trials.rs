//! `--trials N`: N independent trials of one network (same weights and
//! rates, input drawn with each trial's seed, see
//! [`crate::engine::trial_seed`]). On a GPU a network small enough for the
//! fused kernel runs every trial in one dispatch (one workgroup a trial);
//! otherwise trials run one after another (on the CPU, spread over threads).

use crate::engine::cpu::{CpuEngine, default_threads};
use crate::engine::gpu::{GpuEngine, GpuOptions};
use crate::engine::{InputSource, simulate};
use crate::error::{Error, Result};
use crate::network::Model;
use crate::record::{ChunkSpikes, SpikeRecord};
use crate::run::{Backend, choose_gpu, make_engine};
use std::sync::Arc;

pub const MAX_TRIALS: usize = 65_535;

/// The records of every trial, and what ran them.
pub struct TrialRun {
    pub records: Vec<SpikeRecord>,
    pub engine: String,
    pub adapter: Option<String>,
}

/// Runs `trials` trials of `steps` steps in chunks of `chunk`.
pub fn run(
    backend: Backend,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
    mut progress: impl FnMut(usize),
) -> Result<TrialRun> {
    if !(1..=MAX_TRIALS).contains(&trials) {
        return Err(crate::error::bad_value(
            "--trials",
            trials,
            format!("must be within 1..={MAX_TRIALS}"),
        ));
    }
    let inputs: Vec<InputSource> = (0..trials)
        .map(|t| InputSource::generated_trial(model, t))
        .collect();
    // the batched GPU path when the GPU is chosen and the network fits it
    if let Some(ctx) = choose_gpu(backend)? {
        let ctx = Arc::new(ctx);
        let name = ctx.describe();
        return match GpuEngine::new_trials(ctx, model, &inputs, chunk, GpuOptions::default()) {
            Ok(mut gpu) => {
                let records = run_batched(&mut gpu, model, trials, steps, chunk, &mut progress)?;
                Ok(TrialRun {
                    records,
                    engine: format!("{name}, {trials} trials in one dispatch"),
                    adapter: Some(name),
                })
            }
            // too large to batch: one trial after another
            Err(Error::Input(_)) => {
                let mut records = Vec::new();
                for (t, input) in inputs.iter().enumerate() {
                    let (mut e, _) = make_engine(backend, model, input, chunk)?;
                    records.push(simulate(
                        e.as_mut(),
                        &model.net,
                        input,
                        steps,
                        chunk,
                        |_| {},
                    )?);
                    progress((t + 1) * steps / trials);
                }
                Ok(TrialRun {
                    records,
                    engine: format!("{name}, {trials} trials one after another"),
                    adapter: Some(name),
                })
            }
            Err(e) => Err(e),
        };
    }
    let records = run_cpu(model, &inputs, steps, chunk)?;
    progress(steps);
    Ok(TrialRun {
        records,
        engine: format!(
            "cpu reference, {trials} trials over {} threads",
            default_threads().min(trials)
        ),
        adapter: None,
    })
}

/// Every trial on the batched GPU engine, chunk by chunk.
pub fn run_batched(
    gpu: &mut GpuEngine,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<SpikeRecord>> {
    let net = &model.net;
    let mut records = (0..trials)
        .map(|_| SpikeRecord::with_capacity(net, steps))
        .collect::<Result<Vec<_>>>()?;
    let mut bufs: Vec<ChunkSpikes> = (0..trials)
        .map(|_| ChunkSpikes::new(net, chunk.min(steps)))
        .collect();
    let mut done = 0;
    while done < steps {
        let n = chunk.min(steps - done);
        for b in &mut bufs {
            b.resize(net, n);
        }
        gpu.run_chunk_trials(&mut bufs)
            .map_err(|e| e.context(format!("steps {done}..{}", done + n)))?;
        for (r, b) in records.iter_mut().zip(&bufs) {
            r.append(b);
        }
        done += n;
        progress(done);
    }
    Ok(records)
}

/// Every trial on the CPU engine, trials spread over threads (each trial
/// single-threaded).
pub fn run_cpu(
    model: &Model,
    inputs: &[InputSource],
    steps: usize,
    chunk: usize,
) -> Result<Vec<SpikeRecord>> {
    let threads = default_threads().clamp(1, inputs.len().max(1));
    let per = inputs.len().div_ceil(threads);
    let parts: Vec<Result<Vec<SpikeRecord>>> = std::thread::scope(|sc| {
        let handles: Vec<_> = inputs
            .chunks(per)
            .map(|part| {
                sc.spawn(move || {
                    part.iter()
                        .map(|input| {
                            let mut e = CpuEngine::with_threads(model, 1)?;
                            simulate(&mut e, &model.net, input, steps, chunk, |_| {})
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Runtime("a trial's thread failed".into())))
            })
            .collect()
    });
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}
