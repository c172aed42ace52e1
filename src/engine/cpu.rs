//! The CPU reference engine: docs/arithmetic.md §2 exactly.
//!
//! Written to be read beside the WGSL kernels: one function per kernel
//! ([`synapse_accumulate`], [`synapse_scatter`], [`lif_update`]; the input
//! is `input::poisson_chunk`) with the kernels' buffer names and order,
//! called in the order the GPU dispatches them. The sums of large
//! projections are split across threads; integer sums make the result the
//! same whatever the thread count. Large dense projections from Poisson
//! populations sum [`BLOCK_STEPS`] steps at once
//! ([`synapse_accumulate_steps`], twin of the kernel `synapse_block`): same
//! integers, fewer bytes read.

use super::{BLOCK_MIN_SYNAPSES, BLOCK_STEPS, Engine, sums_in_blocks};
use crate::config::{LifParams, Network, Reset};
use crate::error::Result;
use crate::network::{Model, Quantized};
use crate::record::ChunkSpikes;
use crate::reward::{
    Clock, PLASTIC_PARALLEL_MIN_SYNAPSES, PlasticConsts, PlasticState, plasticity_step,
};
use crate::simd::avx2_twin;
use std::sync::Arc;

/// One projection in the form the kernels read.
pub struct Projection {
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
    /// steps of the current block, step-major (see [`synapse_accumulate_steps`]).
    pub block: Vec<Vec<i32>>,
    /// Posts a thread's range of `block` holds (the last may hold fewer).
    pub block_per: usize,
    /// Traces and eligibilities of a plastic projection.
    pub plastic: Option<PlasticState>,
    /// A projection gathered by post: each pre neuron's steps of the block
    /// (16 bits: the table of a 500 000-neuron population fits a 1 MB cache).
    pub masks: Vec<u16>,
}

pub struct CpuEngine {
    net: Network,
    projections: Vec<Projection>,
    /// Per population: its incoming projections, in config order.
    incoming: Vec<Vec<usize>>,
    /// Per population: membrane potentials (empty for Poisson).
    v: Vec<Vec<f32>>,
    /// Per population: the input current of the step being computed.
    current: Vec<Vec<f32>>,
    /// Per population: the spikes of the last completed step, bit-packed.
    spikes_last: Vec<Vec<u32>>,
    /// Threads for the synaptic sums of large projections.
    threads: usize,
    /// Steps completed: the absolute step of the next chunk's first step.
    steps_done: u64,
    /// Dense projections from Poisson populations with at least this many
    /// synapses sum [`BLOCK_STEPS`] steps at once.
    block_min_synapses: usize,
    /// d(t), gains and learning factors, when the network has dopamine
    /// modulation or plasticity; `gains` and `etas` hold the current step's.
    clock: Option<Clock>,
    gains: Vec<f32>,
    etas: Vec<f32>,
}

/// Projections of at least this many synapses split their sums across
/// threads (below it, starting threads costs more than it saves).
pub const PARALLEL_MIN_SYNAPSES: usize = 1 << 20;

/// Posts a tile of [`synapse_accumulate_steps`] holds: `BLOCK_STEPS` sums of
/// 256 posts are 16 KiB, half an L1 cache, the rest for the weights. On the
/// dev machine 256 and 512 ran alike (~600 steps/s on `large`), 128 and
/// 1 024 ran 25 % slower (benches/NOTES.md).
const TILE_POSTS: usize = 256;

/// How many rows ahead [`synapse_accumulate_steps`] prefetches: a row's
/// tile is a short run of a long stride, which the hardware prefetcher
/// does not anticipate. 1 to 4 ran alike, 8 and 16 slower.
const PREFETCH_AHEAD: usize = 2;

/// Threads the sums of a projection of `synapses` synapses are split across.
fn threads_for(threads: usize, synapses: usize) -> usize {
    if synapses >= PARALLEL_MIN_SYNAPSES {
        threads
    } else {
        1
    }
}

/// Threads the CPU engine uses: `NACC_THREADS`, else every core.
pub fn default_threads() -> usize {
    std::env::var("NACC_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|&t| t >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl CpuEngine {
    /// The engine with [`default_threads`] threads.
    pub fn new(model: &Model) -> Result<CpuEngine> {
        CpuEngine::with_threads(model, default_threads())
    }

    /// Integer sums make the result the same whatever `threads` is.
    pub fn with_threads(model: &Model, threads: usize) -> Result<CpuEngine> {
        let quantized: Vec<Arc<Quantized>> = quantize(model)?.into_iter().map(Arc::new).collect();
        Ok(CpuEngine::with_quantized(model, &quantized, threads))
    }

    /// An engine on weights already in fixed point (shared between trials).
    pub fn with_quantized(
        model: &Model,
        quantized: &[Arc<Quantized>],
        threads: usize,
    ) -> CpuEngine {
        let net = model.net.clone();
        let projections = quantized
            .iter()
            .cloned()
            .zip(&net.projections)
            .zip(&model.weights)
            .map(|((q, p), w)| Projection {
                pre: p.pre,
                sign: p.sign,
                acc: vec![0; q.n_post],
                scratch: Vec::new(),
                block: Vec::new(),
                block_per: 0,
                masks: Vec::new(),
                bias: w.b.clone(),
                plastic: p.plasticity.as_ref().zip(q.bounds).map(|(pl, b)| {
                    PlasticState::new(PlasticConsts::new(pl, net.dt_ms, b), q.n_pre, q.n_post)
                }),
                q,
            })
            .collect();
        let clock = Clock::for_engine(&net, quantized);
        let n_proj = net.projections.len();
        let incoming = (0..net.populations.len())
            .map(|p| net.incoming(p).map(|(j, _)| j).collect())
            .collect();
        let v: Vec<Vec<f32>> = net
            .populations
            .iter()
            .map(|p| {
                if p.is_poisson() {
                    Vec::new()
                } else {
                    vec![0.0; p.size]
                }
            })
            .collect();
        let spikes_last = net
            .populations
            .iter()
            .map(|p| vec![0; p.words_per_step()])
            .collect();
        CpuEngine {
            net,
            projections,
            incoming,
            current: v.clone(),
            v,
            spikes_last,
            threads: threads.max(1),
            steps_done: 0,
            block_min_synapses: BLOCK_MIN_SYNAPSES,
            clock,
            gains: vec![1.0; n_proj],
            etas: vec![0.0; n_proj],
        }
    }

    /// Dense projections from Poisson populations with at least `n`
    /// synapses sum [`BLOCK_STEPS`] steps at once (default:
    /// [`BLOCK_MIN_SYNAPSES`]; `usize::MAX`: never). The result is the
    /// same whatever `n` is (tested); the tests use it to reach the blocked
    /// sums on small networks.
    pub fn set_block_min_synapses(&mut self, n: usize) {
        self.block_min_synapses = n;
    }
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        let simd = crate::simd::describe();
        match self.threads {
            1 => format!("cpu reference (1 thread, {simd})"),
            t => format!("cpu reference ({t} threads, {simd})"),
        }
    }

    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()> {
        for s in 0..spikes.steps {
            if let Some(c) = &mut self.clock {
                c.next(&mut self.gains, &mut self.etas);
            }
            for &p in &self.net.order {
                let Some(lif) = self.net.populations[p].lif().copied() else {
                    continue;
                };
                for &j in &self.incoming[p] {
                    let proj = &mut self.projections[j];
                    let wps = self.net.populations[proj.pre].words_per_step();
                    let pre_spikes = &spikes.bits[proj.pre][s * wps..(s + 1) * wps];
                    let (wq, n_post) = (&proj.q.wq, proj.q.n_post);
                    if sums_in_blocks(&self.net, j, self.block_min_synapses) {
                        if s % BLOCK_STEPS == 0 {
                            let t_n = BLOCK_STEPS.min(spikes.steps - s);
                            let rows = &spikes.bits[proj.pre][s * wps..(s + t_n) * wps];
                            sum_block(proj, rows, wps, t_n, self.threads);
                        }
                        proj.take_slot(s % BLOCK_STEPS);
                    } else if proj.q.by_post() {
                        // gathered by post: a block at a time from a Poisson
                        // population (its input is known), else a step
                        let blocked = self.net.populations[proj.pre].is_poisson();
                        if !blocked || s % BLOCK_STEPS == 0 {
                            let t_n = if blocked {
                                BLOCK_STEPS.min(spikes.steps - s)
                            } else {
                                1
                            };
                            let rows = &spikes.bits[proj.pre][s * wps..(s + t_n) * wps];
                            gather_block(proj, rows, wps, t_n, self.threads);
                        }
                        proj.take_slot(if blocked { s % BLOCK_STEPS } else { 0 });
                    } else if let Some(pm) = &proj.q.sparse {
                        let threads = threads_for(self.threads, wq.len());
                        if threads == 1 {
                            synapse_scatter(
                                &pm.pre_ptr,
                                &pm.post,
                                wq,
                                pre_spikes,
                                0,
                                &mut proj.acc,
                            );
                        } else {
                            // each thread scatters the spikes of its share of words
                            // into its own sums, which are then added
                            proj.scratch.resize_with(threads, || vec![0; n_post]);
                            let per = pre_spikes.len().div_ceil(threads);
                            std::thread::scope(|sc| {
                                for (t, part) in proj.scratch.iter_mut().enumerate() {
                                    let words = &pre_spikes[(t * per).min(pre_spikes.len())
                                        ..((t + 1) * per).min(pre_spikes.len())];
                                    sc.spawn(move || {
                                        synapse_scatter(
                                            &pm.pre_ptr,
                                            &pm.post,
                                            wq,
                                            words,
                                            t * per,
                                            part,
                                        )
                                    });
                                }
                            });
                            proj.acc.fill(0);
                            for part in &proj.scratch {
                                for (a, &x) in proj.acc.iter_mut().zip(part) {
                                    *a = a.wrapping_add(x);
                                }
                            }
                        }
                    } else if threads_for(self.threads, wq.len()) > 1 {
                        // each thread sums a contiguous range of post neurons
                        let per = n_post.div_ceil(self.threads);
                        std::thread::scope(|sc| {
                            for (k, acc) in proj.acc.chunks_mut(per).enumerate() {
                                sc.spawn(move || {
                                    synapse_accumulate(wq, n_post, k * per, pre_spikes, acc)
                                });
                            }
                        });
                    } else {
                        synapse_accumulate(wq, n_post, 0, pre_spikes, &mut proj.acc);
                    }
                }
                let wps = self.net.populations[p].words_per_step();
                let (before, from_s) = spikes.bits[p].split_at_mut(s * wps);
                let spikes_prev = if s == 0 {
                    &self.spikes_last[p][..]
                } else {
                    &before[(s - 1) * wps..]
                };
                let bad = lif_update(
                    &lif,
                    &self.projections,
                    self.clock.is_some().then_some(&self.gains[..]),
                    &self.incoming[p],
                    &mut self.v[p],
                    &mut self.current[p],
                    spikes_prev,
                    &mut from_s[..wps],
                );
                if let Some(n) = bad {
                    return Err(not_finite(
                        &self.net,
                        p,
                        n,
                        self.steps_done + s as u64,
                        Some(self.v[p][n]),
                    ));
                }
            }
            // plasticity, once every population has its spikes of step s
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
                let threads = if wq.len() >= PLASTIC_PARALLEL_MIN_SYNAPSES {
                    self.threads
                } else {
                    1
                };
                plasticity_step(st, wq, bits(proj.pre), bits(post), self.etas[j], threads);
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

avx2_twin! {
    /// Kernel `synapse_accumulate`: `acc[post] = sum of weights[pre][post] over
    /// the pre neurons whose bit is set in `pre_spikes`` (docs/arithmetic.md §2.2), for the
    /// posts `first_post .. first_post + acc.len()` of `n_post`. Integer
    /// addition is exact and the weights were quantised so that no sum reaches
    /// 2^31, so the order of the terms does not matter.
    pub fn synapse_accumulate(
        weights: &[i32],
        n_post: usize,
        first_post: usize,
        pre_spikes: &[u32],
        acc: &mut [i32],
    ) {
        acc.fill(0);
        for (w, &word) in pre_spikes.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let pre = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let row = &weights[pre * n_post + first_post..][..acc.len()];
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a = a.wrapping_add(x);
                }
            }
        }
    }
}

impl Projection {
    /// Step `t` of the block's sums (`block`) into `acc`.
    fn take_slot(&mut self, t: usize) {
        let (per, n_post) = (self.block_per, self.q.n_post);
        for (k, part) in self.block.iter().enumerate() {
            let len = per.min(n_post - k * per);
            self.acc[k * per..][..len].copy_from_slice(&part[t * len..][..len]);
        }
    }

    /// Fills `block` with a block's sums: its posts in parts of
    /// `block_per`, one part per thread (of `threads`, for a projection
    /// large enough), each `BLOCK_STEPS` rows of sums that `sums(first post,
    /// part)` writes.
    fn sum_in_parts(
        &mut self,
        threads: usize,
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
            std::thread::scope(|sc| {
                for (k, part) in self.block.iter_mut().enumerate() {
                    sc.spawn(move || sums(q, k * per, part));
                }
            });
        }
    }
}

/// The projections of `model` in the form the CPU engine reads: by post
/// where it [`gathers`], else pre-major.
pub fn quantize(model: &Model) -> Result<Vec<Quantized>> {
    let net = &model.net;
    let by_post: Vec<bool> = (0..net.projections.len())
        .map(|j| gathers(net, j))
        .collect();
    model.quantize_for(&by_post)
}

/// Whether the CPU engine gathers sparse projection `j` of `net` by post
/// (`synapse_gather`, a block of steps at a time) rather than scattering
/// its spiking pre neurons' synapses step by step: projections of at least
/// [`BLOCK_MIN_SYNAPSES`] synapses from a Poisson population of which at
/// least [`CPU_GATHER_MIN_ACTIVE`] is expected to spike in a block. The
/// gather reads each synapse once per block and adds it to 16 sums in
/// vector lanes; the scatter adds each synaptic event (16 r per synapse and
/// block at rate r) at a random place. `NACC_CPU_SPARSE=gather` or
/// `scatter` decides for every sparse projection from a Poisson population
/// (kernel experiments).
pub fn gathers(net: &Network, j: usize) -> bool {
    let p = &net.projections[j];
    let pre = &net.populations[p.pre];
    let eligible = !p.conn.is_dense() && pre.is_poisson();
    match std::env::var("NACC_CPU_SPARSE").as_deref() {
        Ok("gather") => eligible,
        Ok("scatter") => false,
        _ => {
            eligible
                && net.synapses(j) as usize >= BLOCK_MIN_SYNAPSES
                && crate::memory::active_in_block(pre) >= CPU_GATHER_MIN_ACTIVE
        }
    }
}

/// See [`gathers`]. Measured on the 2-core dev machine (benches/NOTES.md):
/// sparse-1m's input at 3-7 % a step (~55 % of it spiking in a block) ran
/// as fast gathered as scattered (1.34 vs 1.36 s for 32 steps), at its
/// default 10-50 % (~93 %) 3.3x faster gathered; a 6.4 M-synapse network
/// gathered faster at every rate tried (its masks stay in L1, and the
/// scatter starts its threads every step).
pub const CPU_GATHER_MIN_ACTIVE: f64 = 0.5;

/// The sums of `t_n` consecutive steps of a sparse projection held by post
/// (`proj.q.by_post()`) into `proj.block`, the posts split across `threads`
/// threads; `rows` holds the pre population's spikes of those steps, `wps`
/// words a step.
fn gather_block(proj: &mut Projection, rows: &[u32], wps: usize, t_n: usize, threads: usize) {
    // each pre neuron's steps of the block, as bits
    proj.masks.clear();
    proj.masks.resize(proj.q.n_pre, 0);
    for t in 0..t_n {
        for (w, &word) in rows[t * wps..(t + 1) * wps].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                proj.masks[w * 32 + bits.trailing_zeros() as usize] |= 1 << t;
                bits &= bits - 1;
            }
        }
    }
    let masks = std::mem::take(&mut proj.masks);
    proj.sum_in_parts(threads, |q, first, part| {
        let rows = q.rows.as_deref().expect("synapses by post");
        synapse_gather(&rows.ptr, &rows.pre, &q.wq, &masks, first, t_n, part)
    });
    proj.masks = masks;
}

/// Each byte of a mask of steps as 8 lanes, all ones where its bit is set:
/// `w & EXPAND[m][t]` is `w` when bit `t` of `m` is set, else 0.
static EXPAND: [[i32; 8]; 256] = {
    let mut e = [[0i32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut t = 0;
        while t < 8 {
            e[m][t] = -((m >> t & 1) as i32);
            t += 1;
        }
        m += 1;
    }
    e
};

avx2_twin! {
    /// Kernel `synapse_gather`: for the posts `first_post ..` (`len =
    /// out.len() / BLOCK_STEPS` of them), `out[t * len + i]` is the sum of
    /// step `t < t_n` over the synapses of post `first_post + i` (`pre` and
    /// `wq` by post, from `ptr`) whose pre neuron has bit `t` set in
    /// `masks`. Each synapse is read once for the block and added to every
    /// step's sum ANDed with that step's lane of [`EXPAND`] (16 lanes, two
    /// table rows, no multiply: 1.4x faster with AVX2, 2.6x with SSE2, which
    /// has no 32-bit vector multiply); the same integers as step by step.
    pub fn synapse_gather(
        ptr: &[usize],
        pre: &[u32],
        wq: &[i32],
        masks: &[u16],
        first_post: usize,
        t_n: usize,
        out: &mut [i32],
    ) {
        let len = out.len() / BLOCK_STEPS;
        for i in 0..len {
            let j = first_post + i;
            let mut sums = [0i32; BLOCK_STEPS];
            for k in ptr[j]..ptr[j + 1] {
                let (m, w) = (masks[pre[k] as usize], wq[k]);
                let (lo, hi) = (&EXPAND[(m & 0xFF) as usize], &EXPAND[(m >> 8) as usize]);
                for t in 0..8 {
                    sums[t] = sums[t].wrapping_add(w & lo[t]);
                    sums[8 + t] = sums[8 + t].wrapping_add(w & hi[t]);
                }
            }
            for (t, &s) in sums.iter().enumerate().take(t_n) {
                out[t * len + i] = s;
            }
        }
    }
}

/// The sums of `t_n` consecutive steps of a dense projection from a Poisson
/// population into `proj.block`, the posts split across `threads` threads;
/// `rows` holds the pre population's spikes of those steps, `wps` words a
/// step.
fn sum_block(proj: &mut Projection, rows: &[u32], wps: usize, t_n: usize, threads: usize) {
    // (pre, the steps of the block in which it spikes as bits), once for
    // all threads
    let mut list = Vec::new();
    for w in 0..wps {
        let any = (0..t_n).fold(0, |a, t| a | rows[t * wps + w]);
        let mut bits = any;
        while bits != 0 {
            let b = bits.trailing_zeros();
            bits &= bits - 1;
            let mask = (0..t_n).fold(0u32, |m, t| m | ((rows[t * wps + w] >> b) & 1) << t);
            list.push((w * 32 + b as usize, mask));
        }
    }
    proj.sum_in_parts(threads, |q, first, part| {
        synapse_accumulate_steps(&q.wq, q.n_post, first, &list, t_n, part)
    });
}

avx2_twin! {
    /// [`synapse_accumulate`] for `t_n` consecutive steps at once:
    /// `out[t * len + i]` (`len = out.len() / BLOCK_STEPS`) is the sum of step
    /// `t` for post `first_post + i`, over the `(pre, steps)` pairs of `list`,
    /// where bit `t` of `steps` says pre spikes at step `t`. Each weight row is
    /// read once for the block, a tile of posts at a time; the sums are the same
    /// integers as step by step.
    pub fn synapse_accumulate_steps(
        weights: &[i32],
        n_post: usize,
        first_post: usize,
        list: &[(usize, u32)],
        t_n: usize,
        out: &mut [i32],
    ) {
        let len = out.len() / BLOCK_STEPS;
        out[..t_n * len].fill(0);
        for tile in (0..len).step_by(TILE_POSTS) {
            let tl = TILE_POSTS.min(len - tile);
            for (i, &(pre, steps)) in list.iter().enumerate() {
                if let Some(&(ahead, _)) = list.get(i + PREFETCH_AHEAD) {
                    crate::simd::prefetch(&weights[ahead * n_post + first_post + tile..][..tl]);
                }
                let row = &weights[pre * n_post + first_post + tile..][..tl];
                let mut m = steps;
                while m != 0 {
                    let t = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let acc = &mut out[t * len + tile..][..tl];
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a = a.wrapping_add(x);
                    }
                }
            }
        }
    }
}

/// The error of a membrane that stopped being a finite number.
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

avx2_twin! {
    /// Kernel `synapse_scatter`, the sparse twin of [`synapse_accumulate`]:
    /// `acc[post] = sum of wq over the synapses of the pre neurons whose bit is
    /// set in `pre_spikes`` (word 0 of `pre_spikes` is word `first_word` of the
    /// population). Pre neuron `i` projects to `post[pre_ptr[i]..pre_ptr[i + 1]]`.
    /// The cost grows with spikes x fan-out.
    pub fn synapse_scatter(
        pre_ptr: &[usize],
        post: &[u32],
        wq: &[i32],
        pre_spikes: &[u32],
        first_word: usize,
        acc: &mut [i32],
    ) {
        acc.fill(0);
        for (w, &word) in pre_spikes.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let pre = (first_word + w) * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                for k in pre_ptr[pre]..pre_ptr[pre + 1] {
                    let a = &mut acc[post[k] as usize];
                    *a = a.wrapping_add(wq[k]);
                }
            }
        }
    }
}

/// `nearest_f32(acc * 2^-F)` without f64: `acc >> 12` and `acc & 0xFFF` are
/// exact in f32, both products are exact, and the one addition rounds once.
#[inline]
pub fn fixed_to_f32(acc: i32, scale_hi: f32, scale_lo: f32) -> f32 {
    let hi = (acc >> 12) as f32;
    let lo = (acc & 0xFFF) as f32;
    hi * scale_hi + lo * scale_lo
}

/// snntorch `Leaky` (docs/arithmetic.md §2.3) for one neuron: the new membrane, with
/// subnormal results stored as +0.
#[inline]
pub fn membrane_step(lif: &LifParams, v: f32, input: f32, reset: bool) -> f32 {
    let r = reset as u32 as f32;
    let v = match lif.reset {
        Reset::Subtract => (lif.beta * v + input) - r * lif.threshold,
        Reset::Zero => {
            let kept = (1.0 - r) * v;
            lif.beta * kept + input
        }
        Reset::None => lif.beta * v + input,
    };
    flush_subnormal(v)
}

#[inline]
pub fn flush_subnormal(v: f32) -> f32 {
    if v.abs() < f32::MIN_POSITIVE { 0.0 } else { v }
}

avx2_twin! {
    /// Kernel `lif_update`: forms each neuron's current from the incoming
    /// projections (`I = sign_1 * cur_1 + sign_2 * cur_2 + ...`, left to right,
    /// each `cur` times its gain when `gains` holds this step's, see
    /// [`crate::reward`]) into `current`,
    /// updates its membrane `v`, and writes its spike bit into `spikes`.
    /// Returns the first neuron whose membrane is no longer finite.
    /// Each neuron's arithmetic is the kernel's; the loops run over neurons
    /// (projection by projection, then a word of 32 neurons at a time) so that
    /// the compiler can use vector instructions.
    pub fn lif_update(
        lif: &LifParams,
        projections: &[Projection],
        gains: Option<&[f32]>,
        incoming: &[usize],
        v: &mut [f32],
        current: &mut [f32],
        spikes_prev: &[u32],
        spikes: &mut [u32],
    ) -> Option<usize> {
        if incoming.is_empty() {
            current.fill(0.0);
        }
        for (k, &j) in incoming.iter().enumerate() {
            let c = &projections[j];
            let (hi, lo) = (c.q.scale_hi, c.q.scale_lo);
            // dopamine's gain (exactly 1 where unmodulated)
            let gain = gains.map(|g| g[j]);
            let terms = current.iter_mut().zip(&c.acc).zip(&c.bias);
            for ((i, &acc), &b) in terms {
                let mut cur = fixed_to_f32(acc, hi, lo) + b;
                if let Some(g) = gain {
                    cur *= g;
                }
                let term = if c.sign < 0 { -cur } else { cur };
                *i = if k == 0 { term } else { *i + term };
            }
        }
        let words = spikes.iter_mut().zip(spikes_prev);
        let neurons = v.chunks_mut(32).zip(current.chunks(32));
        for ((word, &prev), (v, current)) in words.zip(neurons) {
            let mut bits = 0u32;
            for (n, (v, &i)) in v.iter_mut().zip(current).enumerate() {
                *v = membrane_step(lif, *v, i, prev >> n & 1 == 1);
                bits |= ((*v - lif.threshold > 0.0) as u32) << n;
            }
            *word = bits;
        }
        // membranes were finite before this step (else the run stopped)
        v.iter().position(|v| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_to_f32_is_the_nearest_f32() {
        let mut x: u32 = 12345;
        for f in 0..=30u32 {
            let (hi, lo) = (
                crate::network::pow2(12 - f as i32),
                crate::network::pow2(-(f as i32)),
            );
            for _ in 0..2000 {
                x = crate::input::mix32(x);
                let acc = x as i32;
                let exact = acc as f64 * 2f64.powi(-(f as i32));
                assert_eq!(fixed_to_f32(acc, hi, lo), exact as f32, "acc {acc} F {f}");
            }
        }
    }
}
