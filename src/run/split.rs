//! What `nacc run` does differently when it is one of several ranks
//! (`mpirun -n R nacc run`, [`crate::ranks`]): every rank steps, rank 0
//! alone writes; every check that can fail on one rank is agreed by all.

use super::{RunOptions, engine_on};
use crate::engine::gpu::GpuContext;
use crate::engine::{Engine, Exchanged, InputSource};
use crate::error::Result;
use crate::network::Model;
use crate::ranks::{self, Ranks, SplitEngine};
use crate::trials::{StopCheck, TrialRun};
use std::sync::Arc;

/// The ranks of the run, when there are several.
pub(super) fn ranks_of(opts: &RunOptions) -> Option<&Ranks> {
    opts.ranks.as_ref().filter(|c| c.size() > 1)
}

/// Whether this process writes the outputs: rank 0, or the only process.
pub(super) fn writes(opts: &RunOptions) -> bool {
    opts.ranks.as_ref().is_none_or(|c| c.rank() == 0)
}

/// `r`, agreed by every rank ([`ranks::agree`]).
pub(super) fn together<T>(opts: &RunOptions, r: Result<T>) -> Result<T> {
    ranks::agree(opts.ranks.as_ref(), r)
}

/// The engine of this rank: its share of the network ([`SplitEngine`],
/// its stages on the GPU or the CPU engine) when there are several ranks.
pub(super) fn engine(
    opts: &RunOptions,
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    input: &InputSource,
    chunk: usize,
) -> Result<(Box<dyn Engine>, Option<String>)> {
    let Some(c) = ranks_of(opts) else {
        return engine_on(gpu, model, input, chunk, &opts.tuning);
    };
    let make = |m: &Model, given: &InputSource, steps: usize| {
        engine_on(gpu, m, given, steps, &opts.tuning).map(|e| e.0)
    };
    let e = SplitEngine::new(c.clone(), model, chunk, &make)?;
    Ok((Box::new(e), gpu.map(|g| g.describe())))
}

/// `--trials`: every trial here in one process; split over the ranks
/// (none exchanged while they run) when there are several.
#[allow(clippy::too_many_arguments)]
pub(super) fn trials(
    opts: &RunOptions,
    gpu: Option<&Arc<GpuContext>>,
    model: &Model,
    steps: usize,
    chunk: usize,
    progress: impl FnMut(usize),
    stop: StopCheck,
) -> Result<(TrialRun, Option<Exchanged>)> {
    let tuning = &opts.tuning;
    let Some(c) = ranks_of(opts) else {
        let r = crate::trials::run(
            gpu,
            model,
            opts.trials,
            steps,
            chunk,
            tuning,
            progress,
            stop,
        )?;
        return Ok((r, None));
    };
    let these = ranks::trials::share(opts.trials, c.size(), c.rank());
    let (first, count) = (these.start, these.len());
    let mine = match these.is_empty() {
        true => Ok(None),
        false => crate::trials::run_range(gpu, model, these, steps, chunk, tuning, progress, stop)
            .map(Some),
    };
    let mut spent = Exchanged {
        ranks: c.size(),
        ..Exchanged::default()
    };
    let mut run = ranks::trials::gather_trials(c, &model.net, mine, &mut spent)?;
    run.engine = format!(
        "{} (trials {first}..{} of {} on rank {} of {})",
        run.engine,
        first + count,
        opts.trials,
        c.rank(),
        c.size()
    );
    Ok((run, Some(spent)))
}

/// The signal that stops the run, agreed by every rank after every chunk
/// (each rank asks `local`).
pub(super) fn agreed(opts: &RunOptions, local: usize) -> usize {
    match ranks_of(opts) {
        Some(c) => ranks::agreed_signal(&**c, local),
        None => local,
    }
}
