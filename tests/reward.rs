//! Reward (issue 7) on the CPU reference: dopamine, D1/D2 gain and
//! three-factor plasticity against hand-worked cases, weight bounds under
//! random parameters, and the learning effect of the shipped experiment
//! over several seeds. (GPU == CPU: tests/gpu/.)

mod common;

use common::{given_input, random_reward_network};
use nacc::dopamine::dopamine_trace;
use nacc::engine::{Engine, InputSource, cpu::CpuEngine, simulate};
use nacc::network::Model;
use nacc::network::Network;
use nacc::record::ChunkSpikes;
use nacc::responses::{preferences, responses};
use rand::{SeedableRng, rngs::StdRng};

/// tau such that exp(-dt / tau) is exactly 0.5 in f32 at dt = 1 ms.
const TAU_HALF: f64 = 1.0 / std::f64::consts::LN_2;

/// One plastic synapse pre -> post, and a driver that makes post fire at
/// the steps it is given: pre spikes at steps 1 and 4, post at step 3, a
/// reward of 1 at step 3. Every decay is 1/2.
fn two_neurons() -> (Model, InputSource) {
    let text = format!(
        r#"
        [[population]]
        name = "pre"
        size = 1
        kind = "poisson"
        [[population]]
        name = "drive"
        size = 1
        kind = "poisson"
        [[population]]
        name = "post"
        size = 1
        kind = "lif"
        beta = 0.0          # v = I: the membrane is this step's current
        threshold = 1.0
        reset = "zero"
        [[projection]]
        name = "w"
        pre = "pre"
        post = "post"
        bias = false
        init = "constant"
        weight = 0.25
        [projection.plasticity]
        tau_pre_ms = {TAU_HALF}
        tau_post_ms = {TAU_HALF}
        tau_c_ms = {TAU_HALF}
        a_plus = 1.0
        a_minus = 0.5
        learning_rate = 0.0009765625    # 2^-10
        w_min = 0.0
        w_max = 1.0
        [[projection]]
        name = "drive_post"
        pre = "drive"
        post = "post"
        bias = false
        init = "constant"
        weight = 2.0
        [dopamine]
        tau_ms = {TAU_HALF}
        rewards = [[3.0, 1.0]]
        "#
    );
    let net = Network::from_toml_str(&text, "two neurons").unwrap();
    let model = Model::build(net, 0).unwrap();
    let steps = 8;
    let train = |at: &[usize]| -> Vec<Vec<u8>> {
        (0..steps).map(|t| vec![at.contains(&t) as u8]).collect()
    };
    let input = given_input(&model.net, &[train(&[1, 4]), train(&[3]), vec![]]);
    (model, input)
}

#[test]
fn two_neuron_case_worked_by_hand() {
    let (model, input) = two_neurons();
    let q = model.quantize().unwrap();
    // F from [w_min, w_max] = [0, 1] over one pre neuron: 29 (a bound
    // may be 2^29 at most), so 0.25 is 2^27
    assert_eq!(q[0].frac_bits, 29);
    assert_eq!(q[0].bounds, Some([0, 1 << 29]));
    assert_eq!(q[0].wq, vec![1 << 27]);
    // d(t): 0, 0, 0, 1 (the reward), then halving
    let d = dopamine_trace(&model.net, 8);
    assert_eq!(d, vec![0.0, 0.0, 0.0, 1.0, 0.5, 0.25, 0.125, 0.0625]);

    // By hand, with x the pre trace and y the post trace as stored after
    // the previous step, c the eligibility, eta(t) = (2^-10 d(t)) 2^29:
    // t=0: nothing spikes.                                  w = 2^27
    // t=1: pre spikes: c = 0 - 0.5 y = 0; then x = 1.        w = 2^27
    // t=2: c = 0; x = 0.5.                                   w = 2^27
    // t=3: post spikes (driven): c = 0 + 1 x = 0.5; d = 1,
    //      eta = 2^19, dw = 2^18; then x = 0.25, y = 1.      w = 2^27 + 2^18
    // t=4: pre spikes: c = 0.5/2 - 0.5 y = -0.25; d = 1/2,
    //      eta = 2^18, dw = -2^16; x = 1.125, y = 0.5.       w - 2^16
    // t=5: c = -0.125, eta = 2^17, dw = -2^14.               w - 2^14
    // t=6: c = -0.0625, eta = 2^16, dw = -2^12.              w - 2^12
    // t=7: c = -0.03125, eta = 2^15, dw = -2^10.             w - 2^10
    let base = 1i32 << 27;
    let up = base + (1 << 18);
    let expected = [
        base,
        base,
        base,
        up,
        up - (1 << 16),
        up - (1 << 16) - (1 << 14),
        up - (1 << 16) - (1 << 14) - (1 << 12),
        up - (1 << 16) - (1 << 14) - (1 << 12) - (1 << 10),
    ];
    let mut e = CpuEngine::new(&model).unwrap();
    let mut buf = ChunkSpikes::new(&model.net, 1);
    for (t, &w) in expected.iter().enumerate() {
        input.fill(&model.net, t as u64, &mut buf);
        e.run_chunk(&mut buf).unwrap();
        assert_eq!(
            buf.bits[2][0],
            (t == 3) as u32,
            "post spikes only at step 3 (step {t})"
        );
        let learned = e.plastic_weights().unwrap();
        assert_eq!(
            learned[0].as_deref(),
            Some(&[w][..]),
            "weight after step {t}"
        );
        assert_eq!(learned[1], None, "drive_post is not plastic");
    }
    // the membrane at t = 7 is the current: the learned weight (pre silent) = 0
    assert_eq!(e.membranes().unwrap()[2], vec![0.0]);
}

#[test]
fn a_pre_spike_after_the_learned_change_sees_the_new_weight() {
    // at t = 4 the pre neuron's input to post is the weight after step 3
    let (model, input) = two_neurons();
    let mut e = CpuEngine::new(&model).unwrap();
    let mut buf = ChunkSpikes::new(&model.net, 5);
    input.fill(&model.net, 0, &mut buf);
    e.run_chunk(&mut buf).unwrap();
    let w3 = ((1i64 << 27) + (1 << 18)) as f64 / (1u64 << 29) as f64;
    assert_eq!(e.membranes().unwrap()[2], vec![w3 as f32]);
}

#[test]
fn dopamine_gain_scales_excitatory_input_of_d1_and_d2() {
    // input always spikes; threshold 100: nobody fires; beta 0: v = I
    let text = format!(
        r#"
        [[population]]
        name = "input"
        size = 1
        kind = "poisson"
        rate = [1.0, 1.0]
        [[population]]
        name = "d1"
        size = 1
        kind = "lif"
        beta = 0.0
        threshold = 100.0
        dopamine = "d1"
        da_gain = 0.5
        [[population]]
        name = "d2"
        size = 1
        kind = "lif"
        beta = 0.0
        threshold = 100.0
        dopamine = "d2"
        da_gain = 0.5
        [[projection]]
        name = "exc1"
        pre = "input"
        post = "d1"
        bias = false
        init = "constant"
        weight = 0.5
        [[projection]]
        name = "inh1"
        pre = "input"
        post = "d1"
        sign = -1
        bias = false
        init = "constant"
        weight = 0.25
        [[projection]]
        name = "exc2"
        pre = "input"
        post = "d2"
        bias = false
        init = "constant"
        weight = 0.5
        [dopamine]
        tau_ms = {TAU_HALF}
        rewards = [[2.0, 1.0], [5.0, 4.0]]
        "#
    );
    let model = Model::build(Network::from_toml_str(&text, "gain").unwrap(), 0).unwrap();
    let input = InputSource::generated(&model);
    let mut e = CpuEngine::new(&model).unwrap();
    let mut buf = ChunkSpikes::new(&model.net, 1);
    // d = 0, 0, 1, 1/2, 1/4, 4 + 1/8
    // D1: 0.5 (1 + d/2) - 0.25 (the inhibitory term is not scaled);
    // D2: 0.5 max(0, 1 - d/2), which is 0 once d > 2
    let want = [
        (0.25, 0.5),
        (0.25, 0.5),
        (0.5, 0.25),
        (0.375, 0.375),
        (0.3125, 0.4375),
        (0.5 * (1.0 + 0.5 * 4.125) - 0.25, 0.0),
    ];
    for (t, &(v1, v2)) in want.iter().enumerate() {
        input.fill(&model.net, t as u64, &mut buf);
        e.run_chunk(&mut buf).unwrap();
        let v = e.membranes().unwrap();
        assert_eq!((v[1][0], v[2][0]), (v1, v2), "step {t}");
    }
}

#[test]
fn rewards_follow_the_rule_and_the_explicit_times() {
    let net = Network::from_toml_str(
        &format!(
            r#"
            [[population]]
            name = "input"
            size = 10
            kind = "poisson"
            [[population]]
            name = "out"
            size = 1
            kind = "lif"
            [[projection]]
            name = "w"
            pre = "input"
            post = "out"
            [stimulus]
            population = "input"
            trial_ms = 10.0
            present_ms = 4.0
            sequence = ["A", "B", "B"]
            [[stimulus.pattern]]
            name = "A"
            neurons = [0, 5]
            rate = 1.0
            [[stimulus.pattern]]
            name = "B"
            neurons = [5, 10]
            rate = 0.0
            [dopamine]
            tau_ms = {TAU_HALF}
            rewards = [[3.0, 0.25]]
            [[dopamine.rule]]
            pattern = "A"
            delay_ms = 2.0
            amount = 1.0
            "#
        ),
        "rule",
    )
    .unwrap();
    let st = net.stimulus.as_ref().unwrap();
    // A at 0..4, B at 10..14 and 20..24, A again at 30..34
    let shown: Vec<Option<usize>> = (0..35).map(|t| st.pattern_at(t)).collect();
    for t in 0..35u64 {
        let want = match (t / 10, t % 10) {
            (k, w) if w < 4 => Some(if k % 3 == 0 { 0 } else { 1 }),
            _ => None,
        };
        assert_eq!(shown[t as usize], want, "step {t}");
    }
    // rewards: 1 at 2 and 32 (A's onsets + 2), 0.25 at 3
    let d = dopamine_trace(&net, 35);
    assert_eq!(&d[..6], &[0.0, 0.0, 1.0, 0.75, 0.375, 0.1875]);
    assert_eq!(d[32], 1.0 + d[31] * 0.5);
    assert!(d[31] < 1e-7 && d[31] > 0.0);
    // a tonic level adds to every step's phasic level, one f32 addition
    let mut tonic = net.clone();
    tonic.dopamine.as_mut().unwrap().tonic = 0.3;
    let dt = dopamine_trace(&tonic, 35);
    for t in 0..35 {
        assert_eq!(dt[t].to_bits(), (d[t] + 0.3f32).to_bits(), "step {t}");
    }
    assert_eq!(dt[0], 0.3);

    // the patterns set the rates while shown: A's neurons always spike,
    // B's never, outside the patterns the drawn rates apply
    let model = Model::build(net, 1).unwrap();
    let input = InputSource::generated(&model);
    let mut buf = ChunkSpikes::new(&model.net, 35);
    input.fill(&model.net, 0, &mut buf);
    let mut b_outside = 0;
    for (t, (&word, pat)) in buf.bits[0].iter().zip(&shown).enumerate() {
        match pat {
            Some(0) => assert_eq!(word & 0x1f, 0x1f, "step {t}"),
            Some(_) => assert_eq!(word & 0x3e0, 0, "step {t}"),
            None => b_outside += (word & 0x3e0).count_ones(),
        }
    }
    // B's neurons are silent only while B is shown (rates 0.1..0.5 else)
    assert!(b_outside > 10, "{b_outside}");
    // and a chunk that starts mid-way draws the same spikes
    let mut late = ChunkSpikes::new(&model.net, 20);
    input.fill(&model.net, 15, &mut late);
    assert_eq!(&late.bits[0][..], &buf.bits[0][15..35]);
}

#[test]
fn plastic_weights_never_leave_their_bounds() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut at_bound = 0;
    for case in 0..12u64 {
        let text = random_reward_network(&mut rng);
        let net = Network::from_toml_str(&text, "random").unwrap();
        let model = Model::build(net, case).unwrap();
        let q = model.quantize().unwrap();
        let mut e = CpuEngine::new(&model).unwrap();
        let input = InputSource::generated(&model);
        for chunk in 0..6 {
            simulate(&mut e, &model.net, &input, 100, 100, |_| {}).unwrap();
            for (j, w) in e.plastic_weights().unwrap().iter().enumerate() {
                let Some(w) = w else { continue };
                let [lo, hi] = q[j].bounds.unwrap();
                let pl = model.net.projections[j].plasticity.unwrap();
                for &x in w {
                    assert!(
                        (lo..=hi).contains(&x),
                        "case {case} chunk {chunk}: weight {x} outside [{lo}, {hi}]\n{text}"
                    );
                    at_bound += (x == lo || x == hi) as usize;
                }
                let lin = q[j].to_linear(w);
                assert!(lin.iter().all(|&x| pl.w_min <= x && x <= pl.w_max));
            }
        }
    }
    // the clamps were reached, so the test says something about them
    assert!(at_bound > 0, "no weight reached a bound");
}

/// The experiment of `assets/reward_learning.toml` on `seed`: whether D1
/// came to prefer the rewarded pattern, and by how much the preference
/// grew (Hz).
fn experiment(text: &str, seed: u64) -> (bool, f64) {
    let net = Network::from_toml_str(text, "reward_learning.toml").unwrap();
    let steps = net.steps.unwrap() as usize;
    let model = Model::build(net, seed).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    let record = simulate(
        &mut e,
        &model.net,
        &InputSource::generated(&model),
        steps,
        5000,
        |_| {},
    )
    .unwrap();
    let rows = responses(&model.net, &record.pops);
    assert_eq!(rows.len(), 100, "100 trials");
    let p = preferences(&model.net, &rows);
    assert_eq!(p.len(), 1, "one D1 population");
    let p = &p[0];
    let growth = (p.late_rewarded_hz - p.late_other_hz) - (p.early_rewarded_hz - p.early_other_hz);
    (p.prefers_rewarded, growth)
}

/// The learning effect, stated over seeds: with the reward after A, D1
/// comes to prefer A in at least 5 of 6 seeds and its preference grows by
/// more than 10 Hz on average (measured on seeds 1-8: 8 of 8, 14-24 Hz); with the reward
/// moved to B, the same holds for B, so the effect follows the reward and
/// not the pattern.
#[test]
fn the_experiment_learns_to_prefer_the_rewarded_pattern() {
    const TEXT: &str = include_str!("../assets/reward_learning.toml");
    let swapped = TEXT.replace("pattern = \"A\"\ndelay_ms", "pattern = \"B\"\ndelay_ms");
    assert_ne!(swapped, TEXT);
    for (text, rewarded) in [(TEXT, "A"), (swapped.as_str(), "B")] {
        let runs: Vec<(bool, f64)> = (1..=6).map(|s| experiment(text, s)).collect();
        let prefer = runs.iter().filter(|r| r.0).count();
        let growth = runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64;
        assert!(
            prefer >= 5 && growth > 10.0,
            "reward after {rewarded}: D1 preferred it in {prefer} of 6 seeds, mean growth {growth:.1} Hz: {runs:?}"
        );
    }
}

#[test]
fn without_reward_no_weight_changes() {
    // the control: the same experiment with the reward amount 0
    const TEXT: &str = include_str!("../assets/reward_learning.toml");
    let text = TEXT.replace("amount = 1.0", "amount = 0.0");
    assert_ne!(text, TEXT);
    let net = Network::from_toml_str(&text, "no reward").unwrap();
    let model = Model::build(net, 1).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    simulate(
        &mut e,
        &model.net,
        &InputSource::generated(&model),
        5000,
        5000,
        |_| {},
    )
    .unwrap();
    let q = model.quantize().unwrap();
    let learned = e.plastic_weights().unwrap();
    // d(t) = 0 at every step: eta = 0, no weight moves
    assert_eq!(learned[3].as_ref().unwrap(), &q[3].wq);
}

/// The largest change a step allows (2^30 in fixed point) added to a
/// weight at its upper bound must leave it there: no i32 overflow.
#[test]
fn a_weight_at_its_bound_stays_there_under_the_largest_change() {
    for (weight, rate, want_max) in [("1.0", "1000.0", true), ("0.0", "-1000.0", false)] {
        let text = r#"
            [[population]]
            name = "pre"
            size = 1
            kind = "poisson"
            rate = [1.0, 1.0]
            [[population]]
            name = "post"
            size = 1
            kind = "lif"
            beta = 0.0
            threshold = 0.5
            reset = "none"
            [[projection]]
            name = "w"
            pre = "pre"
            post = "post"
            bias = false
            init = "constant"
            weight = WEIGHT
            [projection.plasticity]
            tau_pre_ms = 10.0
            tau_post_ms = 10.0
            tau_c_ms = 10.0
            a_plus = 1.0
            a_minus = 0.0
            learning_rate = RATE
            w_min = 0.0
            w_max = 1.0
            [[projection]]
            name = "drive"
            pre = "pre"
            post = "post"
            bias = false
            init = "constant"
            weight = 1.0
            [dopamine]
            tau_ms = 1000.0
            rewards = [[0.0, 1000.0]]
        "#
        .replace("WEIGHT", weight)
        .replace("RATE", rate);
        let model = Model::build(Network::from_toml_str(&text, "bound").unwrap(), 0).unwrap();
        let [lo, hi] = model.quantize().unwrap()[0].bounds.unwrap();
        let mut e = CpuEngine::new(&model).unwrap();
        // pre and post spike every step: the eligibility grows, dopamine is
        // high, every step asks for the largest change
        simulate(
            &mut e,
            &model.net,
            &InputSource::generated(&model),
            20,
            20,
            |_| {},
        )
        .unwrap();
        let w = e.plastic_weights().unwrap()[0].clone().unwrap();
        assert_eq!(
            w,
            vec![if want_max { hi } else { lo }],
            "weight {weight}, rate {rate}"
        );
    }
}
