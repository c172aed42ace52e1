// Piece `spike_list`: the list of a block's spiking pre neurons that the
// synapse kernels walk. Reads `spikes`, which a kernel with this piece
// declares; MAX_CHUNK_WORDS comes from the prelude.

// The pre neurons of a block (synapse_block, synapse_scatter_block; with a
// block of one step, synapse_accumulate and synapse_scatter): a
// chunk of spike words of the pre population for each step of the block
// (step-major, MAX_CHUNK_WORDS a step), then the list list_block makes.
// Only the kernels that use them get them.
var<workgroup> block_words: array<u32, 128>; // BLOCK_STEPS * MAX_CHUNK_WORDS
var<workgroup> block_pre: array<u32, 256>;
var<workgroup> block_bits: array<u32, 256>;
var<workgroup> block_count: atomic<u32>;

// Lists the pre neurons of a chunk of `n_words` spike words (starting at
// word `word0` of a row of `row_words`, rows from word `base` of `spikes`;
// the neurons numbered from `first_pre`) that spike in any of the `t_n`
// rows from `first_row`: the
// neurons into `block_pre`, each with its steps as bits into `block_bits`.
// Returns how many. The order of the list does not matter: the sums are
// integers. Reads `spikes`, which every kernel declares (the spike rows);
// called by the whole workgroup (it has barriers).
fn list_block(lid: u32, base: u32, first_row: u32, t_n: u32, row_words: u32, word0: u32, n_words: u32, first_pre: u32) -> u32 {
    if (lid == 0u) {
        atomicStore(&block_count, 0u);
    }
    for (var i = lid; i < BLOCK_STEPS * MAX_CHUNK_WORDS; i = i + WORKGROUP) {
        let t = i / MAX_CHUNK_WORDS;
        let w = i % MAX_CHUNK_WORDS;
        var bits = 0u;
        if (t < t_n && w < n_words) {
            bits = spikes[base + (first_row + t) * row_words + word0 + w];
        }
        block_words[i] = bits;
    }
    workgroupBarrier();
    for (var k = lid; k < n_words * 32u; k = k + WORKGROUP) {
        var m = 0u;
        for (var t = 0u; t < t_n; t = t + 1u) {
            m = m | (((block_words[t * MAX_CHUNK_WORDS + k / 32u] >> (k % 32u)) & 1u) << t);
        }
        if (m != 0u) {
            let slot = atomicAdd(&block_count, 1u);
            block_pre[slot] = first_pre + k;
            block_bits[slot] = m;
        }
    }
    workgroupBarrier();
    return atomicLoad(&block_count);
}
