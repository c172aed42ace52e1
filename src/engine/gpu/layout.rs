//! `#[repr(C)]` mirrors of the WGSL structs. Each names the struct it must
//! match; `tests/shaders.rs` checks sizes and field offsets against naga's
//! layout of the shaders.

use bytemuck::{Pod, Zeroable};

/// WGSL `Step` (shaders/common.wgsl), one per step of a chunk, bound with a
/// dynamic offset.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct Step {
    pub row: u32,
    pub _pad: [u32; 3],
}

/// WGSL `Chunk` (shaders/common.wgsl), written once per chunk.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct Chunk {
    pub n_steps: u32,
    pub n_trials: u32,
    /// Per trial: words of spike rows, sums, membranes and block masks.
    pub spike_stride: u32,
    pub acc_stride: u32,
    pub v_stride: u32,
    pub mask_stride: u32,
    pub _pad: [u32; 2],
}

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
    /// Projections in the network: the length of a step's row of `gains`.
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
    pub _pad1: u32,
}

/// WGSL `FusedParams` (shaders/fused_steps.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct FusedParams {
    pub n_steps: u32,
    pub row_words: u32,
    pub n_lif: u32,
    /// Always 0: the run-time operand of the WGSL rounding barrier `exact`.
    pub zero: u32,
    pub pop_base: u32,
    pub proj_base: u32,
    pub in_base: u32,
    /// 1: the kernel draws the Poisson input; 0: the host uploaded it.
    pub gen_input: u32,
    pub poisson_base: u32,
    pub n_poisson: u32,
    /// Where the (k0, k1) keys of each trial and Poisson population start.
    pub keys_base: u32,
    /// The absolute step of row 1 of the chunk.
    pub first_step: u32,
    /// Words of one trial's spike rows.
    pub trial_words: u32,
    /// Membranes of one trial.
    pub v_len: u32,
    /// Steps one dispatch runs at most.
    pub slice_steps: u32,
    pub _pad: u32,
}

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
    pub _pad: [u32; 2],
}

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
    pub _pad0: u32,
    pub decay_pre: f32,
    pub decay_post: f32,
    pub decay_c: f32,
    pub a_plus: f32,
    pub a_minus: f32,
    pub _pad1: [u32; 3],
}

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
