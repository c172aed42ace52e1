// Piece `step` of the nacc kernels (src/engine/gpu/wgsl.rs composes each
// kernel from the generated prelude, its pieces, then its family's file):
// the per-step and per-chunk uniforms and the grid helpers every kernel
// uses. WORKGROUP and BLOCK_STEPS come from the prelude.

// A projection that sums in blocks (`synapse_block`) sums BLOCK_STEPS steps
// at once; its sums of step s of a chunk are at slot (s % BLOCK_STEPS).

// The row of the spike buffer a step writes: row 0 holds the last step of the
// previous chunk, rows 1..=chunk the steps of this one. Bound with a dynamic
// offset, one entry per step of a chunk.
struct Step {
    row: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// The chunk being run (group 1, binding 1, beside the step; written per
// chunk): the kernels that run a block of steps stop at its end. Trials run
// side by side on the block schedule, trial t in the grid's z = t (the
// input's in a loop): its spike rows, sums, membranes and block masks start
// at t times the strides below (one trial: z = 0).
struct Chunk {
    n_steps: u32,
    n_trials: u32,
    spike_stride: u32,
    acc_stride: u32,
    v_stride: u32,
    mask_stride: u32,
    // the run's step of row 1 (mod 2^32): where the rings of delayed sums are
    first_step: u32,
    // steps of a block on the block schedule (BLOCK_STEPS, or fewer where a
    // delayed projection feeds back with a shorter delay)
    block_len: u32,
}

// Steps of the block starting at row `first_row` of chunk `c` that lie in
// the chunk.
fn block_steps(first_row: u32, c: Chunk) -> u32 {
    return min(c.block_len, c.n_steps + 1u - first_row);
}

// The slot of row `row` among a blocked projection's BLOCK_STEPS slots: the
// rows of a block (at most BLOCK_STEPS) have distinct slots.
fn row_slot(row: u32) -> u32 {
    return (row - 1u) % BLOCK_STEPS;
}

// Where a projection's sums of row `row` start, past `acc_offset`: slot
// row_slot(row) of `stride` sums when it sums in blocks (stride = its post
// count), else 0 (stride 0).
fn slot_offset(row: u32, stride: u32) -> u32 {
    return row_slot(row) * stride;
}

// Where the sums arriving at row `row` plus `delay` steps are in a ring of
// mask + 1 slots of `n_post` sums (docs/arithmetic.md §2.4): slot (step + delay) mod
// (mask + 1) of the run's step, a power of two, so 2^32 wraps with it.
fn ring_slot(c: Chunk, row: u32, delay: u32, mask: u32, n_post: u32) -> u32 {
    return ((c.first_step + row - 1u + delay) & mask) * n_post;
}

// Where the sum arriving at row `row` for post neuron `n` (of `n_post`) of
// a projection is in `acc`, past the trial's sums: its row of sums (a slot
// of BLOCK_STEPS when it sums in blocks, `block_stride` = its post count),
// or a delayed projection's ring slot of this step (docs/arithmetic.md
// §2.4; `ring_mask` 0: no delay).
fn arriving_slot(c: Chunk, row: u32, n: u32, n_post: u32, acc_offset: u32, block_stride: u32, ring_mask: u32, ring_offset: u32) -> u32 {
    if (ring_mask != 0u) {
        return ring_offset + ring_slot(c, row, 0u, ring_mask, n_post) + n;
    }
    return acc_offset + slot_offset(row, block_stride) + n;
}

// Linear workgroup index on a 2-D grid (at most 65 535 groups a dimension).
fn linear_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
