// Kernel block_masks (CPU twin: the masks of engine::cpu::gather_block): for
// every neuron of a population, the steps of a block in which it spikes, as
// bits (`masks`, one u32 a neuron), for synapse_gather.

struct MaskParams {
    // neurons of the pre population
    n: u32,
    // word offset of the pre population within a spike-buffer row
    word_offset: u32,
    row_words: u32,
    // offset of the population's masks in `masks`
    mask_offset: u32,
}

@group(0) @binding(0) var<uniform> mask_params: MaskParams;
@group(0) @binding(1) var<storage, read> spikes: array<u32>;
@group(0) @binding(2) var<storage, read_write> masks: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

@compute @workgroup_size(64)
fn block_masks(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    if (n >= mask_params.n) {
        return;
    }
    let t_n = block_steps(step.row, chunk);
    let trial = wid.z;
    let word = trial * chunk.spike_stride + mask_params.word_offset + n / 32u;
    var m = 0u;
    for (var t = 0u; t < t_n; t = t + 1u) {
        m = m | (((spikes[(step.row + t) * mask_params.row_words + word] >> (n % 32u)) & 1u) << t);
    }
    masks[trial * chunk.mask_stride + mask_params.mask_offset + n] = m;
}
