// Kernel poisson_input (CPU twin: input::poisson_chunk): the spikes of one
// Poisson population for every step of a chunk, drawn on the GPU with the
// same counter-based function as the host, so that large inputs cost no host
// time and no upload. The input does not depend on the network, so it is
// drawn for the whole chunk before the steps run: the grid's z is the step
// (from the Step entry bound, so that chunks longer than the z limit take
// several dispatches), x and y the spike words. An invocation draws the 32
// neurons of one word and stores the word, for every trial in turn (each
// with its own keys, from `trial_keys`): no workgroup memory and no
// barriers (a loop of barriers over the trials cost ~10 % of a small
// network's step on lavapipe, benches/NOTES.md v11).

struct PoissonParams {
    n: u32,
    word_offset: u32,
    row_words: u32,
    // offset of this population's thresholds in `thresholds`
    thr_offset: u32,
    // this population's key words (key0, key1, stream, 0) of trial t are
    // trial_keys[4 i ..= 4 i + 3] for i = t * n_keyed + key_index (n_keyed:
    // the Poisson populations the GPU draws)
    key_index: u32,
    n_keyed: u32,
    // the absolute step of row 1 of this chunk
    first_step: u32,
    // ceil(words / WORKGROUP): the workgroups of one step
    blocks: u32,
    // steps in this chunk
    n_steps: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: PoissonParams;
@group(0) @binding(1) var<storage, read> thresholds: array<u32>;
@group(0) @binding(2) var<storage, read_write> spikes: array<u32>;
@group(0) @binding(3) var<storage, read> trial_keys: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

@compute @workgroup_size(64)
fn poisson_input(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let s = step.row - 1u + wid.z; // step within the chunk
    let w = (wid.x + wid.y * nwg.x) * WORKGROUP + lid; // word of the population
    let first = w * 32u;
    if (s >= params.n_steps || first >= params.n) {
        return;
    }
    let count = min(32u, params.n - first);
    let row = (s + 1u) * params.row_words + params.word_offset + w;
    let t = params.first_step + s;
    for (var trial = 0u; trial < chunk.n_trials; trial = trial + 1u) {
        let k = 4u * (trial * params.n_keyed + params.key_index);
        let keys = vec4<u32>(trial_keys[k], trial_keys[k + 1u], trial_keys[k + 2u], trial_keys[k + 3u]);
        var bits = 0u;
        // four neurons a draw: 8 draws for the word's 32
        for (var g = 0u; g * 4u < count; g = g + 1u) {
            let d = poisson_draws(keys, (first >> 2u) + g, t);
            for (var l = 0u; l < 4u && g * 4u + l < count; l = l + 1u) {
                let i = g * 4u + l;
                if ((d[l] >> 8u) < thresholds[params.thr_offset + first + i]) {
                    bits = bits | (1u << i);
                }
            }
        }
        spikes[trial * chunk.spike_stride + row] = bits;
    }
}
