//! The choices of the plan: limits, the fused kernel, sparse networks,
//! memory estimates, trials side by side.

use super::*;

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        (
            "fan_out_and_one_to_one_on_the_gpu",
            fan_out_and_one_to_one_on_the_gpu,
        ),
        (
            "too_small_limit_fails_before_any_work_naming_bytes",
            too_small_limit_fails_before_any_work_naming_bytes,
        ),
        (
            "fused_kernel_is_chosen_for_trials_of_small_networks_only",
            fused_kernel_is_chosen_for_trials_of_small_networks_only,
        ),
        ("sparse_networks_on_the_gpu", sparse_networks_on_the_gpu),
        (
            "gpu_memory_estimate_is_within_10_percent",
            gpu_memory_estimate_is_within_10_percent,
        ),
        (
            "trials_side_by_side_on_the_block_schedule",
            trials_side_by_side_on_the_block_schedule,
        ),
        (
            "batched_trials_equal_cpu_trials",
            batched_trials_equal_cpu_trials,
        ),
    ]
}

fn too_small_limit_fails_before_any_work_naming_bytes(ctx: &Ctx) {
    let model = Model::build(Network::default_nacc(), 0).unwrap();
    let opts = GpuOptions {
        max_binding_bytes: Some(64),
        ..Default::default()
    };
    let e = GpuEngine::new(
        ctx.clone(),
        &model,
        &InputSource::generated(&model),
        100,
        opts,
    )
    .err()
    .expect("must fail")
    .to_string();
    assert!(
        e.contains("bytes") && e.contains("limit of 64 bytes"),
        "{e}"
    );
}

/// The fused kernel runs several trials of a small network (one engine, a
/// workgroup a trial); a single trial runs on the block schedule, and so do
/// several trials of a larger network, side by side.
fn fused_kernel_is_chosen_for_trials_of_small_networks_only(ctx: &Ctx) {
    let small = Model::build(Network::default_nacc(), 0).unwrap();
    let input = InputSource::generated(&small);
    let single = GpuEngine::new(ctx.clone(), &small, &input, 100, GpuOptions::default()).unwrap();
    assert_eq!(
        (single.is_fused(), single.schedule()),
        (false, Some(Schedule::Block))
    );
    let two = [input.clone(), InputSource::generated(&small)];
    let batched =
        GpuEngine::new_trials(ctx.clone(), &small, &two, 100, GpuOptions::default()).unwrap();
    assert!(batched.is_fused());
    let big = Model::build(Network::default_nacc().scaled(40).unwrap(), 0).unwrap(); // 3.2 M synapses
    let two = [InputSource::generated(&big), InputSource::generated(&big)];
    let side = GpuEngine::new_trials(ctx.clone(), &big, &two, 100, GpuOptions::default()).unwrap();
    assert_eq!(
        (side.is_fused(), side.schedule(), side.trials()),
        (false, Some(Schedule::Block), 2)
    );
    let e = GpuEngine::new(
        ctx.clone(),
        &big,
        &InputSource::generated(&big),
        100,
        GpuOptions {
            fused: Some(true),
            ..Default::default()
        },
    )
    .err()
    .expect("too big to fuse");
    assert!(e.to_string().contains("fused"), "{e}");
}

fn sparse_networks_on_the_gpu(ctx: &Ctx) {
    // fixed fan-in into inter, fixed probability into msn, at two sizes
    for (scale, seed) in [(1, 3u64), (12, 4)] {
        let net = common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
            .scaled(scale)
            .unwrap();
        let model = Model::build(net, seed).unwrap();
        let input = InputSource::generated(&model);
        // sparse projections never run fused
        assert!(
            GpuEngine::new(
                ctx.clone(),
                &model,
                &input,
                50,
                GpuOptions {
                    fused: Some(true),
                    ..Default::default()
                }
            )
            .is_err()
        );
        // on the block schedule gathered by post (the default) or
        // scattered; step by step scattered
        for (sparse, kernel) in [
            (None, "synapse_gather"),
            (Some(SparseChoice::Scatter), "synapse_scatter_block"),
        ] {
            let opts = GpuOptions {
                sparse,
                ..Default::default()
            };
            let what = format!("sparse x{scale}, {kernel}");
            assert_engines_agree(ctx, &model, &input, 120, 50, opts, &what);
            let host = GpuOptions {
                host_input: true,
                ..opts
            };
            assert_engines_agree(
                ctx,
                &model,
                &input,
                40,
                40,
                host,
                &format!("{what}, host input"),
            );
            // the kernel that ran
            let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, 32, opts).unwrap();
            assert!(gpu.start_profile());
            gpu.run_chunk(&mut ChunkSpikes::new(&model.net, 32))
                .unwrap();
            let p = gpu.take_profile().unwrap();
            assert!(p.kernels.iter().any(|k| k.0 == kernel), "{what}: {p:?}");
            assert_eq!(gpu.blocked_projections(), [0, 1, 2], "{what}");
        }
    }
    // a quiet input (0.2-1 % a step: ~9 % of its neurons spike in a block
    // of 16 steps) is scattered from its spiking neurons, not gathered
    let quiet = common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
        .scaled(4)
        .unwrap();
    let mut quiet = quiet;
    quiet.populations[0].kind = nacc::network::PopKind::Poisson {
        rate_lo: 0.002,
        rate_hi: 0.01,
    };
    let model = Model::build(quiet, 6).unwrap();
    let input = InputSource::generated(&model);
    let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, 64, GpuOptions::default()).unwrap();
    assert!(gpu.start_profile());
    gpu.run_chunk(&mut ChunkSpikes::new(&model.net, 64))
        .unwrap();
    let kernels: Vec<String> = gpu
        .take_profile()
        .unwrap()
        .kernels
        .into_iter()
        .map(|k| k.0)
        .collect();
    let ran = |name: &str| kernels.iter().any(|k| k == name);
    assert!(
        ran("synapse_scatter_block") && !ran("synapse_gather"),
        "{kernels:?}"
    );
    assert_path_agrees(
        ctx,
        &model,
        &input,
        160,
        64,
        GpuOptions::default(),
        "quiet input",
    );

    // gathered projections larger than a binding, in parts of whole slices
    // of 64 posts: fc1 (600 posts x 37 synapses) and fc3 (240 posts x ~240)
    // under an 80 000-byte limit (the block's sums, 69 120 bytes, still fit)
    let net = common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
        .scaled(12)
        .unwrap();
    let model = Model::build(net, 8).unwrap();
    let input = InputSource::generated(&model);
    let narrow = GpuOptions {
        max_binding_bytes: Some(80_000),
        ..Default::default()
    };
    let gpu = GpuEngine::new(ctx.clone(), &model, &input, 50, narrow).unwrap();
    assert_eq!(gpu.schedule(), Some(Schedule::Block));
    let parts = gpu.weight_parts();
    assert!(parts[0] >= 2 && parts[2] >= 3, "parts {parts:?}");
    assert_path_agrees(ctx, &model, &input, 120, 50, narrow, "gathered in parts");
}

fn gpu_memory_estimate_is_within_10_percent(ctx: &Ctx) {
    let dense = |k| Network::default_nacc().scaled(k).unwrap();
    let nets = [
        ("dense x20 (block schedule)", dense(20), 1, false),
        ("dense x20 (step schedule)", dense(20), 1, true),
        ("dense x3 (block schedule)", dense(3), 1, false),
        ("dense x3 x 4 trials (fused)", dense(3), 4, false),
        ("dense x20 x 3 trials (block schedule)", dense(20), 3, false),
        (
            "sparse x20 x 3 trials (block schedule)",
            common::sparse_net("fixed_fan_in = 40", "fixed_probability = 0.3")
                .scaled(20)
                .unwrap(),
            3,
            false,
        ),
        (
            "sparse x20",
            common::sparse_net("fixed_fan_in = 40", "fixed_probability = 0.3")
                .scaled(20)
                .unwrap(),
            1,
            false,
        ),
        (
            "sparse x20, quiet input (scattered)",
            {
                let mut net = common::sparse_net("fixed_fan_in = 40", "fixed_probability = 0.3")
                    .scaled(20)
                    .unwrap();
                net.populations[0].kind = nacc::network::PopKind::Poisson {
                    rate_lo: 0.001,
                    rate_hi: 0.002,
                };
                net
            },
            1,
            false,
        ),
        (
            "reward learning x10 (gains, plasticity)",
            Network::from_toml_str(include_str!("../../assets/reward_learning.toml"), "reward")
                .unwrap()
                .scaled(10)
                .unwrap(),
            1,
            false,
        ),
    ];
    for (what, net, trials, step_schedule) in nets {
        let opts = GpuOptions {
            step_schedule,
            ..Default::default()
        };
        let plan = GpuEngine::plan(ctx, &net, true, 100, trials, opts);
        let e = nacc::memory::estimate(&net, 100, 100, Some(&plan), trials);
        let model = Model::build(net, 0).unwrap();
        let inputs: Vec<_> = (0..trials)
            .map(|t| InputSource::generated_trial(&model, t))
            .collect();
        let engine = GpuEngine::new_trials(ctx.clone(), &model, &inputs, 100, opts).unwrap();
        assert_eq!(engine.is_fused(), plan.fused, "{what}");
        assert_eq!(engine.is_fused(), what.contains("fused"), "{what}");
        let ratio = e.gpu_bytes() as f64 / engine.gpu_bytes() as f64;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{what}: estimate {} vs allocated {} bytes",
            e.gpu_bytes(),
            engine.gpu_bytes()
        );
    }
}

/// Trials side by side on the block schedule (the trial in every grid's
/// z): each trial equals the CPU engine's run of its input, for dense
/// projections and for sparse ones gathered and scattered, in chunks that
/// end inside blocks; in batches when the bindings hold fewer trials than
/// asked; and a non-finite membrane is reported as the CPU reports it,
/// with its trial.
fn trials_side_by_side_on_the_block_schedule(ctx: &Ctx) {
    let block = GpuOptions {
        fused: Some(false),
        ..Default::default()
    };
    let sparse = || {
        common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
            .scaled(3)
            .unwrap()
    };
    let cases = [
        ("default, 5 trials", Network::default_nacc(), 5, block),
        ("sparse x3, gathered, 3 trials", sparse(), 3, block),
        (
            "sparse x3, scattered, 3 trials",
            sparse(),
            3,
            GpuOptions {
                sparse: Some(SparseChoice::Scatter),
                ..block
            },
        ),
    ];
    let (steps, chunk) = (90, 37);
    for (what, net, trials, opts) in cases {
        let model = Model::build(net, 21).unwrap();
        let inputs: Vec<InputSource> = (0..trials)
            .map(|t| InputSource::generated_trial(&model, t))
            .collect();
        let mut gpu = GpuEngine::new_trials(ctx.clone(), &model, &inputs, chunk, opts).unwrap();
        assert_eq!(
            (gpu.is_fused(), gpu.schedule(), gpu.trials()),
            (false, Some(Schedule::Block), trials),
            "{what}"
        );
        let got = nacc::trials::run_batched_all(&mut gpu, &model, trials, steps, chunk).unwrap();
        let v_got = gpu.membranes_trials().unwrap();
        for (t, input) in inputs.iter().enumerate() {
            let mut cpu = CpuEngine::new(&model).unwrap();
            let want =
                nacc::engine::simulate(&mut cpu, &model.net, input, steps, chunk, |_| {}).unwrap();
            let v_want = cpu.membranes().unwrap();
            let (g, w) = ((&got[t], &v_got[t][..]), (&want, &v_want[..]));
            if let Some(d) = common::first_run_difference(&model, g, w, ["GPU", "CPU"]) {
                panic!("{what}: trial {t}: {d}");
            }
        }
        assert!(
            got[0].pops[2] != got[1].pops[2],
            "{what}: trials 0 and 1 are the same run"
        );
    }

    // bindings that hold 2 trials' sums (16 x 90 x 4 bytes each)
    let model = Model::build(Network::default_nacc(), 4).unwrap();
    let narrow = GpuOptions {
        max_binding_bytes: Some(12_000),
        ..block
    };
    assert_eq!(
        GpuEngine::plan(ctx, &model.net, true, chunk, 5, narrow).trials,
        2
    );
    // 5 trials: the second batch restarts the first's engine, the last (one
    // trial) needs its own; 6 trials: three batches on one engine
    for (n, engines) in [(5, 2), (6, 1)] {
        let what = format!("{n} trials in batches of 2");
        let r = gpu_trials_equal_cpu(ctx, &model, n, 40, chunk, narrow, &what);
        let named = format!("{n} trials, 2 side by side");
        assert!(r.engine.contains(&named), "{}", r.engine);
        assert_eq!(r.engines_built, engines, "{n} trials");
    }
    // bindings for 3: 4 trials go as two batches of 2 (one engine), not 3 + 1
    let wider = GpuOptions {
        max_binding_bytes: Some(18_000),
        ..block
    };
    let side = |n| GpuEngine::plan(ctx, &model.net, true, chunk, n, wider).trials;
    assert_eq!((side(3), side(4), side(6), side(7)), (3, 2, 3, 3));

    // every trial's membranes overflow at the same step (bias only): the
    // step, population and lowest neuron the CPU names, in trial 0
    let (model, step) = common::overflowing_network_model();
    let inputs: Vec<InputSource> = (0..3)
        .map(|t| InputSource::generated_trial(&model, t))
        .collect();
    let mut gpu = GpuEngine::new_trials(ctx.clone(), &model, &inputs, 100, block).unwrap();
    let e = nacc::trials::run_batched_all(&mut gpu, &model, 3, 1000, 100)
        .expect_err("the membranes overflow")
        .to_string();
    let (_, cpu) = failure(&mut CpuEngine::new(&model).unwrap(), &model, &inputs[0]);
    let (named, at) = (
        "population `grow` neuron 0 became",
        format!("at step {step}"),
    );
    assert!(cpu.contains(named) && cpu.contains(&at), "{cpu}");
    assert!(
        e.contains(named) && e.contains(&at) && e.contains("trial 0"),
        "{e}"
    );
}

fn batched_trials_equal_cpu_trials(ctx: &Ctx) {
    for (what, net, trials) in [
        ("default", Network::default_nacc(), 7usize),
        (
            "default x3, zero reset",
            Network::from_toml_str(
                &nacc::config::DEFAULT_TOML.replace("\"subtract\"", "\"zero\""),
                "t",
            )
            .unwrap()
            .scaled(3)
            .unwrap(),
            3,
        ),
    ] {
        let model = Model::build(net, 12).unwrap();
        let inputs: Vec<InputSource> = (0..trials)
            .map(|t| InputSource::generated_trial(&model, t))
            .collect();
        let mut gpu =
            GpuEngine::new_trials(ctx.clone(), &model, &inputs, 100, GpuOptions::default())
                .unwrap();
        assert_eq!(gpu.trials(), trials);
        let got = nacc::trials::run_batched_all(&mut gpu, &model, trials, 230, 100).unwrap();
        let vg = gpu.membranes_trials().unwrap();
        for (t, input) in inputs.iter().enumerate() {
            let mut cpu = CpuEngine::new(&model).unwrap();
            let want =
                nacc::engine::simulate(&mut cpu, &model.net, input, 230, 100, |_| {}).unwrap();
            for (p, pop) in model.net.populations.iter().enumerate() {
                assert!(
                    got[t].pops[p] == want.pops[p],
                    "{what}: trial {t}, population {} differs",
                    pop.name
                );
            }
            assert!(
                cpu.membranes().unwrap() == vg[t],
                "{what}: trial {t} membranes differ"
            );
        }
        // the trials are different runs
        assert!(
            got[0].pops[0] != got[1].pops[0],
            "{what}: trials 0 and 1 drew the same input"
        );
    }
    // on the step schedule (plasticity, or sums of 16 steps too large for a
    // binding) trials run one after another
    let big = Model::build(Network::default_nacc().scaled(40).unwrap(), 1).unwrap();
    let inputs: Vec<InputSource> = (0..2)
        .map(|t| InputSource::generated_trial(&big, t))
        .collect();
    let narrow = GpuOptions {
        step_schedule: true,
        ..Default::default()
    };
    let plan = GpuEngine::plan(ctx, &big.net, true, 10, 2, narrow);
    assert_eq!((plan.schedule, plan.trials), (Schedule::Step, 1));
    let e = GpuEngine::new_trials(ctx.clone(), &big, &inputs, 10, narrow)
        .err()
        .expect("one at a time");
    assert!(e.to_string().contains("one trial at a time"), "{e}");
    let run = |stop: nacc::trials::StopCheck| {
        nacc::trials::run_gpu(
            ctx.clone(),
            &big,
            &inputs,
            12,
            10,
            narrow,
            &mut |_| {},
            stop,
        )
        .unwrap()
    };
    let r = run(&|| None);
    assert!(r.engine.contains("one after another"), "{}", r.engine);
    assert_eq!(
        r.engines_built, 1,
        "the second trial restarts the first's engine"
    );
    let cpu = nacc::trials::run_cpu_all(&big, &inputs, 12, 10).unwrap();
    assert!(
        r.records == cpu,
        "sequential GPU trials differ from the CPU"
    );
    // a stop keeps the trials that completed, else the stopped first one
    // (asked between the chunks of a trial: once a trial here)
    for (stop_after, kept_steps) in [(2, 12), (1, 10)] {
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let stop = || {
            let n = asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            (n >= stop_after).then(|| "test".to_string())
        };
        let r = run(&stop);
        assert!(r.stopped.is_some(), "stop after {stop_after} chunks");
        assert_eq!(r.records.len(), 1, "stop after {stop_after} chunks");
        let mut want = cpu[0].clone();
        want.truncate(&big.net, kept_steps);
        assert!(
            r.records[0] == want,
            "stop after {stop_after} chunks: trial 0 ({} steps) is not the CPU's first {kept_steps}",
            r.records[0].steps()
        );
    }
}

/// `fixed_fan_out` and `one_to_one` projections on every GPU path: gathered
/// and scattered on the block schedule, step by step, 3 trials side by side.
fn fan_out_and_one_to_one_on_the_gpu(ctx: &Ctx) {
    let net = common::one_to_one_net("fixed_fan_out = 9", "fixed_fan_out = 4")
        .scaled(3)
        .unwrap();
    let model = Model::build(net, 11).unwrap();
    let input = InputSource::generated(&model);
    for (what, opts) in [
        ("gathered", GpuOptions::default()),
        (
            "scattered",
            GpuOptions {
                sparse: Some(SparseChoice::Scatter),
                ..Default::default()
            },
        ),
        (
            "step by step",
            GpuOptions {
                step_schedule: true,
                ..Default::default()
            },
        ),
    ] {
        assert_engines_agree(ctx, &model, &input, 90, 37, opts, what);
    }
    let r = gpu_trials_equal_cpu(ctx, &model, 3, 60, 25, GpuOptions::default(), "3 trials");
    let fired = |p: usize| r.records.iter().all(|rec| rec.pops[p].total() > 0);
    assert!(
        fired(1) && fired(2),
        "the one-to-one and fan-out posts fire"
    );
}
