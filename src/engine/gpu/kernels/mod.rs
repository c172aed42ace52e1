//! The kernel families, each beside its WGSL: its `#[repr(C)]` parameters
//! (mirrors of the WGSL structs, checked by tests/shaders.rs), its
//! pipelines and its launches. The CPU twin of family `<name>` is
//! `engine::cpu::<name>`. `engine::gpu::encode` builds every family's
//! launches for a network from its plan and records them in the order the
//! plan says.

pub mod fused_steps;
pub mod lif_update;
pub mod neuron_update;
pub mod plasticity;
pub mod poisson_input;
pub mod state_record;
pub mod synapse_accumulate;
pub mod synapse_delay;
pub mod synapse_gather;
pub mod synapse_scatter;

use super::context::GpuContext;
use super::resources::{Offsets, Shared, StepUniforms};
use super::wgsl::{Family, compose};
use crate::network::{Network, Quantized};

/// What every family's launches are built from.
pub(crate) struct Env<'a> {
    pub ctx: &'a GpuContext,
    pub net: &'a Network,
    pub quantized: &'a [Quantized],
    pub lay: &'a Offsets,
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
    /// Entry point `name` of `family`: its parameters as a uniform at
    /// binding 0, then one storage buffer per flag of `read_only`.
    pub fn new(env: &Env, name: &str, family: &Family, read_only: &[bool]) -> Pipeline {
        let src = compose(family);
        let (layout, pipeline) =
            super::resources::kernel(env.device(), name, &src, read_only, &env.steps.layout);
        Pipeline { layout, pipeline }
    }
}

/// A family's two entry points over one bind group layout: its step
/// (`entry_points[0]`) and its block (`entry_points[1]`), as
/// `lif_update`/`lif_block` or `synapse_accumulate`/`synapse_block`.
pub(crate) struct StepBlock {
    pub step: Pipeline,
    pub block: wgpu::ComputePipeline,
}

impl StepBlock {
    /// `read_only`: one flag per storage binding, as [`Pipeline::new`].
    pub fn new(env: &Env, family: &Family, read_only: &[bool]) -> StepBlock {
        let &[step, block] = family.entry_points else {
            unreachable!("{} has a step and a block entry point", family.name);
        };
        StepBlock {
            step: Pipeline::new(env, step, family, read_only),
            block: Pipeline::new(env, block, family, read_only).pipeline,
        }
    }
}

/// One dispatch of one kernel on buffers the caller fills: how tests
/// compare a kernel family with its CPU twin on random data.
pub struct OneDispatch<'a> {
    /// The family (its WGSL is composed with the prelude and its pieces).
    pub family: &'a Family,
    pub entry: &'a str,
    /// The kernel's parameters, bound as a uniform at binding 0.
    pub params: &'a [u8],
    /// The storage buffers at bindings 1, 2, ... as u32 words, and whether
    /// each is read only.
    pub buffers: Vec<(Vec<u32>, bool)>,
    /// The step uniform's row and the chunk uniform (group 1).
    pub row: u32,
    pub chunk: super::layout::Chunk,
    /// Workgroups in x, y, z.
    pub grid: [u32; 3],
}

impl OneDispatch<'_> {
    /// Runs the dispatch; every buffer as it is afterwards.
    pub fn run(&self, ctx: &GpuContext) -> crate::Result<Vec<Vec<u32>>> {
        use super::resources::{bind_group, buffer, init_buffer, layout_of, uniform_entry};
        let device = &ctx.device;
        let step_layout = layout_of(
            device,
            "step",
            &[uniform_entry(0, true), uniform_entry(1, false)],
        );
        let flags: Vec<bool> = self.buffers.iter().map(|b| b.1).collect();
        let (layout, pipeline) = super::resources::kernel(
            device,
            self.entry,
            &compose(self.family),
            &flags,
            &step_layout,
        );
        let uniform = wgpu::BufferUsages::UNIFORM;
        let params = init_buffer(device, "params", self.params, uniform);
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let storage: Vec<wgpu::Buffer> = self
            .buffers
            .iter()
            .map(|(words, _)| init_buffer(device, "buffer", bytemuck::cast_slice(words), usage))
            .collect();
        let all: Vec<&wgpu::Buffer> = std::iter::once(&params).chain(&storage).collect();
        let group0 = bind_group(device, self.entry, &layout, &all);
        let step = super::layout::Step {
            row: self.row,
            _pad: [0; 3],
        };
        let step_buf = init_buffer(device, "step", bytemuck::bytes_of(&step), uniform);
        let chunk_buf = init_buffer(device, "chunk", bytemuck::bytes_of(&self.chunk), uniform);
        let group1 = bind_group(device, "step", &step_layout, &[&step_buf, &chunk_buf]);
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group0, &[]);
            pass.set_bind_group(1, &group1, &[0]);
            let [x, y, z] = self.grid;
            pass.dispatch_workgroups(x, y, z);
        }
        let read = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let staging: Vec<wgpu::Buffer> = storage
            .iter()
            .map(|b| {
                let s = buffer(device, "staging", b.size(), read);
                enc.copy_buffer_to_buffer(b, 0, &s, 0, b.size());
                s
            })
            .collect();
        ctx.queue.submit([enc.finish()]);
        ctx.take_error()?;
        let mut out = Vec::new();
        for ((words, _), s) in self.buffers.iter().zip(&staging) {
            let mut got: Vec<u32> = ctx.read_mapped(s, s.size())?;
            got.truncate(words.len());
            out.push(got);
        }
        Ok(out)
    }
}
