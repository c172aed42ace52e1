// Kernel neuron_update (CPU twin: engine::cpu::neuron_update).
//
// For each neuron of one population in physical units (iaf or Izhikevich,
// docs/arithmetic.md §7): its synaptic input (§8: every incoming
// projection's arriving weight, a current's term, a stateful synapse's
// decay and jump), then `substeps` sub-steps of its model with the
// conductances' currents at the sub-step's membrane, and its spike bit (any
// sub-step). Every f32 operation goes through the rounding barrier `exact`,
// in the CPU twin's order. A workgroup covers 64 neurons = 2 whole spike
// words (piece `spike_words`). `neuron_update`
// runs one step (the step schedule, one trial), `neuron_block` the steps of
// a block (the block schedule, trials side by side).

struct NeuronParams {
    n: u32,
    v_offset: u32,
    word_offset: u32,
    row_words: u32,
    // this population's synapses are syn[first_in .. first_in + n_in]
    first_in: u32,
    n_in: u32,
    // 0 iaf, 1 Izhikevich
    model: u32,
    substeps: u32,
    // where its recovery variables (Izhikevich) or refractory counters
    // (iaf) are in `state`
    u_offset: u32,
    // index of the population in the network, for fault reports
    pop: u32,
    // values in a step's row of `gains`, and where this population's
    // [k, v_r, d] are in it (0xFFFFFFFF: not modulated)
    gain_row: u32,
    mod_offset: u32,
    // always 0: the run-time operand of the rounding barrier `exact`
    zero: u32,
    // Izhikevich: the cubic u-nullcline above v_b
    cubic: u32,
    // words of one trial's `state` (trial t's start at t state_stride)
    state_stride: u32,
    _pad1: u32,
    i_ext: f32,
    e_l: f32,
    decay: f32,
    r_gain: f32,
    v_reset: f32,
    v_th: f32,
    t_ref: f32,
    k: f32,
    v_r: f32,
    v_t: f32,
    v_peak: f32,
    h_over_c: f32,
    h_a: f32,
    b: f32,
    c: f32,
    d: f32,
    v_b: f32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
}

// One incoming projection of a population (the array holds every
// population's, population after population, in config order).
struct SynKinetics {
    // the projection's index (its column in a step's row of gains)
    proj: u32,
    acc_offset: u32,
    bias_offset: u32,
    sign: i32,
    // 1: the arriving weight is multiplied by this step's gain (dopamine)
    gained: u32,
    // 0 instant, 1 exponential current, 2 exponential conductance, 3 NMDA
    kind: u32,
    // where its per-neuron currents or conductances are in `state`
    state_offset: u32,
    // NMDA: where its table of B(v) is in `bias` (after every bias)
    table_offset: u32,
    scale_hi: f32,
    scale_lo: f32,
    decay: f32,
    e_rev: f32,
    // as ProjParams of lif_update
    block_stride: u32,
    ring_mask: u32,
    ring_offset: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: NeuronParams;
@group(0) @binding(1) var<storage, read> syn: array<SynKinetics>;
// every projection's biases, then the magnesium tables
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc: array<i32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> spikes: array<u32>;
@group(0) @binding(6) var<storage, read_write> fault: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read> gains: array<f32>;
// recovery variables, refractory counters, synaptic currents and
// conductances
@group(0) @binding(8) var<storage, read_write> state: array<f32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

// A stored state below 2^-64 in magnitude becomes +0 (docs/arithmetic.md §7).
fn floor_state(x: f32) -> f32 {
    if (abs(x) < TRACE_FLOOR) {
        return 0.0;
    }
    return x;
}

// B(v) from a table of the magnesium block (docs/arithmetic.md §8.3):
// x = (v - v0) * 8 clamped to the table, linear between entries.
fn mg_block(table: u32, x_v: f32, z: u32) -> f32 {
    let x = clamp(exact(exact(x_v - MG_TABLE_V0, z) * MG_TABLE_PER_MV, z), 0.0, f32(MG_TABLE_LEN - 1u));
    let i = min(u32(floor(x)), MG_TABLE_LEN - 2u);
    let f = exact(x - f32(i), z);
    let t0 = bias[table + i];
    let t1 = bias[table + i + 1u];
    return exact(t0 + exact(exact(t1 - t0, z) * f, z), z);
}

// The current at membrane x (§8.2): i0, then each conductance's
// g (e_rev - x), times B(x) for NMDA, in config order.
fn current_at(n: u32, i0: f32, x: f32, z: u32, sb: u32) -> f32 {
    var i = i0;
    for (var k = 0u; k < params.n_in; k = k + 1u) {
        let s = syn[params.first_in + k];
        if (s.kind >= 2u) {
            var drive = exact(s.e_rev - x, z);
            if (s.kind == 3u) {
                drive = exact(drive * mg_block(s.table_offset, x, z), z);
            }
            i = exact(i + exact(state[sb + s.state_offset + n] * drive, z), z);
        }
    }
    return i;
}

// Neuron n's step at row `row` in trial `trial` (docs/arithmetic.md
// §7-§8): its synaptic input (every sum read and zeroed for its next use),
// its sub-steps, its membrane and state stored; whether it spiked.
fn neuron_step(n: u32, row: u32, trial: u32) -> bool {
    let z = params.zero;
    // the trial's sums, membranes and states
    let ab = trial * chunk.acc_stride;
    let vb = trial * chunk.v_stride;
    let sb = trial * params.state_stride;
    // §8.1: the arriving weights
    var i0 = params.i_ext;
    for (var k = 0u; k < params.n_in; k = k + 1u) {
        let s = syn[params.first_in + k];
        let slot = ab + arriving_slot(chunk, row, n, params.n, s.acc_offset, s.block_stride, s.ring_mask, s.ring_offset);
        let a = acc[slot];
        acc[slot] = 0i;
        var x = exact(fixed_to_f32(a, s.scale_hi, s.scale_lo, z) + bias[s.bias_offset + n], z);
        if (s.gained != 0u) {
            x = exact(x * gains[(row - 1u) * params.gain_row + s.proj], z);
        }
        if (s.kind == 0u) {
            i0 = exact(i0 + select(x, -x, s.sign < 0i), z);
        } else {
            let at = sb + s.state_offset + n;
            let g = floor_state(exact(exact(state[at] * s.decay, z) + x, z));
            state[at] = g;
            if (s.kind == 1u) {
                i0 = exact(i0 + select(g, -g, s.sign < 0i), z);
            }
        }
    }
    var k = params.k;
    var v_r = params.v_r;
    var d = params.d;
    if (params.mod_offset != 0xFFFFFFFFu) {
        let m = (row - 1u) * params.gain_row + params.mod_offset;
        k = gains[m];
        v_r = gains[m + 1u];
        d = gains[m + 2u];
    }
    var x = v[vb + params.v_offset + n];
    var w = state[sb + params.u_offset + n];
    var fired = false;
    if (params.model == 0u) {
        // §7.1: held at the reset while the counter runs
        let held = w > 0.0;
        for (var t = 0u; t < params.substeps; t = t + 1u) {
            if (held || fired) {
                x = params.v_reset;
                continue;
            }
            let i = current_at(n, i0, x, z, sb);
            let leak = exact(exact(exact(x - params.e_l, z) * params.decay, z) + params.e_l, z);
            x = floor_state(exact(leak + exact(i * params.r_gain, z), z));
            if (x >= params.v_th) {
                fired = true;
                x = params.v_reset;
            }
        }
        if (fired) {
            w = params.t_ref;
        } else if (held) {
            w = exact(w - 1.0, z);
        }
    } else {
        // §7.2: forward Euler, u from the sub-step's old v
        for (var t = 0u; t < params.substeps; t = t + 1u) {
            let i = current_at(n, i0, x, z, sb);
            let q = exact(exact(k * exact(x - v_r, z), z) * exact(x - params.v_t, z), z);
            let dv = exact(exact(q - w, z) + i, z);
            var u_inf = 0.0;
            if (params.cubic == 0u) {
                u_inf = exact(params.b * exact(x - v_r, z), z);
            } else if (x >= params.v_b) {
                let y = exact(x - params.v_b, z);
                u_inf = exact(params.b * exact(exact(y * y, z) * y, z), z);
            }
            let w_new = exact(w + exact(params.h_a * exact(u_inf - w, z), z), z);
            x = floor_state(exact(x + exact(dv * params.h_over_c, z), z));
            w = floor_state(w_new);
            if (x >= params.v_peak) {
                fired = true;
                x = params.c;
                w = floor_state(exact(w + d, z));
            }
        }
    }
    v[vb + params.v_offset + n] = x;
    state[sb + params.u_offset + n] = w;
    if (not_finite(x)) {
        report_block_fault(row, n, trial);
    }
    return fired;
}

@compute @workgroup_size(64)
fn neuron_update(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    words_clear(lid);
    if (n < params.n && neuron_step(n, step.row, 0u)) {
        words_set(lid, n);
    }
    words_store(lid, n < params.n, step.row * params.row_words + params.word_offset + n / 32u);
}

// Kernel neuron_block (CPU twin: engine::cpu::neuron_update, step after
// step): neuron_update for every step of a block (block_steps of the
// chunk), once every incoming projection has its sums of the whole block
// in per-step slots or rings, as lif_block does; the workgroup stores each
// step's two spike words. Trial t in the grid's z.
@compute @workgroup_size(64)
fn neuron_block(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    let live = n < params.n;
    let t_n = block_steps(step.row, chunk);
    let trial = wid.z;
    let words = trial * chunk.spike_stride + params.word_offset + n / 32u;
    for (var t = 0u; t < t_n; t = t + 1u) {
        let row = step.row + t;
        words_clear(lid);
        if (live && neuron_step(n, row, trial)) {
            words_set(lid, n);
        }
        words_store(lid, live, row * params.row_words + words);
    }
}
