// Kernel synapse_accumulate (CPU twin: engine::cpu::synapse_accumulate).
//
// acc[post] += sum of weights[pre][post] over the pre neurons that spiked
// this step. Weights are pre-major i32, so a spiking pre neuron's row is
// contiguous and consecutive invocations (consecutive posts) read
// consecutive words. One invocation handles one post neuron and one word of
// 32 pre neurons: it sums the rows of the set bits of that word and makes one
// atomicAdd. A word with no spike costs one load. Integer addition is exact
// and every partial sum is bounded by the worst case of SPEC §2.2 (< 2^31),
// so the order of the atomic adds does not matter.

struct SynParams {
    n_post: u32,
    // ceil(n_post / WORKGROUP): the workgroups covering the posts of one word.
    post_blocks: u32,
    // spike words covering the pre rows of this weight part
    n_words: u32,
    // word offset of this part's first pre neuron within a spike-buffer row
    pre_word_offset: u32,
    // words in a spike-buffer row (all populations)
    row_words: u32,
    // offset of this projection's sums in acc
    acc_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: SynParams;
@group(0) @binding(1) var<storage, read> weights: array<i32>;
@group(0) @binding(2) var<storage, read> spikes: array<u32>;
@group(0) @binding(3) var<storage, read_write> acc: array<atomic<i32>>;
@group(1) @binding(0) var<uniform> step: Step;

@compute @workgroup_size(64)
fn synapse_accumulate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let group = linear_group(wid, nwg);
    let word = group / params.post_blocks;
    let post = (group % params.post_blocks) * WORKGROUP + lid;
    if (word >= params.n_words || post >= params.n_post) {
        return;
    }
    var bits = spikes[step.row * params.row_words + params.pre_word_offset + word];
    if (bits == 0u) {
        return;
    }
    var sum = 0i;
    let base = word * 32u;
    loop {
        if (bits == 0u) {
            break;
        }
        let pre = base + countTrailingZeros(bits);
        bits = bits & (bits - 1u);
        sum = sum + weights[pre * params.n_post + post];
    }
    if (sum != 0i) {
        atomicAdd(&acc[params.acc_offset + post], sum);
    }
}
