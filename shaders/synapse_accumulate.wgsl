// Kernel synapse_accumulate (CPU twin: engine::cpu::synapse_accumulate).
//
// acc[post] += sum of weights[pre][post] over the pre neurons that spiked
// this step. Weights are pre-major i32 rows padded to a multiple of 4 posts,
// read as vec4<i32>: a spiking pre neuron's row is contiguous, and
// consecutive invocations (consecutive blocks of 4 posts) read consecutive
// 16-byte words. A workgroup handles `chunk_words` words of 32 pre neurons
// and 64 blocks of 4 posts: it first lists the chunk's spiking pre neurons
// in workgroup memory (list_block), then every invocation sums their rows for
// its 4 posts (independent loads) and makes one atomicAdd per post. The
// cost of a step grows with the spikes, not with the pre population.
// Integer addition is exact and every partial sum is bounded by the worst
// case of docs/arithmetic.md §2.2 (< 2^31), so neither the list order nor the order of
// the atomic adds matters.

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
@group(1) @binding(1) var<uniform> chunk: Chunk;

// A workgroup's chunk of spike words: its first word.
fn first_word_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (linear_group(wid, nwg) / params.post_blocks) * params.chunk_words;
}

// An invocation's block of 4 posts.
fn post_block_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (linear_group(wid, nwg) % params.post_blocks) * WORKGROUP + lid;
}

@compute @workgroup_size(64)
fn synapse_accumulate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let first_word = first_word_of(wid, nwg);
    let block = post_block_of(wid, nwg, lid);
    // the chunk's pre neurons spiking this step (a block of one step)
    let words = min(params.chunk_words, params.n_words - first_word);
    let count = list_block(lid, 0u, step.row, 1u, params.row_words, params.pre_word_offset + first_word, words, first_word * 32u);
    if (count == 0u || block >= params.n_post4) {
        return;
    }
    var sum = vec4<i32>(0i);
    for (var k = 0u; k < count; k = k + 1u) {
        sum = sum + weights[block_pre[k] * params.n_post4 + block];
    }
    let post = block * 4u;
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (sum[c] != 0i && post + c < params.n_post) {
            atomicAdd(&acc[params.acc_offset + post + c], sum[c]);
        }
    }
}

// Kernel synapse_block (CPU twin: engine::cpu::synapse_accumulate_steps).
//
// The sums of BLOCK_STEPS consecutive steps at once, for a dense projection
// whose pre spikes of the whole block are known: from a Poisson population
// (its input is drawn for the whole chunk first; engine::sums_in_blocks),
// or any pre population when the engine runs a block at a time (`lif_block`
// has run the pre population's block). Each weight row can then be read
// once for every step of the block in which its pre neuron spikes instead
// of once per spike. At 30 % of inputs spiking a step that reads each row
// once per 16 steps instead of 4.8 times: ~5x fewer bytes, the same adds
// (a row goes into the sums of the steps in which its neuron spikes) plus
// 16 bit tests per row, and one dispatch per block instead of one per step.
// The bit tests branch the same way for the whole workgroup (one pre
// neuron at a time), so they do not diverge. (Adding w * bit to all 16 sums
// instead measured ~10 % slower on lavapipe.)
// Dispatched at the first step of each block; row r's sums go to slot
// row_slot(r) of the projection's sums (`lif_update` or `lif_block`
// reads that slot and zeroes it). Same workgroup shape as synapse_accumulate: a chunk of
// spike words by 64 blocks of 4 posts, one atomicAdd per post and step.
// The sums are the same integers as step by step (exact, any order).

// Adds a block's sums of step t for the 4 posts from `post` (when t is one
// of the chunk's steps) to the sums from `acc[base]` (the trial's).
fn add_step_sums(t: u32, t_n: u32, base: u32, post: u32, s: vec4<i32>) {
    if (t >= t_n) {
        return;
    }
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (s[c] != 0i && post + c < params.n_post) {
            atomicAdd(&acc[base + params.acc_offset + row_slot(step.row + t) * params.n_post + post + c], s[c]);
        }
    }
}

@compute @workgroup_size(64)
fn synapse_block(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let first_word = first_word_of(wid, nwg);
    let block = post_block_of(wid, nwg, lid);
    // step.row is the block's first row; the chunk may end inside the block
    let t_n = block_steps(step.row, chunk);
    let words = min(params.chunk_words, params.n_words - first_word);
    let trial = wid.z;
    let count = list_block(lid, trial * chunk.spike_stride, step.row, t_n, params.row_words, params.pre_word_offset + first_word, words, first_word * 32u);
    if (count == 0u || block >= params.n_post4) {
        return;
    }
    // one sum per step, written out (not an array indexed in the loop) so
    // that they stay in registers
    var s0 = vec4<i32>(0i);
    var s1 = vec4<i32>(0i);
    var s2 = vec4<i32>(0i);
    var s3 = vec4<i32>(0i);
    var s4 = vec4<i32>(0i);
    var s5 = vec4<i32>(0i);
    var s6 = vec4<i32>(0i);
    var s7 = vec4<i32>(0i);
    var s8 = vec4<i32>(0i);
    var s9 = vec4<i32>(0i);
    var s10 = vec4<i32>(0i);
    var s11 = vec4<i32>(0i);
    var s12 = vec4<i32>(0i);
    var s13 = vec4<i32>(0i);
    var s14 = vec4<i32>(0i);
    var s15 = vec4<i32>(0i);
    for (var k = 0u; k < count; k = k + 1u) {
        let w = weights[block_pre[k] * params.n_post4 + block];
        let m = block_bits[k];
        if ((m & 0x1u) != 0u) {
            s0 = s0 + w;
        }
        if ((m & 0x2u) != 0u) {
            s1 = s1 + w;
        }
        if ((m & 0x4u) != 0u) {
            s2 = s2 + w;
        }
        if ((m & 0x8u) != 0u) {
            s3 = s3 + w;
        }
        if ((m & 0x10u) != 0u) {
            s4 = s4 + w;
        }
        if ((m & 0x20u) != 0u) {
            s5 = s5 + w;
        }
        if ((m & 0x40u) != 0u) {
            s6 = s6 + w;
        }
        if ((m & 0x80u) != 0u) {
            s7 = s7 + w;
        }
        if ((m & 0x100u) != 0u) {
            s8 = s8 + w;
        }
        if ((m & 0x200u) != 0u) {
            s9 = s9 + w;
        }
        if ((m & 0x400u) != 0u) {
            s10 = s10 + w;
        }
        if ((m & 0x800u) != 0u) {
            s11 = s11 + w;
        }
        if ((m & 0x1000u) != 0u) {
            s12 = s12 + w;
        }
        if ((m & 0x2000u) != 0u) {
            s13 = s13 + w;
        }
        if ((m & 0x4000u) != 0u) {
            s14 = s14 + w;
        }
        if ((m & 0x8000u) != 0u) {
            s15 = s15 + w;
        }
    }
    let post = block * 4u;
    let base = trial * chunk.acc_stride;
    add_step_sums(0u, t_n, base, post, s0);
    add_step_sums(1u, t_n, base, post, s1);
    add_step_sums(2u, t_n, base, post, s2);
    add_step_sums(3u, t_n, base, post, s3);
    add_step_sums(4u, t_n, base, post, s4);
    add_step_sums(5u, t_n, base, post, s5);
    add_step_sums(6u, t_n, base, post, s6);
    add_step_sums(7u, t_n, base, post, s7);
    add_step_sums(8u, t_n, base, post, s8);
    add_step_sums(9u, t_n, base, post, s9);
    add_step_sums(10u, t_n, base, post, s10);
    add_step_sums(11u, t_n, base, post, s11);
    add_step_sums(12u, t_n, base, post, s12);
    add_step_sums(13u, t_n, base, post, s13);
    add_step_sums(14u, t_n, base, post, s14);
    add_step_sums(15u, t_n, base, post, s15);
}
