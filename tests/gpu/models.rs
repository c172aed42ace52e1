//! The physical neuron models, synaptic kinetics and recorded state on the
//! GPU (docs/arithmetic.md §7-§8): random networks mixing every model,
//! preset, synapse kind, lif reset, dopamine modulation and plasticity
//! through any synapse kind against the CPU with `==` on spikes, every
//! recorded sample, the final membranes and the learned weights.

use super::*;
use common::models::{random_block_network, random_model_network};

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
        (
            "records_of_a_lif_network_gpu_equals_cpu",
            records_of_a_lif_network,
        ),
        (
            "model_trials_side_by_side_gpu_equals_cpu",
            model_trials_side_by_side,
        ),
        ("nacc_striatum_gpu_equals_cpu", nacc_striatum_gpu_equals_cpu),
    ]
}

/// The NAcc striatum model (`assets/nacc_striatum.toml`, issue 20) at
/// scale 1, as shipped (its slow oscillation, collateral delays and
/// recorded membranes), and with tonic dopamine and the study's learning
/// runs (cue -> D1 plasticity through AMPA onto Humphries' MSN, rewards):
/// spikes, every recorded sample, membranes and learned weights `==`.
fn nacc_striatum_gpu_equals_cpu(ctx: &Ctx) {
    let net = nacc::study::nacc_striatum().unwrap();
    let runs = nacc::study::Protocol::quick().conditions(&net).unwrap();
    for name in ["activity", "dopamine_0.25", "learning_reward_0"] {
        let c = runs.iter().find(|c| c.name == name).unwrap();
        let model = Model::build(c.net.clone(), 5).unwrap();
        let input = InputSource::generated(&model);
        // 300 steps: the learning run's first reward comes at 120 ms
        assert_path_agrees(
            ctx,
            &model,
            &input,
            300,
            100,
            GpuOptions {
                step_schedule: true,
                ..GpuOptions::default()
            },
            &format!("nacc_striatum {name}"),
        );
    }
}

/// Random networks of the physical models on the block schedule, 6 trials
/// side by side (each trial's membranes, states and sums at its stride),
/// each trial `==` the CPU's.
fn model_trials_side_by_side(ctx: &Ctx) {
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(1960 + seed);
        let text = random_block_network(&mut rng, 30);
        let net = Network::from_toml_str(&text, "block").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(net.populations.iter().any(|p| p.is_physical()), "{text}");
        let model = Model::build(net, seed).unwrap();
        let plan = GpuEngine::plan(ctx, &model.net, true, 40, 6, GpuOptions::default());
        assert_eq!((plan.schedule, plan.trials), (Schedule::Block, 6), "{text}");
        let what = format!("model trials {seed}:\n{text}");
        let r = gpu_trials_equal_cpu(ctx, &model, 6, 120, 40, GpuOptions::default(), &what);
        assert!(r.engine.contains("side by side"), "{}", r.engine);
        // the trials differ (their own input), so the comparison covers each
        assert_ne!(r.records[0].pops, r.records[5].pops, "{what}");
    }
}

/// The default (lif) network recording its membranes: the step schedule,
/// every sample `==` the CPU's.
fn records_of_a_lif_network(ctx: &Ctx) {
    let text = nacc::config::DEFAULT_TOML.to_string()
        + "[[record]]\npopulation = \"msn\"\nneuron_range = [2, 9]\nevery_ms = 3.0\n\
           [[record]]\npopulation = \"inter\"\nneurons = [49, 0]\n";
    let net = Network::from_toml_str(&text, "lif records").unwrap();
    let model = Model::build(net, 2).unwrap();
    let plan = GpuEngine::plan(ctx, &model.net, true, 50, 1, GpuOptions::default());
    assert_eq!((plan.schedule, plan.fused), (Schedule::Step, false));
    let input = InputSource::generated(&model);
    for chunk in [1, 13, 200] {
        let what = format!("lif records, chunk {chunk}");
        assert_engines_agree(
            ctx,
            &model,
            &input,
            200,
            chunk,
            GpuOptions::default(),
            &what,
        );
    }
}

/// Eight random networks, each in chunks of 1, 7 and 150 steps (the step
/// schedule: they record), and eight that the block schedule runs
/// (`neuron_block`; on both schedules).
fn random_model_networks_gpu_equals_cpu(ctx: &Ctx) {
    let (mut models, mut plastic, mut blocks) = (0, 0, 0);
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
        let opts = GpuOptions::default();
        for chunk in [1, 7, 150] {
            let what = format!("random model network {seed}, chunk {chunk}:\n{text}");
            assert_engines_agree(ctx, &model, &input, 150, chunk, opts, &what);
        }
        let text = random_block_network(&mut rng, 40);
        let net = Network::from_toml_str(&text, "block").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let model = Model::build(net, seed).unwrap();
        let input = InputSource::generated(&model);
        let plan = GpuEngine::plan(ctx, &model.net, true, 64, 1, opts);
        blocks += (plan.schedule == Schedule::Block) as usize;
        for chunk in [5, 64] {
            let what = format!("random block network {seed}, chunk {chunk}:\n{text}");
            assert_engines_agree(ctx, &model, &input, 150, chunk, opts, &what);
        }
    }
    assert!(models >= 8, "only {models} physical populations drawn");
    assert!(plastic >= 2, "only {plastic} plastic projections onto them");
    assert_eq!(blocks, 8, "networks that ran the block schedule");
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
