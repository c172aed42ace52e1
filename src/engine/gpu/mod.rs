//! The GPU engine: the WGSL kernels of `shaders/` run through wgpu.
//!
//! Everything is created once in [`GpuEngine::new`]: pipelines, buffers and
//! bind groups. A chunk of steps is then at most one upload (input given by
//! the host), one compute pass holding every dispatch of every step, two
//! copies and one readback of the bit-packed spikes:
//!
//! - `spikes`: rows of `row_words` u32, every population's words side by
//!   side; row 0 holds the last step of the previous chunk (copied in from
//!   `carry`), rows 1..=n the steps of this chunk;
//! - `v`: membranes of every LIF population; `acc`: the integer sums of every
//!   projection; `bias`: every projection's bias; `thresholds`: the Poisson
//!   neurons' integer rates;
//! - weights as the kernels read them: dense projections as pre-major i32
//!   rows padded to vec4, split by pre rows when a projection exceeds the
//!   storage-binding limit; sparse ones as a pre-major CSR.
//!
//! Two paths (`Path`). Batched `--trials` of a small network run every step
//! of a chunk in one dispatch of `fused_steps` (a workgroup a trial). Any
//! other run takes the per-kernel path: per chunk, `poisson_input` for the
//! whole chunk, then the steps in one of two orders (`Schedule`):
//!
//! - Block (no plasticity): a block of [`BLOCK_STEPS`] steps at a time,
//!   population after population in dependency order; each incoming
//!   projection's sums of the whole block into per-step slots
//!   (`synapse_block` for dense ones, `block_masks` and `synapse_gather`
//!   or `synapse_scatter_block` for sparse ones), then `lif_block` for the
//!   block's steps. Several trials run side by side: trial t is the z of
//!   every grid, its spike rows, sums, membranes and masks at t times the
//!   strides of the `Chunk` uniform (`poisson_input` loops over the trials).
//! - Step: per step and population in dependency order, `synapse_accumulate`
//!   (dense) or `synapse_scatter` (sparse) for each incoming projection, then
//!   `lif_update`, then the plasticity kernels. Large dense projections from
//!   Poisson populations run `synapse_block` at the first step of each block
//!   instead (`engine::sums_in_blocks`).
//!
//! The membrane kernels read and zero the sums for their next use. The
//! step's row reaches the kernels as a dynamic offset into a uniform buffer
//! written once, beside a `Chunk` uniform with the chunk's step count and
//! the trials' strides.

pub mod context;
pub mod layout;
mod probe;
mod sparse;

pub use context::GpuContext;

use super::{BLOCK_MIN_SYNAPSES, BLOCK_STEPS, Engine, InputSource, Profile};
use crate::config::{Network, Reset};
use crate::error::{Error, Result};
use crate::network::Model;
use crate::record::ChunkSpikes;
use crate::reward::{Clock, PlasticConsts};
use layout::{
    Chunk, FusedParams, GatherParams, MaskParams, PlasticParams, PoissonParams, PopParams,
    ProjParams, ScatterParams, Step, SynParams,
};
use probe::{Probe, timed};
use sparse::by_post_slices;
use std::sync::Arc;

pub const COMMON_WGSL: &str = include_str!("../../../shaders/common.wgsl");
pub const SYNAPSE_WGSL: &str = include_str!("../../../shaders/synapse_accumulate.wgsl");
pub const LIF_WGSL: &str = include_str!("../../../shaders/lif_update.wgsl");
pub const FUSED_WGSL: &str = include_str!("../../../shaders/fused_steps.wgsl");
pub const POISSON_WGSL: &str = include_str!("../../../shaders/poisson_input.wgsl");
pub const SCATTER_WGSL: &str = include_str!("../../../shaders/synapse_scatter.wgsl");
pub const PLASTICITY_WGSL: &str = include_str!("../../../shaders/plasticity.wgsl");
pub const MASKS_WGSL: &str = include_str!("../../../shaders/block_masks.wgsl");
pub const GATHER_WGSL: &str = include_str!("../../../shaders/synapse_gather.wgsl");

const WORKGROUP: u64 = 64;
/// Spike-buffer rows kept on the GPU at most, in bytes (bounds the chunk).
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// Knobs for tests: smaller limits than the adapter's, to exercise the
/// code paths that large networks take (2-D grids, split weights).
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuOptions {
    /// Workgroups per grid dimension (default: the adapter's limit).
    pub max_groups_per_dim: Option<u32>,
    /// Bytes per weights binding (default: the adapter's limit).
    pub max_binding_bytes: Option<u64>,
    /// Force (Some(true)) or forbid (Some(false)) the fused one-dispatch
    /// kernel; None: fused whenever the network is small enough.
    pub fused: Option<bool>,
    /// Draw generated Poisson input on the host and upload it, instead of
    /// drawing it on the GPU (the default).
    pub host_input: bool,
    /// Projections of at least this many synapses sum [`BLOCK_STEPS`]
    /// steps at once where they can (`engine::sums_in_blocks`); default
    /// [`BLOCK_MIN_SYNAPSES`]. Tests set 0 to reach `synapse_block` on
    /// small networks.
    pub block_min_synapses: Option<usize>,
    /// Run step after step ([`Schedule::Step`]) even where a block at a
    /// time ([`Schedule::Block`], the default without plasticity) could run.
    pub step_schedule: bool,
    /// On the block schedule, scatter sparse projections
    /// (`synapse_scatter_block`) instead of gathering them by post
    /// (`synapse_gather`, the default).
    pub sparse_scatter: bool,
}

/// Populations of the block schedule have fewer neurons than this (a fault
/// report packs the neuron into 27 bits).
const BLOCK_MAX_NEURONS: usize = 1 << 27;

/// The schedule of a network on the per-kernel path: a block at a time
/// unless it has plasticity, a population of 2^27 neurons or more,
/// `opts.step_schedule`, or `NACC_GPU_SCHEDULE=step` (for kernel
/// experiments).
fn schedule(net: &Network, opts: &GpuOptions) -> Schedule {
    let forced =
        opts.step_schedule || std::env::var("NACC_GPU_SCHEDULE").is_ok_and(|v| v == "step");
    let blockable = net.projections.iter().all(|p| p.plasticity.is_none())
        && net.populations.iter().all(|p| p.size < BLOCK_MAX_NEURONS);
    if blockable && !forced {
        Schedule::Block
    } else {
        Schedule::Step
    }
}

/// A kernel launch prepared once: its bind group and grid.
struct Launch {
    bind_group: wgpu::BindGroup,
    grid: (u32, u32),
    /// A sparse projection's `synapse_scatter` (else `synapse_accumulate`).
    scatter: bool,
}

/// A plastic projection's kernels and the buffer its weights live in.
struct PlasticLaunch {
    proj: usize,
    /// `plasticity`, one invocation per synapse.
    synapses: Launch,
    /// `plasticity_traces`, one invocation per pre and post neuron.
    traces: Launch,
    weights: wgpu::Buffer,
    n_pre: usize,
    n_post: usize,
    /// i32s from one pre neuron's weights to the next.
    stride: usize,
}

/// The order of the dispatches of a chunk (after the Poisson input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Step after step: per step, each population in dependency order (its
    /// incoming projections' sums, then `lif_update`), then plasticity.
    /// Projections that sum in blocks run `synapse_block` at the first step
    /// of each block. Networks with plasticity run this way.
    Step,
    /// Block after block of [`BLOCK_STEPS`] steps: per block, each
    /// population in dependency order, its incoming projections' sums of
    /// the whole block (`synapse_block`, `synapse_scatter_block`) into
    /// per-step slots, then `lif_block` for all the block's steps.
    /// Possible because a network is acyclic (the config refuses cycles) and,
    /// without plasticity, the weights do not change within a block: a
    /// population's steps need only its pre populations' spikes of the same
    /// steps. ~5 dispatches per 16 steps for the default network's shape
    /// instead of ~5 per step.
    Block,
}

/// One `synapse_accumulate` per projection part and one `lif_update` per
/// population, every step, then the plasticity kernels, all in one compute
/// pass; or the same a block at a time (`Schedule`).
struct Dispatch {
    /// Every trial's input keys (k0, k1) per Poisson population the GPU
    /// draws, and the synaptic sums: what a restart rewrites and clears.
    keys: wgpu::Buffer,
    acc: wgpu::Buffer,
    schedule: Schedule,
    syn_pipeline: wgpu::ComputePipeline,
    scatter_pipeline: wgpu::ComputePipeline,
    scatter_block_pipeline: wgpu::ComputePipeline,
    lif_pipeline: wgpu::ComputePipeline,
    lif_block_pipeline: wgpu::ComputePipeline,
    /// Per projection: one launch per weights part, every step (none for
    /// a dense projection that sums in blocks).
    syn_launches: Vec<Vec<Launch>>,
    block_pipeline: wgpu::ComputePipeline,
    /// Per projection: one `synapse_block` launch per weights part when it
    /// sums in blocks, run once per block.
    block_launches: Vec<Vec<Launch>>,
    masks_pipeline: wgpu::ComputePipeline,
    gather_pipeline: wgpu::ComputePipeline,
    /// Per sparse projection gathered on the block schedule
    /// (`GpuPlan::gathered`): its pre population's `block_masks` and its
    /// `synapse_gather`, once per block.
    /// (The masks are written once per block and pre population: by its
    /// first gathered projection in update order.) A projection whose
    /// synapses exceed a binding has one `synapse_gather` per part.
    gather_launches: Vec<Option<(Option<Launch>, Vec<Launch>)>>,
    /// Per population: its lif_update launch (LIF only).
    lif_launches: Vec<Option<Launch>>,
    poisson_pipeline: wgpu::ComputePipeline,
    /// Per population: its poisson_input launch and params buffer
    /// (Poisson populations, when the GPU draws the input).
    poisson_launches: Vec<Option<(Launch, wgpu::Buffer, PoissonParams)>>,
    step_group: wgpu::BindGroup,
    step_stride: u32,
    /// Workgroups per grid dimension at most.
    max_dim: u32,
    /// Trials side by side: the grid's z (1 on the step schedule).
    trials: u32,
    plasticity_pipeline: wgpu::ComputePipeline,
    traces_pipeline: wgpu::ComputePipeline,
    plastic: Vec<PlasticLaunch>,
}

impl Dispatch {
    /// Sets `pipeline` and the launch's bind group, and dispatches its grid
    /// for every trial (z; kernel `name`, timed when profiling).
    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass,
        probe: &mut Option<Probe>,
        pipeline: &wgpu::ComputePipeline,
        l: &Launch,
        name: &'static str,
    ) {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &l.bind_group, &[]);
        timed(pass, probe, name, |pass| {
            pass.dispatch_workgroups(l.grid.0, l.grid.1, self.trials)
        });
    }

    /// The Poisson kernels' parameters for the `n` steps from `first_step`.
    fn write_params(&self, queue: &wgpu::Queue, first_step: u32, n: usize) {
        for (_, buf, template) in self.poisson_launches.iter().flatten() {
            let p = PoissonParams {
                first_step,
                n_steps: n as u32,
                ..*template
            };
            queue.write_buffer(buf, 0, bytemuck::bytes_of(&p));
        }
    }

    /// A projection's sums of one step (`synapse_accumulate` per weights
    /// part, or `synapse_scatter`).
    fn sums(&self, pass: &mut wgpu::ComputePass, probe: &mut Option<Probe>, j: usize) {
        for l in &self.syn_launches[j] {
            if l.scatter {
                self.dispatch(pass, probe, &self.scatter_pipeline, l, "synapse_scatter");
            } else {
                self.dispatch(pass, probe, &self.syn_pipeline, l, "synapse_accumulate");
            }
        }
    }

    /// Every dispatch of `n` steps: the input of the whole chunk first (it
    /// does not depend on the network), then the steps in the order of the
    /// schedule.
    fn encode(
        &self,
        pass: &mut wgpu::ComputePass,
        probe: &mut Option<Probe>,
        n: usize,
        order: &[usize],
        lay: &Layout,
    ) {
        let step = |pass: &mut wgpu::ComputePass, s: usize| {
            pass.set_bind_group(1, &self.step_group, &[s as u32 * self.step_stride]);
        };
        for (l, _, _) in self.poisson_launches.iter().flatten() {
            pass.set_pipeline(&self.poisson_pipeline);
            pass.set_bind_group(0, &l.bind_group, &[]);
            // z: the steps, at most max_dim a dispatch
            for base in (0..n).step_by(self.max_dim as usize) {
                step(pass, base);
                let z = (n - base).min(self.max_dim as usize);
                timed(pass, probe, "poisson_input", |pass| {
                    pass.dispatch_workgroups(l.grid.0, l.grid.1, z as u32)
                });
            }
        }
        if self.schedule == Schedule::Block {
            for b in (0..n).step_by(BLOCK_STEPS) {
                for &p in order {
                    let Some(lif) = &self.lif_launches[p] else {
                        continue;
                    };
                    step(pass, b);
                    for &j in &lay.incoming[p] {
                        for l in &self.block_launches[j] {
                            self.dispatch(pass, probe, &self.block_pipeline, l, "synapse_block");
                        }
                        // a sparse projection: gathered, or scattered
                        if let Some((masks, parts)) = &self.gather_launches[j] {
                            if let Some(m) = masks {
                                self.dispatch(pass, probe, &self.masks_pipeline, m, "block_masks");
                            }
                            for g in parts {
                                let pipeline = &self.gather_pipeline;
                                self.dispatch(pass, probe, pipeline, g, "synapse_gather");
                            }
                        }
                        for l in &self.syn_launches[j] {
                            let pipeline = &self.scatter_block_pipeline;
                            self.dispatch(pass, probe, pipeline, l, "synapse_scatter_block");
                        }
                    }
                    self.dispatch(pass, probe, &self.lif_block_pipeline, lif, "lif_block");
                }
            }
            return;
        }
        for s in 0..n {
            step(pass, s);
            // the sums of the next BLOCK_STEPS steps of blocked projections
            // (their input rows are all there)
            if s % BLOCK_STEPS == 0 {
                for l in self.block_launches.iter().flatten() {
                    self.dispatch(pass, probe, &self.block_pipeline, l, "synapse_block");
                }
            }
            for &p in order {
                let Some(lif) = &self.lif_launches[p] else {
                    continue;
                };
                for &j in &lay.incoming[p] {
                    self.sums(pass, probe, j);
                }
                self.dispatch(pass, probe, &self.lif_pipeline, lif, "lif_update");
            }
            // plasticity, once every population has its spikes of the step
            for pl in &self.plastic {
                let (synapses, traces) = (&self.plasticity_pipeline, &self.traces_pipeline);
                self.dispatch(pass, probe, synapses, &pl.synapses, "plasticity");
                self.dispatch(pass, probe, traces, &pl.traces, "plasticity_traces");
            }
        }
    }
}

/// How the steps of a chunk reach the GPU.
enum Path {
    Dispatch(Dispatch),
    /// The whole network, every step of the chunk, in one dispatch of one
    /// workgroup (`fused_steps`).
    Fused {
        pipeline: wgpu::ComputePipeline,
        bind_group: wgpu::BindGroup,
        /// `FusedParams`, rewritten with the chunk's step count.
        params: wgpu::Buffer,
        template: FusedParams,
        /// The step uniforms: a slice's first row, by dynamic offset.
        step_group: wgpu::BindGroup,
        step_stride: u32,
    },
}

pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    net: Network,
    capacity: usize,
    /// Where every population and projection lies in the buffers.
    lay: Layout,
    path: Path,
    /// The GPU draws the Poisson input.
    gen_input: bool,
    /// Independent trials run side by side (fused path only when > 1).
    trials: usize,
    /// Steps run so far: the absolute step of the next chunk's first row.
    steps_done: u64,
    spikes: wgpu::Buffer,
    /// (row or step + 1, population, neuron, trial) of a non-finite membrane,
    /// then two words per population and trial (`lif_block`'s report).
    fault: wgpu::Buffer,
    /// `Chunk`: the step count of the chunk being run.
    chunk_uniform: wgpu::Buffer,
    /// The `Chunk` uniform but its `n_steps`.
    chunk_template: Chunk,
    /// Timestamps around the dispatches, while profiling.
    probe: Option<Probe>,
    carry: wgpu::Buffer,
    staging: wgpu::Buffer,
    v: wgpu::Buffer,
    v_staging: wgpu::Buffer,
    /// Buffers only bind groups refer to, kept alive here.
    _keep: Vec<wgpu::Buffer>,
    upload: Vec<u32>,
    /// A test hook: NACC_INJECT_DEVICE_LOSS=k fails like a lost device once
    /// k steps are done, so that tests can check what a run keeps.
    inject_loss_at: Option<u64>,
    /// d(t), gains and learning factors (dopamine modulation or
    /// plasticity), uploaded per chunk into `gains` (a row of one per
    /// projection a step) and `etas` (one per plastic projection a step).
    clock: Option<Clock>,
    gains: wgpu::Buffer,
    etas: wgpu::Buffer,
}

/// Spike words (of 32 pre neurons) one synapse_accumulate invocation sums:
/// fewer atomics per spike than one word, enough parallelism at scale.
pub const SYN_CHUNK_WORDS: u64 = 8; // MAX_CHUNK_WORDS of synapse_accumulate.wgsl

/// Spike words a synapse invocation sums: [`SYN_CHUNK_WORDS`], or 1..=8 from
/// `NACC_SYN_CHUNK_WORDS` (for kernel experiments, see benches/NOTES.md).
fn syn_chunk_words() -> u64 {
    env_chunk_words("NACC_SYN_CHUNK_WORDS", SYN_CHUNK_WORDS)
}

/// Spike words a `synapse_block` invocation sums. Fewer than
/// synapse_accumulate's: every one of its rows is read (99.7 % of them
/// spike in some step of a block), and a block's 16 sums take 64 registers,
/// so more, shorter invocations keep more loads in flight.
pub const BLOCK_CHUNK_WORDS: u64 = 4;

/// [`BLOCK_CHUNK_WORDS`], or 1..=8 from `NACC_BLOCK_CHUNK_WORDS`.
fn block_chunk_words() -> u64 {
    env_chunk_words("NACC_BLOCK_CHUNK_WORDS", BLOCK_CHUNK_WORDS)
}

fn env_chunk_words(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|w| (1..=SYN_CHUNK_WORDS).contains(w))
        .unwrap_or(default)
}

/// Projections of at least this many synapses sum in blocks on the GPU:
/// `opts`, else `NACC_GPU_BLOCK_MIN_SYNAPSES` (for kernel experiments; a
/// huge value turns blocks off), else [`BLOCK_MIN_SYNAPSES`].
fn block_min_synapses(opts: &GpuOptions) -> usize {
    opts.block_min_synapses.unwrap_or_else(|| {
        std::env::var("NACC_GPU_BLOCK_MIN_SYNAPSES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(BLOCK_MIN_SYNAPSES)
    })
}

/// Networks up to this many synapses may run fused (one workgroup does all
/// the work of a step, so the work must be small).
pub const FUSED_MAX_SYNAPSES: u64 = 1 << 20;
/// Words of one spike row the fused kernel keeps in workgroup memory.
pub const FUSED_MAX_ROW_WORDS: usize = 256;

/// Splits `groups` workgroups into a 2-D grid of at most `max` per dimension.
pub fn grid_2d(groups: u64, max: u32) -> Option<(u32, u32)> {
    let x = groups.clamp(1, max as u64);
    let y = groups.div_ceil(x).max(1);
    (y <= max as u64).then_some((x as u32, y as u32))
}

/// [`grid_2d`] for a launch of `what`, or an error naming it.
fn grid(groups: u64, max: u32, what: &str) -> Result<(u32, u32)> {
    grid_2d(groups, max).ok_or_else(|| {
        Error::Input(format!(
            "{what} needs {groups} GPU workgroups, more than {max} x {max}"
        ))
    })
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry(binding: u32, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: None,
        },
        count: None,
    }
}

fn too_big(what: &str, bytes: u64, limit: u64, ctx: &GpuContext) -> Error {
    Error::Input(format!(
        "{what} needs {bytes} bytes in one GPU buffer, above the limit of {limit} bytes of {}; use --backend cpu or a smaller network",
        ctx.info.name
    ))
}

/// Where everything lies in the shared buffers.
struct Layout {
    row_words: usize,
    word_offset: Vec<usize>,
    v_offset: Vec<usize>,
    v_len: usize,
    /// Per projection: offset of its sums in `acc` (a row of posts, or
    /// [`BLOCK_STEPS`] rows when it sums in blocks) and of its post neurons
    /// in `bias`.
    acc_offset: Vec<usize>,
    acc_len: usize,
    bias_offset: Vec<usize>,
    /// Per population: incoming projections, config order.
    incoming: Vec<Vec<usize>>,
    /// Per population: where its list starts in the flattened `incoming`.
    first_in: Vec<usize>,
}

impl Layout {
    /// `blocked[j]`: projection j sums in blocks.
    fn new(net: &Network, blocked: &[bool]) -> Layout {
        let (mut word_offset, mut v_offset, mut acc_offset, mut first_in) =
            (vec![], vec![], vec![], vec![]);
        let (mut row_words, mut v_len, mut acc_len, mut n_in) = (0, 0, 0, 0);
        let mut bias_offset = vec![];
        let incoming: Vec<Vec<usize>> = (0..net.populations.len())
            .map(|p| net.incoming(p).map(|(j, _)| j).collect())
            .collect();
        for (p, pop) in net.populations.iter().enumerate() {
            word_offset.push(row_words);
            row_words += pop.words_per_step();
            v_offset.push(v_len);
            if !pop.is_poisson() {
                v_len += pop.size;
            }
            first_in.push(n_in);
            n_in += incoming[p].len();
        }
        let mut posts = 0;
        for (proj, &b) in net.projections.iter().zip(blocked) {
            let n = net.populations[proj.post].size;
            acc_offset.push(acc_len);
            acc_len += if b { BLOCK_STEPS * n } else { n };
            bias_offset.push(posts);
            posts += n;
        }
        Layout {
            row_words,
            word_offset,
            v_offset,
            v_len,
            acc_offset,
            acc_len,
            bias_offset,
            incoming,
            first_in,
        }
    }

    fn incoming_flat(&self) -> Vec<u32> {
        self.incoming.iter().flatten().map(|&j| j as u32).collect()
    }
}

fn reset_code(r: Reset) -> u32 {
    match r {
        Reset::Subtract => 0,
        Reset::Zero => 1,
        Reset::None => 2,
    }
}

fn buffer(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(16).next_multiple_of(4),
        usage,
        mapped_at_creation: false,
    })
}

fn layout_of(
    device: &wgpu::Device,
    label: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries,
    })
}

fn pipeline(
    device: &wgpu::Device,
    name: &str,
    src: &str,
    layouts: &[Option<&wgpu::BindGroupLayout>],
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(format!("{COMMON_WGSL}\n{src}").into()),
    });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: layouts,
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: Some(&pl),
        module: &module,
        entry_point: Some(name),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// One compute kernel: its group-0 layout (the kernel's parameters as a
/// uniform at binding 0, then one storage buffer per flag of `read_only`, in
/// binding order) and its pipeline over that layout and the per-step
/// uniforms at group 1.
fn kernel(
    device: &wgpu::Device,
    name: &str,
    src: &str,
    read_only: &[bool],
    step_layout: &wgpu::BindGroupLayout,
) -> (wgpu::BindGroupLayout, wgpu::ComputePipeline) {
    let entries: Vec<_> = std::iter::once(uniform_entry(0, false))
        .chain((1..).zip(read_only).map(|(b, &ro)| storage_entry(b, ro)))
        .collect();
    let layout = layout_of(device, name, &entries);
    let pipeline = pipeline(device, name, src, &[Some(&layout), Some(step_layout)]);
    (layout, pipeline)
}

/// Steps a chunk may hold on the GPU for rows of `row_words` words, in one
/// binding of at most `max_binding` bytes (with the carried row): a larger
/// --chunk only means fewer readbacks, so it is taken down to that, which
/// changes no value.
fn capacity_for(row_words: usize, chunk: usize, max_binding: u64) -> usize {
    let row = (row_words as u64 * 4).max(1);
    let most = (MAX_CHUNK_BYTES.min(max_binding) / row)
        .saturating_sub(1)
        .max(1);
    chunk.clamp(1, most as usize)
}

/// Bytes one storage binding may hold: the adapter's limit, or less when
/// `opts` asks for less.
fn max_binding(limits: &wgpu::Limits, opts: &GpuOptions) -> u64 {
    opts.max_binding_bytes
        .unwrap_or(limits.max_storage_buffer_binding_size)
        .min(limits.max_storage_buffer_binding_size)
        .min(limits.max_buffer_size)
}

/// Bytes between the per-step uniforms: the adapter's alignment.
fn step_stride(limits: &wgpu::Limits) -> u32 {
    limits
        .min_uniform_buffer_offset_alignment
        .max(std::mem::size_of::<Step>() as u32)
}

/// Whether the fused one-dispatch kernel can run the network.
fn fusable(net: &Network, max_binding: u64) -> bool {
    net.projections
        .iter()
        .all(|p| p.conn.is_dense() && p.plasticity.is_none())
        && net.populations.iter().all(|p| p.dopamine.is_none())
        && net.row_words() <= FUSED_MAX_ROW_WORDS
        && net.total_synapses() <= FUSED_MAX_SYNAPSES
        && net.total_synapses() * 4 <= max_binding
}

/// The per-step uniforms (entry s says "write row s + 1"), bound with a
/// dynamic offset at group 1, and the chunk's (`Chunk`, binding 1): their
/// layout, bind group, stride, and the chunk buffer written per chunk.
struct StepUniforms {
    layout: wgpu::BindGroupLayout,
    group: wgpu::BindGroup,
    stride: u32,
    chunk: wgpu::Buffer,
    /// Steps (entries) at most.
    capacity: usize,
}

fn step_uniforms(
    device: &wgpu::Device,
    limits: &wgpu::Limits,
    capacity: usize,
    keep: &mut Vec<wgpu::Buffer>,
) -> StepUniforms {
    let stride = step_stride(limits);
    let mut bytes = vec![0u8; capacity * stride as usize];
    for s in 0..capacity {
        let st = Step {
            row: s as u32 + 1,
            _pad: [0; 3],
        };
        bytes[s * stride as usize..][..16].copy_from_slice(bytemuck::bytes_of(&st));
    }
    let buf = init_buffer(device, "steps", &bytes, wgpu::BufferUsages::UNIFORM);
    let chunk = buffer(
        device,
        "chunk",
        std::mem::size_of::<Chunk>() as u64,
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    let layout = layout_of(
        device,
        "step",
        &[uniform_entry(0, true), uniform_entry(1, false)],
    );
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("step"),
        layout: &layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<Step>() as u64),
                }),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: chunk.as_entire_binding(),
            },
        ],
    });
    keep.push(buf);
    StepUniforms {
        layout,
        group,
        stride,
        chunk,
        capacity,
    }
}

/// Loop iterations one invocation of the fused kernel may spend in one
/// dispatch. On lavapipe (Mesa 22.3) a fused dispatch stopped doing work,
/// silently, after ~36-56 k such iterations (508 steps of the default
/// network, 54 at --scale 10); dispatches are cut well below that.
const FUSED_DISPATCH_BUDGET: u64 = 8_000;

/// Steps one fused dispatch runs: the budget over an upper bound of one
/// invocation's loop iterations a step (every pre neuron spiking).
fn fused_slice_steps(net: &Network, capacity: usize) -> usize {
    let per_thread = |n: usize| n.div_ceil(FUSED_WORKGROUP_SIZE) as u64;
    let mut per_step = 1u64;
    for (p, pop) in net.populations.iter().enumerate() {
        if pop.is_poisson() {
            per_step += per_thread(pop.size);
            continue;
        }
        let fan: u64 = net
            .incoming(p)
            .map(|(_, j)| {
                (net.populations[j.pre].words_per_step() + net.populations[j.pre].size) as u64
            })
            .sum();
        per_step += per_thread(pop.size) * (fan + 8);
    }
    ((FUSED_DISPATCH_BUDGET / per_step) as usize).clamp(1, capacity.max(1))
}

/// Invocations of a fused workgroup (FUSED_WORKGROUP of fused_steps.wgsl).
const FUSED_WORKGROUP_SIZE: usize = 256;

/// The buffers both paths share.
struct Shared<'a> {
    spikes: &'a wgpu::Buffer,
    v: &'a wgpu::Buffer,
    bias: &'a wgpu::Buffer,
    /// Integer thresholds of every Poisson population, concatenated.
    thresholds: &'a wgpu::Buffer,
    /// Per population: its offset in `thresholds`, when the GPU draws its
    /// input.
    poisson: Vec<Option<usize>>,
    /// (k0, k1) of each Poisson population's stream, per trial.
    trial_keys: Vec<u32>,
    /// Where kernels report the first non-finite membrane of a chunk.
    fault: &'a wgpu::Buffer,
    /// Words of one trial's spike rows.
    trial_words: u64,
    /// Trials side by side.
    trials: usize,
    /// Per step of a chunk: each projection's gain, each plastic
    /// projection's learning factor.
    gains: &'a wgpu::Buffer,
    etas: &'a wgpu::Buffer,
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
        let device = &ctx.device;
        let limits = &ctx.limits;
        let max_binding = max_binding(limits, &opts);
        // the decisions --dry-run reports, made here the same way
        let plan = GpuEngine::plan(
            &ctx,
            &net,
            matches!(input, InputSource::Generated { .. }),
            chunk,
            trials,
            opts,
        );
        // gathered sparse projections keep their synapses by post
        let quantized = model.quantize_for(&plan.gathered(&net))?;
        let blocked = plan.blocked(&net);
        let lay = Layout::new(&net, &blocked);
        let row_bytes = lay.row_words as u64 * 4;
        let capacity = plan.capacity;
        let trial_bytes = (capacity as u64 + 1) * row_bytes;
        let spikes_bytes = trials as u64 * trial_bytes;
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
        ] {
            if bytes > max_binding {
                return Err(too_big(what, bytes, max_binding, &ctx));
            }
        }
        let fused = plan.fused;
        if fused && !fusable(&net, max_binding) {
            return Err(Error::Input(format!(
                "the fused kernel needs dense projections without plasticity, no dopamine gain, at most {} spike words a step and {FUSED_MAX_SYNAPSES} synapses; this network has {} and {}",
                FUSED_MAX_ROW_WORDS,
                lay.row_words,
                net.total_synapses()
            )));
        }

        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let usage_rw = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let spikes = buffer(device, "spikes", spikes_bytes, usage_rw);
        // the last row of the previous chunk, per trial (the fused kernel
        // keeps its own)
        let carry = buffer(
            device,
            "carry",
            trials as u64 * row_bytes,
            wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        // 4 words (lif_update, fused_steps), then 2 per population and
        // trial (lif_block)
        let fault_bytes = (4 + 2 * net.populations.len() as u64 * trials as u64) * 4;
        let staging = buffer(
            device,
            "spikes staging",
            fault_bytes
                + if trials > 1 {
                    spikes_bytes
                } else {
                    capacity as u64 * row_bytes
                },
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let v = buffer(device, "v", trials as u64 * lay.v_len as u64 * 4, usage_rw);
        let v_staging = buffer(
            device,
            "v staging",
            trials as u64 * lay.v_len as u64 * 4,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let bias_data: Vec<f32> = model
            .weights
            .iter()
            .flat_map(|w| w.b.iter().copied())
            .collect();
        let bias = storage_buffer(device, "bias", &bias_data);
        // Generated input is drawn on the GPU: thresholds (and the keys of
        // every trial's streams, below).
        let mut thr_data: Vec<u32> = Vec::new();
        let mut poisson = vec![None; net.populations.len()];
        let gen_input = match input {
            InputSource::Generated { streams, .. } if plan.gen_input => {
                for (p, pop) in net.populations.iter().enumerate() {
                    if pop.is_poisson() {
                        poisson[p] = Some(thr_data.len());
                        thr_data.extend_from_slice(&streams[p].1);
                    }
                }
                true
            }
            _ => false,
        };
        let thresholds = storage_buffer(device, "thresholds", &thr_data);
        let trial_keys = trial_keys(&net, inputs)?;
        let fault = buffer(
            device,
            "fault",
            fault_bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        );
        let clock = Clock::for_engine(&net, &quantized);
        let n_plastic = net
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some())
            .count();
        let per_step = |n: usize| {
            if clock.is_some() {
                capacity as u64 * n as u64 * 4
            } else {
                0
            }
        };
        let gains = buffer(
            device,
            "gains",
            per_step(net.projections.len()),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let etas = buffer(
            device,
            "etas",
            per_step(n_plastic),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let shared = Shared {
            gains: &gains,
            etas: &etas,
            spikes: &spikes,
            v: &v,
            bias: &bias,
            thresholds: &thresholds,
            poisson,
            trial_keys,
            fault: &fault,
            trial_words: trial_bytes / 4,
            trials,
        };
        let mut keep = Vec::new();
        let steps = step_uniforms(device, limits, capacity, &mut keep);
        let chunk_uniform = steps.chunk.clone();
        // what every kernel needs of the chunk but its length
        let chunk_template = Chunk {
            n_steps: 0,
            n_trials: trials as u32,
            spike_stride: (trial_bytes / 4) as u32,
            acc_stride: lay.acc_len as u32,
            v_stride: lay.v_len as u32,
            mask_stride: net.total_neurons() as u32,
            _pad: [0; 2],
        };
        let path = if fused {
            build_fused(&ctx, &net, &quantized, &lay, &shared, &steps, &mut keep)
        } else {
            let max_dim = opts
                .max_groups_per_dim
                .unwrap_or(limits.max_compute_workgroups_per_dimension)
                .min(limits.max_compute_workgroups_per_dimension);
            build_dispatch(
                &ctx,
                &net,
                &quantized,
                &lay,
                &shared,
                &steps,
                &plan,
                &blocked,
                max_binding,
                max_dim,
                &mut keep,
            )?
        };
        keep.extend([bias, thresholds]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            let bytes: u64 = spikes_bytes * 2
                + (lay.v_len as u64 * 2 + lay.acc_len as u64 * 2) * 4
                + quantized.iter().map(|q| q.wq.len() as u64 * 4).sum::<u64>();
            return Err(Error::Input(format!(
                "the network needs about {bytes} bytes of GPU memory, more than {} can give ({e}); use --backend cpu or a smaller network",
                ctx.info.name
            )));
        }
        ctx.take_error()?;
        Ok(GpuEngine {
            upload: vec![0; capacity * lay.row_words],
            inject_loss_at: std::env::var("NACC_INJECT_DEVICE_LOSS")
                .ok()
                .and_then(|v| v.parse().ok()),
            ctx,
            net,
            capacity,
            lay,
            path,
            gen_input,
            trials,
            steps_done: 0,
            spikes,
            fault,
            chunk_uniform,
            chunk_template,
            probe: None,
            carry,
            staging,
            v,
            v_staging,
            _keep: keep,
            clock,
            gains,
            etas,
        })
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
        for b in [&self.spikes, &self.carry, &self.v, &self.fault, &d.acc] {
            enc.clear_buffer(b, 0, None);
        }
        ctx.queue.submit([enc.finish()]);
        ctx.take_error()?;
        self.steps_done = 0;
        if let Some(c) = &mut self.clock {
            c.restart();
        }
        Ok(true)
    }

    /// Runs `n <= capacity` steps whose input starts at step `offset` of
    /// the chunks, one chunk per trial.
    fn run_part(&mut self, chunks: &mut [ChunkSpikes], offset: usize, n: usize) -> Result<()> {
        assert_eq!(chunks.len(), self.trials, "one chunk per trial");
        if let Some(k) = self.inject_loss_at
            && self.steps_done >= k
        {
            return Err(Error::Runtime(format!(
                "GPU {}: device lost (injected by NACC_INJECT_DEVICE_LOSS={k})",
                self.ctx.info.name
            )));
        }
        let chunk = &mut chunks[0];
        let rw = self.lay.row_words;
        let ctx = &self.ctx;
        let row_bytes = rw as u64 * 4;
        let first_step = self.steps_done as u32;
        let c = Chunk {
            n_steps: n as u32,
            ..self.chunk_template
        };
        ctx.queue
            .write_buffer(&self.chunk_uniform, 0, bytemuck::bytes_of(&c));
        if !self.gen_input {
            // One upload: the input words of every Poisson population, zeros elsewhere.
            let upload = &mut self.upload[..n * rw];
            upload.fill(0);
            for (p, pop) in self.net.populations.iter().enumerate() {
                if !pop.is_poisson() {
                    continue;
                }
                let wps = pop.words_per_step();
                for s in 0..n {
                    upload[s * rw + self.lay.word_offset[p]..][..wps]
                        .copy_from_slice(&chunk.bits[p][(offset + s) * wps..][..wps]);
                }
            }
            ctx.queue
                .write_buffer(&self.spikes, row_bytes, bytemuck::cast_slice(upload));
        }
        if let Some(clock) = &mut self.clock {
            // this part's d(t) factors, a row per step
            let n_proj = self.net.projections.len();
            let (mut g, mut e) = (vec![0f32; n_proj], vec![0f32; n_proj]);
            let mut gains = Vec::with_capacity(n * n_proj);
            let mut etas = Vec::new();
            for _ in 0..n {
                clock.next(&mut g, &mut e);
                gains.extend_from_slice(&g);
                // only the plastic projections' columns, in config order
                etas.extend(clock.plastic().map(|j| e[j]));
            }
            ctx.queue
                .write_buffer(&self.gains, 0, bytemuck::cast_slice(&gains));
            if !etas.is_empty() {
                ctx.queue
                    .write_buffer(&self.etas, 0, bytemuck::cast_slice(&etas));
            }
        }
        match &self.path {
            Path::Fused {
                params, template, ..
            } => {
                let p = FusedParams {
                    n_steps: n as u32,
                    first_step,
                    ..*template
                };
                ctx.queue.write_buffer(params, 0, bytemuck::bytes_of(&p));
            }
            Path::Dispatch(d) => d.write_params(&ctx.queue, first_step, n),
        }

        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("chunk"),
            });
        enc.clear_buffer(&self.fault, 0, None);
        let fused = matches!(self.path, Path::Fused { .. });
        let trial_bytes = (self.capacity as u64 + 1) * row_bytes;
        if !fused {
            // row 0 of every trial: the last row of its previous chunk (the
            // fused kernel keeps row 0 itself)
            for t in 0..self.trials as u64 {
                let (from, to) = (t * row_bytes, t * trial_bytes);
                enc.copy_buffer_to_buffer(&self.carry, from, &self.spikes, to, row_bytes);
            }
        }
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steps"),
                timestamp_writes: None,
            });
            match &self.path {
                Path::Fused {
                    pipeline,
                    bind_group,
                    template,
                    step_group,
                    step_stride,
                    ..
                } => {
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, bind_group, &[]);
                    // the chunk in slices; each dispatch sees the previous one's rows
                    for first in (0..n).step_by(template.slice_steps as usize) {
                        pass.set_bind_group(1, step_group, &[first as u32 * step_stride]);
                        timed(&mut pass, &mut self.probe, "fused_steps", |pass| {
                            pass.dispatch_workgroups(self.trials as u32, 1, 1)
                        });
                    }
                }
                Path::Dispatch(d) => {
                    d.encode(&mut pass, &mut self.probe, n, &self.net.order, &self.lay)
                }
            }
        }
        if !fused {
            for t in 0..self.trials as u64 {
                let (from, to) = (t * trial_bytes + n as u64 * row_bytes, t * row_bytes);
                enc.copy_buffer_to_buffer(&self.spikes, from, &self.carry, to, row_bytes);
            }
        }
        // rows 1..=n of every trial (trial t's rows start at t * (capacity + 1))
        let trial_rows = self.capacity + 1;
        let (from, bytes) = if self.trials == 1 {
            (row_bytes, n as u64 * row_bytes)
        } else {
            (0, self.trials as u64 * trial_rows as u64 * row_bytes)
        };
        enc.copy_buffer_to_buffer(&self.spikes, from, &self.staging, 0, bytes);
        let fault_bytes = self.fault.size();
        enc.copy_buffer_to_buffer(&self.fault, 0, &self.staging, bytes, fault_bytes);
        let queries = self.probe.as_ref().map_or(0, |p| p.names.len() as u32 * 2);
        if let Some(p) = &self.probe
            && queries > 0
        {
            enc.resolve_query_set(&p.set, 0..queries, &p.resolve, 0);
            enc.copy_buffer_to_buffer(&p.resolve, 0, &p.read, 0, queries as u64 * 8);
        }
        ctx.queue.submit([enc.finish()]);
        // the spikes go from the mapping straight into the chunks (unless a
        // membrane failed: then the chunk is not kept)
        let (net, lay, gen_input, trials) = (&self.net, &self.lay, self.gen_input, self.trials);
        let fault = ctx.with_mapped(&self.staging, bytes + fault_bytes, |rows: &[u32]| {
            let words = &rows[bytes as usize / 4..];
            let fault = first_fault(words, &net.order, trials);
            if fault[0] != 0 {
                return fault;
            }
            for (t, chunk) in chunks.iter_mut().enumerate() {
                let base = if trials == 1 {
                    0
                } else {
                    (t * trial_rows + 1) * rw
                };
                for (p, pop) in net.populations.iter().enumerate() {
                    if pop.is_poisson() && !gen_input {
                        continue;
                    }
                    let wps = pop.words_per_step();
                    for s in 0..n {
                        chunk.bits[p][(offset + s) * wps..][..wps]
                            .copy_from_slice(&rows[base + s * rw + lay.word_offset[p]..][..wps]);
                    }
                }
            }
            fault
        })?;
        if let Some(p) = &mut self.probe
            && queries > 0
        {
            let period = ctx.queue.get_timestamp_period() as f64;
            let ticks = ctx.with_mapped(&p.read, queries as u64 * 8, |t: &[u64]| t.to_vec())?;
            p.add(&ticks, period, n);
        }
        if fault[0] != 0 {
            // the dispatch path reports the row (1 + step in the chunk), the
            // fused kernel step + 1: the same number
            let step = self.steps_done + fault[0] as u64 - 1;
            let e = crate::engine::cpu::not_finite(
                &self.net,
                fault[1] as usize,
                fault[2] as usize,
                step,
                None,
            );
            return Err(if self.trials > 1 {
                e.context(format!("trial {}", fault[3]))
            } else {
                e
            });
        }
        self.steps_done += n as u64;
        Ok(())
    }

    /// Steps a chunk may hold without being split.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the fused one-dispatch kernel can run `net` on this device.
    pub fn fusable(ctx: &GpuContext, net: &Network, opts: &GpuOptions) -> bool {
        fusable(net, max_binding(&ctx.limits, opts))
    }

    /// How an engine for `net` running `trials` trials would run, without
    /// building it (for `--dry-run`): chunk capacity, fused or not, input
    /// drawn on the GPU, schedule.
    ///
    /// The fused kernel runs several trials of a small network at once (a
    /// workgroup each). A single trial runs on the block schedule instead:
    /// ~5 dispatches per 16 steps measured 2.4x the fused kernel's one
    /// workgroup on lavapipe (benches/NOTES.md, v8). `NACC_GPU_FUSED=1`
    /// (fused whenever it can) or `0` (never) override that, for kernel
    /// experiments; `opts.fused` overrides everything.
    pub fn plan(
        ctx: &GpuContext,
        net: &Network,
        generated_input: bool,
        chunk: usize,
        trials: usize,
        opts: GpuOptions,
    ) -> crate::memory::GpuPlan {
        let wanted = match std::env::var("NACC_GPU_FUSED").as_deref() {
            Ok("1") => true,
            Ok("0") => false,
            _ => trials > 1,
        };
        let mut plan = crate::memory::GpuPlan {
            capacity: capacity_for(net.row_words(), chunk, max_binding(&ctx.limits, &opts)),
            fused: opts
                .fused
                .unwrap_or_else(|| wanted && GpuEngine::fusable(ctx, net, &opts)),
            // patterns change rates while shown: the host draws that input
            gen_input: generated_input && !opts.host_input && net.stimulus.is_none(),
            step_stride: step_stride(&ctx.limits),
            block_min_synapses: block_min_synapses(&opts),
            schedule: schedule(net, &opts),
            gather: false,
            gather_min_active: crate::memory::GATHER_MIN_ACTIVE,
            trials: 1,
        };
        // the sums of BLOCK_STEPS steps must fit one binding: else step by
        // step, and else without blocked input sums
        let max = max_binding(&ctx.limits, &opts);
        let fits = |p: &crate::memory::GpuPlan| {
            Layout::new(net, &p.blocked(net)).acc_len * 4 <= max as usize
        };
        if !fits(&plan) {
            plan.schedule = Schedule::Step;
        }
        if !fits(&plan) {
            plan.block_min_synapses = usize::MAX;
        }
        // sparse projections on the block schedule are gathered by post
        // where their pre population is busy (GpuPlan::gathered), unless
        // asked to scatter; `NACC_GPU_SPARSE=scatter` or `gather` (every
        // one, whatever the rates) for kernel experiments
        let forced = std::env::var("NACC_GPU_SPARSE");
        let scatter = opts.sparse_scatter || forced.as_deref() == Ok("scatter");
        if forced.as_deref() == Ok("gather") {
            plan.gather_min_active = 0.0;
        }
        // (and the block's spike masks of every neuron fit one binding)
        let masks_fit = net.total_neurons() * 4 <= max;
        plan.gather = !plan.fused && plan.schedule == Schedule::Block && !scatter && masks_fit;
        plan.trials = if !plan.gen_input {
            1
        } else if plan.fused {
            trials.max(1)
        } else if plan.schedule == Schedule::Block {
            // side by side, as many as the grid's z, the bindings (each of
            // a trial's spike rows, sums, membranes and masks) and, all of
            // a trial's buffers together, the device's largest buffer hold
            let lay = Layout::new(net, &plan.blocked(net));
            let (rows, sums) = (
                (plan.capacity as u64 + 1) * net.row_words() as u64 * 4,
                lay.acc_len as u64 * 4,
            );
            let (v, masks) = (lay.v_len as u64 * 4, net.total_neurons() * 4);
            let binding = rows.max(sums).max(v).max(masks).max(1);
            // spike rows and their staging, sums, membranes and their
            // staging, masks
            let all = 2 * rows + sums + 2 * v + masks;
            let z = ctx.limits.max_compute_workgroups_per_dimension as u64;
            let most = (max / binding)
                .min(ctx.limits.max_buffer_size / all.max(1))
                .min(z)
                .clamp(1, trials.max(1) as u64) as usize;
            // batches as even as can be (200 trials, at most 62: 4 of 50),
            // so that one engine, restarted, runs them all (a smaller last
            // batch needs its own)
            let trials = trials.max(1);
            trials.div_ceil(trials.div_ceil(most))
        } else {
            1
        };
        plan
    }

    /// Bytes of every buffer the engine holds on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        let mut b: u64 = [
            &self.spikes,
            &self.carry,
            &self.staging,
            &self.v,
            &self.v_staging,
            &self.gains,
            &self.etas,
        ]
        .iter()
        .map(|x| x.size())
        .sum();
        b += self._keep.iter().map(|x| x.size()).sum::<u64>();
        b += match &self.path {
            Path::Fused { params, .. } => params.size(),
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
            Path::Fused { .. } => None,
        }
    }

    /// Whether the whole network runs in one dispatch per chunk.
    pub fn is_fused(&self) -> bool {
        matches!(self.path, Path::Fused { .. })
    }

    /// The grid of every launch (x, y): synapse launches, then
    /// `lif_update`, then `synapse_block`, then `block_masks` and
    /// `synapse_gather` (one (1, 1) when fused).
    pub fn grids(&self) -> Vec<(u32, u32)> {
        match &self.path {
            Path::Dispatch(d) => d
                .syn_launches
                .iter()
                .flatten()
                .chain(d.lif_launches.iter().flatten())
                .chain(d.block_launches.iter().flatten())
                .chain(
                    d.gather_launches
                        .iter()
                        .flatten()
                        .flat_map(|(m, g)| m.iter().chain(g)),
                )
                .map(|l| l.grid)
                .collect(),
            Path::Fused { .. } => vec![(1, 1)],
        }
    }

    /// The projections whose sums go to per-step slots, in config order:
    /// those that sum [`BLOCK_STEPS`] steps at once (`synapse_block`) and,
    /// on the block schedule, the sparse ones too.
    pub fn blocked_projections(&self) -> Vec<usize> {
        match &self.path {
            Path::Dispatch(d) => {
                let sparse_in_slots = d.schedule == Schedule::Block;
                (0..d.syn_launches.len())
                    .filter(|&j| {
                        !d.block_launches[j].is_empty()
                            || d.gather_launches[j].is_some()
                            || (sparse_in_slots && d.syn_launches[j].iter().any(|l| l.scatter))
                    })
                    .collect()
            }
            Path::Fused { .. } => vec![],
        }
    }

    /// Per projection: how many weights bindings it was split into.
    pub fn weight_parts(&self) -> Vec<usize> {
        match &self.path {
            Path::Dispatch(d) => (0..d.syn_launches.len())
                .map(|j| {
                    let gathered = d.gather_launches[j].as_ref().map_or(0, |g| g.1.len());
                    d.syn_launches[j].len() + d.block_launches[j].len() + gathered
                })
                .collect(),
            Path::Fused { .. } => vec![1; self.net.projections.len()],
        }
    }
}

/// The fused path: tables, all weights in one buffer, one bind group.
fn build_fused(
    ctx: &GpuContext,
    net: &Network,
    quantized: &[crate::network::Quantized],
    lay: &Layout,
    sh: &Shared,
    steps: &StepUniforms,
    keep: &mut Vec<wgpu::Buffer>,
) -> Path {
    let device = &ctx.device;
    let capacity = steps.capacity;
    let slice_steps = fused_slice_steps(net, capacity);
    let mut w_offset = Vec::new();
    let mut weights: Vec<i32> = Vec::new();
    for q in quantized {
        w_offset.push(weights.len());
        weights.extend_from_slice(&q.wq);
    }
    // tables: LIF populations in update order, projections, incoming lists
    let mut tables: Vec<u32> = Vec::new();
    let lif_order: Vec<usize> = net
        .order
        .iter()
        .copied()
        .filter(|&p| !net.populations[p].is_poisson())
        .collect();
    let pop_base = 0u32;
    for &p in &lif_order {
        let pop = &net.populations[p];
        let lif = pop.lif().expect("LIF");
        tables.extend_from_slice(&[
            pop.size as u32,
            lay.word_offset[p] as u32,
            lay.v_offset[p] as u32,
            lay.first_in[p] as u32,
            lay.incoming[p].len() as u32,
            reset_code(lif.reset),
            lif.beta.to_bits(),
            lif.threshold.to_bits(),
            p as u32,
        ]);
    }
    let proj_base = tables.len() as u32;
    for (j, (proj, q)) in net.projections.iter().zip(quantized).enumerate() {
        tables.extend_from_slice(&[
            lay.word_offset[proj.pre] as u32,
            net.populations[proj.pre].words_per_step() as u32,
            q.n_post as u32,
            w_offset[j] as u32,
            proj.sign as u32,
            q.scale_hi.to_bits(),
            q.scale_lo.to_bits(),
            lay.acc_offset[j] as u32,
        ]);
    }
    let in_base = tables.len() as u32;
    tables.extend(lay.incoming_flat());
    let poisson_base = tables.len() as u32;
    let mut n_poisson = 0;
    for (p, pop) in net.populations.iter().enumerate() {
        if let Some(thr_offset) = sh.poisson[p] {
            tables.extend_from_slice(&[
                pop.size as u32,
                lay.word_offset[p] as u32,
                thr_offset as u32,
                0,
            ]);
            n_poisson += 1;
        }
    }
    let keys_base = tables.len() as u32;
    tables.extend_from_slice(&sh.trial_keys);
    let template = FusedParams {
        n_steps: 0,
        row_words: lay.row_words as u32,
        n_lif: lif_order.len() as u32,
        zero: 0,
        pop_base,
        proj_base,
        in_base,
        gen_input: sh.poisson.iter().any(|x| x.is_some()) as u32,
        poisson_base,
        n_poisson,
        keys_base,
        first_step: 0,
        trial_words: sh.trial_words as u32,
        v_len: lay.v_len as u32,
        slice_steps: slice_steps as u32,
        _pad: 0,
    };
    let params = init_buffer(
        device,
        "fused params",
        bytemuck::bytes_of(&template),
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    let tables = storage_buffer(device, "fused tables", &tables);
    let wbuf = storage_buffer(device, "fused weights", &weights);
    let (bgl, pipeline) = kernel(
        device,
        "fused_steps",
        FUSED_WGSL,
        &[true, true, true, false, false, true, false],
        &steps.layout,
    );
    let bind_group = bind_group(
        device,
        "fused_steps",
        &bgl,
        &[
            &params,
            &tables,
            &wbuf,
            sh.bias,
            sh.v,
            sh.spikes,
            sh.thresholds,
            sh.fault,
        ],
    );
    keep.extend([tables, wbuf]);
    Path::Fused {
        pipeline,
        bind_group,
        params,
        template,
        step_group: steps.group.clone(),
        step_stride: steps.stride,
    }
}

/// The dispatch path: per projection part a synapse_accumulate launch, per
/// LIF population a lif_update launch, and the step uniforms.
#[allow(clippy::too_many_arguments)]
fn build_dispatch(
    ctx: &GpuContext,
    net: &Network,
    quantized: &[crate::network::Quantized],
    lay: &Layout,
    sh: &Shared,
    steps: &StepUniforms,
    plan: &crate::memory::GpuPlan,
    blocked: &[bool],
    max_binding: u64,
    max_dim: u32,
    keep: &mut Vec<wgpu::Buffer>,
) -> Result<Path> {
    let device = &ctx.device;
    let schedule = plan.schedule;
    // every trial's sums (a trial's start at t * acc_len)
    let acc = buffer(
        device,
        "acc",
        sh.trials as u64 * lay.acc_len as u64 * 4,
        // cleared by GpuEngine::restart
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    );
    let proj_params: Vec<ProjParams> = net
        .projections
        .iter()
        .zip(quantized)
        .enumerate()
        .map(|(j, (p, q))| ProjParams {
            acc_offset: lay.acc_offset[j] as u32,
            bias_offset: lay.bias_offset[j] as u32,
            sign: p.sign,
            gained: (p.sign > 0 && net.populations[p.post].dopamine.is_some()) as u32,
            scale_hi: q.scale_hi,
            scale_lo: q.scale_lo,
            block_stride: if blocked[j] { q.n_post as u32 } else { 0 },
            _pad1: 0,
        })
        .collect();
    let projections = storage_buffer(device, "projections", &proj_params);
    let incoming_buf = storage_buffer(device, "incoming", &lay.incoming_flat());

    let (step_layout, step_group, step_stride) = (&steps.layout, steps.group.clone(), steps.stride);
    let (syn_layout, syn_pipeline) = kernel(
        device,
        "synapse_accumulate",
        SYNAPSE_WGSL,
        &[true, true, false],
        step_layout,
    );
    let (_, block_pipeline) = kernel(
        device,
        "synapse_block",
        SYNAPSE_WGSL,
        &[true, true, false],
        step_layout,
    );
    let lif_flags = [true, true, true, false, false, false, false, true];
    let (lif_layout, lif_pipeline) =
        kernel(device, "lif_update", LIF_WGSL, &lif_flags, step_layout);
    let (_, lif_block_pipeline) = kernel(device, "lif_block", LIF_WGSL, &lif_flags, step_layout);

    // synapse_scatter launches: one per sparse projection.
    let scatter_flags = [true, true, true, true, false];
    let (scatter_layout, scatter_pipeline) = kernel(
        device,
        "synapse_scatter",
        SCATTER_WGSL,
        &scatter_flags,
        step_layout,
    );
    let (_, scatter_block_pipeline) = kernel(
        device,
        "synapse_scatter_block",
        SCATTER_WGSL,
        &scatter_flags,
        step_layout,
    );

    // plasticity launches: two per plastic projection (after its weights)
    let plastic_flags = [true, true, false, false, false];
    let (plasticity_layout, plasticity_pipeline) = kernel(
        device,
        "plasticity",
        PLASTICITY_WGSL,
        &plastic_flags,
        step_layout,
    );
    let (traces_layout, traces_pipeline) = kernel(
        device,
        "plasticity_traces",
        PLASTICITY_WGSL,
        &plastic_flags,
        step_layout,
    );
    let mut plastic = Vec::new();

    // synapse_accumulate launches (synapse_block when the projection sums
    // in blocks): one per weights part. Rows are padded to whole vec4
    // blocks; a part holds whole words of 32 pre rows.
    let mut syn_launches = Vec::new();
    let mut block_launches = Vec::new();
    let (masks_layout, masks_pipeline) = kernel(
        device,
        "block_masks",
        MASKS_WGSL,
        &[true, false],
        step_layout,
    );
    let (gather_layout, gather_pipeline) = kernel(
        device,
        "synapse_gather",
        GATHER_WGSL,
        &[true, true, true, true, false],
        step_layout,
    );
    let mut mask_offset = Vec::new();
    let mut n_masks = 0;
    for pop in &net.populations {
        mask_offset.push(n_masks);
        n_masks += pop.size;
    }
    // sparse projections gathered by post (the others scatter)
    let gathered = plan.gathered(net);
    let mask_bytes = if gathered.contains(&true) {
        sh.trials as u64 * n_masks as u64 * 4
    } else {
        4
    };
    if mask_bytes > max_binding {
        return Err(too_big(
            "the spike masks of a block",
            mask_bytes,
            max_binding,
            ctx,
        ));
    }
    let masks = buffer(device, "masks", mask_bytes, wgpu::BufferUsages::STORAGE);
    let mut gather_launches = Vec::new();
    // the first gathered projection of each pre population in update order
    // writes its masks for the block; the later ones read them
    let mut masks_by: Vec<Option<usize>> = vec![None; net.populations.len()];
    for &p in &net.order {
        for &j in &lay.incoming[p] {
            let pre = net.projections[j].pre;
            if gathered[j] && masks_by[pre].is_none() {
                masks_by[pre] = Some(j);
            }
        }
    }
    for (j, (proj, q)) in net.projections.iter().zip(quantized).enumerate() {
        gather_launches.push(None);
        if gathered[j] {
            let (slice_ptr, pre, w) = by_post_slices(q);
            let what = format!("sparse projection `{}`", proj.name);
            let n_pre = net.populations[proj.pre].size;
            let masks_launch = if masks_by[proj.pre] == Some(j) {
                let mp = MaskParams {
                    n: n_pre as u32,
                    word_offset: lay.word_offset[proj.pre] as u32,
                    row_words: lay.row_words as u32,
                    mask_offset: mask_offset[proj.pre] as u32,
                };
                let (launch, mp_buf) = uniform_launch(
                    device,
                    "block_masks",
                    &masks_layout,
                    &mp,
                    &[sh.spikes, &masks],
                    grid((n_pre as u64).div_ceil(WORKGROUP), max_dim, &what)?,
                );
                keep.push(mp_buf);
                Some(launch)
            } else {
                None
            };
            // parts of whole slices whose synapses fit one binding each
            let max_slots = max_binding / 4;
            let mut parts = Vec::new();
            let mut first = 0;
            while first + 1 < slice_ptr.len() {
                let mut end = first + 1;
                while end + 1 < slice_ptr.len()
                    && slice_ptr[end + 1] - slice_ptr[first] <= max_slots
                {
                    end += 1;
                }
                let slots = slice_ptr[end] - slice_ptr[first];
                if slots > max_slots {
                    let what = format!("{what}: the synapses of 64 posts");
                    return Err(too_big(&what, slots * 4, max_binding, ctx));
                }
                let base = slice_ptr[first];
                let ptr: Vec<u32> = slice_ptr[first..=end]
                    .iter()
                    .map(|&x| (x - base) as u32)
                    .collect();
                let range = base as usize..slice_ptr[end] as usize;
                let ptr_buf = storage_buffer(device, "slice_ptr", &ptr);
                let pre_buf = storage_buffer(device, "syn_pre", &pre[range.clone()]);
                let w_buf = storage_buffer(device, "syn_w", &w[range]);
                let gp = GatherParams {
                    n_post: q.n_post as u32,
                    acc_offset: lay.acc_offset[j] as u32,
                    mask_offset: mask_offset[proj.pre] as u32,
                    first_slice: first as u32,
                };
                let (launch, gp_buf) = uniform_launch(
                    device,
                    "synapse_gather",
                    &gather_layout,
                    &gp,
                    &[&ptr_buf, &pre_buf, &w_buf, &masks, &acc],
                    grid((end - first) as u64, max_dim, &what)?,
                );
                parts.push(launch);
                keep.extend([ptr_buf, pre_buf, w_buf, gp_buf]);
                first = end;
            }
            gather_launches[j] = Some((masks_launch, parts));
            syn_launches.push(vec![]);
            block_launches.push(vec![]);
            continue;
        }
        if let Some(pm) = &q.sparse {
            let bytes = q.wq.len() as u64 * 4;
            if bytes > max_binding {
                return Err(too_big(
                    &format!("sparse projection `{}`", proj.name),
                    bytes,
                    max_binding,
                    ctx,
                ));
            }
            let n_words = q.n_pre.div_ceil(32) as u64;
            let chunks = n_words.div_ceil(syn_chunk_words());
            let grid = grid(chunks, max_dim, &format!("projection `{}`", proj.name))?;
            let ptr: Vec<u32> = pm.pre_ptr.iter().map(|&x| x as u32).collect();
            let ptr_buf = storage_buffer(device, "pre_ptr", &ptr);
            let post_buf = storage_buffer(device, "post", &pm.post);
            let wbuf = storage_buffer(device, &format!("weights {}", proj.name), &q.wq);
            let params = ScatterParams {
                n_words: n_words as u32,
                pre_word_offset: lay.word_offset[proj.pre] as u32,
                row_words: lay.row_words as u32,
                acc_offset: lay.acc_offset[j] as u32,
                chunk_words: syn_chunk_words() as u32,
                // synapse_scatter_block's step slots
                block_stride: q.n_post as u32,
                _pad: [0; 2],
            };
            let (launch, pbuf) = uniform_launch(
                device,
                "synapse_scatter",
                &scatter_layout,
                &params,
                &[&ptr_buf, &post_buf, &wbuf, sh.spikes, &acc],
                grid,
            );
            syn_launches.push(vec![Launch {
                scatter: true,
                ..launch
            }]);
            block_launches.push(vec![]);
            keep.extend([ptr_buf, post_buf, wbuf, pbuf]);
            continue;
        }
        let n_post = q.n_post as u64;
        let n_post4 = n_post.div_ceil(4);
        let row_bytes_w = n_post4 * 16;
        let rows_per_part = (max_binding / row_bytes_w) / 32 * 32;
        if rows_per_part == 0 {
            return Err(too_big(
                &format!("projection `{}`: 32 pre rows of weights", proj.name),
                32 * row_bytes_w,
                max_binding,
                ctx,
            ));
        }
        if proj.plasticity.is_some() && rows_per_part < q.n_pre as u64 {
            return Err(too_big(
                &format!("plastic projection `{}` (kept in one binding)", proj.name),
                q.n_pre as u64 * row_bytes_w,
                max_binding,
                ctx,
            ));
        }
        let post_blocks = n_post4.div_ceil(WORKGROUP);
        let (mut launches, mut blocks) = (Vec::new(), Vec::new());
        let mut first = 0u64;
        let mut plastic_weights = None;
        while first < q.n_pre as u64 {
            let rows = rows_per_part.min(q.n_pre as u64 - first);
            let n_words = rows.div_ceil(32);
            let chunk_words = if blocked[j] {
                block_chunk_words()
            } else {
                syn_chunk_words()
            }
            .min(n_words);
            let groups = post_blocks * n_words.div_ceil(chunk_words);
            let grid = grid(groups, max_dim, &format!("projection `{}`", proj.name))?;
            // the part's rows, each padded with zeros to whole vec4s,
            // written straight into the buffer's mapping
            let wbuf = init_buffer_with(
                device,
                &format!("weights {} part", proj.name),
                rows * row_bytes_w,
                if proj.plasticity.is_some() {
                    // plastic weights are read back
                    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC
                } else {
                    wgpu::BufferUsages::STORAGE
                },
                |dst| {
                    let (n, stride) = (n_post as usize, row_bytes_w as usize);
                    let src = &q.wq[first as usize * n..][..rows as usize * n];
                    for (r, row) in src.chunks_exact(n.max(1)).enumerate() {
                        dst.slice(r * stride..r * stride + n * 4)
                            .copy_from_slice(bytemuck::cast_slice(row));
                    }
                },
            );
            if proj.plasticity.is_some() {
                plastic_weights = Some(wbuf.clone());
            }
            let params = SynParams {
                n_post: n_post as u32,
                post_blocks: post_blocks as u32,
                n_words: n_words as u32,
                pre_word_offset: (lay.word_offset[proj.pre] as u64 + first / 32) as u32,
                row_words: lay.row_words as u32,
                acc_offset: lay.acc_offset[j] as u32,
                n_post4: n_post4 as u32,
                chunk_words: chunk_words as u32,
            };
            let (launch, pbuf) = uniform_launch(
                device,
                "synapse_accumulate",
                &syn_layout,
                &params,
                &[&wbuf, sh.spikes, &acc],
                grid,
            );
            if blocked[j] {
                blocks.push(launch);
            } else {
                launches.push(launch);
            }
            keep.extend([wbuf, pbuf]);
            first += rows;
        }
        syn_launches.push(launches);
        block_launches.push(blocks);
        if let (Some(pl), Some(bounds), Some(weights)) =
            (&proj.plasticity, q.bounds, plastic_weights)
        {
            let k = PlasticConsts::new(pl, net.dt_ms, bounds);
            let params = PlasticParams {
                n_pre: q.n_pre as u32,
                n_post: q.n_post as u32,
                stride: (n_post4 * 4) as u32,
                pre_word_offset: lay.word_offset[proj.pre] as u32,
                post_word_offset: lay.word_offset[proj.post] as u32,
                row_words: lay.row_words as u32,
                index: plastic.len() as u32,
                n_plastic: net
                    .projections
                    .iter()
                    .filter(|p| p.plasticity.is_some())
                    .count() as u32,
                wq_min: k.wq_min,
                wq_max: k.wq_max,
                zero: 0,
                _pad0: 0,
                decay_pre: k.decay_pre,
                decay_post: k.decay_post,
                decay_c: k.decay_c,
                a_plus: k.a_plus,
                a_minus: k.a_minus,
                _pad1: [0; 3],
            };
            let pbuf = init_buffer(
                device,
                "plastic params",
                bytemuck::bytes_of(&params),
                wgpu::BufferUsages::UNIFORM,
            );
            let elig = buffer(
                device,
                "eligibility",
                weights.size(),
                wgpu::BufferUsages::STORAGE,
            );
            let traces = buffer(
                device,
                "traces",
                (q.n_pre + q.n_post) as u64 * 4,
                wgpu::BufferUsages::STORAGE,
            );
            let what = format!("plastic projection `{}`", proj.name);
            let buffers = [&pbuf, sh.spikes, sh.etas, &weights, &elig, &traces];
            let synapses = Launch {
                bind_group: bind_group(device, "plasticity", &plasticity_layout, &buffers),
                grid: grid(
                    ((q.n_pre * q.n_post) as u64).div_ceil(WORKGROUP),
                    max_dim,
                    &what,
                )?,
                scatter: false,
            };
            let traces_launch = Launch {
                bind_group: bind_group(device, "plasticity_traces", &traces_layout, &buffers),
                grid: grid(
                    ((q.n_pre + q.n_post) as u64).div_ceil(WORKGROUP),
                    max_dim,
                    &what,
                )?,
                scatter: false,
            };
            plastic.push(PlasticLaunch {
                proj: j,
                synapses,
                traces: traces_launch,
                weights,
                n_pre: q.n_pre,
                n_post: q.n_post,
                stride: (n_post4 * 4) as usize,
            });
            keep.extend([pbuf, elig, traces]);
        }
    }

    // lif_update launches: one per LIF population.
    let mut lif_launches = Vec::new();
    for (p, pop) in net.populations.iter().enumerate() {
        let Some(lif) = pop.lif() else {
            lif_launches.push(None);
            continue;
        };
        let params = PopParams {
            n: pop.size as u32,
            v_offset: lay.v_offset[p] as u32,
            word_offset: lay.word_offset[p] as u32,
            row_words: lay.row_words as u32,
            first_in: lay.first_in[p] as u32,
            n_in: lay.incoming[p].len() as u32,
            reset: reset_code(lif.reset),
            zero: 0,
            beta: lif.beta,
            threshold: lif.threshold,
            pop: p as u32,
            n_proj: net.projections.len() as u32,
        };
        let grid = grid(
            (pop.size as u64).div_ceil(WORKGROUP),
            max_dim,
            &format!("population `{}`", pop.name),
        )?;
        let (launch, pbuf) = uniform_launch(
            device,
            "lif_update",
            &lif_layout,
            &params,
            &[
                &projections,
                &incoming_buf,
                sh.bias,
                &acc,
                sh.v,
                sh.spikes,
                sh.fault,
                sh.gains,
            ],
            grid,
        );
        lif_launches.push(Some(launch));
        keep.push(pbuf);
    }
    let acc_buf = acc.clone();
    keep.extend([acc, projections, incoming_buf, masks]);
    // poisson_input launches: one per Poisson population the GPU draws.
    let (poisson_layout, poisson_pipeline) = kernel(
        device,
        "poisson_input",
        POISSON_WGSL,
        &[true, false, true],
        step_layout,
    );
    let mut poisson_launches = Vec::new();
    let n_keyed = sh.poisson.iter().flatten().count() as u32;
    // rewritten by GpuEngine::restart
    let keys = init_buffer(
        device,
        "trial keys",
        bytemuck::cast_slice(&sh.trial_keys),
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    );
    for (p, pop) in net.populations.iter().enumerate() {
        let Some(thr_offset) = sh.poisson[p] else {
            poisson_launches.push(None);
            continue;
        };
        let params = PoissonParams {
            n: pop.size as u32,
            word_offset: lay.word_offset[p] as u32,
            row_words: lay.row_words as u32,
            thr_offset: thr_offset as u32,
            key_index: sh.poisson[..p].iter().flatten().count() as u32,
            n_keyed,
            first_step: 0,
            blocks: (pop.size as u64).div_ceil(32).div_ceil(WORKGROUP) as u32,
            n_steps: 0,
            _pad: [0; 3],
        };
        // x, y: the spike words of one step; z: the steps (at most max_dim a dispatch)
        let grid = grid(
            params.blocks as u64,
            max_dim,
            &format!("population `{}` input", pop.name),
        )?;
        let (launch, pbuf) = uniform_launch(
            device,
            "poisson_input",
            &poisson_layout,
            &params,
            &[sh.thresholds, sh.spikes, &keys],
            grid,
        );
        poisson_launches.push(Some((launch, pbuf, params)));
    }
    Ok(Path::Dispatch(Dispatch {
        keys,
        acc: acc_buf,
        schedule,
        lif_block_pipeline,
        scatter_block_pipeline,
        masks_pipeline,
        gather_pipeline,
        gather_launches,
        syn_pipeline,
        block_pipeline,
        block_launches,
        scatter_pipeline,
        lif_pipeline,
        poisson_pipeline,
        syn_launches,
        lif_launches,
        poisson_launches,
        step_group,
        step_stride,
        max_dim,
        trials: sh.trials as u32,
        plasticity_pipeline,
        traces_pipeline,
        plastic,
    }))
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

/// (row, population, neuron, trial) of the first non-finite membrane of a
/// chunk from the fault buffer's `words` (row 0: none): the first 4 words
/// when `lif_update` or `fused_steps` wrote them; else the earliest (row,
/// population in update `order`, trial) of `lif_block`'s reports per
/// population and trial, `trials` of them (see `report_block_fault` in
/// lif_update.wgsl).
fn first_fault(words: &[u32], order: &[usize], trials: usize) -> [u32; 4] {
    if words[0] != 0 {
        return words[..4].try_into().expect("4 words");
    }
    let mut first = [0; 4];
    for &p in order {
        for t in 0..trials {
            let a = 4 + 2 * (p * trials + t);
            let (block_row, key) = (words[a], !words[a + 1]);
            let row = block_row + (key >> 27);
            if block_row != 0 && (first[0] == 0 || row < first[0]) {
                let neuron = key & (BLOCK_MAX_NEURONS as u32 - 1);
                first = [row, p as u32, neuron, t as u32];
            }
        }
    }
    first
}

/// A launch of `grid` whose bind group (over `layout`) binds a new uniform
/// holding `params`, then `buffers`, the way `kernel` lays them out. Returns
/// the uniform too: the caller keeps it alive (and may rewrite it).
fn uniform_launch<P: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    params: &P,
    buffers: &[&wgpu::Buffer],
    grid: (u32, u32),
) -> (Launch, wgpu::Buffer) {
    let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
    let uniform = init_buffer(device, label, bytemuck::bytes_of(params), usage);
    let all: Vec<&wgpu::Buffer> = std::iter::once(&uniform)
        .chain(buffers.iter().copied())
        .collect();
    let launch = Launch {
        bind_group: bind_group(device, label, layout, &all),
        grid,
        scatter: false,
    };
    (launch, uniform)
}

/// A read-only storage buffer holding `data`.
fn storage_buffer<T: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    data: &[T],
) -> wgpu::Buffer {
    init_buffer(
        device,
        label,
        bytemuck::cast_slice(data),
        wgpu::BufferUsages::STORAGE,
    )
}

/// A bind group that binds `buffers`, whole, at bindings 0, 1, 2... in order.
fn bind_group(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<_> = (0..)
        .zip(buffers)
        .map(|(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

fn init_buffer(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    init_buffer_with(device, label, contents.len() as u64, usage, |dst| {
        dst.slice(..contents.len()).copy_from_slice(contents)
    })
}

/// A buffer of `bytes` bytes (at least 16: wgpu rejects empty bindings),
/// zeroed, then written by `fill` through its mapping at creation (no copy
/// of the contents on the host first). A buffer the device could not
/// allocate cannot be mapped: it is left unwritten, and the error scope
/// around the engine's buffers reports the failure (wgpu's
/// `create_buffer_init` would panic there).
fn init_buffer_with(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
    fill: impl FnOnce(&mut wgpu::BufferViewMut),
) -> wgpu::Buffer {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).max(16),
        usage,
        mapped_at_creation: true,
    });
    if let Ok(mut view) = buffer.get_mapped_range_mut(..) {
        fill(&mut view);
    }
    buffer.unmap();
    buffer
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
        enc.copy_buffer_to_buffer(&self.v, 0, &self.v_staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let v: Vec<f32> = self.ctx.read_mapped(&self.v_staging, bytes)?;
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

#[cfg(test)]
mod tests {
    use super::first_fault;

    /// `lif_block`'s words for (population, trial) reports of (row, neuron)
    /// in blocks starting at `block_row`, as the kernel packs them.
    fn words(pops: usize, trials: usize, reports: &[(usize, usize, u32, u32, u32)]) -> Vec<u32> {
        let mut w = vec![0u32; 4 + 2 * pops * trials];
        for &(p, t, block_row, row, n) in reports {
            let a = 4 + 2 * (p * trials + t);
            w[a] = block_row;
            w[a + 1] = !(((row - block_row) << 27) | n);
        }
        w
    }

    #[test]
    fn first_fault_takes_the_earliest_row_then_update_order_then_trial() {
        let order = [0, 2, 1];
        // none
        assert_eq!(first_fault(&words(3, 2, &[]), &order, 2)[0], 0);
        // the earliest row, whatever the trial
        let w = words(
            3,
            4,
            &[(1, 0, 17, 20, 5), (2, 3, 17, 18, 9), (1, 2, 1, 7, 3)],
        );
        assert_eq!(first_fault(&w, &order, 4), [7, 1, 3, 2]);
        // the same row: population 2 updates before 1; then the lower trial
        let w = words(3, 4, &[(1, 0, 1, 7, 5), (2, 3, 1, 7, 9), (2, 1, 1, 7, 4)]);
        assert_eq!(first_fault(&w, &order, 4), [7, 2, 4, 1]);
        // lif_update's and fused_steps' 4 words come first
        let mut w = words(3, 1, &[(1, 0, 1, 2, 0)]);
        w[..4].copy_from_slice(&[9, 1, 6, 0]);
        assert_eq!(first_fault(&w, &order, 1), [9, 1, 6, 0]);
    }
}
