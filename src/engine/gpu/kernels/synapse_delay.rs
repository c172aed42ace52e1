//! Kernel family `synapse_delay` (shaders/synapse_delay.wgsl): a delayed
//! projection's sums of a step (`synapse_delay`) or of a block
//! (`synapse_delay_block`) moved into the ring slots of the steps they arrive
//! at. CPU twin: `engine::cpu::synapse_delay`. (A projection with
//! per-synapse delays scatters into its ring directly: `synapse_scatter`.)

use super::{Env, StepBlock};
use crate::engine::gpu::resources::{Launch, grid, uniform_launch};
use crate::engine::gpu::wgsl::{Family, WORKGROUP};
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/synapse_delay.wgsl");

/// `shaders/synapse_delay.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "synapse_delay",
    file: "synapse_delay.wgsl",
    source: WGSL,
    pieces: &["step"],
    entry_points: &["synapse_delay", "synapse_delay_block"],
};

/// WGSL `DelayParams` (shaders/synapse_delay.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct DelayParams {
    pub n_post: u32,
    pub acc_offset: u32,
    /// The post count when the sums are in per-step slots, else 0.
    pub block_stride: u32,
    pub ring_offset: u32,
    /// The ring's slots - 1.
    pub ring_mask: u32,
    pub delay: u32,
    pub _pad: [u32; 2],
}

/// The family's pipelines: its step and block entry points.
pub(crate) type Pipelines = StepBlock;

pub(crate) fn pipelines(env: &Env) -> Pipelines {
    StepBlock::new(env, &FAMILY, &[false])
}

/// Projection `j`'s push into its ring, when every synapse has the same
/// delay of at least one step (`blocked`: its sums are in per-step slots).
pub(crate) fn launch(
    env: &Env,
    pipes: &Pipelines,
    j: usize,
    blocked: bool,
    acc: &wgpu::Buffer,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Option<Launch>> {
    let (proj, q, lay) = (&env.net.projections[j], &env.quantized[j], env.lay);
    if !proj.delay.is_delayed() || q.delays.is_some() {
        return Ok(None);
    }
    let params = DelayParams {
        n_post: q.n_post as u32,
        acc_offset: lay.acc_offset[j] as u32,
        block_stride: if blocked { q.n_post as u32 } else { 0 },
        ring_offset: lay.ring_offset[j] as u32,
        ring_mask: lay.rings[j] as u32 - 1,
        delay: proj.delay.lo,
        _pad: [0; 2],
    };
    let what = format!("projection `{}`", proj.name);
    let grid = grid((q.n_post as u64).div_ceil(WORKGROUP), env.max_dim, &what)?;
    let device = env.device();
    let (launch, pbuf) = uniform_launch(
        device,
        "synapse_delay",
        &pipes.step.layout,
        &params,
        &[acc],
        grid,
    );
    keep.push(pbuf);
    Ok(Some(launch))
}
