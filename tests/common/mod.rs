//! Helpers shared by the integration tests.
#![allow(dead_code)]

use nacc::config::Network;
use nacc::engine::{Engine, InputSource};
use nacc::network::Model;
use nacc::record::ChunkSpikes;

/// Given input spikes: `x[p][t][n]` in {0, 1} for every Poisson population `p`.
pub fn given_input(net: &Network, x: &[Vec<Vec<u8>>]) -> InputSource {
    let mut spikes = Vec::new();
    let mut steps = 0;
    for (p, pop) in net.populations.iter().enumerate() {
        if !pop.is_poisson() {
            continue;
        }
        let wps = pop.words_per_step();
        steps = x[p].len();
        let mut bits = vec![0u32; steps * wps];
        for (t, row) in x[p].iter().enumerate() {
            assert_eq!(row.len(), pop.size);
            for (i, &s) in row.iter().enumerate() {
                bits[t * wps + i / 32] |= (s as u32) << (i % 32);
            }
        }
        spikes.push((p, bits));
    }
    InputSource::Given { steps, spikes }
}

/// Per step: spikes `[pop][neuron]` and membranes `[pop][neuron]`.
pub type Trace = (Vec<Vec<Vec<u8>>>, Vec<Vec<Vec<f32>>>);

/// Runs an engine one step per chunk and returns, per step, the spikes
/// `[pop][neuron]` and the membranes `[pop][neuron]` after that step.
pub fn run_stepwise(
    engine: &mut dyn Engine,
    model: &Model,
    input: &InputSource,
    steps: usize,
) -> Trace {
    let net = &model.net;
    let mut spikes = Vec::new();
    let mut membranes = Vec::new();
    let mut buf = ChunkSpikes::new(net, 1);
    for t in 0..steps {
        input.fill(net, t as u64, &mut buf);
        engine.run_chunk(&mut buf).unwrap();
        spikes.push(
            net.populations
                .iter()
                .enumerate()
                .map(|(p, pop)| {
                    (0..pop.size)
                        .map(|n| (buf.bits[p][n / 32] >> (n % 32) & 1) as u8)
                        .collect()
                })
                .collect(),
        );
        membranes.push(engine.membranes().unwrap());
    }
    (spikes, membranes)
}

/// The spikes of `pop` as `[t][n]` bytes from a record.
pub fn unpack(rec: &nacc::record::PopRecord) -> Vec<Vec<u8>> {
    (0..rec.steps())
        .map(|t| (0..rec.size).map(|n| rec.spiked(t, n) as u8).collect())
        .collect()
}
