//! `nacc bench --profile`: timestamps around every dispatch of the chunks
//! being profiled (TIMESTAMP_QUERY_INSIDE_PASSES), summed per kernel.

use super::buffer;
use crate::engine::Profile;

/// Query slots a profiled chunk may use: two per dispatch.
const PROBE_QUERIES: u32 = 4096;

/// Timestamps around every dispatch of the chunks being profiled.
pub(super) struct Probe {
    pub(super) set: wgpu::QuerySet,
    pub(super) resolve: wgpu::Buffer,
    pub(super) read: wgpu::Buffer,
    /// Per timed dispatch of the current chunk: its kernel.
    pub(super) names: Vec<&'static str>,
    pub(super) profile: Profile,
}

impl Probe {
    pub(super) fn new(device: &wgpu::Device) -> Probe {
        let bytes = PROBE_QUERIES as u64 * 8;
        Probe {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile"),
                ty: wgpu::QueryType::Timestamp,
                count: PROBE_QUERIES,
            }),
            resolve: buffer(
                device,
                "profile resolve",
                bytes,
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            read: buffer(
                device,
                "profile read",
                bytes,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            names: Vec::new(),
            profile: Profile::default(),
        }
    }

    /// Adds the chunk's timestamps (`ticks`, two per timed dispatch, `period`
    /// ns a tick) to the profile.
    pub(super) fn add(&mut self, ticks: &[u64], period: f64, steps: usize) {
        let p = &mut self.profile;
        p.steps += steps;
        for (name, t) in self.names.iter().zip(ticks.chunks_exact(2)) {
            let ns = t[1].saturating_sub(t[0]) as f64 * period;
            match p.kernels.iter_mut().find(|k| k.0 == *name) {
                Some(k) => {
                    k.1 += ns;
                    k.2 += 1;
                }
                None => p.kernels.push((name.to_string(), ns, 1)),
            }
        }
        if let (Some(first), Some(last)) = (ticks.first(), ticks.last()) {
            p.span_ns += last.saturating_sub(*first) as f64 * period;
        }
        self.names.clear();
    }
}

/// Runs `f` (which dispatches kernel `name`) between two timestamps when
/// profiling and the query set has room.
pub(super) fn timed(
    pass: &mut wgpu::ComputePass,
    probe: &mut Option<Probe>,
    name: &'static str,
    f: impl FnOnce(&mut wgpu::ComputePass),
) {
    match probe {
        Some(p) if (p.names.len() as u32 + 1) * 2 <= PROBE_QUERIES => {
            let i = p.names.len() as u32 * 2;
            pass.write_timestamp(&p.set, i);
            f(pass);
            pass.write_timestamp(&p.set, i + 1);
            p.names.push(name);
        }
        Some(p) => {
            p.profile.untimed += 1;
            f(pass);
        }
        None => f(pass),
    }
}
