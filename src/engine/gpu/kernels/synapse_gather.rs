//! Kernel family `synapse_gather` (shaders/block_masks.wgsl,
//! shaders/synapse_gather.wgsl): `block_masks` marks the steps of a block
//! in which each pre neuron spikes, then `synapse_gather` sums each post
//! neuron's synapses (held by post, in slices of 64 posts) into per-step
//! slots. CPU twin: `engine::cpu::synapse_gather`.

use super::{Env, Pipeline};
use crate::engine::gpu::resources::{
    Launch, buffer, grid, storage_buffer, too_big, uniform_launch,
};
use crate::engine::gpu::sparse::by_post_slices;
use crate::engine::gpu::wgsl::Family;
use crate::engine::gpu::wgsl::WORKGROUP;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/synapse_gather.wgsl");
pub const MASKS_WGSL: &str = include_str!("../../../../shaders/block_masks.wgsl");

/// `shaders/synapse_gather.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "synapse_gather",
    file: "synapse_gather.wgsl",
    source: WGSL,
    pieces: &["step"],
    entry_points: &["synapse_gather"],
};

/// `shaders/block_masks.wgsl` and what it is composed with.
pub const MASKS: Family = Family {
    name: "synapse_gather",
    file: "block_masks.wgsl",
    source: MASKS_WGSL,
    pieces: &["step"],
    entry_points: &["block_masks"],
};

/// WGSL `MaskParams` (shaders/block_masks.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct MaskParams {
    pub n: u32,
    pub word_offset: u32,
    pub row_words: u32,
    pub mask_offset: u32,
}

/// WGSL `GatherParams` (shaders/synapse_gather.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct GatherParams {
    pub n_post: u32,
    pub acc_offset: u32,
    pub mask_offset: u32,
    pub first_slice: u32,
}

pub(crate) struct Pipelines {
    pub masks: Pipeline,
    pub gather: Pipeline,
}

impl Pipelines {
    pub fn new(env: &Env) -> Pipelines {
        Pipelines {
            masks: Pipeline::new(env, "block_masks", &MASKS, &[true, false]),
            gather: Pipeline::new(
                env,
                "synapse_gather",
                &FAMILY,
                &[true, true, true, true, false],
            ),
        }
    }
}

/// A gathered projection's launches: its pre population's `block_masks`
/// (written once per block and pre population, by its first gathered
/// projection in update order; None for the later ones) and one
/// `synapse_gather` per part of whole slices that fits a binding.
pub(crate) struct Gather {
    pub masks: Option<Launch>,
    pub parts: Vec<Launch>,
}

/// The block's masks of every neuron (every trial's), bound by the gathered
/// projections; a word when none is gathered.
pub(crate) fn masks_buffer(env: &Env, gathered: &[bool]) -> crate::Result<wgpu::Buffer> {
    let bytes = match gathered.contains(&true) {
        true => env.sh.trials as u64 * env.net.total_neurons() * 4,
        false => 4,
    };
    if bytes > env.max_binding {
        let what = "the spike masks of a block";
        return Err(too_big(what, bytes, env.max_binding, env.ctx));
    }
    Ok(buffer(
        env.device(),
        "masks",
        bytes,
        wgpu::BufferUsages::STORAGE,
    ))
}

/// Per projection: its launches when `gathered`, else None.
pub(crate) fn launches(
    env: &Env,
    pipes: &Pipelines,
    gathered: &[bool],
    masks: &wgpu::Buffer,
    acc: &wgpu::Buffer,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Vec<Option<Gather>>> {
    let net = env.net;
    let mut mask_offset = Vec::new();
    let mut n_masks = 0;
    for pop in &net.populations {
        mask_offset.push(n_masks);
        n_masks += pop.size;
    }
    // the first gathered projection of each pre population in the order of
    // the sums writes its masks for the block; the later ones read them
    let mut masks_by: Vec<Option<usize>> = vec![None; net.populations.len()];
    for j in crate::engine::plan::sum_order(net) {
        let pre = net.projections[j].pre;
        if gathered[j] && masks_by[pre].is_none() {
            masks_by[pre] = Some(j);
        }
    }
    let mut out = Vec::new();
    for j in 0..net.projections.len() {
        out.push(match gathered[j] {
            true => Some(gather(
                env,
                pipes,
                j,
                &mask_offset,
                masks_by[net.projections[j].pre] == Some(j),
                masks,
                acc,
                keep,
            )?),
            false => None,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn gather(
    env: &Env,
    pipes: &Pipelines,
    j: usize,
    mask_offset: &[usize],
    writes_masks: bool,
    masks: &wgpu::Buffer,
    acc: &wgpu::Buffer,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Gather> {
    let (device, lay, max_dim) = (env.device(), env.lay, env.max_dim);
    let (proj, q) = (&env.net.projections[j], &env.quantized[j]);
    let (slice_ptr, pre, w) = by_post_slices(q);
    let what = format!("sparse projection `{}`", proj.name);
    let n_pre = env.net.populations[proj.pre].size;
    let masks_launch = match writes_masks {
        true => {
            let mp = MaskParams {
                n: n_pre as u32,
                word_offset: lay.word_offset[proj.pre] as u32,
                row_words: lay.row_words as u32,
                mask_offset: mask_offset[proj.pre] as u32,
            };
            let (launch, mp_buf) = uniform_launch(
                device,
                "block_masks",
                &pipes.masks.layout,
                &mp,
                &[env.sh.spikes, masks],
                grid((n_pre as u64).div_ceil(WORKGROUP), max_dim, &what)?,
            );
            keep.push(mp_buf);
            Some(launch)
        }
        false => None,
    };
    // parts of whole slices whose synapses fit one binding each
    let max_slots = env.max_binding / 4;
    let mut parts = Vec::new();
    let mut first = 0;
    while first + 1 < slice_ptr.len() {
        let mut end = first + 1;
        while end + 1 < slice_ptr.len() && slice_ptr[end + 1] - slice_ptr[first] <= max_slots {
            end += 1;
        }
        let slots = slice_ptr[end] - slice_ptr[first];
        if slots > max_slots {
            let what = format!("{what}: the synapses of 64 posts");
            return Err(too_big(&what, slots * 4, env.max_binding, env.ctx));
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
            &pipes.gather.layout,
            &gp,
            &[&ptr_buf, &pre_buf, &w_buf, masks, acc],
            grid((end - first) as u64, max_dim, &what)?,
        );
        parts.push(launch);
        keep.extend([ptr_buf, pre_buf, w_buf, gp_buf]);
        first = end;
    }
    Ok(Gather {
        masks: masks_launch,
        parts,
    })
}
