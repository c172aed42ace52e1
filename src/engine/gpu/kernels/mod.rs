//! The kernel families, each beside its WGSL: its `#[repr(C)]` parameters
//! (mirrors of the WGSL structs, checked by tests/shaders.rs), its
//! pipelines and its launches. The CPU twin of family `<name>` is
//! `engine::cpu::<name>`. `engine::gpu::encode` builds every family's
//! launches for a network from its plan and records them in the order the
//! plan says.

pub mod fused_steps;
pub mod lif_update;
pub mod plasticity;
pub mod poisson_input;
pub mod synapse_accumulate;
pub mod synapse_gather;
pub mod synapse_scatter;

use super::context::GpuContext;
use super::resources::{Layout, Shared, StepUniforms};
use crate::network::{Network, Quantized};

/// What every family's launches are built from.
pub(crate) struct Env<'a> {
    pub ctx: &'a GpuContext,
    pub net: &'a Network,
    pub quantized: &'a [Quantized],
    pub lay: &'a Layout,
    pub sh: &'a Shared<'a>,
    pub steps: &'a StepUniforms,
    /// Bytes one storage binding may hold.
    pub max_binding: u64,
    /// Workgroups per grid dimension.
    pub max_dim: u32,
}

impl Env<'_> {
    pub fn device(&self) -> &wgpu::Device {
        &self.ctx.device
    }
}

/// A kernel's pipeline and the layout of its group 0.
pub(crate) struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

impl Pipeline {
    /// Entry point `name` of `src`: its parameters as a uniform at binding
    /// 0, then one storage buffer per flag of `read_only`.
    pub fn new(env: &Env, name: &str, src: &str, read_only: &[bool]) -> Pipeline {
        let (layout, pipeline) =
            super::resources::kernel(env.device(), name, src, read_only, &env.steps.layout);
        Pipeline { layout, pipeline }
    }
}
