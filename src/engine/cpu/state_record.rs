//! The CPU twin of the kernel family `state_record`
//! (shaders/state_record.wgsl): the `[[record]]` variables after a step
//! their record samples.

use super::ProjectionState;
use crate::network::{Network, StateVar};

/// Appends to `state[k]` (recorded variable `k`, `probes[k]` of
/// [`Network::probes`]) the values of its record's neurons, for every
/// record that samples `step`: from the membranes `v`, the recovery
/// variables or refractory counters `u` (per population) and the
/// projections' synaptic states.
pub fn state_record(
    net: &Network,
    probes: &[(usize, StateVar)],
    step: u64,
    (v, u): (&[Vec<f32>], &[Vec<f32>]),
    projections: &[ProjectionState],
    state: &mut [Vec<f32>],
) {
    for (k, &(r, var)) in probes.iter().enumerate() {
        if !net.samples_at(r, step) {
            continue;
        }
        let rec = &net.records[r];
        let p = rec.population;
        let from: &[f32] = match var {
            StateVar::V => &v[p],
            StateVar::U | StateVar::Refractory => &u[p],
            StateVar::Syn(j) => &projections[j].syn,
        };
        state[k].extend(rec.neurons.iter().map(|&n| from[n as usize]));
    }
}
