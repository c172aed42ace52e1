//! The default network, random networks, reward learning, imported
//! weights and input, 2-D grids and split weights, blocked sums.

use super::*;

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        (
            "reward_learning_gpu_equals_cpu",
            reward_learning_gpu_equals_cpu,
        ),
        ("random_reward_networks", random_reward_networks),
        ("default_network_1000_steps", default_network_1000_steps),
        (
            "default_network_through_nacc_compare",
            default_network_through_nacc_compare,
        ),
        (
            "random_networks_several_seeds",
            random_networks_several_seeds,
        ),
        (
            "every_step_membranes_on_random_input",
            every_step_membranes_on_random_input,
        ),
        (
            "two_d_grids_and_split_weights",
            two_d_grids_and_split_weights,
        ),
        (
            "sums_too_large_for_blocks_run_step_by_step",
            sums_too_large_for_blocks_run_step_by_step,
        ),
        (
            "blocked_sums_equal_step_by_step",
            blocked_sums_equal_step_by_step,
        ),
        (
            "chunks_larger_than_the_engine_capacity_are_split",
            chunks_larger_than_the_engine_capacity_are_split,
        ),
        (
            "imported_weights_and_input_spikes",
            imported_weights_and_input_spikes,
        ),
    ]
}

/// The shipped reward-learning experiment: dopamine gain on D1 and D2,
/// plasticity on input -> D1, patterns drawn on the host.
fn reward_learning_gpu_equals_cpu(ctx: &Ctx) {
    let net = Network::from_toml_str(
        include_str!("../../assets/reward_learning.toml"),
        "reward_learning.toml",
    )
    .unwrap();
    let model = Model::build(net, 4).unwrap();
    let input = InputSource::generated(&model);
    // 1 200 steps: two rewarded presentations; chunks that do not divide
    // the trials
    for chunk in [300, 37] {
        assert_engines_agree(
            ctx,
            &model,
            &input,
            1200,
            chunk,
            GpuOptions::default(),
            &format!("reward learning (chunk {chunk})"),
        );
    }
    // without plasticity: D1/D2 gains and host-drawn patterns on the block
    // schedule (assert_engines_agree checks which schedule ran)
    let text = include_str!("../../assets/reward_learning.toml");
    let (head, rest) = text.split_once("[projection.plasticity]").unwrap();
    let fixed = format!("{head}{}", &rest[rest.find("\n[").unwrap()..]);
    let net = Network::from_toml_str(&fixed, "no plasticity").unwrap();
    assert!(net.projections.iter().all(|p| p.plasticity.is_none()));
    assert!(net.populations.iter().any(|p| p.dopamine.is_some()) && net.stimulus.is_some());
    let still = Model::build(net, 4).unwrap();
    assert_engines_agree(
        ctx,
        &still,
        &InputSource::generated(&still),
        600,
        37,
        GpuOptions::default(),
        "reward network without plasticity",
    );
    // its trials run one after another (the host draws the patterns) on one
    // engine, restarted: d(t) and the gains start over with each trial
    let what = "reward network without plasticity";
    let r = gpu_trials_equal_cpu(ctx, &still, 3, 600, 37, GpuOptions::default(), what);
    assert!(r.engine.contains("one after another"), "{}", r.engine);
    assert_eq!(r.engines_built, 1, "trials in turn restart one engine");
    // and the weights did learn (else equality says little)
    let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, 600, GpuOptions::default()).unwrap();
    nacc::engine::simulate(&mut gpu, &model.net, &input, 1200, 600, |_| {}).unwrap();
    let learned = gpu.plastic_weights().unwrap();
    let initial = &model.quantize().unwrap()[3].wq;
    assert_ne!(learned[3].as_ref().unwrap(), initial, "no weight changed");
}

/// Random reward networks: plastic projections from Poisson and from LIF
/// populations, inhibitory ones, negative learning rates, D1 and D2 gains,
/// weights driven to their bounds.
fn random_reward_networks(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(2026);
    for case in 0..4u64 {
        let text = common::random_reward_network(&mut rng);
        let net = Network::from_toml_str(&text, "random reward").unwrap();
        let model = Model::build(net, case).unwrap();
        let chunk = [1, 13, 64, 200][case as usize];
        assert_engines_agree(
            ctx,
            &model,
            &InputSource::generated(&model),
            400,
            chunk,
            GpuOptions::default(),
            &format!("reward case {case} (chunk {chunk})\n{text}"),
        );
        // the weights did change (else equality says little)
        let mut cpu = CpuEngine::new(&model).unwrap();
        let input = InputSource::generated(&model);
        nacc::engine::simulate(&mut cpu, &model.net, &input, 400, 400, |_| {}).unwrap();
        let q = model.quantize().unwrap();
        let learned = cpu.plastic_weights().unwrap();
        assert!(
            learned
                .iter()
                .zip(&q)
                .any(|(l, q)| l.as_ref().is_some_and(|l| *l != q.wq)),
            "reward case {case}: no plastic weight changed\n{text}"
        );
    }
}

fn default_network_1000_steps(ctx: &Ctx) {
    let model = Model::build(Network::default_nacc(), 0).unwrap();
    // 128 does not divide 1000: the last chunk is short.
    assert_engines_agree(
        ctx,
        &model,
        &InputSource::generated(&model),
        1000,
        128,
        GpuOptions::default(),
        "default network",
    );
}

fn default_network_through_nacc_compare(ctx: &Ctx) {
    let model = Model::build(Network::default_nacc(), 3).unwrap();
    let r = nacc::compare::compare(
        ctx.clone(),
        &model,
        &InputSource::generated(&model),
        500,
        100,
        &Default::default(),
    )
    .unwrap();
    assert!(r.identical(), "{}", r.render());
    assert!(
        r.counts.iter().all(|(_, c, g)| c == g && *c > 0),
        "{}",
        r.render()
    );
}

fn random_networks_several_seeds(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(77);
    for case in 0..12u64 {
        // sizes up to 3000 per population in a few cases, small in the rest
        let max = if case % 4 == 0 { 3000 } else { 300 };
        let text = random_network(&mut rng, max);
        let net = Network::from_toml_str(&text, "random").unwrap();
        let mut model = Model::build(net, case).unwrap();
        randomise_weights(&mut rng, &mut model);
        let steps = rng.random_range(20..60);
        let chunk = [1, 7, 16, 64][rng.random_range(0..4)];
        assert_engines_agree(
            ctx,
            &model,
            &InputSource::generated(&model),
            steps,
            chunk,
            GpuOptions::default(),
            &format!("case {case} (chunk {chunk})\n{text}"),
        );
    }
}

fn every_step_membranes_on_random_input(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(5);
    for case in 0..4u64 {
        let text = random_network(&mut rng, 100);
        let mut model =
            Model::build(Network::from_toml_str(&text, "random").unwrap(), case).unwrap();
        randomise_weights(&mut rng, &mut model);
        let steps = 25;
        let x: Vec<Vec<Vec<u8>>> = model
            .net
            .populations
            .iter()
            .map(|p| {
                if p.is_poisson() {
                    (0..steps)
                        .map(|_| (0..p.size).map(|_| rng.random_bool(0.4) as u8).collect())
                        .collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        // chunk 1: membranes compared after every step
        assert_engines_agree(
            ctx,
            &model,
            &given_input(&model.net, &x),
            steps,
            1,
            GpuOptions::default(),
            &format!("case {case}\n{text}"),
        );
    }
}

/// The default network at 672/400/1500, and limits under which every grid
/// is 2-D and weights are split: at most 5 workgroups per dimension (msn
/// has 24 workgroups of 64, fc3 6 blocks of 256 posts per chunk of 256
/// pre), weights bindings of 256 rows of 1500 posts (fc2: 400 = 256 + 144
/// rows, fc3: 672 = 256 + 256 + 160 rows).
fn split_network() -> (Model, GpuOptions) {
    let text = nacc::config::DEFAULT_TOML
        .replace("size = 100", "size = 672")
        .replace("size = 50", "size = 400")
        .replace("size = 20", "size = 1500");
    let model = Model::build(Network::from_toml_str(&text, "t").unwrap(), 8).unwrap();
    let opts = GpuOptions {
        max_groups_per_dim: Some(5),
        max_binding_bytes: Some(256 * 1500 * 4),
        fused: Some(false),
        ..Default::default()
    };
    (model, opts)
}

fn two_d_grids_and_split_weights(ctx: &Ctx) {
    let (model, opts) = split_network();
    let engine = GpuEngine::new(
        ctx.clone(),
        &model,
        &InputSource::generated(&model),
        25,
        opts,
    )
    .unwrap();
    let grids = engine.grids();
    assert!(grids.iter().all(|g| g.0 > 1 && g.1 > 1), "{grids:?}");
    assert_eq!(engine.weight_parts(), [1, 2, 3]);
    assert_engines_agree(
        ctx,
        &model,
        &InputSource::generated(&model),
        40,
        25,
        opts,
        "2-D grids, split weights",
    );
}

/// Where the sums of 16 steps do not fit one storage binding, the engine
/// runs step by step (and equals the CPU).
fn sums_too_large_for_blocks_run_step_by_step(ctx: &Ctx) {
    let (model, split) = split_network();
    // 32 rows of 1 500 posts (192 000 bytes) fit, the sums of 16 steps of
    // 400 + 1 500 + 1 500 posts (217 600 bytes) do not, one step's do
    let opts = GpuOptions {
        max_binding_bytes: Some(200_000),
        ..split
    };
    let input = InputSource::generated(&model);
    let engine = GpuEngine::new(ctx.clone(), &model, &input, 25, opts).unwrap();
    assert_eq!(engine.schedule(), Some(Schedule::Step));
    assert!(engine.blocked_projections().is_empty());
    assert_engines_agree(
        ctx,
        &model,
        &input,
        40,
        25,
        // the path the engine chose, asked for explicitly
        GpuOptions {
            step_schedule: true,
            ..opts
        },
        "sums too large for blocks",
    );
    let roomy = GpuOptions {
        max_binding_bytes: Some(400_000),
        ..split
    };
    let engine = GpuEngine::new(ctx.clone(), &model, &input, 25, roomy).unwrap();
    assert_eq!(engine.schedule(), Some(Schedule::Block));
}

/// Projections from Poisson populations summing 16 steps at once
/// (`synapse_block`) on the step schedule, forced on small networks, against the CPU engine
/// summing step by step: chunks that end inside a block, 2-D grids and
/// split weights, given input, random networks.
fn blocked_sums_equal_step_by_step(ctx: &Ctx) {
    let blocked = GpuOptions {
        fused: Some(false),
        block_min_synapses: Some(0),
        step_schedule: true,
        ..Default::default()
    };
    let model = Model::build(Network::default_nacc(), 3).unwrap();
    let input = InputSource::generated(&model);
    let engine = GpuEngine::new(ctx.clone(), &model, &input, 37, blocked).unwrap();
    // fc1 (input to inter) and fc3 (input to msn); not fc2 (inter to msn)
    assert_eq!(engine.blocked_projections(), [0, 2]);
    let step = GpuOptions {
        step_schedule: true,
        ..Default::default()
    };
    let plain = GpuEngine::new(ctx.clone(), &model, &input, 37, step).unwrap();
    assert!(plain.blocked_projections().is_empty(), "below 1 M synapses");
    // x20: fc1 has 2 M synapses and fc3 0.8 M, so by default fc1 sums in
    // blocks; whole blocks of 16 steps, 63 spike words of input
    let x20 = Model::build(Network::default_nacc().scaled(20).unwrap(), 3).unwrap();
    let input = InputSource::generated(&x20);
    let engine = GpuEngine::new(ctx.clone(), &x20, &input, 16, step).unwrap();
    assert_eq!(engine.blocked_projections(), [0]);
    for (opts, what) in [
        (step, "x20, fc1 blocked"),
        (blocked, "x20, fc1 and fc3 blocked"),
    ] {
        assert_engines_agree(ctx, &x20, &input, 48, 16, opts, what);
    }
    let input = InputSource::generated(&model);
    for chunk in [37, 16, 5, 1] {
        let steps = if chunk == 1 { 40 } else { 120 };
        assert_engines_agree(
            ctx,
            &model,
            &input,
            steps,
            chunk,
            blocked,
            &format!("blocked, chunk {chunk}"),
        );
    }

    // 2-D grids and weights split into 1, 2 and 3 bindings
    let (big, limits) = split_network();
    let split = GpuOptions {
        max_groups_per_dim: limits.max_groups_per_dim,
        max_binding_bytes: limits.max_binding_bytes,
        ..blocked
    };
    let input = InputSource::generated(&big);
    let engine = GpuEngine::new(ctx.clone(), &big, &input, 25, split).unwrap();
    assert_eq!(engine.blocked_projections(), [0, 2]);
    assert_eq!(engine.weight_parts(), [1, 2, 3]);
    let grids = engine.grids();
    assert!(grids.iter().all(|g| g.0 > 1 && g.1 > 1), "{grids:?}");
    assert_engines_agree(ctx, &big, &input, 40, 25, split, "blocked, split weights");

    // given input, dense enough that most rows spike within a block
    let mut rng = StdRng::seed_from_u64(31);
    let x: Vec<Vec<Vec<u8>>> = model
        .net
        .populations
        .iter()
        .map(|p| {
            (0..70)
                .map(|_| (0..p.size).map(|_| rng.random_bool(0.3) as u8).collect())
                .collect()
        })
        .collect();
    let given = given_input(&model.net, &x);
    assert_engines_agree(ctx, &model, &given, 70, 23, blocked, "blocked, given input");

    for case in 0..4u64 {
        let text = random_network(&mut rng, 300);
        let mut model =
            Model::build(Network::from_toml_str(&text, "random").unwrap(), case).unwrap();
        randomise_weights(&mut rng, &mut model);
        let chunk = [1, 7, 16, 50][case as usize];
        assert_engines_agree(
            ctx,
            &model,
            &InputSource::generated(&model),
            60,
            chunk,
            blocked,
            &format!("blocked, random case {case} (chunk {chunk})\n{text}"),
        );
    }
}

fn chunks_larger_than_the_engine_capacity_are_split(ctx: &Ctx) {
    let model = Model::build(Network::default_nacc(), 4).unwrap();
    let input = InputSource::generated(&model);
    let mut cpu = CpuEngine::new(&model).unwrap();
    let a = nacc::engine::simulate(&mut cpu, &model.net, &input, 95, 40, |_| {}).unwrap();
    for fused in [false, true] {
        let opts = GpuOptions {
            fused: Some(fused),
            ..Default::default()
        };
        let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, 10, opts).unwrap();
        assert_eq!(gpu.capacity(), 10);
        let b = nacc::engine::simulate(&mut gpu, &model.net, &input, 95, 40, |_| {}).unwrap();
        assert!(a == b, "records differ (fused: {fused})");
        assert_eq!(cpu.membranes().unwrap(), gpu.membranes().unwrap());
    }
}

fn imported_weights_and_input_spikes(ctx: &Ctx) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a");
    let opts = nacc::run::RunOptions {
        steps: Some(200),
        seed: 21,
        out: out.clone(),
        backend: nacc::run::Backend::Cpu,
        quiet: true,
        ..Default::default()
    };
    nacc::run::run(&opts).unwrap();
    let imported = nacc::run::RunOptions {
        seed: 99,
        weights: Some(out.clone()),
        input_spikes: Some(out.join("spikes_input.npy")),
        steps: None,
        ..opts
    };
    let p = nacc::run::prepare(&imported).unwrap();
    assert_eq!(p.steps, 200);
    assert_engines_agree(
        ctx,
        &p.model,
        &p.input,
        p.steps,
        64,
        GpuOptions::default(),
        "imported weights and input",
    );
}
