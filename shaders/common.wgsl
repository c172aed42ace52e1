// Shared definitions of the nacc kernels. Each kernel file is compiled as
// common.wgsl followed by the kernel (src/engine/gpu/mod.rs), and its Rust
// twin is in src/engine/cpu.rs. The structs are mirrored by #[repr(C)] types
// in src/engine/gpu/layout.rs (checked by tests/shaders.rs).

const WORKGROUP: u32 = 64u;

// The row of the spike buffer a step writes: row 0 holds the last step of the
// previous chunk, rows 1..=chunk the steps of this one. Bound with a dynamic
// offset, one entry per step of a chunk.
struct Step {
    row: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Linear workgroup index on a 2-D grid (at most 65 535 groups a dimension).
fn linear_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// Rounding barrier: returns x unchanged, but through an integer operation
// with a value known only at run time (`zero` is always 0), so the compiler
// must round x to f32 here and cannot fuse it into an fma or reassociate it
// with the next addition. Mesa's shader compilers do both to plain
// expressions (SPIR-V from WGSL carries no NoContraction), which changed
// (a + b) + c by one ulp on lavapipe. Every f32 operation of SPEC §2 goes
// through one, so the GPU rounds exactly where the CPU does.
fn exact(x: f32, zero: u32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) | zero);
}

// nearest_f32(acc * 2^-F) without f64 (SPEC §2.2): both halves are exact in
// f32, both products are exact, the one addition rounds once.
fn fixed_to_f32(acc: i32, scale_hi: f32, scale_lo: f32, zero: u32) -> f32 {
    let hi = f32(acc >> 12u);
    let lo = f32(acc & 0xFFF);
    return exact(exact(hi * scale_hi, zero) + exact(lo * scale_lo, zero), zero);
}
