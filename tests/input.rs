//! docs/arithmetic.md §2.1: Poisson input is a pure function of (seed, neuron, step): each
//! neuron's frequency matches its rate, and chunking changes nothing.

mod common;

use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
use nacc::network::Model;
use nacc::network::Network;
use nacc::record::ChunkSpikes;

#[test]
fn each_input_neuron_fires_at_its_rate_within_a_binomial_bound() {
    let net = Network::default_nacc().scaled(5).unwrap(); // 500 input neurons
    let model = Model::build(net, 42).unwrap();
    let steps = 4000;
    let input = InputSource::generated(&model);
    let mut buf = ChunkSpikes::new(&model.net, steps);
    input.fill(&model.net, 0, &mut buf);
    let rates = &model.rates[0];
    let wps = model.net.populations[0].words_per_step();
    let mut worst_z: f64 = 0.0;
    for (n, &r) in rates.iter().enumerate() {
        assert!(
            (0.1..=0.5).contains(&r),
            "rate {r} outside the configured range"
        );
        let k = (0..steps)
            .filter(|t| buf.bits[0][t * wps + n / 32] >> (n % 32) & 1 == 1)
            .count() as f64;
        let mean = steps as f64 * r as f64;
        let sd = (steps as f64 * r as f64 * (1.0 - r as f64)).sqrt();
        let z = (k - mean).abs() / sd;
        worst_z = worst_z.max(z);
        // 5 sd: a false alarm over 500 neurons has probability ~3e-4
        assert!(
            z < 5.0,
            "neuron {n}: {k} spikes in {steps} steps at rate {r} (z = {z:.2})"
        );
    }
    // and not suspiciously regular either: some neuron strays past 1.5 sd
    assert!(worst_z > 1.5, "worst z {worst_z}");
}

#[test]
fn rates_cover_their_range_uniformly() {
    let net = Network::default_nacc().scaled(20).unwrap(); // 2000 rates
    let model = Model::build(net, 1).unwrap();
    let r = &model.rates[0];
    let mean = r.iter().map(|&x| x as f64).sum::<f64>() / r.len() as f64;
    assert!((mean - 0.3).abs() < 0.01, "mean rate {mean}");
    let below = r.iter().filter(|&&x| x < 0.2).count() as f64 / r.len() as f64;
    assert!((below - 0.25).abs() < 0.04, "fraction below 0.2: {below}");
}

#[test]
fn same_spikes_for_one_seed_whatever_the_chunk_size() {
    let model = Model::build(Network::default_nacc(), 9).unwrap();
    let input = InputSource::generated(&model);
    let steps = 250;
    let records: Vec<_> = [1usize, 7, 64, 250, 1000]
        .iter()
        .map(|&chunk| {
            let mut e = CpuEngine::new(&model).unwrap();
            simulate(&mut e, &model.net, &input, steps, chunk, |_| {}).unwrap()
        })
        .collect();
    for (i, r) in records.iter().enumerate().skip(1) {
        for (p, pop) in model.net.populations.iter().enumerate() {
            assert!(
                r.pops[p] == records[0].pops[p],
                "chunking #{i} changed population {}",
                pop.name
            );
        }
    }
    assert!(records[0].pops[0].total() > 0);
}

#[test]
fn different_seeds_give_different_input() {
    let a = Model::build(Network::default_nacc(), 1).unwrap();
    let b = Model::build(Network::default_nacc(), 2).unwrap();
    let mut ba = ChunkSpikes::new(&a.net, 100);
    let mut bb = ChunkSpikes::new(&b.net, 100);
    InputSource::generated(&a).fill(&a.net, 0, &mut ba);
    InputSource::generated(&b).fill(&b.net, 0, &mut bb);
    assert_ne!(ba.bits[0], bb.bits[0]);
}

/// Issue 16: rate 0 never spikes and rate 1 always does, on a long run of
/// many neurons (the comparison of the top 24 bits is exact).
#[test]
fn rate_zero_never_spikes_and_rate_one_always_does() {
    for (rate, want) in [(0.0, 0u32), (1.0, u32::MAX)] {
        let text = format!(
            "[[population]]\nname = \"in\"\nsize = 96\nkind = \"poisson\"\nrate = [{rate}, {rate}]\n"
        );
        let model = Model::build(Network::from_toml_str(&text, "edge").unwrap(), 3).unwrap();
        let input = InputSource::generated(&model);
        let steps = 20_000;
        let mut buf = ChunkSpikes::new(&model.net, steps);
        input.fill(&model.net, 0, &mut buf);
        assert!(buf.bits[0].iter().all(|&w| w == want), "rate {rate}");
    }
}
