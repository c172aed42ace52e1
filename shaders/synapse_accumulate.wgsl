// Kernel synapse_accumulate (CPU twin: engine::cpu::synapse_accumulate).
//
// acc[post] += sum of weights[pre][post] over the pre neurons that spiked
// this step. Weights are pre-major i32 rows padded to a multiple of 4 posts,
// read as vec4<i32>: a spiking pre neuron's row is contiguous, and
// consecutive invocations (consecutive blocks of 4 posts) read consecutive
// 16-byte words. A workgroup handles `chunk_words` words of 32 pre neurons
// and 64 blocks of 4 posts: a few invocations first list the chunk's spiking
// pre neurons in workgroup memory, then every invocation sums their rows for
// its 4 posts (independent loads) and makes one atomicAdd per post. The
// cost of a step grows with the spikes, not with the pre population.
// Integer addition is exact and every partial sum is bounded by the worst
// case of SPEC §2.2 (< 2^31), so neither the list order nor the order of
// the atomic adds matters.

const MAX_CHUNK_WORDS: u32 = 8u;

struct SynParams {
    n_post: u32,
    // ceil(n_post4 / WORKGROUP): the workgroups covering the posts of one chunk
    post_blocks: u32,
    // spike words covering the pre rows of this weight part
    n_words: u32,
    // word offset of this part's first pre neuron within a spike-buffer row
    pre_word_offset: u32,
    // words in a spike-buffer row (all populations)
    row_words: u32,
    // offset of this projection's sums in acc
    acc_offset: u32,
    // ceil(n_post / 4): vec4 blocks in a weights row
    n_post4: u32,
    // spike words per invocation
    chunk_words: u32,
}

@group(0) @binding(0) var<uniform> params: SynParams;
@group(0) @binding(1) var<storage, read> weights: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read> spikes: array<u32>;
@group(0) @binding(3) var<storage, read_write> acc: array<atomic<i32>>;
@group(1) @binding(0) var<uniform> step: Step;

var<workgroup> spiking: array<u32, 256>; // MAX_CHUNK_WORDS * 32
var<workgroup> n_spiking: atomic<u32>;

@compute @workgroup_size(64)
fn synapse_accumulate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let group = linear_group(wid, nwg);
    let first_word = (group / params.post_blocks) * params.chunk_words;
    let block = (group % params.post_blocks) * WORKGROUP + lid;
    let row = step.row * params.row_words + params.pre_word_offset;
    if (lid == 0u) {
        atomicStore(&n_spiking, 0u);
    }
    workgroupBarrier();
    // list the spiking pre neurons of the chunk, one word per invocation
    if (lid < params.chunk_words && first_word + lid < params.n_words) {
        let word = first_word + lid;
        var bits = spikes[row + word];
        var slot = atomicAdd(&n_spiking, countOneBits(bits));
        loop {
            if (bits == 0u) {
                break;
            }
            spiking[slot] = word * 32u + countTrailingZeros(bits);
            slot = slot + 1u;
            bits = bits & (bits - 1u);
        }
    }
    workgroupBarrier();
    let count = atomicLoad(&n_spiking);
    if (count == 0u || block >= params.n_post4) {
        return;
    }
    var sum = vec4<i32>(0i);
    for (var k = 0u; k < count; k = k + 1u) {
        sum = sum + weights[spiking[k] * params.n_post4 + block];
    }
    let post = block * 4u;
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (sum[c] != 0i && post + c < params.n_post) {
            atomicAdd(&acc[params.acc_offset + post + c], sum[c]);
        }
    }
}
