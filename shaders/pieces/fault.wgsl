// Piece `fault`: how a membrane kernel (lif_update, lif_block,
// neuron_update) reports the first membrane that stopped being finite. It
// reads the kernel's `params.pop`, `step`, `chunk` and `fault`.

// The report of neuron n's first non-finite membrane, at `row` of the block
// starting at step.row (lif_update: a block of one step), in `trial`. Word a = 4 + 2 (p T + trial)
// (population p, T trials) keeps the first row of the first block of the
// population and trial with one (every invocation of a dispatch offers the
// same row; a later block finds it taken); word a + 1 keeps
// !((row - that row) << 27 | n) at its largest, i.e. the earliest step of
// that block and, at that step, the lowest neuron (n < 2^27, checked on the
// host). The host takes the earliest (row, population in update order,
// trial).
fn report_block_fault(row: u32, n: u32, trial: u32) {
    let a = 4u + 2u * (params.pop * chunk.n_trials + trial);
    loop {
        let r = atomicCompareExchangeWeak(&fault[a], 0u, step.row);
        if (r.exchanged || r.old_value != 0u) {
            break;
        }
    }
    if (atomicLoad(&fault[a]) == step.row) {
        atomicMax(&fault[a + 1u], ~(((row - step.row) << 27u) | n));
    }
}
