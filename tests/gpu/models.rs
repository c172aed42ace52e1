//! The physical neuron models, synaptic kinetics and recorded state on the
//! GPU (docs/arithmetic.md §7-§8): random networks mixing every model,
//! preset, synapse kind, lif reset, dopamine modulation and plasticity
//! through any synapse kind against the CPU with `==` on spikes, every
//! recorded sample, the final membranes and the learned weights.

use super::*;
use common::models::random_model_network;

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        (
            "random_model_networks_gpu_equals_cpu",
            random_model_networks_gpu_equals_cpu,
        ),
        (
            "model_trials_and_nacc_compare_gpu_equals_cpu",
            model_trials_and_nacc_compare,
        ),
    ]
}

/// Eight random networks, each in chunks of 1, 7 and 150 steps.
fn random_model_networks_gpu_equals_cpu(ctx: &Ctx) {
    let (mut models, mut plastic) = (0, 0);
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(1900 + seed);
        let text = random_model_network(&mut rng, 40);
        let net = Network::from_toml_str(&text, "random model network")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        models += net.populations.iter().filter(|p| p.is_physical()).count();
        plastic += net
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some() && net.populations[p.post].is_physical())
            .count();
        let model = Model::build(net, seed).unwrap();
        let input = InputSource::generated(&model);
        for chunk in [1, 7, 150] {
            let what = format!("random model network {seed}, chunk {chunk}:\n{text}");
            assert_engines_agree(
                ctx,
                &model,
                &input,
                150,
                chunk,
                GpuOptions::default(),
                &what,
            );
        }
    }
    assert!(models >= 8, "only {models} physical populations drawn");
    assert!(plastic >= 2, "only {plastic} plastic projections onto them");
}

/// Trials one after another on one GPU engine (restarted: the models'
/// initial states written again), equal to the CPU's records, recorded
/// state included; and `nacc compare` finds them identical.
fn model_trials_and_nacc_compare(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1950);
    let text = random_model_network(&mut rng, 30);
    assert!(text.contains("[[record]]"), "{text}");
    let net = Network::from_toml_str(&text, "t").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let model = Model::build(net, 3).unwrap();
    let r = gpu_trials_equal_cpu(
        ctx,
        &model,
        3,
        120,
        50,
        GpuOptions::default(),
        "model trials",
    );
    assert!(
        r.records
            .iter()
            .all(|r| r.state.iter().all(|s| !s.is_empty()))
    );
    let report = nacc::compare::compare(
        ctx.clone(),
        &model,
        &InputSource::generated(&model),
        120,
        17,
        &Default::default(),
    )
    .unwrap();
    assert!(report.identical(), "{}", report.render());
}
