//! Kernel family `plasticity` (shaders/plasticity.wgsl): three-factor
//! plasticity, `plasticity` per synapse then `plasticity_traces` per pre and
//! post neuron, after every population has its spikes of the step. CPU
//! twin: `engine::cpu::plasticity`.

use super::{Env, Pipeline};
use crate::engine::gpu::resources::{Launch, bind_group, buffer, grid, init_buffer};
use crate::engine::gpu::wgsl::Family;
use crate::engine::gpu::wgsl::WORKGROUP;
use crate::network::PlasticConsts;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/plasticity.wgsl");

/// `shaders/plasticity.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "plasticity",
    file: "plasticity.wgsl",
    source: WGSL,
    pieces: &["step", "exact"],
    entry_points: &["plasticity", "plasticity_traces"],
};

/// WGSL `PlasticParams` (shaders/plasticity.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct PlasticParams {
    pub n_pre: u32,
    pub n_post: u32,
    /// i32s from one pre neuron's weights to the next.
    pub stride: u32,
    pub pre_word_offset: u32,
    pub post_word_offset: u32,
    pub row_words: u32,
    /// This projection's column in a step's row of `etas`, and the row length.
    pub index: u32,
    pub n_plastic: u32,
    pub wq_min: i32,
    pub wq_max: i32,
    /// Always 0: the run-time operand of the WGSL rounding barrier `exact`.
    pub zero: u32,
    /// Steps the pre spikes take to arrive (0: none), and the slots - 1 of
    /// the ring of arrived spikes.
    pub delay: u32,
    pub decay_pre: f32,
    pub decay_post: f32,
    pub decay_c: f32,
    pub a_plus: f32,
    pub a_minus: f32,
    pub arrival_mask: u32,
    pub _pad1: [u32; 2],
}

pub(crate) struct Pipelines {
    pub synapses: Pipeline,
    pub traces: Pipeline,
}

impl Pipelines {
    pub fn new(env: &Env) -> Pipelines {
        let flags = [true, true, false, false, false, false];
        Pipelines {
            synapses: Pipeline::new(env, "plasticity", &FAMILY, &flags),
            traces: Pipeline::new(env, "plasticity_traces", &FAMILY, &flags),
        }
    }
}

/// A plastic projection's kernels and the buffer its weights live in.
pub(crate) struct PlasticLaunch {
    pub proj: usize,
    /// `plasticity`, one invocation per synapse.
    pub synapses: Launch,
    /// `plasticity_traces`, one invocation per pre and post neuron.
    pub traces: Launch,
    pub weights: wgpu::Buffer,
    pub n_pre: usize,
    pub n_post: usize,
    /// i32s from one pre neuron's weights to the next.
    pub stride: usize,
}

/// Plastic projection `j`'s launches over its `weights` (rows of `stride`
/// i32s); `index`: its rank among the plastic projections.
pub(crate) fn launch(
    env: &Env,
    pipes: &Pipelines,
    j: usize,
    (weights, stride): (wgpu::Buffer, usize),
    index: usize,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<PlasticLaunch> {
    let (net, lay, device) = (env.net, env.lay, env.device());
    let (proj, q) = (&net.projections[j], &env.quantized[j]);
    let (pl, bounds) = (
        proj.plasticity.as_ref().expect("plastic"),
        q.bounds.expect("a plastic projection has bounds"),
    );
    let k = PlasticConsts::new(pl, net.dt_ms, bounds);
    let params = PlasticParams {
        n_pre: q.n_pre as u32,
        n_post: q.n_post as u32,
        stride: stride as u32,
        pre_word_offset: lay.word_offset[proj.pre] as u32,
        post_word_offset: lay.word_offset[proj.post] as u32,
        row_words: lay.row_words as u32,
        index: index as u32,
        n_plastic: net
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some())
            .count() as u32,
        wq_min: k.wq_min,
        wq_max: k.wq_max,
        zero: 0,
        delay: proj.delay.lo,
        decay_pre: k.decay_pre,
        decay_post: k.decay_post,
        decay_c: k.decay_c,
        a_plus: k.a_plus,
        a_minus: k.a_minus,
        arrival_mask: lay.rings[j].saturating_sub(1) as u32,
        _pad1: [0; 2],
    };
    let usage = wgpu::BufferUsages::UNIFORM;
    let pbuf = init_buffer(device, "plastic params", bytemuck::bytes_of(&params), usage);
    let elig = buffer(
        device,
        "eligibility",
        weights.size(),
        wgpu::BufferUsages::STORAGE,
    );
    let traces_bytes = (q.n_pre + q.n_post) as u64 * 4;
    let traces = buffer(device, "traces", traces_bytes, wgpu::BufferUsages::STORAGE);
    // the ring of the pre spikes as they arrive (a word without delay)
    let arrival_words = lay.rings[j].max(1) * q.n_pre.div_ceil(32);
    let arrivals = buffer(
        device,
        "arrivals",
        arrival_words as u64 * 4,
        wgpu::BufferUsages::STORAGE,
    );
    let what = format!("plastic projection `{}`", proj.name);
    let sh = env.sh;
    let buffers = [
        &pbuf, sh.spikes, sh.etas, &weights, &elig, &traces, &arrivals,
    ];
    let synapses = Launch {
        bind_group: bind_group(device, "plasticity", &pipes.synapses.layout, &buffers),
        grid: grid(
            ((q.n_pre * q.n_post) as u64).div_ceil(WORKGROUP),
            env.max_dim,
            &what,
        )?,
    };
    let traces_launch = Launch {
        bind_group: bind_group(device, "plasticity_traces", &pipes.traces.layout, &buffers),
        grid: grid(
            ((q.n_pre + q.n_post) as u64).div_ceil(WORKGROUP),
            env.max_dim,
            &what,
        )?,
    };
    keep.extend([pbuf, elig, traces, arrivals]);
    Ok(PlasticLaunch {
        proj: j,
        synapses,
        traces: traces_launch,
        weights,
        n_pre: q.n_pre,
        n_post: q.n_post,
        stride,
    })
}
