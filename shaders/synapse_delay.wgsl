// Kernels synapse_delay and synapse_delay_block (CPU twin: engine::cpu::synapse_delay):
// a projection whose every synapse delays its spikes by `delay` steps
// (docs/arithmetic.md §2.4) sums a step's spikes as without a delay (any of the other
// families, into its sums of the step), then this moves those sums into
// its post neurons' ring, at the slot of the step they arrive at, and
// clears them. `lif_update` and `lif_block` take a slot when its step
// comes and clear it. One invocation per post neuron; a ring slot has one
// writer per step (the delay is the same for every synapse), so plain
// adds do.

struct DelayParams {
    n_post: u32,
    // the projection's sums of a step in acc, and their per-step slots'
    // stride (its post count when it sums in blocks, else 0)
    acc_offset: u32,
    block_stride: u32,
    // the ring: its offset in acc, its slots - 1, and the delay in steps
    ring_offset: u32,
    ring_mask: u32,
    delay: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: DelayParams;
@group(0) @binding(1) var<storage, read_write> acc: array<i32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

// Post neuron n's sum of the spikes of row `row` into its ring slot, in the
// trial whose sums start at acc[base].
fn push_row(base: u32, row: u32, n: u32) {
    let src = base + params.acc_offset + slot_offset(row, params.block_stride) + n;
    let dst = base + params.ring_offset + ring_slot(chunk, row, params.delay, params.ring_mask, params.n_post) + n;
    acc[dst] = acc[dst] + acc[src];
    acc[src] = 0i;
}

@compute @workgroup_size(64)
fn synapse_delay(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    if (n < params.n_post) {
        push_row(wid.z * chunk.acc_stride, step.row, n);
    }
}

// synapse_delay for every step of a block (step.row its first row), on the
// block schedule, after the pre population's lif_block and the
// projection's sums of the block.
@compute @workgroup_size(64)
fn synapse_delay_block(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = linear_group(wid, nwg) * WORKGROUP + lid;
    if (n >= params.n_post) {
        return;
    }
    let t_n = block_steps(step.row, chunk);
    for (var t = 0u; t < t_n; t = t + 1u) {
        push_row(wid.z * chunk.acc_stride, step.row + t, n);
    }
}
