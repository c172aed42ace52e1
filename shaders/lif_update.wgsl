// Kernel lif_update (CPU twin: engine::cpu::lif_update).
//
// For each neuron of one LIF population: the current of docs/arithmetic.md §2.2 from its
// incoming projections (I = sign_1 * cur_1 + sign_2 * cur_2 + ..., left to
// right; each acc is read and zeroed for the next use), the membrane update
// of docs/arithmetic.md §2.3 (each f32 operation rounded where the CPU rounds it, see
// `exact` in shaders/pieces/exact.wgsl), the strict threshold,
// and the spike bit, written a workgroup's two whole words at a time
// (piece `spike_words`).

struct PopParams {
    n: u32,
    v_offset: u32,
    // word offset of this population within a spike-buffer row
    word_offset: u32,
    row_words: u32,
    // this population's projections are incoming[first_in .. first_in + n_in]
    first_in: u32,
    n_in: u32,
    // 0 subtract, 1 zero, 2 none
    reset: u32,
    // always 0: the run-time operand of the rounding barrier `exact`
    zero: u32,
    beta: f32,
    threshold: f32,
    // index of the population in the network, for fault reports
    pop: u32,
    // values in a step's row of `gains` (a gain per projection, then the
    // modulated populations' parameters)
    n_proj: u32,
}

struct ProjParams {
    acc_offset: u32,
    bias_offset: u32,
    sign: i32,
    // 1: the current is multiplied by this step's gain (dopamine), 0: not
    gained: u32,
    scale_hi: f32,
    scale_lo: f32,
    // the post count when the projection sums in blocks (synapse_block:
    // row r's sums at slot row_slot(r)), else 0
    block_stride: u32,
    // a delayed projection: its ring's slots - 1 (else 0) and where the ring
    // starts in acc (docs/arithmetic.md §2.4)
    ring_mask: u32,
    ring_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: PopParams;
@group(0) @binding(1) var<storage, read> projections: array<ProjParams>;
@group(0) @binding(2) var<storage, read> incoming: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc: array<i32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> spikes: array<u32>;
// Per population p and trial t, words 4 + 2 (p T + t) and the next: the
// first membrane that stopped being finite (T trials; see
// report_block_fault; lif_update is a block of one step). Words 0-3 are
// the fused kernel's.
@group(0) @binding(7) var<storage, read_write> fault: array<atomic<u32>>;
// per step of the chunk and projection: dopamine's gain (src/dopamine.rs)
@group(0) @binding(8) var<storage, read> gains: array<f32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

// Neuron n's current at row `row` (docs/arithmetic.md §2.2): its incoming projections'
// terms, left to right, each sum read and zeroed for its next use (a
// delayed projection's from its ring, §2.4); the trial's sums start at
// acc[base].
fn current_at(n: u32, row: u32, base: u32) -> f32 {
    let z = params.zero;
    var current = 0.0;
    for (var k = 0u; k < params.n_in; k = k + 1u) {
        let j = incoming[params.first_in + k];
        let p = projections[j];
        let slot = base + arriving_slot(chunk, row, n, params.n, p.acc_offset, p.block_stride, p.ring_mask, p.ring_offset);
        let a = acc[slot];
        acc[slot] = 0i;
        var gain = 1.0;
        if (p.gained != 0u) {
            gain = gains[(row - 1u) * params.n_proj + j];
        }
        current = add_current(current, k, a, p.scale_hi, p.scale_lo, bias[p.bias_offset + n], p.sign, p.gained != 0u, gain, z);
    }
    return current;
}

@compute @workgroup_size(64)
fn lif_update(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    words_clear(lid);
    if (n < params.n) {
        let z = params.zero;
        let current = current_at(n, step.row, 0u);
        let prev_word = spikes[(step.row - 1u) * params.row_words + params.word_offset + n / 32u];
        let r = f32((prev_word >> (n % 32u)) & 1u);
        let x = membrane_step(v[params.v_offset + n], current, r, params.beta, params.threshold, params.reset, z);
        v[params.v_offset + n] = x;
        if (not_finite(x)) {
            // a block of one step: the same report as lif_block's
            report_block_fault(step.row, n, 0u);
        }
        if (fires(x, params.threshold, z)) {
            words_set(lid, n);
        }
    }
    words_store(lid, n < params.n, step.row * params.row_words + params.word_offset + n / 32u);
}

// Kernel lif_block (CPU twin: engine::cpu::lif_update, step after step).
//
// lif_update for every step of a block of BLOCK_STEPS (fewer at the end of
// the chunk) in one dispatch: the engine runs a network without plasticity
// a block at a time, population after population in dependency order, once
// every incoming projection has its sums of the whole block in per-step
// slots (synapse_block, synapse_gather or synapse_scatter_block). Each
// invocation keeps its neuron's membrane and last spike in registers across
// the steps; the workgroup stores each step's two spike words as
// lif_update does.
@compute @workgroup_size(64)
fn lif_block(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    let live = n < params.n;
    let z = params.zero;
    let t_n = block_steps(step.row, chunk);
    // the trial's spike rows, sums and membranes
    let trial = wid.z;
    let words = trial * chunk.spike_stride + params.word_offset + n / 32u;
    let acc_base = trial * chunk.acc_stride;
    let v_at = trial * chunk.v_stride + params.v_offset + n;
    var x = 0.0;
    var fired = false;
    var failed = false;
    if (live) {
        x = v[v_at];
        let prev_word = spikes[(step.row - 1u) * params.row_words + words];
        fired = ((prev_word >> (n % 32u)) & 1u) != 0u;
    }
    for (var t = 0u; t < t_n; t = t + 1u) {
        let row = step.row + t;
        words_clear(lid);
        if (live) {
            x = membrane_step(x, current_at(n, row, acc_base), select(0.0, 1.0, fired), params.beta, params.threshold, params.reset, z);
            if (!failed && not_finite(x)) {
                failed = true;
                report_block_fault(row, n, trial);
            }
            fired = fires(x, params.threshold, z);
            if (fired) {
                words_set(lid, n);
            }
        }
        words_store(lid, live, row * params.row_words + words);
    }
    if (live) {
        v[v_at] = x;
    }
}
