//! How each kernel's WGSL is put together: a prelude of the constants Rust
//! and WGSL share, generated from the Rust values (so they cannot drift),
//! then the shared pieces the family names ([`PIECES`]: the step uniforms,
//! the spike-list loop, the exact arithmetic, Philox), then the family's
//! own file. [`FAMILIES`] is the table of kernel families: their files,
//! pieces and entry points.

use crate::engine::plan::{BLOCK_STEPS, FUSED_MAX_ROW_WORDS};
use crate::fixed::{MAX_STEP_CHANGE, TRACE_FLOOR};
use crate::network::neuron::{MG_TABLE_LEN, MG_TABLE_PER_MV, MG_TABLE_V0};

/// The shared pieces (`shaders/pieces/<name>.wgsl`), in the order a kernel
/// gets them.
pub const PIECES: [(&str, &str); 6] = [
    ("step", include_str!("../../../shaders/pieces/step.wgsl")),
    ("fault", include_str!("../../../shaders/pieces/fault.wgsl")),
    (
        "spike_words",
        include_str!("../../../shaders/pieces/spike_words.wgsl"),
    ),
    (
        "spike_list",
        include_str!("../../../shaders/pieces/spike_list.wgsl"),
    ),
    ("exact", include_str!("../../../shaders/pieces/exact.wgsl")),
    (
        "philox",
        include_str!("../../../shaders/pieces/philox.wgsl"),
    ),
];

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
    /// The pieces it uses, in [`PIECES`] order.
    pub pieces: &'static [&'static str],
    pub entry_points: &'static [&'static str],
}

/// Every kernel family, in the order a step runs them (each defined beside
/// its host code).
pub const FAMILIES: [Family; 10] = [
    super::kernels::poisson_input::FAMILY,
    super::kernels::synapse_accumulate::FAMILY,
    super::kernels::synapse_scatter::FAMILY,
    super::kernels::synapse_gather::FAMILY,
    super::kernels::synapse_gather::MASKS,
    super::kernels::synapse_delay::FAMILY,
    super::kernels::lif_update::FAMILY,
    super::kernels::neuron_update::FAMILY,
    super::kernels::plasticity::FAMILY,
    super::kernels::state_record::FAMILY,
];

/// The fused kernel, which runs a whole step (every family's work) in one
/// dispatch.
pub const FUSED: Family = super::kernels::fused_steps::FAMILY;

/// The constants Rust and WGSL share, as WGSL declarations.
pub fn prelude() -> String {
    let u32s = [
        ("WORKGROUP", WORKGROUP),
        ("BLOCK_STEPS", BLOCK_STEPS as u64),
        ("MAX_CHUNK_WORDS", MAX_CHUNK_WORDS),
        ("MAX_ROW_WORDS", FUSED_MAX_ROW_WORDS as u64),
        ("FUSED_WORKGROUP", FUSED_WORKGROUP as u64),
        ("MG_TABLE_LEN", MG_TABLE_LEN as u64),
    ];
    let f32s = [
        ("MIN_NORMAL", f32::MIN_POSITIVE),
        ("TRACE_FLOOR", TRACE_FLOOR),
        ("MAX_STEP_CHANGE", MAX_STEP_CHANGE),
        ("MG_TABLE_V0", MG_TABLE_V0),
        ("MG_TABLE_PER_MV", MG_TABLE_PER_MV),
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

/// `src` after the prelude and the named pieces (in [`PIECES`] order).
pub fn compose_with(pieces: &[&str], src: &str) -> String {
    let mut s = prelude();
    for (name, text) in PIECES {
        if pieces.contains(&name) {
            s += "\n";
            s += text;
        }
    }
    s + "\n" + src
}

/// A family's whole source: the prelude, its pieces, its file.
pub fn compose(family: &Family) -> String {
    compose_with(family.pieces, family.source)
}
