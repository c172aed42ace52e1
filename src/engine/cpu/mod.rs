//! The CPU reference engine: docs/arithmetic.md §2 exactly.
//!
//! Written to be read beside the WGSL kernels: each kernel family has its
//! twin here, in a file of the same name, with the kernels' buffer names
//! and order ([`synapse_accumulate`], [`synapse_scatter`],
//! [`synapse_gather`], [`lif_update`], [`neuron_update`], [`plasticity`],
//! [`state_record`] and [`poisson_input`]). [`CpuEngine::run_chunk`] walks the engine's
//! [`Plan`] step by step, in the order the GPU dispatches the step
//! schedule. The sums of large projections are split across the
//! persistent thread pool ([`Threads`]); integer sums make the result the
//! same whatever the thread count.

pub mod lif_update;
pub mod neuron_update;
pub mod plasticity;
pub mod poisson_input;
pub mod state_record;
pub mod synapse_accumulate;
pub mod synapse_delay;
pub mod synapse_gather;
pub mod synapse_scatter;

use super::plan::{BLOCK_STEPS, PARALLEL_MIN_SYNAPSES, Plan, Sums};
use super::{Engine, not_finite};
use crate::dopamine::Clock;
use crate::error::Result;
use crate::network::neuron::{ModelConsts, SynapseConsts, mg_table};
use crate::network::{Delay, Model, Network, PlasticConsts, Quantized};
use crate::network::{StateVar, SynapseKind};
use crate::record::ChunkSpikes;
use crate::threads::Threads;
use crate::tuning::CpuOptions;
use lif_update::lif_update;
use neuron_update::{Incoming, neuron_update, split};
use plasticity::{PLASTIC_PARALLEL_MIN_SYNAPSES, PlasticState, plasticity_step};
use state_record::state_record;
use std::sync::Arc;
use synapse_accumulate::{sum_block, synapse_accumulate};
use synapse_delay::{Ring, SpikeRing, scatter_delayed};
use synapse_gather::gather_block;
use synapse_scatter::synapse_scatter;

/// One projection in the form the CPU kernels read.
pub struct ProjectionState {
    pub pre: usize,
    pub sign: i32,
    /// Shared by the engines of several trials.
    pub q: Arc<Quantized>,
    /// `bias[post]`, zero when the projection has no bias.
    pub bias: Vec<f32>,
    /// The integer synaptic sum of the current step, one per post neuron.
    pub acc: Vec<i32>,
    /// Per thread: partial sums of a sparse projection.
    pub scratch: Vec<Vec<i32>>,
    /// Per thread, for its range of `block_per` posts: the sums of the
    /// steps of the current block, step-major (see
    /// [`synapse_accumulate::synapse_accumulate_steps`]).
    pub block: Vec<Vec<i32>>,
    /// Posts a thread's range of `block` holds (the last may hold fewer).
    pub block_per: usize,
    /// Traces and eligibilities of a plastic projection.
    pub plastic: Option<PlasticState>,
    /// A projection gathered by post: each pre neuron's steps of the block
    /// (16 bits: the table of a 500 000-neuron population fits a 1 MB cache).
    pub masks: Vec<u16>,
    /// A delayed projection: its sums of later steps, and its delay
    /// (every synapse's, unless the weights carry their own).
    pub ring: Option<Ring>,
    pub delay: Delay,
    /// A delayed plastic projection: its pre neurons' spikes as they arrive.
    pub arrivals: Option<SpikeRing>,
    /// Its synapse's constants, and per post neuron its current or
    /// conductance (empty for an instant synapse); NMDA's table of B(v).
    pub kin: SynapseConsts,
    pub syn: Vec<f32>,
    pub table: Option<Arc<Vec<f32>>>,
}

pub struct CpuEngine {
    net: Network,
    /// How each projection sums (walked step by step).
    plan: Plan,
    projections: Vec<ProjectionState>,
    /// Per population: its incoming projections, in config order.
    incoming: Vec<Vec<usize>>,
    /// Per population: its delayed projections (summed after its update).
    outgoing: Vec<Vec<usize>>,
    /// Per population: membrane potentials (empty for Poisson).
    v: Vec<Vec<f32>>,
    /// Per population in physical units: its constants, and Izhikevich's
    /// recovery variable or iaf's refractory counter per neuron.
    consts: Vec<Option<ModelConsts>>,
    u: Vec<Vec<f32>>,
    /// The recorded variables (`Network::probes`).
    probes: Vec<(usize, StateVar)>,
    /// Per population: the input current of the step being computed.
    current: Vec<Vec<f32>>,
    /// Per population: the spikes of the last completed step, bit-packed.
    spikes_last: Vec<Vec<u32>>,
    /// Where the synaptic sums of large projections run.
    threads: Threads,
    /// Steps completed: the absolute step of the next chunk's first step.
    steps_done: u64,
    /// d(t), gains and learning factors, when the network has dopamine
    /// modulation or plasticity; `gains` and `etas` hold the current step's.
    clock: Option<Clock>,
    gains: Vec<f32>,
    etas: Vec<f32>,
}

/// A neuron's sub-step with one synaptic term costs about this many
/// synaptic additions (for [`threads_for`]: a population's update is
/// spread over the threads when it costs as much as a parallel sum).
const NEURON_WORK: usize = 8;

/// Threads the sums of a projection of `synapses` synapses are split across.
fn threads_for(threads: &Threads, synapses: usize) -> usize {
    if synapses >= PARALLEL_MIN_SYNAPSES {
        threads.count()
    } else {
        1
    }
}

impl CpuEngine {
    /// The engine on the global thread pool, with the default plan.
    pub fn new(model: &Model) -> Result<CpuEngine> {
        CpuEngine::with_options(model, &CpuOptions::default(), Threads::global())
    }

    /// Integer sums make the result the same whatever `threads` is.
    pub fn with_threads(model: &Model, threads: usize) -> Result<CpuEngine> {
        CpuEngine::with_options(model, &CpuOptions::default(), Threads::new(threads)?)
    }

    /// The engine with the plan `opts` asks for (every plan gives the same
    /// spikes; tests use it to reach the blocked and gathered sums on small
    /// networks).
    pub fn with_options(model: &Model, opts: &CpuOptions, threads: Threads) -> Result<CpuEngine> {
        let plan = Plan::cpu(&model.net, opts);
        let quantized: Vec<Arc<Quantized>> =
            quantize(model, &plan)?.into_iter().map(Arc::new).collect();
        Ok(CpuEngine::with_quantized(model, &quantized, &plan, threads))
    }

    /// An engine on weights already in fixed point for `plan` (shared
    /// between trials).
    pub fn with_quantized(
        model: &Model,
        quantized: &[Arc<Quantized>],
        plan: &Plan,
        threads: Threads,
    ) -> CpuEngine {
        let net = model.net.clone();
        let projections = quantized
            .iter()
            .cloned()
            .zip(&net.projections)
            .zip(&model.weights)
            .zip(&plan.rings)
            .map(|(((q, p), w), &slots)| ProjectionState {
                pre: p.pre,
                sign: p.sign,
                acc: vec![0; q.n_post],
                scratch: Vec::new(),
                block: Vec::new(),
                block_per: 0,
                masks: Vec::new(),
                ring: (slots > 0).then(|| Ring::new(slots, q.n_post)),
                delay: p.delay,
                arrivals: (slots > 0 && p.plasticity.is_some())
                    .then(|| SpikeRing::new(slots, net.populations[p.pre].words_per_step())),
                bias: w.b.clone(),
                kin: p.synapse.consts(net.dt_ms),
                syn: match p.synapse.has_state() {
                    true => vec![0.0; q.n_post],
                    false => Vec::new(),
                },
                table: (p.synapse.kind == SynapseKind::Nmda)
                    .then(|| Arc::new(mg_table(p.synapse.mg_mm))),
                plastic: p.plasticity.as_ref().zip(q.bounds).map(|(pl, b)| {
                    PlasticState::new(PlasticConsts::new(pl, net.dt_ms, b), q.n_pre, q.n_post)
                }),
                q,
            })
            .collect();
        let clock = Clock::for_engine(&net, quantized);
        let gain_row = crate::dopamine::gain_row(&net);
        let probes = net.probes();
        let n_proj = net.projections.len();
        let incoming = (0..net.populations.len())
            .map(|p| net.incoming(p).map(|(j, _)| j).collect())
            .collect();
        let outgoing = (0..net.populations.len())
            .map(|p| net.delayed_out(p).collect())
            .collect();
        let v: Vec<Vec<f32>> = net
            .populations
            .iter()
            .map(|p| match p.is_poisson() {
                true => Vec::new(),
                false => vec![p.v_init(); p.size],
            })
            .collect();
        let consts: Vec<_> = net
            .populations
            .iter()
            .map(|p| p.physical(net.dt_ms))
            .collect();
        let u = net
            .populations
            .iter()
            .map(|p| match p.is_physical() {
                true => vec![p.u_init(); p.size],
                false => Vec::new(),
            })
            .collect();
        let spikes_last = net
            .populations
            .iter()
            .map(|p| vec![0; p.words_per_step()])
            .collect();
        CpuEngine {
            net,
            plan: plan.clone(),
            projections,
            incoming,
            outgoing,
            current: v.clone(),
            v,
            consts,
            u,
            probes,
            spikes_last,
            threads,
            steps_done: 0,
            clock,
            gains: vec![1.0; gain_row],
            etas: vec![0.0; n_proj],
        }
    }

    /// The plan the engine walks.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// ProjectionState `j`'s sums of step `s` of the chunk into its `acc`.
    fn sums(&mut self, j: usize, s: usize, spikes: &ChunkSpikes) {
        let proj = &mut self.projections[j];
        let wps = self.net.populations[proj.pre].words_per_step();
        let pre_spikes = &spikes.bits[proj.pre][s * wps..(s + 1) * wps];
        let threads = &self.threads;
        match self.plan.sums[j] {
            // a block's sums at its first step, from a Poisson population
            // (its input is known for the whole chunk); then a slot a step.
            // Gathered from a LIF population: a step at a time.
            sums @ (Sums::DenseBlock | Sums::Gather) => {
                let blocked = self.net.populations[proj.pre].is_poisson();
                debug_assert!(blocked || sums == Sums::Gather);
                if !blocked || s % BLOCK_STEPS == 0 {
                    let t_n = match blocked {
                        true => BLOCK_STEPS.min(spikes.steps - s),
                        false => 1,
                    };
                    let rows = &spikes.bits[proj.pre][s * wps..(s + t_n) * wps];
                    match sums {
                        Sums::Gather => gather_block(proj, rows, wps, t_n, threads),
                        _ => sum_block(proj, rows, wps, t_n, threads),
                    }
                }
                proj.take_slot(if blocked { s % BLOCK_STEPS } else { 0 });
            }
            Sums::Scatter | Sums::ScatterBlock => scatter(proj, pre_spikes, threads),
            Sums::Dense => {
                let (wq, n_post) = (&proj.q.wq, proj.q.n_post);
                if threads_for(threads, wq.len()) > 1 {
                    // each thread sums a contiguous range of post neurons
                    let per = n_post.div_ceil(threads.count());
                    threads.scope(|sc| {
                        for (k, acc) in proj.acc.chunks_mut(per).enumerate() {
                            sc.spawn(move |_| {
                                synapse_accumulate(wq, n_post, k * per, pre_spikes, acc)
                            });
                        }
                    });
                } else {
                    synapse_accumulate(wq, n_post, 0, pre_spikes, &mut proj.acc);
                }
            }
        }
    }

    /// Population `p`'s membranes at step `s` of the chunk (its incoming
    /// sums done); a membrane no longer finite is the error.
    fn update(&mut self, p: usize, s: usize, spikes: &mut ChunkSpikes) -> Result<()> {
        let wps = self.net.populations[p].words_per_step();
        let (before, from_s) = spikes.bits[p].split_at_mut(s * wps);
        let gains = self.clock.is_some().then_some(&self.gains[..]);
        let bad = if let Some(m) = &self.consts[p] {
            let n_proj = self.net.projections.len();
            let params = match self.net.populations[p].da_effects() {
                Some(_) => Some(self.gains[n_proj + 3 * p..][..3].try_into().expect("3")),
                None => None,
            };
            let mut views = Incoming::of(&mut self.projections, &self.incoming[p]);
            let (v, u, out) = (&mut self.v[p], &mut self.u[p], &mut from_s[..wps]);
            // every neuron on its own: threads take ranges of whole words
            let work = v.len() * m.substeps as usize * (views.len() + 1) * NEURON_WORK;
            match threads_for(&self.threads, work) {
                1 => neuron_update(m, params, &mut views, gains, v, u, out),
                t => {
                    let per = v.len().div_ceil(t).div_ceil(32) * 32;
                    let parts = split(views, v.len(), per);
                    let mut bad = vec![None; parts.len()];
                    self.threads.scope(|sc| {
                        let chunks = v.chunks_mut(per).zip(u.chunks_mut(per));
                        for (((mut views, (v, u)), out), bad) in parts
                            .into_iter()
                            .zip(chunks)
                            .zip(out.chunks_mut(per / 32))
                            .zip(bad.iter_mut())
                        {
                            sc.spawn(move |_| {
                                *bad = neuron_update(m, params, &mut views, gains, v, u, out)
                            });
                        }
                    });
                    // the first neuron whose membrane is not finite
                    bad.iter()
                        .enumerate()
                        .find_map(|(k, b)| b.map(|n| k * per + n))
                }
            }
        } else {
            let Some(lif) = self.net.populations[p].lif().copied() else {
                return Ok(());
            };
            let spikes_prev = match s {
                0 => &self.spikes_last[p][..],
                _ => &before[(s - 1) * wps..],
            };
            lif_update(
                &lif,
                &self.projections,
                gains,
                &self.incoming[p],
                &mut self.v[p],
                &mut self.current[p],
                spikes_prev,
                &mut from_s[..wps],
            )
        };
        match bad {
            Some(n) => {
                let step = self.steps_done + s as u64;
                Err(not_finite(&self.net, p, n, step, Some(self.v[p][n])))
            }
            None => Ok(()),
        }
    }

    /// Delayed projection `j`'s sums of the spikes of step `s` of the chunk
    /// into its ring.
    fn push(&mut self, j: usize, s: usize, spikes: &ChunkSpikes) {
        let step = self.steps_done + s as u64;
        if self.projections[j].q.delays.is_none() {
            // every synapse's delay alike: the step's sums as without one
            self.sums(j, s, spikes);
            let proj = &mut self.projections[j];
            let ring = proj.ring.as_mut().expect("a delayed projection");
            ring.push(step, proj.delay.lo, &proj.acc);
            return;
        }
        let proj = &mut self.projections[j];
        let wps = self.net.populations[proj.pre].words_per_step();
        let pre_spikes = &spikes.bits[proj.pre][s * wps..(s + 1) * wps];
        let q = &*proj.q;
        let (Some(pm), Some(delays)) = (&q.sparse, &q.delays) else {
            unreachable!("per-synapse delays are held pre-major");
        };
        let ring = proj.ring.as_mut().expect("a delayed projection");
        let synapses = (&pm.pre_ptr[..], &pm.post[..], &q.wq[..], &delays[..]);
        let threads = match threads_for(&self.threads, q.wq.len()) {
            1 => &Threads::SINGLE,
            _ => &self.threads,
        };
        let range = (proj.delay.lo, proj.delay.hi);
        scatter_delayed(ring, synapses, pre_spikes, step, range, threads);
    }

    /// Every plastic projection's update at step `s`, once every population
    /// has its spikes of the step.
    fn learn(&mut self, s: usize, spikes: &ChunkSpikes) {
        for (j, proj) in self.projections.iter_mut().enumerate() {
            let Some(st) = &mut proj.plastic else {
                continue;
            };
            let post = self.net.projections[j].post;
            let bits = |pop: usize| {
                let wps = self.net.populations[pop].words_per_step();
                &spikes.bits[pop][s * wps..(s + 1) * wps]
            };
            let wq = &mut Arc::make_mut(&mut proj.q).wq;
            let threads = match wq.len() >= PLASTIC_PARALLEL_MIN_SYNAPSES {
                true => &self.threads,
                false => &Threads::SINGLE,
            };
            // the pre spikes that arrive at this step (docs/arithmetic.md §4)
            let pre = match &mut proj.arrivals {
                Some(a) => a.arrived(self.steps_done + s as u64, proj.delay.lo, bits(proj.pre)),
                None => bits(proj.pre),
            };
            plasticity_step(st, wq, pre, bits(post), self.etas[j], threads);
        }
    }
}

/// A sparse projection's sums of one step: each thread scatters the spikes
/// of its share of words into its own sums, which are then added.
fn scatter(proj: &mut ProjectionState, pre_spikes: &[u32], threads: &Threads) {
    let (wq, n_post) = (&proj.q.wq, proj.q.n_post);
    let Some(pm) = &proj.q.sparse else {
        unreachable!("a scattered projection is held pre-major");
    };
    let t = threads_for(threads, wq.len());
    if t == 1 {
        synapse_scatter(&pm.pre_ptr, &pm.post, wq, pre_spikes, 0, &mut proj.acc);
        return;
    }
    proj.scratch.resize_with(t, || vec![0; n_post]);
    let per = pre_spikes.len().div_ceil(t);
    threads.scope(|sc| {
        for (k, part) in proj.scratch.iter_mut().enumerate() {
            let words =
                &pre_spikes[(k * per).min(pre_spikes.len())..((k + 1) * per).min(pre_spikes.len())];
            sc.spawn(move |_| synapse_scatter(&pm.pre_ptr, &pm.post, wq, words, k * per, part));
        }
    });
    proj.acc.fill(0);
    for part in &proj.scratch {
        for (a, &x) in proj.acc.iter_mut().zip(part) {
            *a = a.wrapping_add(x);
        }
    }
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        let simd = crate::simd::describe();
        match self.threads.count() {
            1 => format!("cpu reference (1 thread, {simd})"),
            t => format!("cpu reference ({t} threads, {simd})"),
        }
    }

    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()> {
        for s in 0..spikes.steps {
            if let Some(c) = &mut self.clock {
                c.next(&mut self.gains, &mut self.etas);
            }
            for i in 0..self.net.order.len() {
                let p = self.net.order[i];
                if !self.net.populations[p].is_poisson() {
                    for k in 0..self.incoming[p].len() {
                        let j = self.incoming[p][k];
                        let proj = &mut self.projections[j];
                        match &mut proj.ring {
                            // what arrives now, summed when it was emitted
                            Some(ring) => ring.take(self.steps_done + s as u64, &mut proj.acc),
                            None => self.sums(j, s, spikes),
                        }
                    }
                    self.update(p, s, spikes)?;
                }
                // its delayed projections' sums of the step, into the slots
                // of the steps they arrive at (this one's for a synapse of
                // delay 0: its post comes later in the order)
                for k in 0..self.outgoing[p].len() {
                    self.push(self.outgoing[p][k], s, spikes);
                }
            }
            self.learn(s, spikes);
            if !self.probes.is_empty() {
                let step = self.steps_done + s as u64;
                let (v, u) = (&self.v[..], &self.u[..]);
                state_record(
                    &self.net,
                    &self.probes,
                    step,
                    (v, u),
                    &self.projections,
                    &mut spikes.state,
                );
            }
        }
        self.steps_done += spikes.steps as u64;
        if spikes.steps > 0 {
            for (p, last) in self.spikes_last.iter_mut().enumerate() {
                let wps = last.len();
                last.copy_from_slice(&spikes.bits[p][(spikes.steps - 1) * wps..spikes.steps * wps]);
            }
        }
        Ok(())
    }

    fn membranes(&mut self) -> Result<Vec<Vec<f32>>> {
        Ok(self.v.clone())
    }

    fn plastic_weights(&mut self) -> Result<Vec<Option<Vec<i32>>>> {
        Ok(self
            .projections
            .iter()
            .map(|p| p.plastic.as_ref().map(|_| p.q.wq.clone()))
            .collect())
    }
}

impl ProjectionState {
    /// Step `t` of the block's sums (`block`) into `acc`.
    fn take_slot(&mut self, t: usize) {
        let (per, n_post) = (self.block_per, self.q.n_post);
        for (k, part) in self.block.iter().enumerate() {
            let len = per.min(n_post - k * per);
            self.acc[k * per..][..len].copy_from_slice(&part[t * len..][..len]);
        }
    }

    /// Fills `block` with a block's sums: its posts in parts of
    /// `block_per`, one part per thread (for a projection large enough),
    /// each `BLOCK_STEPS` rows of sums that `sums(first post, part)` writes.
    fn sum_in_parts(
        &mut self,
        threads: &Threads,
        sums: impl Fn(&Quantized, usize, &mut Vec<i32>) + Sync,
    ) {
        let n_post = self.q.n_post;
        let per = n_post
            .div_ceil(threads_for(threads, self.q.wq.len()))
            .max(1);
        self.block_per = per;
        self.block.resize_with(n_post.div_ceil(per), Vec::new);
        for (k, part) in self.block.iter_mut().enumerate() {
            part.resize(BLOCK_STEPS * per.min(n_post - k * per), 0);
        }
        let q = &*self.q;
        if let [part] = &mut self.block[..] {
            sums(q, 0, part);
        } else {
            let sums = &sums;
            threads.scope(|sc| {
                for (k, part) in self.block.iter_mut().enumerate() {
                    sc.spawn(move |_| sums(q, k * per, part));
                }
            });
        }
    }
}

/// The projections of `model` in the form the CPU engine reads for `plan`:
/// by post where it gathers, else pre-major.
pub fn quantize(model: &Model, plan: &Plan) -> Result<Vec<Quantized>> {
    model.quantize_for(&plan.gathered())
}
