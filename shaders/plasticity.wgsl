// Kernels plasticity and plasticity_traces: three-factor plasticity of one
// dense projection, run once every population has its spikes of the step
// (CPU twin: engine::cpu::plasticity; the equations are in src/dopamine.rs
// and docs/arithmetic.md §4). `plasticity` first, one invocation per synapse, reads
// the traces as they were after the previous step; `plasticity_traces`
// then moves them on, one invocation per pre and per post neuron. Every
// f32 operation rounds where the CPU rounds it (`exact`), and stored
// values below 2^-64 become +0, so subnormals never reach an operation.

struct PlasticParams {
    n_pre: u32,
    n_post: u32,
    // i32s from one pre neuron's weights to the next (n_post padded to vec4)
    stride: u32,
    pre_word_offset: u32,
    post_word_offset: u32,
    row_words: u32,
    // this projection's column in a step's row of `etas`, and the row length
    index: u32,
    n_plastic: u32,
    wq_min: i32,
    wq_max: i32,
    // always 0: the run-time operand of the rounding barrier `exact`
    zero: u32,
    // steps the pre spikes take to arrive (0: none)
    delay: u32,
    decay_pre: f32,
    decay_post: f32,
    decay_c: f32,
    a_plus: f32,
    a_minus: f32,
    // slots - 1 of the ring of arrived pre spikes
    arrival_mask: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: PlasticParams;
@group(0) @binding(1) var<storage, read> spikes: array<u32>;
// eta(t) = (learning_rate * d(t)) * 2^F, per step of the chunk and plastic projection
@group(0) @binding(2) var<storage, read> etas: array<f32>;
// the projection's weights, as synapse_accumulate reads them
@group(0) @binding(3) var<storage, read_write> weights: array<i32>;
// eligibility per synapse, in the weights' layout
@group(0) @binding(4) var<storage, read_write> elig: array<f32>;
// pre traces x (n_pre), then post traces y (n_post)
@group(0) @binding(5) var<storage, read_write> traces: array<f32>;
// a delayed projection's pre spikes, a row of the pre population's words
// per slot: row t mod R holds those of step t (written by
// plasticity_traces), so that step t reads those of step t - delay
@group(0) @binding(6) var<storage, read_write> arrivals: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;


fn floor_trace(x: f32) -> f32 {
    if (abs(x) < TRACE_FLOOR) {
        return 0.0;
    }
    return x;
}

fn spiked(word_offset: u32, n: u32) -> bool {
    let w = spikes[step.row * params.row_words + word_offset + n / 32u];
    return ((w >> (n % 32u)) & 1u) == 1u;
}

// Pre neuron i's spike as it arrives at this step (docs/arithmetic.md §4): emitted
// `delay` steps ago (none before the run began).
fn pre_arrived(i: u32) -> bool {
    if (params.delay == 0u) {
        return spiked(params.pre_word_offset, i);
    }
    let words = (params.n_pre + 31u) / 32u;
    let slot = (chunk.first_step + step.row - 1u - params.delay) & params.arrival_mask;
    return ((arrivals[slot * words + i / 32u] >> (i % 32u)) & 1u) == 1u;
}

@compute @workgroup_size(64)
fn plasticity(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = linear_group(wid, nwg) * WORKGROUP + lid;
    if (g >= params.n_pre * params.n_post) {
        return;
    }
    let z = params.zero;
    let i = g / params.n_post;
    let j = g % params.n_post;
    let s = i * params.stride + j;
    var c = floor_trace(exact(elig[s] * params.decay_c, z));
    if (spiked(params.post_word_offset, j)) {
        c = floor_trace(exact(c + exact(params.a_plus * traces[i], z), z));
    }
    if (pre_arrived(i)) {
        c = floor_trace(exact(c - exact(params.a_minus * traces[params.n_pre + j], z), z));
    }
    elig[s] = c;
    let eta = etas[(step.row - 1u) * params.n_plastic + params.index];
    let dw = clamp(exact(eta * c, z), -MAX_STEP_CHANGE, MAX_STEP_CHANGE);
    weights[s] = clamp(weights[s] + i32(dw), params.wq_min, params.wq_max);
}

@compute @workgroup_size(64)
fn plasticity_traces(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = linear_group(wid, nwg) * WORKGROUP + lid;
    let z = params.zero;
    if (t < params.n_pre) {
        let s = f32(pre_arrived(t));
        if (params.delay != 0u && t % 32u == 0u) {
            // this step's word into its slot (not the one read above)
            let words = (params.n_pre + 31u) / 32u;
            let slot = (chunk.first_step + step.row - 1u) & params.arrival_mask;
            arrivals[slot * words + t / 32u] = spikes[step.row * params.row_words + params.pre_word_offset + t / 32u];
        }
        traces[t] = floor_trace(exact(exact(traces[t] * params.decay_pre, z) + s, z));
    } else if (t < params.n_pre + params.n_post) {
        let j = t - params.n_pre;
        let s = f32(spiked(params.post_word_offset, j));
        traces[t] = floor_trace(exact(exact(traces[t] * params.decay_post, z) + s, z));
    }
}
