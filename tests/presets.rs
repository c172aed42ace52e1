//! Each Izhikevich preset's published behaviour, measured on nacc's own
//! output (CPU engine, dt = 1 ms with the default 10 sub-steps, a current
//! step from t = 0). The numbers compared against, and their sources, are
//! in docs/models.md:
//!
//! - MSN (Izhikevich 2007, ch. 8): a saddle-node rheobase, here
//!   I = (k (v_t - v_r) + b)^2 / (4 k) = 306.25 pA from the parameters,
//!   with a long latency to the first spike just above it, and an f-I curve
//!   rising from 0 Hz;
//! - FSI (ch. 8): tonic firing at tens of Hz without adaptation, starting
//!   at a non-zero rate (class 2 excitability);
//! - RS (ch. 8): spike-frequency adaptation;
//! - the Humphries et al. (2009) MSN: D1 activation lowers the response to
//!   weak input and raises it to strong input; D1 raises and D2 lowers the
//!   response to glutamatergic input (NMDA, AMPA).

use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
use nacc::network::{Model, Network};

/// Spike times (ms) of one neuron of `preset` injected with `i_pa` for
/// `ms` ms, with `extra` lines in its population (and after it).
fn spike_times(preset: &str, i_pa: f32, ms: usize, extra: &str) -> Vec<f64> {
    let text = format!(
        "dt_ms = 1.0\n[[population]]\nname = \"n\"\nsize = 1\nkind = \"izhikevich\"\npreset = \"{preset}\"\ni_ext_pa = {i_pa}\n{extra}"
    );
    let net = Network::from_toml_str(&text, "preset").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let model = Model::build(net.clone(), 0).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    let rec = simulate(
        &mut e,
        &net,
        &InputSource::generated(&model),
        ms,
        500,
        |_| {},
    )
    .unwrap();
    (0..ms)
        .filter(|&t| rec.pops[0].spiked(t, 0))
        .map(|t| t as f64)
        .collect()
}

fn rate_hz(spikes: &[f64], ms: usize) -> f64 {
    spikes.len() as f64 * 1000.0 / ms as f64
}

/// (first ISI, last ISI) in ms.
fn isis(spikes: &[f64]) -> (f64, f64) {
    assert!(spikes.len() >= 3, "{spikes:?}");
    let n = spikes.len();
    (spikes[1] - spikes[0], spikes[n - 1] - spikes[n - 2])
}

#[test]
fn msn_is_silent_below_its_rheobase_and_slow_to_fire_just_above() {
    // the saddle-node's current from the preset's parameters
    let (k, v_r, v_t, b) = (1.0f64, -80.0, -25.0, -20.0);
    let rheobase = (k * (v_t - v_r) + b).powi(2) / (4.0 * k);
    assert_eq!(rheobase, 306.25);
    assert!(spike_times("msn", 300.0, 2000, "").is_empty());
    // just above: the first spike comes after more than half a second
    let near = spike_times("msn", 320.0, 2000, "");
    assert!(!near.is_empty() && near[0] > 500.0, "{near:?}");
    // further above: sooner
    let far = spike_times("msn", 600.0, 2000, "");
    assert!(far[0] < 100.0, "{far:?}");
}

#[test]
fn msn_f_i_curve_rises_from_zero() {
    let rates: Vec<f64> = [300.0, 350.0, 400.0, 500.0, 600.0]
        .iter()
        .map(|&i| rate_hz(&spike_times("msn", i, 2000, ""), 2000))
        .collect();
    assert_eq!(rates[0], 0.0);
    assert!(rates.windows(2).all(|w| w[1] > w[0]), "{rates:?}");
    // a few Hz near the rheobase, tens of Hz at twice it
    assert!(rates[1] > 0.0 && rates[1] < 10.0, "{rates:?}");
    assert!(rates[4] > 15.0 && rates[4] < 60.0, "{rates:?}");
}

#[test]
fn fsi_fires_tonically_at_tens_of_hz_without_adaptation() {
    for i in [100.0, 200.0] {
        let s = spike_times("fsi", i, 1000, "");
        assert!(rate_hz(&s, 1000) > 40.0, "{i} pA: {} Hz", rate_hz(&s, 1000));
        let (first, last) = isis(&s);
        assert!(
            (0.85..=1.2).contains(&(last / first)),
            "{i} pA: first ISI {first} ms, last {last} ms"
        );
    }
    // class 2: where it starts firing tonically (after 200 ms), it fires
    // at over 15 Hz (72 pA gives a single spike, 73 pA 21 Hz)
    let tonic = |i: f32| {
        let late: Vec<f64> = spike_times("fsi", i, 1000, "")
            .into_iter()
            .filter(|&t| t >= 200.0)
            .collect();
        rate_hz(&late, 800)
    };
    let onset = (50..120)
        .map(|i| tonic(i as f32))
        .find(|&r| r > 0.0)
        .expect("fires below 120 pA");
    assert!(onset > 15.0, "onset rate {onset} Hz");
}

#[test]
fn rs_adapts() {
    let s = spike_times("rs", 300.0, 1000, "");
    let (first, last) = isis(&s);
    assert!(last >= 1.25 * first, "first ISI {first} ms, last {last} ms");
}

/// d(t) held at `level` from step 0 (a reward at 0 that does not decay).
fn dopamine(receptor: &str, level: f32) -> String {
    format!("dopamine = \"{receptor}\"\n[dopamine]\ntau_ms = 1e12\nrewards = [[0.0, {level}]]\n")
}

#[test]
fn humphries_d1_lowers_weak_and_raises_strong_responses() {
    let rate = |i: f32, extra: &str| rate_hz(&spike_times("msn_humphries", i, 2000, extra), 2000);
    let (weak, strong) = (250.0, 600.0);
    assert!(rate(weak, &dopamine("d1", 1.0)) < rate(weak, ""));
    assert!(rate(strong, &dopamine("d1", 1.0)) > 1.2 * rate(strong, ""));
}

/// One Humphries MSN driven by 200 Poisson afferents through `synapse`,
/// with dopamine `extra`: its rate (Hz).
fn driven_rate(synapse: &str, weight: f32, extra: &str) -> f64 {
    let text = format!(
        "dt_ms = 1.0\n[[population]]\nname = \"ctx\"\nsize = 200\nkind = \"poisson\"\nrate = [0.005, 0.005]\n\
         [[population]]\nname = \"msn\"\nsize = 20\nkind = \"izhikevich\"\npreset = \"msn_humphries\"\n{extra}\
         [[projection]]\nname = \"glu\"\npre = \"ctx\"\npost = \"msn\"\nsynapse = \"{synapse}\"\ninit = \"constant\"\nweight = {weight}\n"
    );
    // the [dopamine] table must come after the projections' arrays of tables
    let text = match text.split_once("[dopamine]") {
        Some((a, b)) => {
            let (table, rest) = b.split_once("[[projection]]").unwrap();
            format!("{a}[[projection]]{rest}[dopamine]{table}")
        }
        None => text,
    };
    let net = Network::from_toml_str(&text, "driven").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let model = Model::build(net.clone(), 5).unwrap();
    let mut e = CpuEngine::new(&model).unwrap();
    let rec = simulate(
        &mut e,
        &net,
        &InputSource::generated(&model),
        2000,
        500,
        |_| {},
    )
    .unwrap();
    rec.pops[1].total() as f64 / 20.0 / 2.0
}

#[test]
fn humphries_dopamine_scales_glutamatergic_input() {
    let ampa = driven_rate("ampa", 0.6, "");
    let nmda = driven_rate("nmda", 0.5, "");
    assert!(ampa > 1.0 && nmda > 0.5, "ampa {ampa} Hz, nmda {nmda} Hz");
    // D2: AMPA x (1 - 0.215 d); D1: NMDA x (1 + 6.3 d)
    assert!(driven_rate("ampa", 0.6, &dopamine("d2", 1.0)) < 0.8 * ampa);
    // (at d = 0.5 the NMDA conductance, x 4.15, holds the membrane near
    // its 0 mV reversal, below v_peak: a depolarisation block)
    let d1 = driven_rate("nmda", 0.5, &dopamine("d1", 0.1));
    assert!(d1 > 1.5 * nmda, "nmda {nmda} Hz, with D1 {d1} Hz");
}
