//! Kernel family `synapse_scatter` (shaders/synapse_scatter.wgsl): a sparse
//! projection's sums from its spiking pre neurons, `synapse_scatter` for
//! one step and `synapse_scatter_block` for a block of steps into per-step
//! slots. CPU twin: `engine::cpu::synapse_scatter`.

use super::synapse_accumulate::SYN_CHUNK_WORDS;
use super::{Env, StepBlock};
use crate::engine::gpu::resources::{Launch, grid, storage_buffer, too_big, uniform_launch};
use crate::engine::gpu::wgsl::Family;
use crate::tuning::GpuOptions;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/synapse_scatter.wgsl");

/// `shaders/synapse_scatter.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "synapse_scatter",
    file: "synapse_scatter.wgsl",
    source: WGSL,
    pieces: &["step", "spike_list"],
    entry_points: &["synapse_scatter", "synapse_scatter_block"],
};

/// WGSL `ScatterParams` (shaders/synapse_scatter.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct ScatterParams {
    pub n_words: u32,
    pub pre_word_offset: u32,
    pub row_words: u32,
    pub acc_offset: u32,
    pub chunk_words: u32,
    /// The post count when the sums go to per-step slots, else 0.
    pub block_stride: u32,
    /// Per-synapse delays: the ring's slots - 1 (else 0), and its offset.
    pub ring_mask: u32,
    pub ring_offset: u32,
}

/// The family's pipelines: its step and block entry points.
pub(crate) type Pipelines = StepBlock;

pub(crate) fn pipelines(env: &Env) -> Pipelines {
    StepBlock::new(env, &FAMILY, &[true, true, true, true, false, true])
}

/// Sparse projection `j`'s synapses, pre-major (CSR), and its launch.
pub(crate) fn launch(
    env: &Env,
    pipes: &Pipelines,
    j: usize,
    acc: &wgpu::Buffer,
    opts: &GpuOptions,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Launch> {
    let (proj, q, lay) = (&env.net.projections[j], &env.quantized[j], env.lay);
    let pm = q
        .sparse
        .as_ref()
        .expect("a scattered projection is held pre-major");
    let bytes = q.wq.len() as u64 * 4;
    if bytes > env.max_binding {
        let what = format!("sparse projection `{}`", proj.name);
        return Err(too_big(&what, bytes, env.max_binding, env.ctx));
    }
    let chunk_words = opts.syn_chunk_words.unwrap_or(SYN_CHUNK_WORDS);
    let n_words = q.n_pre.div_ceil(32) as u64;
    let chunks = n_words.div_ceil(chunk_words);
    let grid = grid(chunks, env.max_dim, &format!("projection `{}`", proj.name))?;
    let device = env.device();
    let ptr: Vec<u32> = pm.pre_ptr.iter().map(|&x| x as u32).collect();
    let ptr_buf = storage_buffer(device, "pre_ptr", &ptr);
    let post_buf = storage_buffer(device, "post", &pm.post);
    let wbuf = storage_buffer(device, &format!("weights {}", proj.name), &q.wq);
    let params = ScatterParams {
        n_words: n_words as u32,
        pre_word_offset: lay.word_offset[proj.pre] as u32,
        row_words: lay.row_words as u32,
        acc_offset: lay.acc_offset[j] as u32,
        chunk_words: chunk_words as u32,
        // synapse_scatter_block's step slots
        block_stride: q.n_post as u32,
        ring_mask: match q.delays {
            Some(_) => lay.rings[j] as u32 - 1,
            None => 0,
        },
        ring_offset: lay.ring_offset[j] as u32,
    };
    // a synapse's delay a byte, four a word (a word when there are none)
    let packed: Vec<u32> = match &q.delays {
        Some(d) => d
            .chunks(4)
            .map(|b| b.iter().rev().fold(0u32, |w, &x| w << 8 | x as u32))
            .collect(),
        None => vec![0],
    };
    let delay_buf = storage_buffer(device, "delays", &packed);
    let (launch, pbuf) = uniform_launch(
        device,
        "synapse_scatter",
        &pipes.step.layout,
        &params,
        &[&ptr_buf, &post_buf, &wbuf, env.sh.spikes, acc, &delay_buf],
        grid,
    );
    keep.extend([ptr_buf, post_buf, wbuf, pbuf, delay_buf]);
    Ok(launch)
}
