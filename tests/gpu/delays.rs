//! Delays and recurrence on the GPU (docs/arithmetic.md §2.4): the
//! hand-worked arrivals of tests/delays.rs on every GPU path, and random
//! recurrent networks against the CPU with `==`.

use super::kernels::{ScatterCase, assert_same, chunk, ints, words};
use super::*;
use common::delays::*;
use nacc::engine::cpu;
use nacc::engine::gpu::kernels::{self as k, OneDispatch};
use nacc::engine::gpu::layout::Chunk;
use nacc::engine::plan::BLOCK_STEPS;

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        ("kernel_synapse_delay_equals_its_twin", synapse_delay),
        (
            "kernel_synapse_scatter_with_delays_equals_its_twin",
            synapse_scatter_with_delays,
        ),
        (
            "one_spike_arrives_after_its_delay_on_the_gpu",
            one_spike_arrives_after_its_delay_on_the_gpu,
        ),
        (
            "per_synapse_delays_on_the_gpu",
            per_synapse_delays_on_the_gpu,
        ),
        (
            "random_recurrent_networks_gpu_equals_cpu",
            random_recurrent_networks_gpu_equals_cpu,
        ),
        (
            "recurrent_trials_side_by_side_and_nacc_compare",
            recurrent_trials_side_by_side_and_nacc_compare,
        ),
        (
            "delayed_reward_learning_gpu_equals_cpu",
            delayed_reward_learning_gpu_equals_cpu,
        ),
    ]
}

/// Both schedules (the block schedule with its full block here: every
/// delayed projection is feed-forward), chunks that do not divide the
/// delays.
fn one_spike_arrives_after_its_delay_on_the_gpu(ctx: &Ctx) {
    let model = Model::build(one_spike_network(), 0).unwrap();
    let input = one_spike_input(&model.net);
    for chunk in [1, 7, 64, STEPS] {
        for step_schedule in [false, true] {
            let opts = GpuOptions {
                step_schedule,
                ..GpuOptions::default()
            };
            let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, chunk, opts).unwrap();
            let schedule = [Schedule::Block, Schedule::Step][step_schedule as usize];
            assert_eq!(gpu.schedule(), Some(schedule));
            let times = spike_times(&mut gpu, &model, &input, STEPS, chunk);
            assert_arrivals(
                &times,
                &format!("chunk {chunk}, step schedule {step_schedule}"),
            );
        }
    }
}

/// Synapse by synapse, scattered a step or a block at a time.
fn per_synapse_delays_on_the_gpu(ctx: &Ctx) {
    let n = 300;
    let model = Model::build(per_synapse_network(n), 11).unwrap();
    let w = &model.weights[0];
    let (delays, rows) = (w.delays.as_ref().unwrap(), w.sparse.as_ref().unwrap());
    let steps = 60;
    let input = spike_at_10(&model.net, steps);
    for chunk in [1, 9, steps] {
        for step_schedule in [false, true] {
            let opts = GpuOptions {
                step_schedule,
                ..GpuOptions::default()
            };
            let mut gpu = GpuEngine::new(ctx.clone(), &model, &input, chunk, opts).unwrap();
            let times = spike_times(&mut gpu, &model, &input, steps, chunk);
            for j in 0..n {
                let want = vec![10 + delays[rows.ptr[j]] as usize];
                assert_eq!(times[1][j], want, "post {j}, chunk {chunk}");
            }
        }
    }
}

/// Self-projections, cycles through several populations, mixed delays
/// (blocks shortened to the shortest delay that feeds back), every reset,
/// sparse and dense, with and without bias; chunks that do not divide the
/// delays; the block and step schedules, scattered and gathered.
fn random_recurrent_networks_gpu_equals_cpu(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(19);
    for case in 0..10u64 {
        let max = if case % 5 == 0 { 1500 } else { 200 };
        let text = random_recurrent_network(&mut rng, max);
        let net = Network::from_toml_str(&text, "random").unwrap();
        let mut model = Model::build(net, case).unwrap();
        randomise_weights(&mut rng, &mut model);
        let steps = rng.random_range(40..90);
        let chunk = [1, 3, 7, 13, 50][rng.random_range(0..5)];
        let sparse = [None, Some(SparseChoice::Gather)][case as usize % 2];
        let opts = GpuOptions {
            sparse,
            ..GpuOptions::default()
        };
        assert_engines_agree(
            ctx,
            &model,
            &InputSource::generated(&model),
            steps,
            chunk,
            opts,
            &format!("case {case} (chunk {chunk})\n{text}"),
        );
    }
}

/// Trials side by side on the block schedule (each trial its own rings),
/// and `nacc compare`'s engines, on random recurrent networks.
fn recurrent_trials_side_by_side_and_nacc_compare(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(20);
    let mut side_by_side = 0;
    for case in 0..4u64 {
        let text = random_recurrent_network(&mut rng, 150);
        let model = Model::build(Network::from_toml_str(&text, "random").unwrap(), case).unwrap();
        let what = format!("case {case}\n{text}");
        let plan = GpuEngine::plan(ctx, &model.net, true, 11, 3, GpuOptions::default());
        if plan.schedule == Schedule::Block {
            assert_eq!(plan.trials, 3, "{what}");
            side_by_side += 1;
        }
        gpu_trials_equal_cpu(ctx, &model, 3, 70, 11, GpuOptions::default(), &what);
        let input = InputSource::generated(&model);
        let c = nacc::compare::compare(ctx.clone(), &model, &input, 90, 17, &Default::default());
        let c = c.unwrap();
        assert!(c.identical(), "{what}\n{}", c.render());
    }
    assert!(side_by_side > 0, "no case ran its trials side by side");
}

/// The reward-learning experiment with a delay on its plastic projection
/// (the pre trace sees spikes as they arrive), on a feed-forward one and a
/// range on a sparse one.
fn delayed_reward_learning_gpu_equals_cpu(ctx: &Ctx) {
    let text = include_str!("../../assets/reward_learning.toml")
        .replace("name = \"in_d1\"", "name = \"in_d1\"\ndelay_ms = 3.0")
        .replace("name = \"inter_d1\"", "name = \"inter_d1\"\ndelay_ms = 2.0")
        .replace(
            "name = \"in_d2\"",
            "name = \"in_d2\"\ndelay_ms = [1.0, 4.0]\nfixed_probability = 0.5",
        );
    let model = Model::build(Network::from_toml_str(&text, "delayed").unwrap(), 4).unwrap();
    let input = InputSource::generated(&model);
    assert_engines_agree(
        ctx,
        &model,
        &input,
        700,
        97,
        GpuOptions::default(),
        "delayed",
    );
}

/// `synapse_delay` and `synapse_delay_block`: a delayed projection's sums of a
/// step or a block moved into its ring (random sums and ring, a step whose
/// slots wrap) `==` `cpu::synapse_delay::Ring::push`.
fn synapse_delay(ctx: &Ctx) {
    use k::synapse_delay::DelayParams;
    let mut rng = StdRng::seed_from_u64(1708);
    for case in 0..6 {
        let n = rng.random_range(1..300usize);
        let slots = [32usize, 64, 512][case % 3];
        let delay = rng.random_range(1..=(slots - BLOCK_STEPS) as u32);
        let block = case % 2 == 1;
        let t_n = if block {
            rng.random_range(1..=BLOCK_STEPS)
        } else {
            1
        };
        let row = if block { 1 } else { rng.random_range(1..40u32) };
        let first_step = rng.random_range(0..=u32::MAX);
        // the projection's sums (a slot per step of a block), then its ring
        let staged = if block { BLOCK_STEPS * n } else { n };
        let acc: Vec<i32> = (0..staged + slots * n)
            .map(|_| rng.random_range(-(1 << 24)..1 << 24))
            .collect();
        let params = DelayParams {
            n_post: n as u32,
            acc_offset: 0,
            block_stride: if block { n as u32 } else { 0 },
            ring_offset: staged as u32,
            ring_mask: slots as u32 - 1,
            delay,
            _pad: [0; 2],
        };
        let d = OneDispatch {
            family: &k::synapse_delay::FAMILY,
            entry: if block {
                "synapse_delay_block"
            } else {
                "synapse_delay"
            },
            params: bytemuck::bytes_of(&params),
            buffers: vec![(words(&acc), false)],
            row,
            chunk: Chunk {
                first_step,
                ..chunk(t_n)
            },
            grid: [(n as u32).div_ceil(64), 1, 1],
        };
        let got = d.run(ctx).unwrap();
        let mut ring = cpu::synapse_delay::Ring::new(slots, n);
        ring.sums.copy_from_slice(&acc[staged..]);
        let mut want_staged = acc[..staged].to_vec();
        for t in 0..t_n {
            // row r's sums at slot (r - 1) % BLOCK_STEPS; the run's step
            let r = row as usize + t;
            let slot = if block { (r - 1) % BLOCK_STEPS * n } else { 0 };
            let step = (first_step as u64 + r as u64 - 1) % (1 << 32);
            ring.push(step, delay, &acc[slot..slot + n]);
            want_staged[slot..slot + n].fill(0);
        }
        let want: Vec<i32> = want_staged.into_iter().chain(ring.sums).collect();
        let what = format!("case {case}: {n} posts, {slots} slots, delay {delay}, {t_n} steps");
        assert_same(&what, &ints(&got[0]), &want);
    }
}

/// `synapse_scatter` with per-synapse delays: into a ring of 64 slots (a
/// random one filled), at a step whose slots wrap, `==`
/// `cpu::synapse_delay::scatter_delayed` (each pre neuron's synapses by
/// delay, then post, as it reads them; on two threads).
fn synapse_scatter_with_delays(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1709);
    for case in 0..8 {
        let mut c = ScatterCase::random(&mut rng);
        c.params.ring_mask = 63;
        let mut delays: Vec<u8> = c.post.iter().map(|_| rng.random_range(0..=48)).collect();
        for i in 0..c.n_pre {
            let r = c.ptr[i]..c.ptr[i + 1];
            let mut row: Vec<(u8, u32, i32)> =
                r.clone().map(|k| (delays[k], c.post[k], c.w[k])).collect();
            row.sort_unstable();
            for (k, (d, p, x)) in r.zip(row) {
                (delays[k], c.post[k], c.w[k]) = (d, p, x);
            }
        }
        let packed: Vec<u32> = delays
            .chunks(4)
            .map(|b| b.iter().rev().fold(0u32, |w, &x| w << 8 | x as u32))
            .collect();
        let mut ring = cpu::synapse_delay::Ring::new(64, c.n_post);
        for x in &mut ring.sums {
            *x = rng.random_range(-(1 << 20)..1 << 20);
        }
        let first_step = rng.random_range(0..=u32::MAX);
        let got = c.run(ctx, words(&ring.sums), packed, first_step);
        let synapses = (&c.ptr[..], &c.post[..], &c.w[..], &delays[..]);
        let spikes = &c.rows[c.n_pre.div_ceil(32)..];
        let threads = nacc::threads::Threads::new(2).unwrap();
        let step = first_step as u64;
        cpu::synapse_delay::scatter_delayed(&mut ring, synapses, spikes, step, (0, 48), &threads);
        let what = format!("case {case}: {} -> {}", c.n_pre, c.n_post);
        assert_same(&what, &ints(&got), &ring.sums);
    }
}
