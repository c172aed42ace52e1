//! `#[repr(C)]` mirrors of the WGSL structs. Each names the struct it must
//! match; `tests/shaders.rs` checks sizes and field offsets against naga's
//! layout of the shaders.

use bytemuck::{Pod, Zeroable};

/// WGSL `Step` (shaders/pieces/step.wgsl), one per step of a chunk, bound with a
/// dynamic offset.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct Step {
    pub row: u32,
    pub _pad: [u32; 3],
}

/// WGSL `Chunk` (shaders/pieces/step.wgsl), written once per chunk.
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
    /// The run's step of the chunk's first (row 1), modulo 2^32: where the
    /// rings of delayed sums are.
    pub first_step: u32,
    /// Steps of a block on the block schedule (the plan's `block_len`).
    pub block_len: u32,
}

// Each kernel family's parameters live beside its host code.
pub use super::kernels::fused_steps::FusedParams;
pub use super::kernels::lif_update::{PopParams, ProjParams};
pub use super::kernels::neuron_update::{NeuronParams, SynKinetics};
pub use super::kernels::plasticity::PlasticParams;
pub use super::kernels::poisson_input::PoissonParams;
pub use super::kernels::state_record::RecordParams;
pub use super::kernels::synapse_accumulate::SynParams;
pub use super::kernels::synapse_gather::{GatherParams, MaskParams};
pub use super::kernels::synapse_scatter::ScatterParams;
