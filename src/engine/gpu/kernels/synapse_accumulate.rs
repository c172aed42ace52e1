//! Kernel family `synapse_accumulate` (shaders/synapse_accumulate.wgsl): a
//! dense projection's sums, `synapse_accumulate` for one step and
//! `synapse_block` for a block of steps into per-step slots. CPU twin:
//! `engine::cpu::synapse_accumulate`.

use super::{Env, StepBlock};
use crate::engine::gpu::resources::{Launch, grid, init_buffer_with, too_big, uniform_launch};
use crate::engine::gpu::wgsl::Family;
use crate::engine::gpu::wgsl::{MAX_CHUNK_WORDS, WORKGROUP};
use crate::tuning::GpuOptions;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/synapse_accumulate.wgsl");

/// `shaders/synapse_accumulate.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "synapse_accumulate",
    file: "synapse_accumulate.wgsl",
    source: WGSL,
    pieces: &["step", "spike_list"],
    entry_points: &["synapse_accumulate", "synapse_block"],
};

/// Spike words (of 32 pre neurons) one `synapse_accumulate` invocation
/// sums: fewer atomics per spike than one word, enough parallelism at
/// scale.
pub const SYN_CHUNK_WORDS: u64 = MAX_CHUNK_WORDS;

/// Spike words a `synapse_block` invocation sums. Fewer than
/// synapse_accumulate's: every one of its rows is read (99.7 % of them
/// spike in some step of a block), and a block's 16 sums take 64 registers,
/// so more, shorter invocations keep more loads in flight.
pub const BLOCK_CHUNK_WORDS: u64 = 4;

/// WGSL `SynParams` (shaders/synapse_accumulate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct SynParams {
    pub n_post: u32,
    pub post_blocks: u32,
    pub n_words: u32,
    pub pre_word_offset: u32,
    pub row_words: u32,
    pub acc_offset: u32,
    pub n_post4: u32,
    pub chunk_words: u32,
}

/// The family's pipelines: its step and block entry points.
pub(crate) type Pipelines = StepBlock;

pub(crate) fn pipelines(env: &Env) -> Pipelines {
    StepBlock::new(env, &FAMILY, &[true, true, false])
}

/// The weights of a dense projection as the kernels read them, and its
/// launches: one per weights part (rows padded to whole vec4s; a part holds
/// whole words of 32 pre rows and fits a binding). `blocked`: the launches
/// run `synapse_block`. Returns the launches and, for a plastic projection
/// (kept in one part), its weights buffer and row stride in i32s.
pub(crate) fn launches(
    env: &Env,
    pipes: &Pipelines,
    j: usize,
    blocked: bool,
    acc: &wgpu::Buffer,
    opts: &GpuOptions,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<(Vec<Launch>, Option<(wgpu::Buffer, usize)>)> {
    let (proj, q, lay) = (&env.net.projections[j], &env.quantized[j], env.lay);
    let n_post = q.n_post as u64;
    let n_post4 = n_post.div_ceil(4);
    let row_bytes_w = n_post4 * 16;
    let rows_per_part = (env.max_binding / row_bytes_w) / 32 * 32;
    if rows_per_part == 0 {
        return Err(too_big(
            &format!("projection `{}`: 32 pre rows of weights", proj.name),
            32 * row_bytes_w,
            env.max_binding,
            env.ctx,
        ));
    }
    let plastic = proj.plasticity.is_some();
    if plastic && rows_per_part < q.n_pre as u64 {
        return Err(too_big(
            &format!("plastic projection `{}` (kept in one binding)", proj.name),
            q.n_pre as u64 * row_bytes_w,
            env.max_binding,
            env.ctx,
        ));
    }
    let post_blocks = n_post4.div_ceil(WORKGROUP);
    let mut launches = Vec::new();
    let mut first = 0u64;
    let mut plastic_weights = None;
    while first < q.n_pre as u64 {
        let rows = rows_per_part.min(q.n_pre as u64 - first);
        let n_words = rows.div_ceil(32);
        let chunk_words = match blocked {
            true => opts.block_chunk_words.unwrap_or(BLOCK_CHUNK_WORDS),
            false => opts.syn_chunk_words.unwrap_or(SYN_CHUNK_WORDS),
        }
        .min(n_words);
        let groups = post_blocks * n_words.div_ceil(chunk_words);
        let grid = grid(groups, env.max_dim, &format!("projection `{}`", proj.name))?;
        // the part's rows, each padded with zeros to whole vec4s, written
        // straight into the buffer's mapping
        let wbuf = init_buffer_with(
            env.device(),
            &format!("weights {} part", proj.name),
            rows * row_bytes_w,
            match plastic {
                // plastic weights are read back
                true => wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                false => wgpu::BufferUsages::STORAGE,
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
        if plastic {
            plastic_weights = Some((wbuf.clone(), (n_post4 * 4) as usize));
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
            env.device(),
            "synapse_accumulate",
            &pipes.step.layout,
            &params,
            &[&wbuf, env.sh.spikes, acc],
            grid,
        );
        launches.push(launch);
        keep.extend([wbuf, pbuf]);
        first += rows;
    }
    Ok((launches, plastic_weights))
}
