//! The GPU engine: the WGSL kernels of `shaders/` run through wgpu.
//!
//! Everything is created once in [`GpuEngine::new`]: pipelines, buffers and
//! bind groups, from the engine's [`Plan`] (`engine::plan`). A chunk of
//! steps is then at most one upload (input given by the host), one compute
//! pass holding every dispatch of every step, two copies and one readback
//! of the bit-packed spikes (`chunk.rs`):
//!
//! - `spikes`: rows of `row_words` u32, every population's words side by
//!   side; row 0 holds the last step of the previous chunk (copied in from
//!   `carry`), rows 1..=n the steps of this chunk;
//! - `v`: membranes of every LIF population; `acc`: the integer sums of every
//!   projection; `bias`: every projection's bias; `thresholds`: the Poisson
//!   neurons' integer rates;
//! - weights as the kernels read them: dense projections as pre-major i32
//!   rows padded to vec4, split by pre rows when a projection exceeds the
//!   storage-binding limit; sparse ones as a pre-major CSR, or by post when
//!   gathered.
//!
//! Two paths (`Path`). Batched `--trials` of a small network run every step
//! of a chunk in one dispatch of `fused_steps` (a workgroup a trial). Any
//! other run takes the per-kernel path (`encode.rs`): per chunk,
//! `poisson_input` for the whole chunk, then the steps in the order of the
//! plan's [`Schedule`], each projection's sums by the kernel family its
//! [`Sums`](crate::engine::plan::Sums) names (`kernels/`). On the block
//! schedule several trials run side by side: trial t is the z of every
//! grid, its spike rows, sums, membranes and masks at t times the strides
//! of the `Chunk` uniform (`poisson_input` loops over the trials).
//!
//! The membrane kernels read and zero the sums for their next use. The
//! step's row reaches the kernels as a dynamic offset into a uniform buffer
//! written once, beside a `Chunk` uniform with the chunk's step count and
//! the trials' strides.

mod chunk;
pub mod context;
mod encode;
pub mod kernels;
pub mod layout;
mod probe;
mod resources;
pub mod sparse;
pub mod wgsl;

pub use crate::engine::plan::Schedule;
pub use crate::tuning::GpuOptions;
pub use context::GpuContext;
pub use kernels::synapse_accumulate::{BLOCK_CHUNK_WORDS, SYN_CHUNK_WORDS};
pub use resources::grid_2d;

use super::plan::{DeviceLimits, FUSED_MAX_ROW_WORDS, FUSED_MAX_SYNAPSES, Plan, fusable};
use super::{Engine, InputSource, Profile};
use crate::dopamine::Clock;
use crate::error::{Error, Result};
use crate::network::{Model, Network, Quantized};
use crate::record::ChunkSpikes;
use encode::Dispatch;
use kernels::Env;
use kernels::fused_steps::Fused;
use layout::Chunk;
use probe::Probe;
use resources::{Offsets, Shared, buffer, step_stride, step_uniforms, storage_buffer, too_big};
use std::sync::Arc;

/// How the steps of a chunk reach the GPU.
enum Path {
    Dispatch(Dispatch),
    /// The whole network, every step of the chunk, in one dispatch of one
    /// workgroup (`fused_steps`).
    Fused(Fused),
}

pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    net: Network,
    capacity: usize,
    /// Where every population and projection lies in the buffers.
    lay: Offsets,
    path: Path,
    /// The GPU draws the Poisson input.
    gen_input: bool,
    /// Independent trials run side by side (fused path only when > 1).
    trials: usize,
    /// Steps run so far: the absolute step of the next chunk's first row.
    steps_done: u64,
    /// The spike rows, membranes, fault reports and the other buffers
    /// every path binds.
    b: Buffers,
    /// `Chunk`: the step count of the chunk being run.
    chunk_uniform: wgpu::Buffer,
    /// The `Chunk` uniform but its `n_steps`.
    chunk_template: Chunk,
    /// Timestamps around the dispatches, while profiling.
    probe: Option<Probe>,
    /// Buffers only bind groups refer to, kept alive here.
    _keep: Vec<wgpu::Buffer>,
    upload: Vec<u32>,
    /// A test hook (`GpuOptions::inject_loss_at`): fails like a lost device
    /// once k steps are done, so that tests can check what a run keeps.
    inject_loss_at: Option<u64>,
    /// d(t), gains and learning factors (dopamine modulation or
    /// plasticity), uploaded per chunk into `b.gains` (a row of one per
    /// projection a step) and `b.etas` (one per plastic projection a step).
    clock: Option<Clock>,
}

/// The engine's buffers that every path binds (`Shared` borrows them).
struct Buffers {
    /// Every trial's spike rows (row 0: the previous chunk's last step).
    spikes: wgpu::Buffer,
    carry: wgpu::Buffer,
    staging: wgpu::Buffer,
    v: wgpu::Buffer,
    v_staging: wgpu::Buffer,
    bias: wgpu::Buffer,
    thresholds: wgpu::Buffer,
    /// (row or step + 1, population, neuron, trial) of a non-finite
    /// membrane, then two words per population and trial (`lif_block`'s
    /// report).
    fault: wgpu::Buffer,
    gains: wgpu::Buffer,
    etas: wgpu::Buffer,
    /// The physical models' states (recovery variables, refractory
    /// counters, synaptic currents and conductances).
    state: wgpu::Buffer,
    /// Per population: its offset in `thresholds`, when the GPU draws its
    /// input.
    poisson: Vec<Option<usize>>,
}

/// The membranes and states a trial starts from: each physical
/// population's `v_init` and `u_init`, zeros elsewhere.
fn initial_state(net: &Network, lay: &Offsets) -> (Vec<f32>, Vec<f32>) {
    let mut v = vec![0f32; lay.v_len];
    let mut state = vec![0f32; lay.state_len];
    for (p, pop) in net.populations.iter().enumerate() {
        if pop.is_physical() {
            v[lay.v_offset[p]..][..pop.size].fill(pop.v_init());
            state[lay.u_offset[p]..][..pop.size].fill(pop.u_init());
        }
    }
    (v, state)
}

/// Bytes one storage binding may hold: the adapter's limit, or less when
/// `opts` asks for less.
fn max_binding(limits: &wgpu::Limits, opts: &GpuOptions) -> u64 {
    opts.max_binding_bytes
        .unwrap_or(limits.max_storage_buffer_binding_size)
        .min(limits.max_storage_buffer_binding_size)
        .min(limits.max_buffer_size)
}

impl GpuEngine {
    /// Builds everything on the device. `chunk` is the most steps a chunk
    /// hands over at once (larger chunks are split).
    ///
    /// `input` is what the run feeds the Poisson populations: when it is
    /// generated (and not `opts.host_input`), the GPU draws it itself.
    pub fn new(
        ctx: Arc<GpuContext>,
        model: &Model,
        input: &InputSource,
        chunk: usize,
        opts: GpuOptions,
    ) -> Result<GpuEngine> {
        GpuEngine::new_trials(ctx, model, std::slice::from_ref(input), chunk, opts)
    }

    /// What the plan needs of the device, with `opts`' smaller limits.
    pub fn limits(ctx: &GpuContext, opts: &GpuOptions) -> DeviceLimits {
        DeviceLimits {
            max_binding: max_binding(&ctx.limits, opts),
            max_buffer: ctx.limits.max_buffer_size,
            max_groups: ctx.limits.max_compute_workgroups_per_dimension,
            step_stride: step_stride(&ctx.limits),
        }
    }

    /// How an engine for `net` running `trials` trials would run, without
    /// building it (for `--dry-run`): [`Plan::gpu`] on this device.
    pub fn plan(
        ctx: &GpuContext,
        net: &Network,
        generated_input: bool,
        chunk: usize,
        trials: usize,
        opts: GpuOptions,
    ) -> Plan {
        let limits = GpuEngine::limits(ctx, &opts);
        Plan::gpu(net, &limits, &opts, generated_input, chunk, trials)
    }

    /// Whether the fused one-dispatch kernel can run `net` on this device.
    pub fn fusable(ctx: &GpuContext, net: &Network, opts: &GpuOptions) -> bool {
        fusable(net, max_binding(&ctx.limits, opts))
    }

    /// An engine running one independent trial per input, side by side
    /// (weights shared): on the fused kernel, one workgroup a trial; on the
    /// block schedule, the trial in the grid's z of every dispatch. Several
    /// trials need input the GPU draws, and at most `plan(..).trials` of
    /// them.
    pub fn new_trials(
        ctx: Arc<GpuContext>,
        model: &Model,
        inputs: &[InputSource],
        chunk: usize,
        opts: GpuOptions,
    ) -> Result<GpuEngine> {
        let trials = inputs.len();
        let input = inputs
            .first()
            .ok_or_else(|| Error::Input("--trials must be >= 1".into()))?;
        let net = model.net.clone();
        let generated = matches!(input, InputSource::Generated { .. });
        // the decisions --dry-run reports, made here the same way
        let plan = GpuEngine::plan(&ctx, &net, generated, chunk, trials, opts);
        // gathered sparse projections keep their synapses by post
        let quantized = model.quantize_for(&plan.gathered())?;
        let lay = Offsets::new(&net, &plan.blocked(), &plan.rings);
        let max_binding = max_binding(&ctx.limits, &opts);
        check_sizes(&ctx, &net, &plan, &lay, trials, max_binding)?;
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let capacity = plan.capacity;
        let clock = Clock::for_engine(&net, &quantized);
        let bufs = Buffers::new(&ctx, model, input, &plan, &lay, trials, clock.is_some())?;
        let row_bytes = lay.row_words as u64 * 4;
        let trial_bytes = (capacity as u64 + 1) * row_bytes;
        let shared = Shared {
            gains: &bufs.gains,
            etas: &bufs.etas,
            state: &bufs.state,
            spikes: &bufs.spikes,
            v: &bufs.v,
            bias: &bufs.bias,
            thresholds: &bufs.thresholds,
            poisson: bufs.poisson.clone(),
            trial_keys: trial_keys(&net, inputs)?,
            fault: &bufs.fault,
            trial_words: trial_bytes / 4,
            trials,
        };
        let mut keep = Vec::new();
        let steps = step_uniforms(&ctx.device, &ctx.limits, capacity, &mut keep);
        // what every kernel needs of the chunk but its length
        let chunk_template = Chunk {
            n_steps: 0,
            n_trials: trials as u32,
            spike_stride: (trial_bytes / 4) as u32,
            acc_stride: lay.acc_len as u32,
            v_stride: lay.v_len as u32,
            mask_stride: net.total_neurons() as u32,
            first_step: 0,
            block_len: plan.block_len as u32,
        };
        let env = Env {
            ctx: &ctx,
            net: &net,
            quantized: &quantized,
            lay: &lay,
            sh: &shared,
            steps: &steps,
            max_binding,
            max_dim: opts
                .max_groups_per_dim
                .unwrap_or(ctx.limits.max_compute_workgroups_per_dimension)
                .min(ctx.limits.max_compute_workgroups_per_dimension),
        };
        let path = match plan.fused {
            true => Path::Fused(kernels::fused_steps::build(&env, &mut keep)),
            false => Path::Dispatch(Dispatch::build(&env, &plan, &opts, &mut keep)?),
        };
        drop(shared);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(out_of_memory(
                &ctx,
                &lay,
                &quantized,
                trial_bytes * trials as u64,
                e,
            ));
        }
        ctx.take_error()?;
        let engine = GpuEngine {
            upload: vec![0; capacity * lay.row_words],
            inject_loss_at: opts.inject_loss_at,
            chunk_uniform: steps.chunk.clone(),
            gen_input: plan.gen_input,
            ctx,
            net,
            capacity,
            lay,
            path,
            trials,
            steps_done: 0,
            b: bufs,
            chunk_template,
            probe: None,
            _keep: keep,
            clock,
        };
        engine.write_initial_state();
        Ok(engine)
    }

    /// Every trial's membranes and states at their initial values, where
    /// they are not 0 (a network with populations in physical units).
    fn write_initial_state(&self) {
        if !self.net.populations.iter().any(|p| p.is_physical()) {
            return;
        }
        let (v, state) = initial_state(&self.net, &self.lay);
        let queue = &self.ctx.queue;
        for t in 0..self.trials {
            queue.write_buffer(
                &self.b.v,
                (t * v.len() * 4) as u64,
                bytemuck::cast_slice(&v),
            );
        }
        for t in 0..self.trials {
            let at = (t * state.len() * 4) as u64;
            queue.write_buffer(&self.b.state, at, bytemuck::cast_slice(&state));
        }
    }

    /// Starts over at step 0 for the trials of `inputs`, as many as the
    /// engine was built for: their input keys, and membranes, spike rows,
    /// sums and fault reports cleared, keeping the weights and everything
    /// built from them (trials run in turn reuse one engine instead of
    /// quantising and uploading the network again). Ok(false), nothing
    /// done, where it cannot: another trial count, the fused kernel (its
    /// keys live in its tables), plasticity (its learned weights).
    pub fn restart(&mut self, inputs: &[InputSource]) -> Result<bool> {
        let Path::Dispatch(d) = &self.path else {
            return Ok(false);
        };
        if inputs.len() != self.trials
            || self.net.projections.iter().any(|p| p.plasticity.is_some())
        {
            return Ok(false);
        }
        let keys = trial_keys(&self.net, inputs)?;
        let ctx = &self.ctx;
        if self.gen_input && !keys.is_empty() {
            ctx.queue
                .write_buffer(&d.keys, 0, bytemuck::cast_slice(&keys));
        }
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        for b in [
            &self.b.spikes,
            &self.b.carry,
            &self.b.v,
            &self.b.fault,
            &self.b.state,
            &d.acc,
        ] {
            enc.clear_buffer(b, 0, None);
        }
        ctx.queue.submit([enc.finish()]);
        self.write_initial_state();
        ctx.take_error()?;
        self.steps_done = 0;
        if let Some(c) = &mut self.clock {
            c.restart();
        }
        Ok(true)
    }

    /// Steps a chunk may hold without being split.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Bytes of every buffer the engine holds on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        let mut b: u64 = [
            &self.b.spikes,
            &self.b.carry,
            &self.b.staging,
            &self.b.v,
            &self.b.v_staging,
            &self.b.gains,
            &self.b.etas,
            &self.b.bias,
            &self.b.thresholds,
        ]
        .iter()
        .map(|x| x.size())
        .sum();
        b += self._keep.iter().map(|x| x.size()).sum::<u64>();
        b += match &self.path {
            Path::Fused(f) => f.params.size(),
            Path::Dispatch(d) => d
                .poisson_launches
                .iter()
                .flatten()
                .map(|(_, p, _)| p.size())
                .sum(),
        };
        b
    }

    /// The order of the dispatches (None when fused).
    pub fn schedule(&self) -> Option<Schedule> {
        match &self.path {
            Path::Dispatch(d) => Some(d.schedule),
            Path::Fused(_) => None,
        }
    }

    /// Whether the whole network runs in one dispatch per chunk.
    pub fn is_fused(&self) -> bool {
        matches!(self.path, Path::Fused(_))
    }

    /// The grid of every launch (x, y): synapse launches, then
    /// `lif_update`, then `synapse_block`, then `block_masks` and
    /// `synapse_gather` (one (1, 1) when fused).
    pub fn grids(&self) -> Vec<(u32, u32)> {
        match &self.path {
            Path::Dispatch(d) => d
                .launches
                .iter()
                .flatten()
                .chain(d.lif_launches.iter().flatten())
                .chain(
                    d.gathers
                        .iter()
                        .flatten()
                        .flat_map(|g| g.masks.iter().chain(&g.parts)),
                )
                .map(|l| l.grid)
                .collect(),
            Path::Fused(_) => vec![(1, 1)],
        }
    }

    /// The projections whose sums go to per-step slots, in config order:
    /// those that sum `BLOCK_STEPS` steps at once (`synapse_block`) and,
    /// on the block schedule, the sparse ones too.
    pub fn blocked_projections(&self) -> Vec<usize> {
        match &self.path {
            Path::Dispatch(d) => (0..d.sums.len())
                .filter(|&j| d.sums[j].in_slots())
                .collect(),
            Path::Fused(_) => vec![],
        }
    }

    /// Per projection: how many weights bindings it was split into.
    pub fn weight_parts(&self) -> Vec<usize> {
        match &self.path {
            Path::Dispatch(d) => (0..d.sums.len())
                .map(|j| {
                    let gathered = d.gathers[j].as_ref().map_or(0, |g| g.parts.len());
                    d.launches[j].len() + gathered
                })
                .collect(),
            Path::Fused(_) => vec![1; self.net.projections.len()],
        }
    }
}

/// The buffers a run of `trials` trials needs that no single binding or the
/// fused kernel can hold: an error naming the first, with what would fit.
fn check_sizes(
    ctx: &GpuContext,
    net: &Network,
    plan: &Plan,
    lay: &Offsets,
    trials: usize,
    max_binding: u64,
) -> Result<()> {
    let row_bytes = lay.row_words as u64 * 4;
    let capacity = plan.capacity;
    let spikes_bytes = trials as u64 * (capacity as u64 + 1) * row_bytes;
    if trials > plan.trials {
        let most = match plan.trials {
            1 => "one trial at a time".to_string(),
            n => format!("at most {n} trials side by side"),
        };
        return Err(Error::Input(format!(
            "this engine runs {most}, {trials} asked: trials side by side need the input drawn on the GPU, the fused kernel or the block schedule (no plasticity), and every trial's spike rows, sums and membranes in one binding of {max_binding} bytes"
        )));
    }
    if spikes_bytes > max_binding {
        // the one buffer that grows with --chunk
        let most = (max_binding / (trials as u64 * row_bytes))
            .saturating_sub(1)
            .max(1);
        return Err(crate::error::bad_value(
            "--chunk",
            capacity,
            format!(
                "the spike rows of a chunk of {capacity} steps need {spikes_bytes} bytes in one GPU buffer, above the limit of {max_binding} bytes of {}; this network takes at most --chunk {most} on it",
                ctx.info.name
            ),
        ));
    }
    for (what, bytes) in [
        ("the membranes", trials as u64 * lay.v_len as u64 * 4),
        ("the synaptic sums", trials as u64 * lay.acc_len as u64 * 4),
        (
            "the models' state",
            trials as u64 * lay.state_len as u64 * 4,
        ),
    ] {
        if bytes > max_binding {
            return Err(too_big(what, bytes, max_binding, ctx));
        }
    }
    if plan.fused && !fusable(net, max_binding) {
        return Err(Error::Input(format!(
            "the fused kernel needs dense projections without plasticity, no dopamine gain, at most {} spike words a step and {FUSED_MAX_SYNAPSES} synapses; this network has {} and {}",
            FUSED_MAX_ROW_WORDS,
            lay.row_words,
            net.total_synapses()
        )));
    }
    Ok(())
}

/// The error of a device that could not allocate the engine's buffers.
fn out_of_memory(
    ctx: &GpuContext,
    lay: &Offsets,
    quantized: &[Quantized],
    spikes_bytes: u64,
    e: wgpu::Error,
) -> Error {
    let bytes: u64 = spikes_bytes * 2
        + (lay.v_len as u64 * 2 + lay.acc_len as u64 * 2) * 4
        + quantized.iter().map(|q| q.wq.len() as u64 * 4).sum::<u64>();
    Error::Input(format!(
        "the network needs about {bytes} bytes of GPU memory, more than {} can give ({e}); use --backend cpu or a smaller network",
        ctx.info.name
    ))
}

impl Buffers {
    /// The spike rows (and their carry and staging), membranes, biases,
    /// Poisson thresholds, fault reports and per-step dopamine factors.
    fn new(
        ctx: &GpuContext,
        model: &Model,
        input: &InputSource,
        plan: &Plan,
        lay: &Offsets,
        trials: usize,
        clocked: bool,
    ) -> Result<Buffers> {
        let (device, net) = (&ctx.device, &model.net);
        let capacity = plan.capacity;
        let row_bytes = lay.row_words as u64 * 4;
        let spikes_bytes = trials as u64 * (capacity as u64 + 1) * row_bytes;
        let usage_rw = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let read = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let spikes = buffer(device, "spikes", spikes_bytes, usage_rw);
        // the last row of the previous chunk, per trial (the fused kernel
        // keeps its own)
        let copies = wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
        let carry = buffer(device, "carry", trials as u64 * row_bytes, copies);
        // 4 words (fused_steps), then 2 per population and trial (the
        // membrane kernels)
        let fault_bytes = (4 + 2 * net.populations.len() as u64 * trials as u64) * 4;
        let rows_read = match trials > 1 {
            true => spikes_bytes,
            false => capacity as u64 * row_bytes,
        };
        let staging = buffer(device, "spikes staging", fault_bytes + rows_read, read);
        let v_bytes = trials as u64 * lay.v_len as u64 * 4;
        let v = buffer(device, "v", v_bytes, usage_rw);
        let v_staging = buffer(device, "v staging", v_bytes, read);
        // every projection's biases, then the NMDA projections' tables
        let mut bias_data: Vec<f32> = model
            .weights
            .iter()
            .flat_map(|w| w.b.iter().copied())
            .collect();
        for p in &net.projections {
            if p.synapse.kind == crate::network::SynapseKind::Nmda {
                bias_data.extend(crate::network::neuron::mg_table(p.synapse.mg_mm));
            }
        }
        let state_bytes = trials as u64 * lay.state_len as u64 * 4;
        let state = buffer(device, "state", state_bytes, usage_rw);
        let bias = storage_buffer(device, "bias", &bias_data);
        // Generated input is drawn on the GPU: thresholds (and the keys of
        // every trial's streams).
        let mut thr_data: Vec<u32> = Vec::new();
        let mut poisson = vec![None; net.populations.len()];
        if let InputSource::Generated { streams, .. } = input
            && plan.gen_input
        {
            for (p, pop) in net.populations.iter().enumerate() {
                if pop.is_poisson() {
                    poisson[p] = Some(thr_data.len());
                    thr_data.extend_from_slice(&streams[p].1);
                }
            }
        }
        let thresholds = storage_buffer(device, "thresholds", &thr_data);
        let fault = buffer(device, "fault", fault_bytes, usage_rw);
        let n_plastic = net
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some())
            .count();
        let per_step = |n: usize| match clocked {
            true => capacity as u64 * n as u64 * 4,
            false => 0,
        };
        let writes = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let gains = buffer(
            device,
            "gains",
            per_step(crate::dopamine::gain_row(net)),
            writes,
        );
        let etas = buffer(device, "etas", per_step(n_plastic), writes);
        Ok(Buffers {
            spikes,
            carry,
            staging,
            v,
            v_staging,
            bias,
            thresholds,
            fault,
            gains,
            etas,
            state,
            poisson,
        })
    }
}

/// Every trial's key words (key0, key1, stream, 0: `input::key_words`)
/// per Poisson population, for the GPU's draws; none for a given (not generated) input, which only a single
/// trial may have.
fn trial_keys(net: &Network, inputs: &[InputSource]) -> Result<Vec<u32>> {
    let mut keys = Vec::new();
    for inp in inputs {
        let InputSource::Generated { seed, streams, .. } = inp else {
            if inputs.len() > 1 {
                return Err(Error::Input(
                    "--trials needs generated input (not --input-spikes)".into(),
                ));
            }
            continue;
        };
        for (p, pop) in net.populations.iter().enumerate() {
            if pop.is_poisson() {
                keys.extend_from_slice(&crate::input::key_words(*seed, streams[p].0));
            }
        }
    }
    Ok(keys)
}

impl Engine for GpuEngine {
    /// The adapter and how the steps run on it: "..., block schedule",
    /// "..., step schedule" or "..., fused kernel".
    fn describe(&self) -> String {
        let how = match self.schedule() {
            Some(Schedule::Block) => "block schedule",
            Some(Schedule::Step) => "step schedule",
            None => "fused kernel",
        };
        format!("{}, {how}", self.ctx.describe())
    }

    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()> {
        self.run_chunk_trials(std::slice::from_mut(spikes))
    }

    fn start_profile(&mut self) -> bool {
        let wanted =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if !self.ctx.device.features().contains(wanted) {
            return false;
        }
        self.probe = Some(Probe::new(&self.ctx.device));
        true
    }

    fn take_profile(&mut self) -> Option<Profile> {
        self.probe.take().map(|p| p.profile)
    }

    fn generates_input(&self) -> bool {
        self.gen_input
    }

    /// Trial 0's membranes.
    fn membranes(&mut self) -> Result<Vec<Vec<f32>>> {
        Ok(self.membranes_trials()?.swap_remove(0))
    }

    fn plastic_weights(&mut self) -> Result<Vec<Option<Vec<i32>>>> {
        let mut out = vec![None; self.net.projections.len()];
        let Path::Dispatch(d) = &self.path else {
            return Ok(out);
        };
        for pl in &d.plastic {
            let bytes = pl.weights.size();
            let staging = buffer(
                &self.ctx.device,
                "weights staging",
                bytes,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&pl.weights, 0, &staging, 0, bytes);
            self.ctx.queue.submit([enc.finish()]);
            let padded: Vec<i32> = self.ctx.read_mapped(&staging, bytes)?;
            let mut wq = Vec::with_capacity(pl.n_pre * pl.n_post);
            for i in 0..pl.n_pre {
                wq.extend_from_slice(&padded[i * pl.stride..][..pl.n_post]);
            }
            out[pl.proj] = Some(wq);
        }
        Ok(out)
    }
}

impl GpuEngine {
    /// Runs the next steps of every trial: `chunks[t]` is trial t's chunk,
    /// all of the same length.
    pub fn run_chunk_trials(&mut self, chunks: &mut [ChunkSpikes]) -> Result<()> {
        let steps = chunks.first().map_or(0, |c| c.steps);
        let mut done = 0;
        while done < steps {
            let n = self.capacity.min(steps - done);
            self.run_part(chunks, done, n)?;
            done += n;
        }
        Ok(())
    }

    /// Trials run side by side.
    pub fn trials(&self) -> usize {
        self.trials
    }

    /// Every trial's membranes after the last completed step, per
    /// population (empty for Poisson populations).
    pub fn membranes_trials(&mut self) -> Result<Vec<Vec<Vec<f32>>>> {
        let per_trial = self.lay.v_len;
        let bytes = (self.trials * per_trial) as u64 * 4;
        let mut out = vec![vec![Vec::new(); self.net.populations.len()]; self.trials];
        if bytes == 0 {
            return Ok(out);
        }
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.b.v, 0, &self.b.v_staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let v: Vec<f32> = self.ctx.read_mapped(&self.b.v_staging, bytes)?;
        for (t, trial) in out.iter_mut().enumerate() {
            for (p, pop) in self.net.populations.iter().enumerate() {
                if !pop.is_poisson() {
                    trial[p] = v[t * per_trial + self.lay.v_offset[p]..][..pop.size].to_vec();
                }
            }
        }
        Ok(out)
    }
}
