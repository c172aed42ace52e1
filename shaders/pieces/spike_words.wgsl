// Piece `spike_words`: how a membrane kernel (lif_update, lif_block,
// neuron_update, neuron_block) writes a step's spikes. A workgroup covers
// 64 neurons = 2 whole spike words: it packs its bits in workgroup memory
// and stores whole words, so no other workgroup touches them. Each
// function holds a barrier: call it from uniform control flow. It writes
// the kernel's `spikes`.

var<workgroup> packed: array<atomic<u32>, 2>;

// Clears the workgroup's two words, once the previous step's are stored.
fn words_clear(lid: u32) {
    workgroupBarrier();
    if (lid < 2u) {
        atomicStore(&packed[lid], 0u);
    }
    workgroupBarrier();
}

// Sets the bit of the invocation `lid`, neuron n.
fn words_set(lid: u32, n: u32) {
    atomicOr(&packed[lid / 32u], 1u << (n % 32u));
}

// Stores the two words once every bit is set: invocations 0 and 32 write
// theirs at `at` (their neuron's word), where `live`.
fn words_store(lid: u32, live: bool, at: u32) {
    workgroupBarrier();
    if ((lid == 0u || lid == 32u) && live) {
        spikes[at] = atomicLoad(&packed[lid / 32u]);
    }
}
