// Kernel state_record (CPU twin: the sampling of engine::cpu::CpuEngine).
//
// The recorded variables of one [[record]] variable after a step the
// record samples: invocation i copies neuron i's value (its membrane from
// `v`, or its recovery variable, refractory counter, synaptic current or
// conductance from `state`) into its sample's row of `out`. The host
// dispatches it after the steps the record samples; a part's samples of
// every recorded variable are read back with its spikes.

struct RecordParams {
    // neurons recorded
    n: u32,
    // where their indices (into `v` or `state`) start in `src`
    src_offset: u32,
    // 0: from `v`, 1: from `state`
    from_state: u32,
    // where this variable's samples of the part start in `out`
    out_offset: u32,
    // the record's sampling period in steps, and the row of the part's
    // first sample (rewritten every part)
    every: u32,
    first_row: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: RecordParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> step: Step;
@group(1) @binding(1) var<uniform> chunk: Chunk;

@compute @workgroup_size(64)
fn state_record(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_group(wid, nwg) * WORKGROUP + lid;
    if (i >= params.n) {
        return;
    }
    let sample = (step.row - params.first_row) / params.every;
    let at = src[params.src_offset + i];
    var x = v[at];
    if (params.from_state != 0u) {
        x = state[at];
    }
    out[params.out_offset + sample * params.n + i] = x;
}
