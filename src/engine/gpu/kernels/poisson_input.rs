//! Kernel family `poisson_input` (shaders/poisson_input.wgsl): the spikes
//! of every Poisson population the GPU draws, for the whole chunk, before
//! the steps. CPU twin: `engine::cpu::poisson_input` (the host's
//! `input::poisson_chunk`).

use super::{Env, Pipeline};
use crate::engine::gpu::resources::{Launch, grid, init_buffer, uniform_launch};
use crate::engine::gpu::wgsl::Family;
use crate::engine::gpu::wgsl::WORKGROUP;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/poisson_input.wgsl");

/// `shaders/poisson_input.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "poisson_input",
    file: "poisson_input.wgsl",
    source: WGSL,
    pieces: &["step", "philox"],
    entry_points: &["poisson_input"],
};

/// WGSL `PoissonParams` (shaders/poisson_input.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct PoissonParams {
    pub n: u32,
    pub word_offset: u32,
    pub row_words: u32,
    pub thr_offset: u32,
    pub key_index: u32,
    pub n_keyed: u32,
    pub first_step: u32,
    pub blocks: u32,
    pub n_steps: u32,
    pub _pad: [u32; 3],
}

/// A Poisson population's launch, its parameters' buffer (rewritten every
/// chunk with its first step and length) and those parameters.
pub(crate) type PoissonLaunch = (Launch, wgpu::Buffer, PoissonParams);

/// The trial keys buffer (rewritten by `GpuEngine::restart`) and per
/// population its launch, when the GPU draws its input.
pub(crate) fn launches(
    env: &Env,
    pipe: &Pipeline,
) -> crate::Result<(wgpu::Buffer, Vec<Option<PoissonLaunch>>)> {
    let (net, lay, sh, device) = (env.net, env.lay, env.sh, env.device());
    let n_keyed = sh.poisson.iter().flatten().count() as u32;
    let keys = init_buffer(
        device,
        "trial keys",
        bytemuck::cast_slice(&sh.trial_keys),
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    );
    let mut out = Vec::new();
    for (p, pop) in net.populations.iter().enumerate() {
        let Some(thr_offset) = sh.poisson[p] else {
            out.push(None);
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
        let what = format!("population `{}` input", pop.name);
        let grid = grid(params.blocks as u64, env.max_dim, &what)?;
        let buffers = [sh.thresholds, sh.spikes, &keys];
        let (launch, pbuf) = uniform_launch(
            device,
            "poisson_input",
            &pipe.layout,
            &params,
            &buffers,
            grid,
        );
        out.push(Some((launch, pbuf, params)));
    }
    Ok((keys, out))
}
