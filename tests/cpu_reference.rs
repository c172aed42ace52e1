//! The CPU engine against hand-worked cases and against a second,
//! deliberately plain implementation of docs/arithmetic.md §2 written here (loops, f64 for
//! the fixed-point conversion, nothing shared with the engine).

// The plain implementation is written as loops over indices on purpose.
#![allow(clippy::needless_range_loop, clippy::assign_op_pattern)]
// The hand-worked membranes are exact dyadic values, written out in full.
#![allow(clippy::excessive_precision)]

mod common;

use common::{Trace, given_input, random_network, randomise_weights, run_stepwise};
use nacc::engine::{Engine, InputSource, cpu::CpuEngine, simulate};
use nacc::network::Model;
use nacc::network::{Network, PopKind, Reset};
use rand::{RngExt, SeedableRng, rngs::StdRng};

// ---------------------------------------------------------------------------
// The plain implementation

/// Largest F in 0..=30 whose worst-case post sum of |round(w * 2^F)| is below
/// 2^31, found by trying every F from the top.
fn plain_frac_bits(w: &[f32], n_pre: usize) -> Option<u32> {
    (0..=30u32).rev().find(|&f| {
        w.chunks(n_pre).all(|row| {
            let s: f64 = row
                .iter()
                .map(|&x| (x as f64 * 2f64.powi(f as i32)).round().abs())
                .sum();
            s < 2147483648.0
        })
    })
}

/// The weights of a projection as an N_post x N_pre matrix, zero where a
/// sparse projection has no synapse.
fn dense_of(model: &Model, p: &nacc::network::Projection, w: &nacc::network::Weights) -> Vec<f32> {
    let (n_pre, n_post) = (
        model.net.populations[p.pre].size,
        model.net.populations[p.post].size,
    );
    match &w.sparse {
        None => w.w.clone(),
        Some(rows) => {
            let mut d = vec![0f32; n_post * n_pre];
            for j in 0..n_post {
                for k in rows.ptr[j]..rows.ptr[j + 1] {
                    d[j * n_pre + rows.pre[k] as usize] = w.w[k];
                }
            }
            d
        }
    }
}

/// docs/arithmetic.md §2, step by step. Returns spikes[t][pop][n] and membranes[t][pop][n].
fn plain_run(model: &Model, input: &[Vec<Vec<u8>>], steps: usize) -> Trace {
    let net = &model.net;
    let npop = net.populations.len();
    let mut v: Vec<Vec<f32>> = net.populations.iter().map(|p| vec![0.0; p.size]).collect();
    let mut prev: Vec<Vec<u8>> = net.populations.iter().map(|p| vec![0; p.size]).collect();
    let fbits: Vec<u32> = net
        .projections
        .iter()
        .zip(&model.weights)
        .map(|(p, w)| plain_frac_bits(&dense_of(model, p, w), net.populations[p.pre].size).unwrap())
        .collect();
    let dense: Vec<Vec<f32>> = net
        .projections
        .iter()
        .zip(&model.weights)
        .map(|(p, w)| dense_of(model, p, w))
        .collect();
    let mut all_s = Vec::new();
    let mut all_v = Vec::new();
    for t in 0..steps {
        let mut s: Vec<Option<Vec<u8>>> = vec![None; npop];
        while s.iter().any(|x| x.is_none()) {
            for p in 0..npop {
                if s[p].is_some() {
                    continue;
                }
                let pop = &net.populations[p];
                let lif = match pop.kind {
                    PopKind::Poisson { .. } => {
                        s[p] = Some(input[p][t].clone());
                        continue;
                    }
                    PopKind::Lif(l) => l,
                    _ => unreachable!("this reference has the lif only"),
                };
                let incoming: Vec<usize> = (0..net.projections.len())
                    .filter(|&j| net.projections[j].post == p)
                    .collect();
                if incoming
                    .iter()
                    .any(|&j| s[net.projections[j].pre].is_none())
                {
                    continue;
                }
                let mut out = vec![0u8; pop.size];
                for n in 0..pop.size {
                    let mut current: Option<f32> = None;
                    for &j in &incoming {
                        let proj = &net.projections[j];
                        let n_pre = net.populations[proj.pre].size;
                        let pre_s = s[proj.pre].as_ref().unwrap();
                        let mut acc: i64 = 0;
                        for i in 0..n_pre {
                            if pre_s[i] == 1 {
                                let w = dense[j][n * n_pre + i];
                                acc += (w as f64 * 2f64.powi(fbits[j] as i32)).round() as i64;
                            }
                        }
                        assert!(acc.abs() < 1 << 31);
                        let cur = (acc as f64 * 2f64.powi(-(fbits[j] as i32))) as f32
                            + model.weights[j].b[n];
                        let term = if proj.sign == 1 { cur } else { -cur };
                        current = Some(match current {
                            None => term,
                            Some(c) => c + term,
                        });
                    }
                    let i_syn = current.unwrap_or(0.0);
                    let reset = prev[p][n] as f32;
                    let mut x = v[p][n];
                    match lif.reset {
                        Reset::Subtract => x = (lif.beta * x + i_syn) - reset * lif.threshold,
                        Reset::Zero => {
                            x = (1.0 - reset) * x;
                            x = lif.beta * x + i_syn;
                        }
                        Reset::None => x = lif.beta * x + i_syn,
                    }
                    if x.abs() < 2f32.powi(-126) {
                        x = 0.0;
                    }
                    v[p][n] = x;
                    out[n] = (x - lif.threshold > 0.0) as u8;
                }
                s[p] = Some(out);
            }
        }
        let s: Vec<Vec<u8>> = s.into_iter().map(|x| x.unwrap()).collect();
        prev = s.clone();
        all_s.push(s);
        all_v.push(
            net.populations
                .iter()
                .enumerate()
                .map(|(p, pop)| {
                    if pop.is_poisson() {
                        Vec::new()
                    } else {
                        v[p].clone()
                    }
                })
                .collect(),
        );
    }
    (all_s, all_v)
}

/// Asserts equality with `==`, naming the first differing step, population
/// and neuron.
fn assert_same(model: &Model, what: &str, got: &Trace, want: &Trace) {
    if let Some(d) = common::first_trace_difference(model, got, want, ["engine", "plain"]) {
        panic!("{what}: {d}");
    }
}

// ---------------------------------------------------------------------------
// Hand-worked cases

fn one_to_one(reset: &str, beta: f32, weight: f32) -> Network {
    Network::from_toml_str(
        &format!(
            r#"
            [[population]]
            name = "in"
            size = 1
            kind = "poisson"
            rate = [1.0, 1.0]
            [[population]]
            name = "out"
            size = 1
            kind = "lif"
            beta = {beta}
            threshold = 1.0
            reset = "{reset}"
            [[projection]]
            name = "w"
            pre = "in"
            post = "out"
            bias = false
            init = "constant"
            weight = {weight}
        "#
        ),
        "test",
    )
    .unwrap()
}

fn run_one_to_one(reset: &str, steps: usize) -> (Vec<u8>, Vec<f32>) {
    run_one_to_one_with(reset, 0.5, 0.625, steps)
}

fn run_one_to_one_with(reset: &str, beta: f32, weight: f32, steps: usize) -> (Vec<u8>, Vec<f32>) {
    let model = Model::build(one_to_one(reset, beta, weight), 0).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    let (s, v) = run_stepwise(&mut e, &model, &InputSource::generated(&model), steps);
    (
        s.iter().map(|x| x[1][0]).collect(),
        v.iter().map(|x| x[1][0]).collect(),
    )
}

// One input neuron with rate 1 (spikes every step) drives one LIF neuron
// through w = 0.625 (exact in binary); beta = 0.5, threshold 1. By hand:
//   v0 = 0.625, v1 = 0.3125 + 0.625 = 0.9375, v2 = 0.46875 + 0.625 = 1.09375 (spike) ...

#[test]
fn hand_worked_subtract_reset() {
    // v3 = 0.546875 + 0.625 - 1 = 0.171875; v4 = 0.0859375 + 0.625 = 0.7109375;
    // v5 = 0.35546875 + 0.625 = 0.98046875; v6 = 0.490234375 + 0.625 = 1.115234375 (spike);
    // v7 = 0.5576171875 + 0.625 - 1 = 0.1826171875
    let (s, v) = run_one_to_one("subtract", 8);
    assert_eq!(s, [0, 0, 1, 0, 0, 0, 1, 0]);
    assert_eq!(
        v,
        [
            0.625,
            0.9375,
            1.09375,
            0.171875,
            0.7109375,
            0.98046875,
            1.115234375,
            0.1826171875
        ]
    );
}

#[test]
fn hand_worked_zero_reset() {
    // After a spike the membrane restarts from 0: period 3.
    let (s, v) = run_one_to_one("zero", 9);
    assert_eq!(s, [0, 0, 1, 0, 0, 1, 0, 0, 1]);
    assert_eq!(
        v,
        [
            0.625, 0.9375, 1.09375, 0.625, 0.9375, 1.09375, 0.625, 0.9375, 1.09375
        ]
    );
}

#[test]
fn hand_worked_no_reset() {
    // v -> 0.625 / (1 - 0.5) = 1.25: above threshold from step 2 on, so it
    // spikes every step: 1.09375, 1.171875, 1.2109375, 1.23046875, ...
    let (s, v) = run_one_to_one("none", 6);
    assert_eq!(s, [0, 0, 1, 1, 1, 1]);
    assert_eq!(v, [0.625, 0.9375, 1.09375, 1.171875, 1.2109375, 1.23046875]);
}

#[test]
fn threshold_is_strict() {
    // beta 1, w 0.5, no reset: v = 0.5, 1.0 (equal to the threshold: no
    // spike, the strict `v - theta > 0`), 1.5 (spike).
    let (s, v) = run_one_to_one_with("none", 1.0, 0.5, 3);
    assert_eq!(v, [0.5, 1.0, 1.5]);
    assert_eq!(s, [0, 0, 1]);
}

#[test]
fn silent_network_stays_silent() {
    let text = nacc::config::DEFAULT_TOML
        .replace("rate = [0.1, 0.5]", "rate = [0.0, 0.0]")
        .replace("bias = true", "bias = false");
    let model = Model::build(Network::from_toml_str(&text, "t").unwrap(), 3).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    let rec = simulate(
        &mut e,
        &model.net,
        &InputSource::generated(&model),
        500,
        64,
        |_| {},
    )
    .unwrap();
    for (pop, r) in model.net.populations.iter().zip(&rec.pops) {
        assert_eq!(r.total(), 0, "population {} spiked", pop.name);
    }
    for v in e.membranes().unwrap() {
        assert!(v.iter().all(|&x| x.to_bits() == 0));
    }
}

#[test]
fn subnormal_membrane_is_stored_as_positive_zero() {
    // One spike at step 0 through w = 2^-20 (exact at F = 30), beta 0.5, no
    // reset: v(k) = 2^-(20+k). v(106) = 2^-126 is the smallest normal f32;
    // v(107) would be the subnormal 2^-127 and must be stored as +0.
    let w = 2f32.powi(-20);
    let model = Model::build(one_to_one("none", 0.5, w), 0).unwrap();
    let mut x = vec![vec![0u8]; 110];
    x[0][0] = 1;
    let input = given_input(&model.net, &[x, Vec::new()]);
    let mut e = CpuEngine::new(&model).unwrap();
    let (_, v) = run_stepwise(&mut e, &model, &input, 110);
    assert_eq!(v[0][1][0], w);
    assert_eq!(v[106][1][0], f32::MIN_POSITIVE);
    for t in 107..110 {
        assert_eq!(v[t][1][0].to_bits(), 0, "step {t}: {:e}", v[t][1][0]);
    }
}

// ---------------------------------------------------------------------------
// Engine vs plain implementation

#[test]
fn engine_equals_plain_implementation_on_random_networks() {
    let mut rng = StdRng::seed_from_u64(2024);
    for case in 0..30 {
        let text = random_network(&mut rng, 80);
        let net = Network::from_toml_str(&text, "random").unwrap();
        let mut model = Model::build(net, case).unwrap();
        randomise_weights(&mut rng, &mut model);
        let steps = 40;
        // Random input for every Poisson population, given as files would be.
        let mut x: Vec<Vec<Vec<u8>>> = vec![Vec::new(); model.net.populations.len()];
        for (p, pop) in model.net.populations.iter().enumerate() {
            if pop.is_poisson() {
                let rate: f64 = rng.random_range(0.0..1.0);
                x[p] = (0..steps)
                    .map(|_| (0..pop.size).map(|_| rng.random_bool(rate) as u8).collect())
                    .collect();
            }
        }
        let input = given_input(&model.net, &x);
        let mut e = CpuEngine::new(&model).unwrap();
        let got = run_stepwise(&mut e, &model, &input, steps);
        let want = plain_run(&model, &x, steps);
        assert_same(&model, &format!("case {case}\n{text}"), &got, &want);
        // every sparse projection gathered by post (from a Poisson
        // population a block at a time, else step by step)
        let mut e = common::gathering_engine(&model, None, 1);
        let got = run_stepwise(&mut e, &model, &input, steps);
        assert_same(
            &model,
            &format!("case {case}, by post\n{text}"),
            &got,
            &want,
        );
    }
}

#[test]
fn engine_equals_plain_implementation_on_the_default_network() {
    let model = Model::build(Network::default_nacc(), 11).unwrap();
    let input = InputSource::generated(&model);
    let steps = 300;
    let mut e = CpuEngine::new(&model).unwrap();
    let got = run_stepwise(&mut e, &model, &input, steps);
    let x: Vec<Vec<Vec<u8>>> = (0..model.net.populations.len())
        .map(|p| (0..steps).map(|t| got.0[t][p].clone()).collect())
        .collect();
    let want = plain_run(&model, &x, steps);
    assert_same(&model, "default network", &got, &want);
    // and the network is alive: every population spikes
    for p in 0..3 {
        assert!(
            got.0
                .iter()
                .map(|s| s[p].iter().map(|&b| b as u32).sum::<u32>())
                .sum::<u32>()
                > 0
        );
    }
}

#[test]
fn thread_count_does_not_change_anything() {
    // fc1 of this network has 1.1 M synapses: its sums are split across threads
    let model = Model::build(Network::default_nacc().scaled(15).unwrap(), 2).unwrap();
    assert!(model.weights[0].w.len() >= nacc::engine::plan::PARALLEL_MIN_SYNAPSES);
    let input = InputSource::generated(&model);
    let run = |threads| {
        let mut e = CpuEngine::with_threads(&model, threads).unwrap();
        let rec = simulate(&mut e, &model.net, &input, 30, 7, |_| {}).unwrap();
        (rec, e.membranes().unwrap())
    };
    let one = run(1);
    assert!(one.0.pops[1].total() > 0);
    for t in [2, 3] {
        let other = run(t);
        assert!(other.0 == one.0, "{t} threads changed the spikes");
        assert!(other.1 == one.1, "{t} threads changed the membranes");
    }
}

#[test]
fn blocked_input_sums_equal_step_by_step_sums() {
    // Dense projections from Poisson populations may sum BLOCK_STEPS steps
    // at once (by default only large ones), and sparse ones may be gathered
    // by post (a block at a time from a Poisson population, else step by
    // step). Forced on every such projection, with chunks that are and are
    // not whole blocks and several thread counts, the run must equal the
    // step-by-step path one step a chunk, which
    // engine_equals_plain_implementation_* check against the plain
    // implementation.
    let sparse = |scale| {
        common::sparse_net("fixed_fan_in = 37", "fixed_probability = 0.2")
            .scaled(scale)
            .unwrap()
    };
    let cases = [
        (Network::default_nacc(), 3),
        (Network::default_nacc(), 8),
        (Network::default_nacc().scaled(15).unwrap(), 2),
        (sparse(1), 4),
        (sparse(12), 5),
        // fc3 (6 000 -> 1 200, 1.4 M synapses) splits its posts across threads
        (sparse(60), 6),
    ];
    for (net, seed) in cases {
        let scale = net.populations[0].size / 100;
        let model = Model::build(net, seed).unwrap();
        let input = InputSource::generated(&model);
        let steps = 70;
        let never = nacc::tuning::CpuOptions {
            block_min_synapses: Some(usize::MAX),
            ..Default::default()
        };
        let single = nacc::threads::Threads::new(1).unwrap();
        let mut plain = CpuEngine::with_options(&model, &never, single).unwrap();
        let want = run_stepwise(&mut plain, &model, &input, steps);
        for (threads, chunk) in [(1, 70), (2, 37), (3, 16), (2, 5)] {
            let mut e = common::gathering_engine(&model, Some(0), threads);
            let mut spikes = Vec::new();
            let mut membranes = Vec::new();
            let mut done = 0;
            while done < steps {
                let n = chunk.min(steps - done);
                let mut buf = nacc::record::ChunkSpikes::new(&model.net, n);
                input.fill(&model.net, done as u64, &mut buf);
                e.run_chunk(&mut buf).unwrap();
                for t in 0..n {
                    spikes.push(
                        model
                            .net
                            .populations
                            .iter()
                            .enumerate()
                            .map(|(p, pop)| {
                                let wps = pop.words_per_step();
                                let mut row = vec![0; pop.size];
                                nacc::record::unpack_row(&buf.bits[p][t * wps..][..wps], &mut row);
                                row
                            })
                            .collect(),
                    );
                }
                // membranes are seen at chunk ends: compare the last step of
                // each chunk, the others stay as the step-by-step run's
                membranes.extend(want.1[done..done + n - 1].iter().cloned());
                membranes.push(e.membranes().unwrap());
                done += n;
            }
            let what = format!(
                "{} x{scale} seed {seed}, {threads} threads, chunks of {chunk}",
                if model.weights[0].sparse.is_some() {
                    "sparse"
                } else {
                    "dense"
                }
            );
            assert_same(&model, &what, &(spikes, membranes), &want);
        }
    }
}
