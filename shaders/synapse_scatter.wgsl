// Kernel synapse_scatter (CPU twin: engine::cpu::synapse_scatter): the
// sparse twin of synapse_accumulate. Pre neuron i projects to
// post[pre_ptr[i] .. pre_ptr[i + 1]] with integer weights alongside. A
// workgroup lists the spiking pre neurons of a chunk of spike words in
// workgroup memory, then its invocations walk each listed neuron's synapses
// (consecutive invocations, consecutive synapses) and add each weight to its
// post neuron's sum with one atomicAdd: the cost of a step is spikes x
// fan-out. Integer addition is exact and every partial sum is bounded by
// the worst case of docs/arithmetic.md §2.2, so the order of the atomic adds does not
// matter.
//
// A projection with per-synapse delays (ring_mask != 0) adds each weight
// to the slot of its post neuron's ring of the step its spike arrives at
// (docs/arithmetic.md §2.4; CPU twin: engine::cpu::synapse_delay::scatter_delayed):
// its synapse's delay is byte s % 4 of delays[s / 4].

struct ScatterParams {
    // spike words covering the pre population
    n_words: u32,
    // word offset of the pre population within a spike-buffer row
    pre_word_offset: u32,
    // words in a spike-buffer row (all populations)
    row_words: u32,
    // offset of this projection's sums in acc
    acc_offset: u32,
    // spike words per workgroup
    chunk_words: u32,
    // the post count: synapse_scatter_block's step slots (synapse_scatter
    // runs on the step schedule, where a sparse projection has one)
    block_stride: u32,
    // per-synapse delays: the ring's slots - 1 (else 0), and its offset in acc
    ring_mask: u32,
    ring_offset: u32,
}

@group(0) @binding(0) var<uniform> params: ScatterParams;
@group(0) @binding(1) var<storage, read> pre_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> post: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<i32>;
@group(0) @binding(4) var<storage, read> spikes: array<u32>;
@group(0) @binding(5) var<storage, read_write> acc: array<atomic<i32>>;
@group(0) @binding(6) var<storage, read> delays: array<u32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

// Where synapse s's weight goes for the spike of row `row`, past the trial's
// start: its post's sum, or with per-synapse delays its post's ring slot.
fn sum_index(s: u32, row: u32, sum_slot: u32) -> u32 {
    if (params.ring_mask == 0u) {
        return params.acc_offset + sum_slot + post[s];
    }
    let delay = (delays[s >> 2u] >> ((s & 3u) * 8u)) & 0xFFu;
    return params.ring_offset + ring_slot(chunk, row, delay, params.ring_mask, params.block_stride) + post[s];
}

@compute @workgroup_size(64)
fn synapse_scatter(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let first_word = linear_group(wid, nwg) * params.chunk_words;
    // the chunk's pre neurons spiking this step (a block of one step)
    let words = min(params.chunk_words, params.n_words - first_word);
    let count = list_block(lid, 0u, step.row, 1u, params.row_words, params.pre_word_offset + first_word, words, first_word * 32u);
    for (var k = 0u; k < count; k = k + 1u) {
        let pre = block_pre[k];
        let end = pre_ptr[pre + 1u];
        for (var s = pre_ptr[pre] + lid; s < end; s = s + WORKGROUP) {
            atomicAdd(&acc[sum_index(s, step.row, 0u)], weights[s]);
        }
    }
}

// Kernel synapse_scatter_block (CPU twin: engine::cpu::synapse_scatter,
// step after step): synapse_scatter for every step of a block at once, on
// the block schedule. A workgroup lists the pre neurons of its chunk of
// words that spike in any step of the block, each with its steps as bits
// (as synapse_block does), then walks each one's synapses once and adds
// the weight to the post's sum of every step in which the neuron spikes:
// the same atomicAdds as step by step, each synapse read once per block
// instead of once per spike, one dispatch per block instead of 16. The
// steps of a neuron are the same for the whole workgroup, so the loop over
// them does not diverge.
@compute @workgroup_size(64)
fn synapse_scatter_block(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let first_word = linear_group(wid, nwg) * params.chunk_words;
    // step.row is the block's first row; the chunk may end inside the block
    let t_n = block_steps(step.row, chunk);
    let words = min(params.chunk_words, params.n_words - first_word);
    let trial = wid.z;
    let count = list_block(lid, trial * chunk.spike_stride, step.row, t_n, params.row_words, params.pre_word_offset + first_word, words, first_word * 32u);
    for (var k = 0u; k < count; k = k + 1u) {
        let pre = block_pre[k];
        let end = pre_ptr[pre + 1u];
        for (var s = pre_ptr[pre] + lid; s < end; s = s + WORKGROUP) {
            let base = trial * chunk.acc_stride;
            let w = weights[s];
            var m = block_bits[k];
            loop {
                if (m == 0u) {
                    break;
                }
                let row = step.row + countTrailingZeros(m);
                atomicAdd(&acc[base + sum_index(s, row, row_slot(row) * params.block_stride)], w);
                m = m & (m - 1u);
            }
        }
    }
}
