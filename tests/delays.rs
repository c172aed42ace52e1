//! Synaptic delays and recurrence on the CPU engine (docs/arithmetic.md
//! §2.4): spikes arrive exactly `d` steps after they are emitted, rings
//! wrap, per-synapse delays are drawn from the seed and delivered synapse
//! by synapse, cycles run when a delay breaks them, self-projections leave
//! out autapses unless asked. The GPU engine is held to the same (and to
//! the CPU with `==`) in tests/gpu/delays.rs.

mod common;

use common::delays::*;
use nacc::engine::cpu::CpuEngine;
use nacc::network::{Model, Network};
use rand::{SeedableRng, rngs::StdRng};

#[test]
fn one_spike_arrives_after_its_delay_in_any_chunking() {
    let model = Model::build(one_spike_network(), 0).unwrap();
    let input = one_spike_input(&model.net);
    for chunk in [1, 7, 64, STEPS] {
        let mut cpu = CpuEngine::new(&model).unwrap();
        let times = spike_times(&mut cpu, &model, &input, STEPS, chunk);
        assert_arrivals(&times, &format!("chunk {chunk}"));
    }
}

#[test]
fn per_synapse_delays_are_drawn_in_range_and_delivered_synapse_by_synapse() {
    let n = 300;
    let model = Model::build(per_synapse_network(n), 11).unwrap();
    let w = &model.weights[0];
    let delays = w.delays.as_ref().expect("a delay range draws per synapse");
    let rows = w.sparse.as_ref().unwrap();
    assert_eq!(delays.len(), n);
    // dt 0.5 ms: [0, 20] ms is 0..=40 steps, every value drawn
    assert!(delays.iter().all(|&d| d <= 40));
    let mut seen = [false; 41];
    for &d in delays {
        seen[d as usize] = true;
    }
    assert!(seen.iter().all(|&s| s), "300 draws cover 0..=40");
    let steps = 60;
    let input = spike_at_10(&model.net, steps);
    for chunk in [1, 9, steps] {
        let mut cpu = CpuEngine::new(&model).unwrap();
        let times = spike_times(&mut cpu, &model, &input, steps, chunk);
        assert_eq!(times[1].len(), n);
        for (j, t) in times[1].iter().enumerate() {
            // post j's one synapse is synapse rows.ptr[j]
            assert_eq!(t, &vec![10 + delays[rows.ptr[j]] as usize], "post {j}");
        }
    }
    // the same seed draws the same delays; another seed others
    let again = Model::build(per_synapse_network(n), 11).unwrap();
    assert_eq!(again.weights[0].delays, w.delays);
    let other = Model::build(per_synapse_network(n), 12).unwrap();
    assert_ne!(other.weights[0].delays, w.delays);
}

/// The delays as docs/arithmetic.md §6 draws them, from Philox words
/// computed here: `lo + floor(word * (hi - lo + 1) / 2^32)` of the word of
/// pair (post, pre) in the projection's delay stream.
#[test]
fn per_synapse_delays_follow_the_documented_draw() {
    let model = Model::build(per_synapse_network(50), 3).unwrap();
    let delays = model.weights[0].delays.as_ref().unwrap();
    let stream = nacc::input::stream_id("p", 6);
    for (j, &d) in delays.iter().enumerate() {
        // pre 0: call (j, 0), word 0
        let word = nacc::philox::philox4x32_10([j as u32, 0, stream, 0], [3, 0])[0];
        let want = (word as u64 * 41) >> 32;
        assert_eq!(d as u64, want, "post {j}");
    }
}

#[test]
fn self_projections_leave_out_autapses_unless_asked() {
    for conn in [
        "fixed_probability = 1.0",
        "fixed_probability = 0.5",
        "fixed_fan_in = 29",
        "fixed_fan_out = 29",
        "",
    ] {
        for autapses in [false, true] {
            let text = format!(
                "[[population]]\nname = \"in\"\nsize = 4\nkind = \"poisson\"\n\
                 [[population]]\nname = \"a\"\nsize = 30\nkind = \"lif\"\n\
                 [[projection]]\nname = \"ff\"\npre = \"in\"\npost = \"a\"\n\
                 [[projection]]\nname = \"rec\"\npre = \"a\"\npost = \"a\"\nsign = -1\n{conn}\ndelay_ms = 1.0\nautapses = {autapses}\n"
            );
            let model = Model::build(Network::from_toml_str(&text, "t").unwrap(), 5).unwrap();
            let w = &model.weights[1];
            let selfs = match &w.sparse {
                Some(rows) => (0..30)
                    .filter(|&j| rows.pre[rows.ptr[j]..rows.ptr[j + 1]].contains(&(j as u32)))
                    .count(),
                None => (0..30).filter(|&j| w.w[j * 30 + j] != 0.0).count(),
            };
            match autapses {
                false => assert_eq!(selfs, 0, "{conn}: no synapse onto itself"),
                // every pair (probability 1, dense), or some of them
                true if conn.is_empty() || conn.ends_with("1.0") => assert_eq!(selfs, 30, "{conn}"),
                true => {}
            }
            if let (Some(rows), false) = (&w.sparse, autapses) {
                // fan-in 29 of 29 others: all of them
                if conn.contains("fan_in") {
                    assert!((0..30).all(|j| rows.ptr[j + 1] - rows.ptr[j] == 29));
                }
                if conn.ends_with("1.0") {
                    assert_eq!(rows.pre.len(), 30 * 29);
                }
            }
        }
    }
}

#[test]
fn random_recurrent_networks_run_alike_in_any_chunking() {
    let mut rng = StdRng::seed_from_u64(18);
    for case in 0..20u64 {
        let text = random_recurrent_network(&mut rng, 200);
        let net = Network::from_toml_str(&text, "random").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let model = Model::build(net, case).unwrap();
        let input = nacc::engine::InputSource::generated(&model);
        let steps = 80;
        let mut one = CpuEngine::with_threads(&model, 1).unwrap();
        let want = spike_times(&mut one, &model, &input, steps, steps);
        for (chunk, threads) in [(1, 2), (7, 1), (33, 2)] {
            let mut cpu = CpuEngine::with_threads(&model, threads).unwrap();
            let got = spike_times(&mut cpu, &model, &input, steps, chunk);
            assert_eq!(got, want, "case {case}, chunk {chunk}\n{text}");
        }
    }
}
