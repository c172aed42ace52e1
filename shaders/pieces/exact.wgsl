// Piece `exact`: the f32 arithmetic of docs/arithmetic.md §2, each
// operation through a rounding barrier, as the CPU computes it. MIN_NORMAL
// comes from the prelude.

// Rounding barrier: returns x unchanged, but through an integer operation
// with a value known only at run time (`zero` is always 0), so the compiler
// must round x to f32 here and cannot fuse it into an fma or reassociate it
// with the next addition. Mesa's shader compilers do both to plain
// expressions (SPIR-V from WGSL carries no NoContraction), which changed
// (a + b) + c by one ulp on lavapipe. Every f32 operation of docs/arithmetic.md §2 goes
// through one, so the GPU rounds exactly where the CPU does.
fn exact(x: f32, zero: u32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) | zero);
}

// nearest_f32(acc * 2^-F) without f64 (docs/arithmetic.md §2.2): both halves are exact in
// f32, both products are exact, the one addition rounds once.
fn fixed_to_f32(acc: i32, scale_hi: f32, scale_lo: f32, zero: u32) -> f32 {
    let hi = f32(acc >> 12u);
    let lo = f32(acc & 0xFFF);
    return exact(exact(hi * scale_hi, zero) + exact(lo * scale_lo, zero), zero);
}


// Adds one projection's term to a neuron's current (docs/arithmetic.md §2.2):
// sign * (nearest_f32(acc * 2^-F) + bias), left to right; k = 0 is the first.
// When `gained`, the projection's current is first multiplied by dopamine's
// gain (src/dopamine.rs). CPU twin: the loop body of engine::cpu::lif_update.
fn add_current(current: f32, k: u32, acc: i32, scale_hi: f32, scale_lo: f32, bias: f32, sign: i32, gained: bool, gain: f32, z: u32) -> f32 {
    var cur = exact(fixed_to_f32(acc, scale_hi, scale_lo, z) + bias, z);
    if (gained) {
        cur = exact(cur * gain, z);
    }
    var term = cur;
    if (sign < 0i) {
        term = -cur;
    }
    if (k == 0u) {
        return term;
    }
    return exact(current + term, z);
}

// snntorch Leaky (docs/arithmetic.md §2.3): the new membrane from the old one, the current
// and the neuron's own spike of the previous step (r = 0 or 1); reset 0
// subtract, 1 zero, 2 none; subnormal results stored as +0.
// CPU twin: engine::cpu::membrane_step.
fn membrane_step(v: f32, current: f32, r: f32, beta: f32, threshold: f32, reset: u32, z: u32) -> f32 {
    var x = v;
    switch reset {
        case 0u: {
            x = exact(exact(exact(beta * x, z) + current, z) - exact(r * threshold, z), z);
        }
        case 1u: {
            let kept = exact(exact(1.0 - r, z) * x, z);
            x = exact(exact(beta * kept, z) + current, z);
        }
        default: {
            x = exact(exact(beta * x, z) + current, z);
        }
    }
    if (abs(x) < MIN_NORMAL) {
        x = 0.0;
    }
    return x;
}

// The strict threshold: v - theta > 0.
fn fires(v: f32, threshold: f32, z: u32) -> bool {
    return exact(v - threshold, z) > 0.0;
}

// Infinity or NaN (all exponent bits set), tested on the bits so that no
// compiler can fold it away.
fn not_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}
