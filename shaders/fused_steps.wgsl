// Kernel fused_steps: a whole small network for many steps in one dispatch
// of one workgroup, so that a step costs no dispatch of its own (on the H100
// a dispatch costs 4-5 us, which otherwise bounds small networks). A chunk
// runs as a few dispatches of `slice_steps` steps: on lavapipe a dispatch
// that ran too long silently stopped working.
//
// Same arithmetic as synapse_accumulate + lif_update (and the CPU
// reference): integer sums over the spiking pre neurons, add_current,
// membrane_step and fires from the piece `exact`. The spike row of the current
// step lives in workgroup memory; phases (populations in dependency order)
// are separated by workgroupBarrier. Used when every population's words fit
// MAX_ROW_WORDS and the network is small (GpuEngine decides).
//
// Tables (all u32, f32 as bits) in `tables`:
//   pops at params.pop_base, 9 words per LIF population in update order:
//     n, word_offset, v_offset, first_in, n_in, reset, beta, threshold, pop
//   projections at params.proj_base, 8 words each:
//     pre_word_offset, pre_words, n_post, w_offset, sign, scale_hi, scale_lo, bias_offset
//   incoming projection indices at params.in_base;
//   Poisson populations at params.poisson_base, 4 words each (when
//   params.gen_input is 1: the kernel draws the input itself):
//     n, word_offset, thr_offset, unused
//   their random keys at params.keys_base, (k0, k1) per trial and
//   Poisson population.
//
// Trials: workgroup t runs trial t, an independent copy of the network with
// its own input keys, spike rows (params.trial_words words from
// t * trial_words) and membranes (params.v_len from t * v_len); weights are
// shared. At the end of a chunk each workgroup copies its last row into its
// row 0, the previous step of the next chunk.


struct FusedParams {
    n_steps: u32,
    row_words: u32,
    n_lif: u32,
    zero: u32,
    pop_base: u32,
    proj_base: u32,
    in_base: u32,
    // 1: draw the input on the GPU; 0: the host uploaded it into the rows
    gen_input: u32,
        poisson_base: u32,
    n_poisson: u32,
    keys_base: u32,
    // the absolute step of row 1 of this chunk
    first_step: u32,
        // words of one trial's spike rows, membranes of one trial
    trial_words: u32,
    v_len: u32,
    // steps one dispatch runs at most (a chunk takes several dispatches)
    slice_steps: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: FusedParams;
@group(0) @binding(1) var<storage, read> tables: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<i32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> spikes: array<u32>;
@group(0) @binding(6) var<storage, read> thresholds: array<u32>;
// (step + 1, population, neuron, trial) of the first membrane that stopped
// being finite in the chunk; 0 = none
@group(0) @binding(7) var<storage, read_write> fault: array<atomic<u32>, 4>;
// the first row this dispatch writes (the chunk's steps come in slices)
@group(1) @binding(0) var<uniform> step: Step;

var<workgroup> row: array<atomic<u32>, MAX_ROW_WORDS>;
var<workgroup> prev: array<u32, MAX_ROW_WORDS>;

@compute @workgroup_size(256)
fn fused_steps(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let trial = wid.x;
    let base = trial * params.trial_words;
    let vb = trial * params.v_len;
    let rw = params.row_words;
    let z = params.zero;
        // this slice's steps, and the row of the step before them (row 0, the
    // previous chunk's last step, for the first slice)
    let first = step.row - 1u;
    let last = min(first + params.slice_steps, params.n_steps);
    for (var w = lid; w < rw; w = w + FUSED_WORKGROUP) {
        prev[w] = spikes[base + first * rw + w];
    }
    for (var s = first; s < last; s = s + 1u) {
        let r_off = base + (s + 1u) * rw;
        // this step's row: the host's input words, zeros elsewhere ...
        for (var w = lid; w < rw; w = w + FUSED_WORKGROUP) {
            var word = 0u;
            if (params.gen_input == 0u) {
                word = spikes[r_off + w];
            }
            atomicStore(&row[w], word);
        }
        workgroupBarrier();
        // ... or the input drawn here, four neurons per invocation and draw
        let t = params.first_step + s;
        for (var q = 0u; q < params.n_poisson; q = q + 1u) {
            let b = params.poisson_base + q * 4u;
            let n_neurons = tables[b];
            let word_offset = tables[b + 1u];
                        let thr_offset = tables[b + 2u];
            let kb = params.keys_base + (trial * params.n_poisson + q) * 4u;
            let keys = vec4<u32>(tables[kb], tables[kb + 1u], tables[kb + 2u], tables[kb + 3u]);
            // four neurons a draw (one word holds them all: 32 = 8 x 4)
            for (var g = lid; g * 4u < n_neurons; g = g + FUSED_WORKGROUP) {
                let d = poisson_draws(keys, g, t);
                var bits = 0u;
                for (var l = 0u; l < 4u && g * 4u + l < n_neurons; l = l + 1u) {
                    let n = g * 4u + l;
                    if ((d[l] >> 8u) < thresholds[thr_offset + n]) {
                        bits = bits | (1u << (n % 32u));
                    }
                }
                if (bits != 0u) {
                    atomicOr(&row[word_offset + (g * 4u) / 32u], bits);
                }
            }
        }
        workgroupBarrier();
        for (var q = 0u; q < params.n_lif; q = q + 1u) {
                        let pb = params.pop_base + q * 9u;
            let n_neurons = tables[pb];
            let word_offset = tables[pb + 1u];
            let v_offset = tables[pb + 2u];
            let first_in = tables[pb + 3u];
            let n_in = tables[pb + 4u];
            let reset = tables[pb + 5u];
            let beta = bitcast<f32>(tables[pb + 6u]);
            let threshold = bitcast<f32>(tables[pb + 7u]);
            for (var n = lid; n < n_neurons; n = n + FUSED_WORKGROUP) {
                var current = 0.0;
                for (var k = 0u; k < n_in; k = k + 1u) {
                    let jb = params.proj_base + tables[params.in_base + first_in + k] * 8u;
                    let pre_word_offset = tables[jb];
                    let pre_words = tables[jb + 1u];
                    let n_post = tables[jb + 2u];
                    let w_offset = tables[jb + 3u];
                    var acc = 0i;
                    for (var w = 0u; w < pre_words; w = w + 1u) {
                        var bits = atomicLoad(&row[pre_word_offset + w]);
                        loop {
                            if (bits == 0u) {
                                break;
                            }
                            let pre = w * 32u + countTrailingZeros(bits);
                            bits = bits & (bits - 1u);
                            acc = acc + weights[w_offset + pre * n_post + n];
                        }
                    }
                    current = add_current(
                        current, k, acc,
                        bitcast<f32>(tables[jb + 5u]), bitcast<f32>(tables[jb + 6u]),
                        bias[tables[jb + 7u] + n], bitcast<i32>(tables[jb + 4u]), false, 1.0, z,
                    );
                }
                let r = f32((prev[word_offset + n / 32u] >> (n % 32u)) & 1u);
                let x = membrane_step(v[vb + v_offset + n], current, r, beta, threshold, reset, z);
                v[vb + v_offset + n] = x;
                if (not_finite(x)) {
                    loop {
                        let r = atomicCompareExchangeWeak(&fault[0], 0u, s + 1u);
                        if (r.exchanged) {
                            atomicStore(&fault[1], tables[pb + 8u]);
                            atomicStore(&fault[2], n);
                            atomicStore(&fault[3], trial);
                            break;
                        }
                        if (r.old_value != 0u) {
                            break;
                        }
                    }
                }
                if (fires(x, threshold, z)) {
                    atomicOr(&row[word_offset + n / 32u], 1u << (n % 32u));
                }
            }
            workgroupBarrier();
        }
        for (var w = lid; w < rw; w = w + FUSED_WORKGROUP) {
            let word = atomicLoad(&row[w]);
                        spikes[r_off + w] = word;
            prev[w] = word;
        }
        workgroupBarrier();
    }
        // the chunk's last row becomes row 0 of the next chunk
    if (last == params.n_steps) {
        for (var w = lid; w < rw; w = w + FUSED_WORKGROUP) {
            spikes[base + w] = prev[w];
        }
    }
}
