//! The execution plan: how the steps of a network run, decided in one
//! place for both engines and for `--dry-run`'s estimate.
//!
//! A [`Plan`] says, per projection, how its synaptic sums are computed
//! ([`Sums`]), and for the whole run in which order the kernels go
//! ([`Schedule`], fused or not), how many trials run side by side and how
//! many steps a chunk holds. [`Plan::cpu`] builds the CPU engine's,
//! [`Plan::gpu`] the GPU engine's from the device's [`DeviceLimits`]. The
//! CPU engine walks its plan step by step (`engine::cpu`), the GPU encoder
//! walks its own (`engine::gpu::encode`), and `memory::estimate` sizes the
//! buffers from it. Every choice computes the same integers: a plan
//! changes how fast a run goes, never its spikes.

use crate::network::{Network, PopKind, Population};
use crate::tuning::{CpuOptions, GpuOptions, SparseChoice};

/// Steps whose sums a blocked projection computes together. Both engines
/// use it; the WGSL prelude gets it from [`crate::engine::gpu::wgsl`].
pub const BLOCK_STEPS: usize = 16;

/// The block schedule runs blocks of at least this many steps: where a
/// delay that feeds back is shorter, the step schedule runs instead (on
/// lavapipe, 10 000 MSNs with 2 % collaterals: blocks of 1 step ran at
/// half the step schedule's speed, of 2 alike, of 3 1.2 times and of 4
/// 1.6 times faster; docs/design-log.md).
pub const MIN_BLOCK_LEN: usize = 3;

/// Projections of at least this many synapses sum in blocks by default
/// ([`sums_in_blocks`]); smaller ones are not bound by memory bandwidth.
pub const BLOCK_MIN_SYNAPSES: usize = 1 << 20;

/// Projections of at least this many synapses split their sums across
/// the CPU's threads (below it, handing out the work costs more than it
/// saves).
pub const PARALLEL_MIN_SYNAPSES: usize = 1 << 20;

/// Populations of the block schedule have fewer neurons than this (a fault
/// report packs the neuron into 27 bits).
pub const BLOCK_MAX_NEURONS: usize = 1 << 27;

/// Networks up to this many synapses may run fused (one workgroup does all
/// the work of a step, so the work must be small).
pub const FUSED_MAX_SYNAPSES: u64 = 1 << 20;
/// Words of one spike row the fused kernel keeps in workgroup memory.
pub const FUSED_MAX_ROW_WORDS: usize = 256;

/// Spike-buffer rows kept on the GPU at most, in bytes (bounds the chunk).
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// A sparse projection on the GPU's block schedule is gathered by post when
/// at least this fraction of its pre neurons is expected to spike in a
/// block (see [`Plan::gpu`]).
pub const GATHER_MIN_ACTIVE: f64 = 0.2;

/// The CPU gathers a sparse projection from a Poisson population of at
/// least [`BLOCK_MIN_SYNAPSES`] synapses when at least this fraction of its
/// pre neurons is expected to spike in a block: below about half, the
/// gather and the scatter ran alike, above it the gather faster (the
/// measurements: docs/design-log.md).
pub const CPU_GATHER_MIN_ACTIVE: f64 = 0.5;

/// How a projection's synaptic sums are computed. Each is a kernel family
/// on the GPU and its twin in `engine::cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sums {
    /// Dense, every step (`synapse_accumulate`).
    Dense,
    /// Dense, [`BLOCK_STEPS`] steps at once into per-step slots
    /// (`synapse_block`): each weight row read once per block.
    DenseBlock,
    /// Sparse, from the spiking pre neurons, every step (`synapse_scatter`).
    Scatter,
    /// Sparse, from the spiking pre neurons, a block at a time into slots
    /// (`synapse_scatter_block`; the GPU's block schedule).
    ScatterBlock,
    /// Sparse, gathered by post a block at a time (`block_masks`, then
    /// `synapse_gather`): every synapse read once per block.
    Gather,
}

impl Sums {
    /// Whether the sums go to [`BLOCK_STEPS`] per-step slots.
    pub fn in_slots(self) -> bool {
        !matches!(self, Sums::Dense | Sums::Scatter)
    }
}

/// The order of the dispatches of a chunk (after the Poisson input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Step after step: per step, each population in dependency order (its
    /// incoming projections' sums, then the membrane update), then
    /// plasticity. Projections that sum in blocks compute a block's sums at
    /// its first step. Networks with plasticity run this way, and the CPU
    /// engine always.
    Step,
    /// Block after block of [`BLOCK_STEPS`] steps: per block, each
    /// population in dependency order, its incoming projections' sums of
    /// the whole block into per-step slots, then the membrane update for
    /// all the block's steps. Possible because a network is acyclic and,
    /// without plasticity, the weights do not change within a block.
    Block,
}

/// What the GPU engine's plan needs of the device (after `GpuOptions`'
/// smaller limits).
#[derive(Debug, Clone, Copy)]
pub struct DeviceLimits {
    /// Bytes one storage binding may hold.
    pub max_binding: u64,
    /// Bytes one buffer may hold.
    pub max_buffer: u64,
    /// Workgroups per grid dimension the adapter allows: bounds the trials
    /// side by side (the grid's z). Not `GpuOptions::max_groups_per_dim`,
    /// which only narrows the x and y of the launches.
    pub max_groups: u32,
    /// Bytes between the per-step uniforms (the adapter's alignment).
    pub step_stride: u32,
}

/// How an engine runs a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The whole network, every step of a chunk, in one dispatch
    /// (`fused_steps`; GPU only).
    pub fused: bool,
    pub schedule: Schedule,
    /// Per projection, in config order.
    pub sums: Vec<Sums>,
    /// Steps a chunk holds at most (the GPU's spike rows bound it).
    pub capacity: usize,
    /// The GPU draws the Poisson input itself.
    pub gen_input: bool,
    /// Bytes between the GPU's per-step uniforms.
    pub step_stride: u32,
    /// Trials one engine runs side by side: all of them on the fused
    /// kernel, as many as its buffers fit on the block schedule (the run
    /// takes them in batches), else 1 (one after another).
    pub trials: usize,
    /// Per projection: the slots of its ring of delayed sums
    /// ([`ring_slots`]), 0 when its spikes arrive in the step they are
    /// emitted.
    pub rings: Vec<usize>,
    /// Steps of a block on the block schedule: [`BLOCK_STEPS`], or fewer
    /// when a delayed projection feeds a population updated before (or
    /// with) its pre population: its spikes of a block must have arrived
    /// from earlier blocks ([`block_len`]).
    pub block_len: usize,
}

/// Slots of the ring of a projection whose spikes arrive up to `hi` steps
/// late: a power of two above `hi`, and (`blocks`: an engine that sums a
/// block of steps at once, the GPU's) of at least `hi + BLOCK_STEPS`, so
/// that the sums of a whole block can be added before any of the block's
/// slots is taken. The CPU's are as small as can be: they stay in cache.
pub fn ring_slots(hi: u32, blocks: bool) -> usize {
    let block = if blocks { BLOCK_STEPS } else { 1 };
    (hi as usize + block).next_power_of_two()
}

/// Per projection of `net`: its ring's slots (0 without delay).
pub fn rings(net: &Network, blocks: bool) -> Vec<usize> {
    net.projections
        .iter()
        .map(|p| match p.delay.is_delayed() {
            true => ring_slots(p.delay.hi, blocks),
            false => 0,
        })
        .collect()
}

/// The projections in the order the engines sum them within a step or a
/// block: population by population in update order, its incoming
/// projections without delay before its update, then its outgoing delayed
/// ones (into their rings) after it.
pub fn sum_order(net: &Network) -> Vec<usize> {
    let mut out = Vec::with_capacity(net.projections.len());
    for &p in &net.order {
        out.extend(
            net.incoming(p)
                .filter(|(_, x)| !x.delay.is_delayed())
                .map(|(j, _)| j),
        );
        out.extend(net.delayed_out(p));
    }
    out
}

/// The longest block the block schedule may run `net` in: a population's
/// block needs every sum of its steps, so a delayed projection from a
/// population updated later in the order (or the same population: a
/// recurrent one) must deliver only spikes of earlier blocks. Its
/// shortest delay bounds the block.
pub fn block_len(net: &Network) -> usize {
    let pos = |pop: usize| net.order.iter().position(|&p| p == pop);
    net.projections
        .iter()
        .filter(|p| p.delay.is_delayed() && pos(p.pre) >= pos(p.post))
        .map(|p| p.delay.lo as usize)
        .fold(BLOCK_STEPS, usize::min)
        .max(1)
}

/// Whether projection `j` sums [`BLOCK_STEPS`] steps at once on the step
/// schedule, in both engines: a dense projection without plasticity from a
/// Poisson population, of at least `min_synapses` synapses. The spikes of a
/// Poisson population are known for the whole chunk before it runs, so each
/// weight row can be read once for all the steps of a block in which its
/// pre neuron spikes, instead of once per spike: at 30 % of inputs spiking
/// a step, 16 steps read each row once (1 - 0.7^16 = 99.7 %) instead of 4.8
/// times. The sums are the same integers as step by step.
pub fn sums_in_blocks(net: &Network, j: usize, min_synapses: usize) -> bool {
    let p = &net.projections[j];
    p.conn.is_dense()
        && p.plasticity.is_none()
        && net.populations[p.pre].is_poisson()
        && net.synapses(j) >= min_synapses as u64
}

/// The expected fraction of a population's neurons that spike at least once
/// in a block of [`BLOCK_STEPS`] steps: for a Poisson population, the mean
/// of 1 - (1 - r)^16 over its rates r (uniform in its range); for a LIF
/// population, not known before the run: 1.
pub fn active_in_block(pop: &Population) -> f64 {
    let n = BLOCK_STEPS as f64;
    match pop.kind {
        PopKind::Poisson { rate_lo, rate_hi } => {
            let (lo, hi) = (
                (rate_lo as f64).clamp(0.0, 1.0),
                (rate_hi as f64).clamp(0.0, 1.0),
            );
            if hi - lo < 1e-9 {
                1.0 - (1.0 - lo).powf(n)
            } else {
                // the integral of (1 - r)^n over [lo, hi], over hi - lo
                let silent =
                    ((1.0 - lo).powf(n + 1.0) - (1.0 - hi).powf(n + 1.0)) / ((n + 1.0) * (hi - lo));
                1.0 - silent
            }
        }
        _ => 1.0,
    }
}

/// Whether the fused kernel's membranes (the lif's) are all `net` has, and
/// it records nothing (the kernel samples no state).
fn lif_only(net: &Network) -> bool {
    !net.populations.iter().any(|p| p.is_physical()) && net.records.is_empty()
}

/// Whether the fused one-dispatch kernel can run `net` with bindings of
/// `max_binding` bytes.
pub fn fusable(net: &Network, max_binding: u64) -> bool {
    lif_only(net)
        && net
            .projections
            .iter()
            .all(|p| p.conn.is_dense() && p.plasticity.is_none() && !p.delay.is_delayed())
        && net.populations.iter().all(|p| p.dopamine.is_none())
        && net.row_words() <= FUSED_MAX_ROW_WORDS
        && net.total_synapses() <= FUSED_MAX_SYNAPSES
        && net.total_synapses() * 4 <= max_binding
}

/// Steps a chunk may hold on the GPU for rows of `row_words` words, in one
/// binding of at most `max_binding` bytes (with the carried row): a larger
/// --chunk only means fewer readbacks, so it is taken down to that, which
/// changes no value.
pub fn capacity_for(row_words: usize, chunk: usize, max_binding: u64) -> usize {
    let row = (row_words as u64 * 4).max(1);
    let most = (MAX_CHUNK_BYTES.min(max_binding) / row)
        .saturating_sub(1)
        .max(1);
    chunk.clamp(1, most as usize)
}

impl Plan {
    /// The CPU engine's plan: step by step; a dense projection sums in
    /// blocks where [`sums_in_blocks`] says so, a sparse one from a Poisson
    /// population of at least [`BLOCK_MIN_SYNAPSES`] synapses is gathered by
    /// post when at least [`CPU_GATHER_MIN_ACTIVE`] of its pre neurons is
    /// expected to spike in a block (the gather adds each synapse to 16
    /// sums in vector lanes, the scatter each synaptic event at a random
    /// place), unless `opts.sparse` decides for all.
    pub fn cpu(net: &Network, opts: &CpuOptions) -> Plan {
        let min = opts.block_min_synapses.unwrap_or(BLOCK_MIN_SYNAPSES);
        let sums = (0..net.projections.len())
            .map(|j| {
                let p = &net.projections[j];
                let pre = &net.populations[p.pre];
                if p.conn.is_dense() {
                    return match sums_in_blocks(net, j, min) {
                        true => Sums::DenseBlock,
                        false => Sums::Dense,
                    };
                }
                let gather = pre.is_poisson()
                    && !p.delay.per_synapse()
                    && match opts.sparse {
                        Some(SparseChoice::Gather) => true,
                        Some(SparseChoice::Scatter) => false,
                        None => {
                            net.synapses(j) as usize >= BLOCK_MIN_SYNAPSES
                                && active_in_block(pre) >= CPU_GATHER_MIN_ACTIVE
                        }
                    };
                if gather { Sums::Gather } else { Sums::Scatter }
            })
            .collect();
        Plan {
            fused: false,
            schedule: Schedule::Step,
            sums,
            capacity: usize::MAX,
            gen_input: false,
            step_stride: 0,
            trials: 1,
            rings: rings(net, false),
            block_len: BLOCK_STEPS,
        }
    }

    /// The GPU engine's plan for `trials` trials in chunks of `chunk` steps
    /// (`generated_input`: the run draws its input from the seed).
    ///
    /// - Fused: several trials of a small network at once (a workgroup
    ///   each); a single trial runs on the block schedule instead (~5
    ///   dispatches per 16 steps, faster than the fused kernel's one
    ///   workgroup: docs/design-log.md). `opts.prefer_fused` and
    ///   `opts.fused` override that.
    /// - Block schedule unless the network has plasticity, a
    ///   `[[record]]` (`state_record` samples a step at a time), a
    ///   population of [`BLOCK_MAX_NEURONS`] or more, a delay shorter than
    ///   [`MIN_BLOCK_LEN`] that feeds back ([`block_len`]), or
    ///   `opts.step_schedule`; and only where the sums of a block fit one
    ///   binding (else step by step, and else without blocked input sums).
    /// - On the block schedule a sparse projection is gathered by post
    ///   where its pre population is busy (at least [`GATHER_MIN_ACTIVE`]
    ///   of it spikes in a block; a LIF population counts as busy) and the
    ///   masks of every neuron fit one binding, else scattered. The gather
    ///   reads every synapse once per block and stores without atomics; the
    ///   scatter reads the synapses of the pre neurons that spike and makes
    ///   one atomicAdd per synaptic event. With an atomic costing about 4
    ///   reads, the scatter is cheaper while the fraction is below ~0.2.
    /// - Trials side by side on the block schedule: as many as the grid's
    ///   z, the bindings and the device's largest buffer hold, in batches as
    ///   even as can be.
    pub fn gpu(
        net: &Network,
        limits: &DeviceLimits,
        opts: &GpuOptions,
        generated_input: bool,
        chunk: usize,
        trials: usize,
    ) -> Plan {
        let max = limits.max_binding;
        let wanted = opts.prefer_fused.unwrap_or(trials > 1);
        // the fused kernel has only the lif's membrane, and records nothing
        let fused = opts.fused.unwrap_or_else(|| wanted && fusable(net, max)) && lif_only(net);
        let blockable = net.projections.iter().all(|p| p.plasticity.is_none())
            && net.records.is_empty()
            && net.populations.iter().all(|p| p.size < BLOCK_MAX_NEURONS)
            && block_len(net) >= MIN_BLOCK_LEN;
        let mut schedule = match blockable && !opts.step_schedule {
            true => Schedule::Block,
            false => Schedule::Step,
        };
        let mut min = opts.block_min_synapses.unwrap_or(BLOCK_MIN_SYNAPSES);
        let masks_fit = net.total_neurons() * 4 <= max;
        let gather = !fused && opts.sparse != Some(SparseChoice::Scatter) && masks_fit;
        let min_active = match opts.sparse {
            Some(SparseChoice::Gather) => 0.0,
            _ => GATHER_MIN_ACTIVE,
        };
        let sums_of = |schedule: Schedule, min: usize| -> Vec<Sums> {
            (0..net.projections.len())
                .map(|j| {
                    let p = &net.projections[j];
                    let dense = p.conn.is_dense();
                    match (fused, schedule, dense) {
                        (true, _, _) => Sums::Dense,
                        (false, Schedule::Block, true) => Sums::DenseBlock,
                        (false, Schedule::Block, false) => {
                            let busy = active_in_block(&net.populations[p.pre]) >= min_active;
                            if gather && busy && !p.delay.per_synapse() {
                                Sums::Gather
                            } else {
                                Sums::ScatterBlock
                            }
                        }
                        (false, Schedule::Step, true) if sums_in_blocks(net, j, min) => {
                            Sums::DenseBlock
                        }
                        (false, Schedule::Step, true) => Sums::Dense,
                        (false, Schedule::Step, false) => Sums::Scatter,
                    }
                })
                .collect()
        };
        // the sums of BLOCK_STEPS steps must fit one binding
        let fits = |sums: &[Sums]| sum_words(net, sums) as u64 * 4 <= max;
        if !fits(&sums_of(schedule, min)) {
            schedule = Schedule::Step;
        }
        if !fits(&sums_of(schedule, min)) {
            min = usize::MAX;
        }
        let sums = sums_of(schedule, min);
        let capacity = capacity_for(net.row_words(), chunk, max);
        let gen_input = generated_input && !opts.host_input && net.stimulus.is_none();
        let trials = match (gen_input, fused, schedule) {
            (false, _, _) => 1,
            (true, true, _) => trials.max(1),
            (true, false, Schedule::Block) => {
                side_by_side(net, limits, &sums, capacity, trials.max(1))
            }
            (true, false, Schedule::Step) => 1,
        };
        Plan {
            fused,
            schedule,
            sums,
            capacity,
            gen_input,
            step_stride: limits.step_stride,
            trials,
            rings: rings(net, true),
            block_len: match schedule {
                Schedule::Block => block_len(net),
                Schedule::Step => BLOCK_STEPS,
            },
        }
    }

    /// Per projection: whether its sums go to per-step slots.
    pub fn blocked(&self) -> Vec<bool> {
        self.sums.iter().map(|s| s.in_slots()).collect()
    }

    /// Per projection: whether it is gathered by post (and so quantised by
    /// post).
    pub fn gathered(&self) -> Vec<bool> {
        self.sums.iter().map(|&s| s == Sums::Gather).collect()
    }

    /// How the engine runs, in words: "block schedule", "fused kernel"...,
    /// and how `trials` trials go when there are several.
    pub fn describe(&self, trials: usize) -> String {
        let how = match (self.fused, self.schedule) {
            (true, _) => "fused kernel",
            (false, Schedule::Block) => "block schedule",
            (false, Schedule::Step) => "step schedule",
        };
        match (trials, self.trials) {
            (0 | 1, _) => how.to_string(),
            (_, 1) => format!("{how}, {trials} trials one after another"),
            (_, _) if self.fused => format!("{how}, {trials} trials in one dispatch"),
            (_, b) if b >= trials => format!("{how}, {trials} trials side by side"),
            (_, b) => format!("{how}, {trials} trials, {b} side by side"),
        }
    }
}

/// Words of every projection's sums: a row of posts, or [`BLOCK_STEPS`]
/// rows for sums in slots; and a delayed projection's ring
/// ([`ring_slots`] rows).
pub fn sum_words(net: &Network, sums: &[Sums]) -> usize {
    net.projections
        .iter()
        .zip(sums)
        .zip(rings(net, true))
        .map(|((p, s), ring)| {
            let n = net.populations[p.post].size;
            ring * n + if s.in_slots() { BLOCK_STEPS * n } else { n }
        })
        .sum()
}

/// Trials the block schedule runs side by side: as many as the grid's z,
/// the bindings (each of a trial's spike rows, sums, membranes and masks)
/// and, all of a trial's buffers together, the device's largest buffer
/// hold; in batches as even as can be (200 trials, at most 62: 4 of 50), so
/// that one engine, restarted, runs them all (a smaller last batch needs
/// its own).
fn side_by_side(
    net: &Network,
    limits: &DeviceLimits,
    sums: &[Sums],
    capacity: usize,
    trials: usize,
) -> usize {
    let rows = (capacity as u64 + 1) * net.row_words() as u64 * 4;
    let sum_bytes = sum_words(net, sums) as u64 * 4;
    let v = net
        .populations
        .iter()
        .filter(|p| !p.is_poisson())
        .map(|p| p.size as u64 * 4)
        .sum::<u64>();
    let masks = net.total_neurons() * 4;
    let state = net.state_words() as u64 * 4;
    let binding = rows.max(sum_bytes).max(v).max(masks).max(state).max(1);
    // spike rows and their staging, sums, membranes and their staging,
    // masks, the models' state
    let all = 2 * rows + sum_bytes + 2 * v + masks + state;
    let most = (limits.max_binding / binding)
        .min(limits.max_buffer / all.max(1))
        .min(limits.max_groups as u64)
        .clamp(1, trials as u64) as usize;
    trials.div_ceil(trials.div_ceil(most))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_in_block_is_the_mean_chance_of_a_spike_in_16_steps() {
        let poisson = |lo: f32, hi: f32| Population {
            name: "in".into(),
            size: 10,
            kind: PopKind::Poisson {
                rate_lo: lo,
                rate_hi: hi,
            },
            dopamine: None,
        };
        for (lo, hi) in [(0.1f32, 0.5f32), (0.0, 1.0), (0.01, 0.02), (0.3, 0.3)] {
            // the mean over a fine grid of rates
            let k = 100_000;
            let mean: f64 = (0..k)
                .map(|i| {
                    let r = lo as f64 + (hi - lo) as f64 * (i as f64 + 0.5) / k as f64;
                    1.0 - (1.0 - r).powi(16)
                })
                .sum::<f64>()
                / k as f64;
            let got = active_in_block(&poisson(lo, hi));
            assert!((got - mean).abs() < 1e-6, "{lo}..{hi}: {got} vs {mean}");
        }
        assert!(active_in_block(&poisson(0.1, 0.5)) > GATHER_MIN_ACTIVE);
        assert!(active_in_block(&poisson(0.002, 0.01)) < GATHER_MIN_ACTIVE);
    }
}
