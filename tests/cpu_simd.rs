//! The CPU engine's hot loops run an AVX2 build where the CPU has one and a
//! baseline build elsewhere (src/simd.rs). Both must give the same spikes
//! and membranes, `==`, on whole runs: cpu_reference.rs checks the build
//! this machine picks against a plain implementation, this file checks the
//! other build against it.
//!
//! One test in this binary: `nacc::simd::set_portable` switches the build
//! for the whole process.

mod common;

use common::{random_network, random_reward_network, randomise_weights, run_stepwise};
use nacc::engine::{Engine, InputSource, cpu::CpuEngine, simulate};
use nacc::network::Model;
use nacc::network::Network;
use rand::{SeedableRng, rngs::StdRng};

/// `run` once with the AVX2 loops and once with the baseline ones.
fn both<T>(mut run: impl FnMut() -> T) -> (T, T) {
    nacc::simd::set_portable(false);
    assert!(
        nacc::simd::avx2(),
        "the AVX2 build must run when not portable"
    );
    let avx2 = run();
    nacc::simd::set_portable(true);
    assert!(!nacc::simd::avx2());
    let baseline = run();
    nacc::simd::set_portable(false);
    (avx2, baseline)
}

#[test]
fn avx2_and_baseline_loops_agree() {
    if !nacc::simd::cpu_has_avx2() {
        // one build only, checked by cpu_reference.rs against the plain
        // implementation; the dispatch must never pick AVX2 here
        nacc::simd::set_portable(false);
        assert!(!nacc::simd::avx2() && nacc::simd::describe() != "AVX2");
        eprintln!("this CPU has no AVX2: no second build to compare");
        return;
    }

    // random networks (every reset mode, dense and sparse, sizes that end
    // inside a word) with random weights, and networks with dopamine gains
    // and plasticity, on generated input, step by step
    let mut rng = StdRng::seed_from_u64(77);
    let mut cases = Vec::new();
    for case in 0..20 {
        let text = random_network(&mut rng, 80);
        let mut model =
            Model::build(Network::from_toml_str(&text, "random").unwrap(), case).unwrap();
        randomise_weights(&mut rng, &mut model);
        cases.push((format!("random network {case}"), text, model, 40));
    }
    for case in 0..4 {
        let text = random_reward_network(&mut rng);
        let model = Model::build(Network::from_toml_str(&text, "reward").unwrap(), case).unwrap();
        cases.push((format!("reward network {case}"), text, model, 60));
    }
    for (what, text, model, steps) in cases {
        let input = InputSource::generated(&model);
        let (a, b) = both(|| {
            let mut e = CpuEngine::with_threads(&model, 1).unwrap();
            run_stepwise(&mut e, &model, &input, steps)
        });
        if let Some(d) = common::first_trace_difference(&model, &a, &b, ["AVX2", "baseline"]) {
            panic!("{what}: {d}\n{text}");
        }
    }

    // the blocked input sums (dense) and the gather by post (sparse), on
    // two threads, in chunks that end inside blocks; compared by the
    // records and the final membranes
    let sparse = common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
        .scaled(12)
        .unwrap();
    for (what, net) in [
        ("blocked sums", Network::default_nacc().scaled(3).unwrap()),
        ("gathered by post", sparse),
    ] {
        let model = Model::build(net, 5).unwrap();
        let input = InputSource::generated(&model);
        let (a, b) = both(|| {
            let mut e = common::gathering_engine(&model, Some(0), 2);
            let rec = simulate(&mut e, &model.net, &input, 90, 37, |_| {}).unwrap();
            (rec, e.membranes().unwrap())
        });
        assert!(a.0.pops[2].total() > 0, "{what}: the MSNs fire");
        let names = ["AVX2", "baseline"];
        if let Some(d) = common::first_run_difference(&model, (&a.0, &a.1), (&b.0, &b.1), names) {
            panic!("{what}: {d}");
        }
    }
}
