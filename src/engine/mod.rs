//! The engine boundary and the chunked run loop.
//!
//! An [`Engine`] advances every LIF population by a chunk of steps. The host
//! owns the input: [`InputSource::fill`] writes the spikes of every Poisson
//! population for the chunk into a [`ChunkSpikes`], the engine writes the
//! spikes of every LIF population into the same buffer, and [`simulate`]
//! appends it to the [`SpikeRecord`]. How an engine runs a network is its
//! [`plan::Plan`]. The CPU reference ([`cpu::CpuEngine`]) has one twin per
//! GPU kernel family ([`gpu::kernels`]), with the kernels' buffer names.

pub mod cpu;
pub mod gpu;
pub mod plan;

use crate::error::{Error, Result};
use crate::input::{poisson_chunk, purpose, rate_threshold, stream_id};
use crate::network::Model;
use crate::network::Network;
use crate::network::Stimulus;
use crate::record::{ChunkSpikes, SpikeRecord};
use std::sync::Arc;
use std::time::Duration;

pub trait Engine {
    /// What runs the steps, for messages and summary.json ("cpu reference",
    /// or the GPU adapter's name).
    fn describe(&self) -> String;

    /// Runs the next `spikes.steps` steps. On entry `spikes.bits[p]` holds the
    /// input of every Poisson population `p`; on return every LIF
    /// population's spikes are there too.
    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()>;

    /// The membrane potentials after the last completed step, per population
    /// in config order (empty for Poisson populations).
    fn membranes(&mut self) -> Result<Vec<Vec<f32>>>;

    /// True when the engine draws the Poisson input itself (the same
    /// function of seed, neuron and step as the host) and writes it into the
    /// chunk; then the host does not fill it.
    fn generates_input(&self) -> bool {
        false
    }

    /// Per projection: the fixed-point weights of a plastic one as they
    /// are now (pre-major, like `Quantized::wq`), None for the others.
    fn plastic_weights(&mut self) -> Result<Vec<Option<Vec<i32>>>>;

    /// Starts timing every kernel dispatch of the following chunks, where
    /// the engine can (a GPU with timestamps inside compute passes);
    /// returns whether it does.
    fn start_profile(&mut self) -> bool {
        false
    }

    /// What the chunks since [`Engine::start_profile`] spent per kernel,
    /// and stops timing.
    fn take_profile(&mut self) -> Option<Profile> {
        None
    }

    /// What a run split across ranks spent exchanging spikes (None in one
    /// process).
    fn exchanged(&self) -> Option<Exchanged> {
        None
    }
}

/// What the ranks spent exchanging, for summary.json.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Exchanged {
    pub ranks: usize,
    /// Wall time inside the exchanges (waiting for the slowest rank
    /// included).
    pub time: Duration,
    /// Exchanges (collective calls) made.
    pub count: u64,
    /// Bytes this rank sent.
    pub bytes: u64,
}

/// GPU time per kernel over some chunks (`nacc bench --profile`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub steps: usize,
    /// (kernel, nanoseconds inside its dispatches, dispatches), in the
    /// order kernels first ran.
    pub kernels: Vec<(String, f64, usize)>,
    /// Nanoseconds from the first dispatch's start to the last one's end,
    /// summed over the chunks: the kernels' time plus the gaps between
    /// dispatches.
    pub span_ns: f64,
    /// Dispatches that ran but were not timed (beyond the query set).
    pub untimed: usize,
}

/// The error of a membrane that stopped being a finite number (both
/// engines report it so).
pub fn not_finite(
    net: &Network,
    pop: usize,
    neuron: usize,
    step: u64,
    v: Option<f32>,
) -> crate::Error {
    let what = v.map_or("infinite or NaN".to_string(), |v| v.to_string());
    crate::Error::Runtime(format!(
        "the membrane of population `{}` neuron {neuron} became {what} at step {step}; check weights, biases, beta and threshold",
        net.populations.get(pop).map_or("?", |p| p.name.as_str())
    ))
}

/// The input seed of trial `t` of a run with seed `seed`: the seed itself
/// for trial 0, a well-mixed other seed for the others.
pub fn trial_seed(seed: u64, t: usize) -> u64 {
    if t == 0 {
        return seed;
    }
    // two words of the call (t, 0) of the stream "tria"
    let d = crate::input::draw4(seed, 0x7472_6961, t as u32, 0);
    ((d[1] as u64) << 32) | d[0] as u64
}

/// Runs the chunk of steps starting at `first_step`: the host fills the
/// input unless the engine draws it itself.
pub fn run_chunk_from(
    engine: &mut dyn Engine,
    net: &Network,
    input: &InputSource,
    first_step: u64,
    buf: &mut ChunkSpikes,
) -> Result<()> {
    if !engine.generates_input() {
        input.fill(net, first_step, buf);
    }
    engine.run_chunk(buf)
}

/// Patterns switching a Poisson population's rates ([`Stimulus`]).
#[derive(Debug, Clone)]
pub struct StimulusInput {
    pub stim: Stimulus,
    /// Per pattern: the population's integer thresholds while it is shown.
    pub thresholds: Vec<Vec<u32>>,
}

/// Where the spikes of the Poisson populations come from.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// Drawn from the seed, a pure function of (seed, population, neuron, step).
    Generated {
        seed: u64,
        /// Per population: (stream id, per-neuron integer thresholds); empty for LIF.
        streams: Vec<(u32, Vec<u32>)>,
        /// Patterns that change one population's thresholds while shown.
        stimulus: Option<Arc<StimulusInput>>,
    },
    /// Given spikes (from a file): per Poisson population given, its index
    /// and its spikes bit-packed as in [`ChunkSpikes`], for `steps` steps.
    Given {
        steps: usize,
        spikes: Vec<(usize, Vec<u32>)>,
    },
}

impl InputSource {
    /// Trial `t`'s input: the same rates, drawn with [`trial_seed`]
    /// (trial 0 is the run's own seed).
    pub fn generated_trial(model: &Model, t: usize) -> InputSource {
        match InputSource::generated(model) {
            InputSource::Generated {
                seed,
                streams,
                stimulus,
            } => InputSource::Generated {
                seed: trial_seed(seed, t),
                streams,
                stimulus,
            },
            given => given,
        }
    }

    pub fn generated(model: &Model) -> InputSource {
        let streams = model
            .net
            .populations
            .iter()
            .zip(&model.rates)
            .map(|(p, rates)| {
                (
                    stream_id(&p.name, purpose::SPIKE),
                    rates.iter().map(|&r| rate_threshold(r)).collect(),
                )
            })
            .collect::<Vec<(u32, Vec<u32>)>>();
        let stimulus = model.net.stimulus.as_ref().map(|st| {
            let base = &streams[st.population].1;
            let thresholds = st
                .patterns
                .iter()
                .map(|pat| {
                    let mut t = base.clone();
                    t[pat.neurons.clone()].fill(rate_threshold(pat.rate));
                    t
                })
                .collect();
            Arc::new(StimulusInput {
                stim: st.clone(),
                thresholds,
            })
        });
        InputSource::Generated {
            seed: model.seed,
            streams,
            stimulus,
        }
    }

    /// Writes the input of steps `first_step ..` into `spikes`.
    pub fn fill(&self, net: &Network, first_step: u64, spikes: &mut ChunkSpikes) {
        match self {
            InputSource::Generated {
                seed,
                streams,
                stimulus,
            } => {
                for (p, pop) in net.populations.iter().enumerate() {
                    if let Some(si) = stimulus.as_deref().filter(|si| si.stim.population == p) {
                        // a step at a time: the thresholds of the pattern shown, if any
                        let (stream, base) = &streams[p];
                        let wps = pop.words_per_step();
                        for s in 0..spikes.steps {
                            let step = first_step + s as u64;
                            let thr = si.stim.pattern_at(step).map_or(base, |k| &si.thresholds[k]);
                            let out = &mut spikes.bits[p][s * wps..(s + 1) * wps];
                            poisson_chunk(*seed, *stream, thr, step, 1, out);
                        }
                    } else if pop.is_poisson() {
                        let (stream, thr) = &streams[p];
                        poisson_chunk(
                            *seed,
                            *stream,
                            thr,
                            first_step,
                            spikes.steps,
                            &mut spikes.bits[p],
                        );
                    }
                }
            }
            InputSource::Given { spikes: given, .. } => {
                for (pop, bits) in given {
                    let wps = net.populations[*pop].words_per_step();
                    let start = first_step as usize * wps;
                    let len = spikes.steps * wps;
                    spikes.bits[*pop].copy_from_slice(&bits[start..start + len]);
                }
            }
        }
    }
}

/// Runs `steps` steps in chunks of `chunk` steps, calling `progress` with the
/// number of steps done after each chunk.
pub fn simulate(
    engine: &mut dyn Engine,
    net: &Network,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    progress: impl FnMut(usize),
) -> Result<SpikeRecord> {
    to_the_end(simulate_until(
        engine,
        net,
        input,
        steps,
        chunk,
        progress,
        &|| None,
    )?)
}

/// The result of a run that nothing asked to stop: an engine failure
/// becomes the error.
pub fn to_the_end<T>((value, why): (T, Option<Stop>)) -> Result<T> {
    match why {
        Some(Stop::Failed(e)) => Err(e),
        _ => Ok(value),
    }
}

/// Why a run ended before its last step.
#[derive(Debug)]
pub enum Stop {
    /// `stop` asked for it (a signal's name).
    Signal(String),
    /// The engine failed in the next chunk (a non-finite membrane, a lost
    /// device): the record holds the chunks before it.
    Failed(Error),
}

/// [`simulate`], asking `stop` after every chunk whether to end early, and
/// keeping the completed chunks when the engine fails: the record holds
/// them and the reason comes back with it.
pub fn simulate_until(
    engine: &mut dyn Engine,
    net: &Network,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    progress: impl FnMut(usize),
    stop: &dyn Fn() -> Option<String>,
) -> Result<(SpikeRecord, Option<Stop>)> {
    let mut record = SpikeRecord::with_capacity(net, steps)?;
    let (_, why) = simulate_chunks(
        engine,
        net,
        input,
        steps,
        chunk,
        &mut |c| {
            record.append(c);
            Ok(())
        },
        progress,
        stop,
    )?;
    Ok((record, why))
}

#[allow(clippy::too_many_arguments)]
/// The run loop: chunk after chunk, each handed to `on_chunk` (which keeps
/// or writes it), `stop` asked after every chunk; an engine failure ends
/// the loop with the chunks before it done. Returns the steps done.
pub fn simulate_chunks(
    engine: &mut dyn Engine,
    net: &Network,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    on_chunk: &mut dyn FnMut(&ChunkSpikes) -> Result<()>,
    progress: impl FnMut(usize),
    stop: &dyn Fn() -> Option<String>,
) -> Result<(usize, Option<Stop>)> {
    let mut buf = ChunkSpikes::new(net, chunk.min(steps));
    run_chunks(steps, chunk, progress, stop, |done, n| {
        buf.resize(net, n);
        if let Err(e) = run_chunk_from(engine, net, input, done as u64, &mut buf) {
            return Ok(Err(e));
        }
        on_chunk(&buf)?;
        Ok(Ok(()))
    })
}

/// The chunk loop every run shares: `next(done, n)` runs the `n` steps after
/// the `done` completed ones. `Ok(Err(e))` from it is an engine failure,
/// which ends the loop with the steps before it; `Err` is returned as it is.
/// `progress` hears the steps done after every chunk and `stop` is asked
/// whether to end there. Returns the steps done and why the loop ended early.
pub fn run_chunks(
    steps: usize,
    chunk: usize,
    mut progress: impl FnMut(usize),
    stop: &dyn Fn() -> Option<String>,
    mut next: impl FnMut(usize, usize) -> Result<Result<()>>,
) -> Result<(usize, Option<Stop>)> {
    if chunk == 0 {
        return Err(Error::Input("chunk size must be >= 1".into()));
    }
    let mut done = 0usize;
    while done < steps {
        let n = chunk.min(steps - done);
        if let Err(e) = next(done, n)? {
            return Ok((done, Some(Stop::Failed(e))));
        }
        done += n;
        progress(done);
        if done < steps
            && let Some(reason) = stop()
        {
            return Ok((done, Some(Stop::Signal(reason))));
        }
    }
    Ok((done, None))
}
