//! Kernel family `state_record` (shaders/state_record.wgsl): the
//! `[[record]]` variables, sampled after the steps their record samples.
//! CPU twin: the sampling of `engine::cpu::CpuEngine`.

use super::{Env, Pipeline};
use crate::engine::gpu::resources::{Launch, buffer, grid, storage_buffer, uniform_launch};
use crate::engine::gpu::wgsl::{Family, WORKGROUP};
use crate::network::StateVar;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/state_record.wgsl");

/// `shaders/state_record.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "state_record",
    file: "state_record.wgsl",
    source: WGSL,
    pieces: &["step"],
    entry_points: &["state_record"],
};

/// WGSL `RecordParams` (shaders/state_record.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct RecordParams {
    pub n: u32,
    pub src_offset: u32,
    pub from_state: u32,
    pub out_offset: u32,
    pub every: u32,
    pub first_row: u32,
    pub _pad: [u32; 2],
}

/// One recorded variable's launch, its parameters' buffer (rewritten every
/// part with the row of its first sample) and those parameters.
pub(crate) struct RecordLaunch {
    pub launch: Launch,
    pub params_buffer: wgpu::Buffer,
    pub params: RecordParams,
}

/// Every recorded variable's launch, and the buffer their samples of a
/// part go to (with its staging buffer).
pub(crate) struct Records {
    pub pipeline: Pipeline,
    pub launches: Vec<RecordLaunch>,
    pub out: wgpu::Buffer,
    pub staging: wgpu::Buffer,
}

/// Samples a part of `capacity` steps holds at most for a period of `every`.
pub fn max_samples(capacity: usize, every: u64) -> usize {
    (capacity as u64).div_ceil(every) as usize
}

/// The samples of the `n` steps from `first_step` for a period of `every`,
/// and the row (1 + step in the part) of the first.
pub fn samples_in(first_step: u64, n: usize, every: u64) -> (usize, u32) {
    let first = first_step.div_ceil(every) * every;
    let end = first_step + n as u64;
    match first < end {
        true => (
            (end - first).div_ceil(every) as usize,
            (first - first_step + 1) as u32,
        ),
        false => (0, 0),
    }
}

/// The launches of a network's records (None when it records nothing).
pub(crate) fn build(
    env: &Env,
    capacity: usize,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Option<Records>> {
    let (net, lay, device) = (env.net, env.lay, env.device());
    let probes = net.probes();
    if probes.is_empty() {
        return Ok(None);
    }
    let pipeline = Pipeline::new(env, "state_record", &FAMILY, &[true, true, true, false]);
    let mut src: Vec<u32> = Vec::new();
    let mut out_len = 0usize;
    let mut specs = Vec::new();
    for (r, var) in probes {
        let rec = &net.records[r];
        let p = rec.population;
        let (base, from_state) = match var {
            StateVar::V => (lay.v_offset[p], 0),
            StateVar::U | StateVar::Refractory => (lay.u_offset[p], 1),
            StateVar::Syn(j) => (lay.syn_offset[j], 1),
        };
        let params = RecordParams {
            n: rec.neurons.len() as u32,
            src_offset: src.len() as u32,
            from_state,
            out_offset: out_len as u32,
            every: rec.every as u32,
            first_row: 0,
            _pad: [0; 2],
        };
        src.extend(rec.neurons.iter().map(|&n| (base + n as usize) as u32));
        out_len += max_samples(capacity, rec.every) * rec.neurons.len();
        specs.push(params);
    }
    let bytes = out_len as u64 * 4;
    if bytes > env.max_binding {
        return Err(crate::Error::Input(format!(
            "the [[record]] sections need {bytes} bytes of samples per chunk on the GPU, above its limit of {}; record fewer neurons, sample less often or use a smaller --chunk",
            env.max_binding
        )));
    }
    let src = storage_buffer(device, "record sources", &src);
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let out = buffer(device, "record samples", bytes, usage);
    let read = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
    let staging = buffer(device, "record staging", bytes, read);
    let mut launches = Vec::new();
    for params in specs {
        let what = "a [[record]]";
        let grid = grid((params.n as u64).div_ceil(WORKGROUP), env.max_dim, what)?;
        let buffers = [&src, env.sh.v, env.sh.state, &out];
        let (launch, params_buffer) = uniform_launch(
            device,
            "state_record",
            &pipeline.layout,
            &params,
            &buffers,
            grid,
        );
        launches.push(RecordLaunch {
            launch,
            params_buffer,
            params,
        });
    }
    keep.push(src);
    Ok(Some(Records {
        pipeline,
        launches,
        out,
        staging,
    }))
}

#[cfg(test)]
mod tests {
    use super::samples_in;

    #[test]
    fn a_part_samples_the_steps_that_are_multiples_of_the_period() {
        // steps 0..10, every 3: 0, 3, 6, 9 at rows 1, 4, 7, 10
        assert_eq!(samples_in(0, 10, 3), (4, 1));
        // steps 10..20: 12, 15, 18 from row 3
        assert_eq!(samples_in(10, 10, 3), (3, 3));
        // steps 13..14: none
        assert_eq!(samples_in(13, 1, 3), (0, 0));
        assert_eq!(samples_in(5, 7, 1), (7, 1));
    }
}
