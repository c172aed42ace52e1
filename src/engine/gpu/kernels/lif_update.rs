//! Kernel family `lif_update` (shaders/lif_update.wgsl): each LIF
//! neuron's current from its incoming projections' sums, its membrane and
//! its spike; `lif_update` for one step, `lif_block` for the steps of a
//! block. CPU twin: `engine::cpu::lif_update`.

use super::{Env, StepBlock};
use crate::engine::gpu::resources::{Launch, grid, reset_code, storage_buffer, uniform_launch};
use crate::engine::gpu::wgsl::Family;
use crate::engine::gpu::wgsl::WORKGROUP;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/lif_update.wgsl");

/// `shaders/lif_update.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "lif_update",
    file: "lif_update.wgsl",
    source: WGSL,
    pieces: &["step", "fault", "spike_words", "exact"],
    entry_points: &["lif_update", "lif_block"],
};

/// WGSL `PopParams` (shaders/lif_update.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct PopParams {
    pub n: u32,
    pub v_offset: u32,
    pub word_offset: u32,
    pub row_words: u32,
    pub first_in: u32,
    pub n_in: u32,
    /// 0 subtract, 1 zero, 2 none
    pub reset: u32,
    /// Always 0: the run-time operand of the WGSL rounding barrier `exact`.
    pub zero: u32,
    pub beta: f32,
    pub threshold: f32,
    /// Index of the population in the network, for fault reports.
    pub pop: u32,
    /// Values in a step's row of `gains` (`dopamine::gain_row`: a gain per
    /// projection, then the modulated populations' parameters).
    pub n_proj: u32,
}

/// WGSL `ProjParams` (shaders/lif_update.wgsl), an element of a storage array.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct ProjParams {
    pub acc_offset: u32,
    pub bias_offset: u32,
    pub sign: i32,
    /// 1: the current is multiplied by the step's dopamine gain.
    pub gained: u32,
    pub scale_hi: f32,
    pub scale_lo: f32,
    /// i32s between the sums of consecutive steps of a block (the post
    /// count) when the projection sums in blocks (`synapse_block`), else 0.
    pub block_stride: u32,
    /// A delayed projection: its ring's slots - 1 (else 0), and where the
    /// ring starts in `acc`.
    pub ring_mask: u32,
    pub ring_offset: u32,
    pub _pad: [u32; 3],
}

/// The family's pipelines: its step and block entry points.
pub(crate) type Pipelines = StepBlock;

pub(crate) fn pipelines(env: &Env) -> Pipelines {
    StepBlock::new(
        env,
        &FAMILY,
        &[true, true, true, false, false, false, false, true],
    )
}

/// Per population: its launch (LIF only), over the projections' table
/// (`blocked[j]`: projection j's sums are in per-step slots).
pub(crate) fn launches(
    env: &Env,
    pipes: &Pipelines,
    blocked: &[bool],
    acc: &wgpu::Buffer,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Vec<Option<Launch>>> {
    let (net, lay, device) = (env.net, env.lay, env.device());
    let proj_params: Vec<ProjParams> = net
        .projections
        .iter()
        .zip(env.quantized)
        .enumerate()
        .map(|(j, (p, q))| ProjParams {
            acc_offset: lay.acc_offset[j] as u32,
            bias_offset: lay.bias_offset[j] as u32,
            sign: p.sign,
            gained: (p.sign > 0 && net.populations[p.post].dopamine.is_some()) as u32,
            scale_hi: q.scale_hi,
            scale_lo: q.scale_lo,
            block_stride: if blocked[j] { q.n_post as u32 } else { 0 },
            ring_mask: lay.rings[j].saturating_sub(1) as u32,
            ring_offset: lay.ring_offset[j] as u32,
            _pad: [0; 3],
        })
        .collect();
    let projections = storage_buffer(device, "projections", &proj_params);
    let incoming = storage_buffer(device, "incoming", &lay.incoming_flat());
    let mut out = Vec::new();
    for (p, pop) in net.populations.iter().enumerate() {
        let Some(lif) = pop.lif() else {
            out.push(None);
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
            n_proj: crate::dopamine::gain_row(net) as u32,
        };
        let what = format!("population `{}`", pop.name);
        let grid = grid((pop.size as u64).div_ceil(WORKGROUP), env.max_dim, &what)?;
        let sh = env.sh;
        let buffers = [
            &projections,
            &incoming,
            sh.bias,
            acc,
            sh.v,
            sh.spikes,
            sh.fault,
            sh.gains,
        ];
        let (launch, pbuf) = uniform_launch(
            device,
            "lif_update",
            &pipes.step.layout,
            &params,
            &buffers,
            grid,
        );
        out.push(Some(launch));
        keep.push(pbuf);
    }
    keep.extend([projections, incoming]);
    Ok(out)
}
