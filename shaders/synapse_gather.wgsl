// Kernels block_masks and synapse_gather: a sparse projection's sums of a
// block of steps without atomics, on the block schedule (CPU twin:
// engine::cpu::synapse_scatter, step after step; the same integers).
//
// synapse_scatter adds each synapse of a spiking pre neuron to its post's
// sum with an atomicAdd: one atomic per synaptic event, which bounds large
// sparse networks (sparse-1m: ~150 M a step). Here each post instead sums
// its own fan-in, one invocation per post: `block_masks` first writes, for
// every neuron of the pre population, the steps of the block in which it
// spikes as bits (`masks`, 4 bytes a neuron, read from cache), then
// `synapse_gather` walks each post's synapses and adds the weight to the
// sums of those steps, and stores the block's sums (no atomics, no
// zeroing: it is the only writer of the projection's slots).
//
// The synapses are by post in slices of 64 posts (a workgroup): synapse k
// of post 64 s + i is at slice_ptr[s] + 64 k + i, so that an invocation's
// loads are consecutive with its neighbours'. A slice is as wide as its
// largest fan-in; shorter posts are padded with (pre 0, weight 0), which
// adds nothing. Every invocation of a workgroup runs the same number of
// iterations.

struct GatherParams {
    n_post: u32,
    // offset of this projection's sums in acc (BLOCK_STEPS rows of n_post)
    acc_offset: u32,
    // offset of the pre population's masks in `masks`
    mask_offset: u32,
    // the part's first slice (a projection too large for one binding is
    // split into parts of whole slices, each with its own buffers)
    first_slice: u32,
}

@group(0) @binding(0) var<uniform> params: GatherParams;
// per slice of 64 posts of this part: where its synapses start in syn_pre
// and syn_w (and the next slice's)
@group(0) @binding(1) var<storage, read> slice_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> syn_pre: array<u32>;
@group(0) @binding(3) var<storage, read> syn_w: array<i32>;
@group(0) @binding(4) var<storage, read> masks: array<u32>;
@group(0) @binding(5) var<storage, read_write> acc: array<i32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

@compute @workgroup_size(64)
fn synapse_gather(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let slice = linear_group(wid, nwg); // of this part
    let post = (params.first_slice + slice) * WORKGROUP + lid;
    let trial = wid.z;
    let mask_base = trial * chunk.mask_stride + params.mask_offset;
    let start = slice_ptr[slice];
    let width = (slice_ptr[slice + 1u] - start) / WORKGROUP;
    // one sum per step, written out so that they stay in registers; each
    // synapse is added times 0 or 1 (the steps differ from post to post, so
    // a branch per step would diverge)
    var s0 = 0i;
    var s1 = 0i;
    var s2 = 0i;
    var s3 = 0i;
    var s4 = 0i;
    var s5 = 0i;
    var s6 = 0i;
    var s7 = 0i;
    var s8 = 0i;
    var s9 = 0i;
    var s10 = 0i;
    var s11 = 0i;
    var s12 = 0i;
    var s13 = 0i;
    var s14 = 0i;
    var s15 = 0i;
    for (var k = 0u; k < width; k = k + 1u) {
        let e = start + k * WORKGROUP + lid;
        let w = syn_w[e];
        let m = masks[mask_base + syn_pre[e]];
        s0 = s0 + w * i32(m & 1u);
        s1 = s1 + w * i32((m >> 1u) & 1u);
        s2 = s2 + w * i32((m >> 2u) & 1u);
        s3 = s3 + w * i32((m >> 3u) & 1u);
        s4 = s4 + w * i32((m >> 4u) & 1u);
        s5 = s5 + w * i32((m >> 5u) & 1u);
        s6 = s6 + w * i32((m >> 6u) & 1u);
        s7 = s7 + w * i32((m >> 7u) & 1u);
        s8 = s8 + w * i32((m >> 8u) & 1u);
        s9 = s9 + w * i32((m >> 9u) & 1u);
        s10 = s10 + w * i32((m >> 10u) & 1u);
        s11 = s11 + w * i32((m >> 11u) & 1u);
        s12 = s12 + w * i32((m >> 12u) & 1u);
        s13 = s13 + w * i32((m >> 13u) & 1u);
        s14 = s14 + w * i32((m >> 14u) & 1u);
        s15 = s15 + w * i32((m >> 15u) & 1u);
    }
    if (post >= params.n_post) {
        return;
    }
    let t_n = block_steps(step.row, chunk);
    let sums = array<i32, 16>(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15);
    let base = trial * chunk.acc_stride + params.acc_offset;
    for (var t = 0u; t < t_n; t = t + 1u) {
        acc[base + row_slot(step.row + t) * params.n_post + post] = sums[t];
    }
}
