//! The physical neuron models and synaptic kinetics (docs/arithmetic.md
//! §7-§8), step by step: each case computed a second time here, by a plain
//! f32 loop written from the document (not from the engine's code), and
//! compared with `==` on every recorded sample. The magnesium block's table
//! is rebuilt here from Jahr and Stevens' formula.

mod common;

use common::given_input;
use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
use nacc::network::{Model, Network};
use nacc::record::SpikeRecord;

/// Runs `text` on the CPU engine for `steps` steps in chunks of `chunk`,
/// with `input[t]` the spikes of the one input neuron (population 0).
fn run(text: &str, input: &[u8], chunk: usize) -> (Network, SpikeRecord) {
    let net = Network::from_toml_str(text, "t").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let model = Model::build(net.clone(), 1).unwrap();
    let x: Vec<Vec<Vec<u8>>> = net
        .populations
        .iter()
        .map(|p| match p.is_poisson() {
            true => input.iter().map(|&s| vec![s; p.size]).collect(),
            false => vec![],
        })
        .collect();
    let source = match net.populations.iter().any(|p| p.is_poisson()) {
        true => given_input(&net, &x),
        false => InputSource::generated(&model),
    };
    let mut engine = CpuEngine::new(&model).unwrap();
    let rec = simulate(&mut engine, &net, &source, input.len(), chunk, |_| {}).unwrap();
    (net, rec)
}

/// Recorded variable `k`'s samples of neuron 0 (one neuron recorded).
fn samples(rec: &SpikeRecord, k: usize) -> &[f32] {
    &rec.state[k]
}

fn spike_steps(rec: &SpikeRecord, p: usize) -> Vec<usize> {
    (0..rec.pops[p].steps())
        .filter(|&t| rec.pops[p].spiked(t, 0))
        .collect()
}

/// Asserts two traces are equal bit for bit, naming the first sample that
/// is not.
fn assert_trace(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: samples");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!(
            "{what}: sample {i}: nacc {:e}, by hand {:e}",
            got[i], want[i]
        );
    }
}

const IAF: &str = r#"
dt_ms = 0.5
[[population]]
name = "in"
size = 1
kind = "poisson"
[[population]]
name = "n"
size = 1
kind = "iaf"
tau_m_ms = 12.0
c_pf = 200.0
e_l_mv = -65.0
v_reset_mv = -70.0
v_th_mv = -50.0
t_ref_ms = 1.5
v_init_mv = -60.0
i_ext_pa = 250.0
substeps = 2
[[projection]]
name = "syn"
pre = "in"
post = "n"
SYNAPSE
init = "constant"
weight = WEIGHT
[[record]]
population = "n"
variables = ["v", "refractory"VAR]
"#;

/// The iaf of `IAF` (tau_m 12 ms, C 200 pF, e_l -65, v_reset -70, v_th -50
/// mV, 1.5 ms = 3 steps refractory, v_init -60 mV, 250 pA, 2 sub-steps of
/// 0.25 ms) by hand: per step the synapse's `s[t]`, the current
/// `i(s, v)` at each sub-step's membrane. Returns (v, counter, spikes).
fn iaf_by_hand(s: &[f32], i: impl Fn(f32, f32) -> f32) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
    let h = 0.25f64;
    let decay = (-h / 12.0).exp() as f32;
    let r_gain = ((12.0 / 200.0) * (1.0 - (-h / 12.0).exp())) as f32;
    let (mut v, mut r) = (-60.0f32, 0.0f32);
    let (mut vs, mut rs, mut spikes) = (vec![], vec![], vec![]);
    for (t, &s) in s.iter().enumerate() {
        let held = r > 0.0;
        let mut fired = false;
        for _ in 0..2 {
            if held || fired {
                v = -70.0;
                continue;
            }
            v = ((v - -65.0) * decay + -65.0) + (250.0f32 + i(s, v)) * r_gain;
            if v >= -50.0 {
                fired = true;
                v = -70.0;
            }
        }
        r = if fired {
            3.0
        } else if held {
            r - 1.0
        } else {
            r
        };
        if fired {
            spikes.push(t);
        }
        vs.push(v);
        rs.push(r);
    }
    (vs, rs, spikes)
}

/// §7.1 and §8 with an exponential current: the leak integrated exactly
/// over each of 2 sub-steps, the refractory counter, the synaptic current
/// decaying and jumping at each input spike.
#[test]
fn iaf_with_an_exponential_current_by_hand() {
    let text = IAF
        .replace(
            "SYNAPSE",
            "synapse = \"exp_current\"\ntau_ms = 3.0\nbias = false",
        )
        .replace("WEIGHT", "180.0")
        .replace("VAR", ", \"syn\"");
    let input: Vec<u8> = (0..400)
        .map(|t| (t % 37 == 5 || t % 11 == 0) as u8)
        .collect();
    let (_, rec) = run(&text, &input, 64);
    // by hand: the current decays and jumps
    let ss = conductance(&input, 180.0, 3.0 / 0.5);
    let (vs, rs, spikes) = iaf_by_hand(&ss, |s, _| s);
    assert_trace("v", samples(&rec, 0), &vs);
    assert_trace("refractory", samples(&rec, 1), &rs);
    assert_trace("i_syn", samples(&rec, 2), &ss);
    assert_eq!(spike_steps(&rec, 1), spikes);
    // it fired, and was held for 3 steps after every spike
    assert!(spikes.len() > 5, "{spikes:?}");
    assert!(spikes.windows(2).all(|w| w[1] - w[0] > 3), "{spikes:?}");
}

/// §8.2 with a conductance reversing at -80 mV: it slows the iaf down.
#[test]
fn iaf_with_an_inhibitory_conductance_by_hand() {
    let text = IAF
        .replace(
            "SYNAPSE",
            "synapse = \"exp_conductance\"\ntau_ms = 4.0\ne_rev_mv = -80.0",
        )
        .replace("WEIGHT", "6.0")
        .replace("VAR", ", \"syn\"");
    let input: Vec<u8> = (0..400).map(|t| (t % 3 == 0) as u8).collect();
    let (net, rec) = run(&text, &input, 400);
    // inhibitory by default: a conductance reversing below -40 mV
    assert_eq!(net.projections[0].sign, -1);
    assert!(!net.projections[0].bias);
    let gs = conductance(&input, 6.0, 4.0 / 0.5);
    let (vs, _, _) = iaf_by_hand(&gs, |g, v| g * (-80.0 - v));
    assert_trace("v", samples(&rec, 0), &vs);
    assert_trace("g", samples(&rec, 2), &gs);
}

const IZH: &str = r#"
dt_ms = 1.0
[[population]]
name = "in"
size = 1
kind = "poisson"
[[population]]
name = "n"
size = 1
kind = "izhikevich"
preset = "PRESET"
i_ext_pa = IEXT
substeps = 4
[[projection]]
name = "syn"
pre = "in"
post = "n"
SYNAPSE
[[record]]
population = "n"
variables = ["v", "u", "syn"]
"#;

/// Izhikevich's book, forward Euler over 4 sub-steps of 0.25 ms: C, k,
/// v_r, v_t, v_peak, a, b, c, d of a preset (the values of docs/models.md,
/// written again here), u from the sub-step's old v.
#[allow(clippy::too_many_arguments)]
fn izhikevich_by_hand(
    (c, k, v_r, v_t, v_peak): (f64, f32, f32, f32, f32),
    (a, b, reset, d): (f64, f32, f32, f32),
    cubic: Option<f32>,
    i_ext: f32,
    g_of: impl Fn(usize) -> f32,
    current: impl Fn(f32, f32) -> f32,
    steps: usize,
) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
    let h = 0.25f64;
    let (h_over_c, h_a) = ((h / c) as f32, (h * a) as f32);
    let (mut v, mut u) = (v_r, 0.0f32);
    let (mut vs, mut us, mut spikes) = (vec![], vec![], vec![]);
    for t in 0..steps {
        let g = g_of(t);
        let mut fired = false;
        for _ in 0..4 {
            let i = i_ext + current(g, v);
            let dv = ((k * (v - v_r)) * (v - v_t) - u) + i;
            let target = match cubic {
                None => b * (v - v_r),
                Some(vb) if v < vb => 0.0,
                Some(vb) => b * (((v - vb) * (v - vb)) * (v - vb)),
            };
            let u_new = u + h_a * (target - u);
            v += dv * h_over_c;
            u = u_new;
            if v >= v_peak {
                fired = true;
                v = reset;
                u += d;
            }
        }
        if fired {
            spikes.push(t);
        }
        vs.push(v);
        us.push(u);
    }
    (vs, us, spikes)
}

/// An exponential synapse's state at each step: decay, then the weight of
/// a spike arriving; `tau` in steps (dt / tau is what the decay needs).
fn conductance(input: &[u8], w: f32, tau_steps: f64) -> Vec<f32> {
    let decay = (-1.0f64 / tau_steps).exp() as f32;
    let mut g = 0.0f32;
    input
        .iter()
        .map(|&x| {
            g = g * decay + if x == 1 { w } else { 0.0 };
            g
        })
        .collect()
}

/// The MSN preset (C 50, k 1, v_r -80, v_t -25, v_peak 40, a 0.01, b -20,
/// c -55, d 150) driven by AMPA (tau 6 ms, E 0 mV).
#[test]
fn izhikevich_msn_with_ampa_by_hand() {
    let text = IZH
        .replace("PRESET", "msn")
        .replace("IEXT", "200.0")
        .replace(
            "SYNAPSE",
            "synapse = \"ampa\"\ninit = \"constant\"\nweight = 2.5",
        );
    let input: Vec<u8> = (0..600).map(|t| (t % 4 == 0 || t % 7 == 0) as u8).collect();
    let (_, rec) = run(&text, &input, 100);
    let g = conductance(&input, 2.5, 6.0);
    let (vs, us, spikes) = izhikevich_by_hand(
        (50.0, 1.0, -80.0, -25.0, 40.0),
        (0.01, -20.0, -55.0, 150.0),
        None,
        200.0,
        |t| g[t],
        |g, v| g * (0.0 - v),
        input.len(),
    );
    assert_trace("v", samples(&rec, 0), &vs);
    assert_trace("u", samples(&rec, 1), &us);
    assert_trace("g", samples(&rec, 2), &g);
    assert_eq!(spike_steps(&rec, 1), spikes);
    assert!(spikes.len() >= 3, "{spikes:?}");
}

/// The fast-spiking interneuron (C 20, k 1, v_r -55, v_t -40, v_peak 25,
/// a 0.2, b 0.025 with the cubic u-nullcline above v_b = -55, c -45, d 0)
/// with an exponential current of 2 ms.
#[test]
fn izhikevich_fsi_with_an_exponential_current_by_hand() {
    let text = IZH
        .replace("PRESET", "fsi")
        .replace("IEXT", "60.0")
        .replace(
            "SYNAPSE",
            "synapse = \"exp_current\"\ntau_ms = 2.0\ninit = \"constant\"\nweight = 40.0\nbias = false",
        );
    let input: Vec<u8> = (0..500).map(|t| (t % 9 < 3) as u8).collect();
    let (_, rec) = run(&text, &input, 500);
    let s = conductance(&input, 40.0, 2.0);
    let (vs, us, spikes) = izhikevich_by_hand(
        (20.0, 1.0, -55.0, -40.0, 25.0),
        (0.2, 0.025, -45.0, 0.0),
        Some(-55.0),
        60.0,
        |t| s[t],
        |s, _| s,
        input.len(),
    );
    assert_trace("v", samples(&rec, 0), &vs);
    assert_trace("u", samples(&rec, 1), &us);
    assert_trace("i", samples(&rec, 2), &s);
    assert!(spikes.len() >= 10, "{spikes:?}");
}

/// Jahr and Stevens' B(v) = 1 / (1 + [Mg]/3.57 exp(-0.062 v)) in a table
/// from -128 to 64 mV every 1/8 mV, interpolated linearly (§8.3).
fn mg_block(mg: f64, v: f32) -> f32 {
    let entry = |i: usize| {
        let x = -128.0 + i as f64 / 8.0;
        (1.0 / (1.0 + mg / 3.57 * (-0.062 * x).exp())) as f32
    };
    let x = ((v - -128.0) * 8.0).clamp(0.0, 1536.0);
    let i = (x.floor() as usize).min(1535);
    let f = x - i as f32;
    entry(i) + (entry(i + 1) - entry(i)) * f
}

/// The RS cell (C 100, k 0.7, v_r -60, v_t -40, v_peak 35, a 0.03, b -2,
/// c -50, d 100) driven by NMDA (tau 160 ms, E 0 mV, 1.2 mM magnesium).
#[test]
fn izhikevich_rs_with_nmda_by_hand() {
    let text = IZH.replace("PRESET", "rs").replace("IEXT", "40.0").replace(
        "SYNAPSE",
        "synapse = \"nmda\"\nmg_mm = 1.2\ninit = \"constant\"\nweight = 0.3",
    );
    let input: Vec<u8> = (0..800).map(|t| (t % 5 == 0) as u8).collect();
    let (_, rec) = run(&text, &input, 33);
    let g = conductance(&input, 0.3, 160.0);
    let (vs, us, spikes) = izhikevich_by_hand(
        (100.0, 0.7, -60.0, -40.0, 35.0),
        (0.03, -2.0, -50.0, 100.0),
        None,
        40.0,
        |t| g[t],
        // [Mg] as the file gives it, an f32
        |g, v| g * ((0.0 - v) * mg_block(1.2f32 as f64, v)),
        input.len(),
    );
    assert_trace("v", samples(&rec, 0), &vs);
    assert_trace("u", samples(&rec, 1), &us);
    assert!(spikes.len() >= 3, "{spikes:?}");
}

/// Sampled every 3 steps (steps 0, 3, 6, ...), a list of neurons in the
/// order given: the samples are the every-step trace's rows and columns.
#[test]
fn records_sample_every_nth_step_and_the_neurons_named() {
    let base = r#"
dt_ms = 0.5
[[population]]
name = "in"
size = 40
kind = "poisson"
rate = [0.05, 0.2]
[[population]]
name = "n"
size = 10
kind = "izhikevich"
preset = "rs"
[[projection]]
name = "syn"
pre = "in"
post = "n"
synapse = "ampa"
init = "uniform"
low = 0.0
high = 2.0
"#;
    let all = format!("{base}[[record]]\npopulation = \"n\"\nvariables = [\"v\", \"syn\"]\n");
    let some = format!(
        "{base}[[record]]\npopulation = \"n\"\nneurons = [7, 2, 9]\nvariables = [\"syn\", \"v\"]\nevery_ms = 1.5\n"
    );
    let steps = 101;
    let net = |t: &str| Network::from_toml_str(t, "t").unwrap();
    let go = |net: Network, chunk| {
        let model = Model::build(net.clone(), 4).unwrap();
        let mut e = CpuEngine::new(&model).unwrap();
        simulate(
            &mut e,
            &net,
            &InputSource::generated(&model),
            steps,
            chunk,
            |_| {},
        )
        .unwrap()
    };
    let full = go(net(&all), 101);
    for chunk in [1, 4, 101] {
        let part = go(net(&some), chunk);
        assert_eq!(part.state[0].len(), 34 * 3, "chunk {chunk}");
        for (k, var) in [(0, 1), (1, 0)] {
            for s in 0..34 {
                for (c, n) in [7, 2, 9].into_iter().enumerate() {
                    let want = full.state[var][3 * s * 10 + n];
                    assert_eq!(
                        part.state[k][s * 3 + c].to_bits(),
                        want.to_bits(),
                        "chunk {chunk}"
                    );
                }
            }
        }
        assert_eq!(part.pops, full.pops, "recording changes no spike");
    }
}
