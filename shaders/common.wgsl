// Shared definitions of the nacc kernels. Each kernel file is compiled as
// the prelude of constants generated from Rust, this file, then the kernel
// (src/engine/gpu/wgsl.rs). A kernel family's host code is
// src/engine/gpu/kernels/<family>.rs, its CPU twin src/engine/cpu/<family>.rs.
// The structs are mirrored by #[repr(C)] types beside their host code
// (checked by tests/shaders.rs). WORKGROUP, BLOCK_STEPS, MAX_CHUNK_WORDS and
// MIN_NORMAL come from the prelude.


// A projection that sums in blocks (`synapse_block`) sums BLOCK_STEPS steps
// at once; its sums of step s of a chunk are at slot (s % BLOCK_STEPS).

// The row of the spike buffer a step writes: row 0 holds the last step of the
// previous chunk, rows 1..=chunk the steps of this one. Bound with a dynamic
// offset, one entry per step of a chunk.
struct Step {
    row: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// The chunk being run (group 1, binding 1, beside the step; written per
// chunk): the kernels that run a block of steps stop at its end. Trials run
// side by side on the block schedule, trial t in the grid's z = t (the
// input's in a loop): its spike rows, sums, membranes and block masks start
// at t times the strides below (one trial: z = 0).
struct Chunk {
    n_steps: u32,
    n_trials: u32,
    spike_stride: u32,
    acc_stride: u32,
    v_stride: u32,
    mask_stride: u32,
    _pad0: u32,
    _pad1: u32,
}

// Steps of the block starting at row `first_row` that lie in the chunk.
fn block_steps(first_row: u32, n_steps: u32) -> u32 {
    return min(BLOCK_STEPS, n_steps + 1u - first_row);
}

// The pre neurons of a block (synapse_block, synapse_scatter_block; with a
// block of one step, synapse_accumulate and synapse_scatter): a
// chunk of spike words of the pre population for each step of the block
// (step-major, MAX_CHUNK_WORDS a step), then the list list_block makes.
// Only the kernels that use them get them.
var<workgroup> block_words: array<u32, 128>; // BLOCK_STEPS * MAX_CHUNK_WORDS
var<workgroup> block_pre: array<u32, 256>;
var<workgroup> block_bits: array<u32, 256>;
var<workgroup> block_count: atomic<u32>;

// Lists the pre neurons of a chunk of `n_words` spike words (starting at
// word `word0` of a row of `row_words`, rows from word `base` of `spikes`;
// the neurons numbered from `first_pre`) that spike in any of the `t_n`
// rows from `first_row`: the
// neurons into `block_pre`, each with its steps as bits into `block_bits`.
// Returns how many. The order of the list does not matter: the sums are
// integers. Reads `spikes`, which every kernel declares (the spike rows);
// called by the whole workgroup (it has barriers).
fn list_block(lid: u32, base: u32, first_row: u32, t_n: u32, row_words: u32, word0: u32, n_words: u32, first_pre: u32) -> u32 {
    if (lid == 0u) {
        atomicStore(&block_count, 0u);
    }
    for (var i = lid; i < BLOCK_STEPS * MAX_CHUNK_WORDS; i = i + WORKGROUP) {
        let t = i / MAX_CHUNK_WORDS;
        let w = i % MAX_CHUNK_WORDS;
        var bits = 0u;
        if (t < t_n && w < n_words) {
            bits = spikes[base + (first_row + t) * row_words + word0 + w];
        }
        block_words[i] = bits;
    }
    workgroupBarrier();
    for (var k = lid; k < n_words * 32u; k = k + WORKGROUP) {
        var m = 0u;
        for (var t = 0u; t < t_n; t = t + 1u) {
            m = m | (((block_words[t * MAX_CHUNK_WORDS + k / 32u] >> (k % 32u)) & 1u) << t);
        }
        if (m != 0u) {
            let slot = atomicAdd(&block_count, 1u);
            block_pre[slot] = first_pre + k;
            block_bits[slot] = m;
        }
    }
    workgroupBarrier();
    return atomicLoad(&block_count);
}

// Where a projection's sums of row `row` start, past `acc_offset`: slot
// (row - 1) % BLOCK_STEPS of `stride` sums when it sums in blocks (stride =
// its post count), else 0 (stride 0).
fn slot_offset(row: u32, stride: u32) -> u32 {
    return ((row - 1u) % BLOCK_STEPS) * stride;
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

// The counter-based random function of src/input.rs, bit for bit:
// Philox4x32-10 (Salmon et al., SC 2011; CPU twin: philox::philox4x32_10):
// four words from a 128-bit counter and a 64-bit key. WGSL has no 32 x 32
// -> 64-bit multiply: the high word is built from 16-bit halves (CPU twin:
// philox::mulhi_by_halves); u32 multiplication wraps, giving the low word.
fn mulhi(a: u32, b: u32) -> u32 {
    let ah = a >> 16u;
    let al = a & 0xFFFFu;
    let bh = b >> 16u;
    let bl = b & 0xFFFFu;
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        if (r > 0u) {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let hi0 = mulhi(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = mulhi(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// The Poisson draws of neurons 4g .. 4g + 3 at step t (docs/arithmetic.md
// §2.1, §6; CPU twin: input::draw4): the Philox words of counter
// (g, t, stream, 0) under the key (key0, key1) = the seed's low and high
// words. `keys` is [key0, key1, stream, 0] (input::key_words). Neuron n
// spikes when the top 24 bits of word n % 4 are below its integer
// threshold round(rate * 2^24).
fn poisson_draws(keys: vec4<u32>, g: u32, t: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(g, t, keys.z, 0u), keys.xy);
}

// Infinity or NaN (all exponent bits set), tested on the bits so that no
// compiler can fold it away.
fn not_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}
