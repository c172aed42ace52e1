//! How each kernel's WGSL is put together: a prelude of the constants Rust
//! and WGSL share, generated from the Rust values (so they cannot drift),
//! then `shaders/common.wgsl` (the step uniforms, the spike-list loop, the
//! exact arithmetic, Philox), then the family's own file. [`FAMILIES`] is
//! the table of kernel families: their files and entry points.

use crate::engine::plan::{BLOCK_STEPS, FUSED_MAX_ROW_WORDS};
use crate::fixed::{MAX_STEP_CHANGE, TRACE_FLOOR};

/// `shaders/common.wgsl`.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// Invocations of a workgroup of every kernel but `fused_steps`
/// (`@workgroup_size(64)` in the files; tests/shaders.rs checks).
pub const WORKGROUP: u64 = 64;
/// Invocations of the fused kernel's one workgroup a trial.
pub const FUSED_WORKGROUP: usize = 256;
/// Spike words (of 32 pre neurons) a synapse invocation sums at most.
pub const MAX_CHUNK_WORDS: u64 = 8;

/// One kernel family: the WGSL file its host module compiles and the entry
/// points in it.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The host module, `engine::gpu::kernels::<name>`, and the CPU twin,
    /// `engine::cpu::<name>`.
    pub name: &'static str,
    pub file: &'static str,
    pub source: &'static str,
    pub entry_points: &'static [&'static str],
}

/// Every kernel family, in the order a step runs them.
pub const FAMILIES: [Family; 7] = [
    Family {
        name: "poisson_input",
        file: "poisson_input.wgsl",
        source: super::kernels::poisson_input::WGSL,
        entry_points: &["poisson_input"],
    },
    Family {
        name: "synapse_accumulate",
        file: "synapse_accumulate.wgsl",
        source: super::kernels::synapse_accumulate::WGSL,
        entry_points: &["synapse_accumulate", "synapse_block"],
    },
    Family {
        name: "synapse_scatter",
        file: "synapse_scatter.wgsl",
        source: super::kernels::synapse_scatter::WGSL,
        entry_points: &["synapse_scatter", "synapse_scatter_block"],
    },
    Family {
        name: "synapse_gather",
        file: "synapse_gather.wgsl",
        source: super::kernels::synapse_gather::WGSL,
        entry_points: &["synapse_gather"],
    },
    Family {
        name: "synapse_gather",
        file: "block_masks.wgsl",
        source: super::kernels::synapse_gather::MASKS_WGSL,
        entry_points: &["block_masks"],
    },
    Family {
        name: "lif_update",
        file: "lif_update.wgsl",
        source: super::kernels::lif_update::WGSL,
        entry_points: &["lif_update", "lif_block"],
    },
    Family {
        name: "plasticity",
        file: "plasticity.wgsl",
        source: super::kernels::plasticity::WGSL,
        entry_points: &["plasticity", "plasticity_traces"],
    },
];

/// The fused kernel, which runs a whole step (every family's work) in one
/// dispatch.
pub const FUSED: Family = Family {
    name: "fused_steps",
    file: "fused_steps.wgsl",
    source: super::kernels::fused_steps::WGSL,
    entry_points: &["fused_steps"],
};

/// The constants Rust and WGSL share, as WGSL declarations.
pub fn prelude() -> String {
    let u32s = [
        ("WORKGROUP", WORKGROUP),
        ("BLOCK_STEPS", BLOCK_STEPS as u64),
        ("MAX_CHUNK_WORDS", MAX_CHUNK_WORDS),
        ("MAX_ROW_WORDS", FUSED_MAX_ROW_WORDS as u64),
        ("FUSED_WORKGROUP", FUSED_WORKGROUP as u64),
    ];
    let f32s = [
        ("MIN_NORMAL", f32::MIN_POSITIVE),
        ("TRACE_FLOOR", TRACE_FLOOR),
        ("MAX_STEP_CHANGE", MAX_STEP_CHANGE),
    ];
    let mut s = String::from("// generated from the Rust constants (engine::gpu::wgsl)\n");
    for (name, v) in u32s {
        s += &format!("const {name}: u32 = {v}u;\n");
    }
    for (name, v) in f32s {
        // the shortest decimal that reads back as this f32
        s += &format!("const {name}: f32 = {v:e};\n");
    }
    s
}

/// A kernel's whole source: the prelude, common.wgsl, then `src`.
pub fn compose(src: &str) -> String {
    format!("{}\n{COMMON}\n{src}", prelude())
}
