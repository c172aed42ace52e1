//! Reward: stimulus patterns, dopamine, D1/D2 gain and three-factor
//! plasticity. docs/reward.md and docs/arithmetic.md §4 have the
//! equations; this module holds their validated parameters, the host side
//! of every step (the schedule, d(t), gains and learning factors, which are
//! the same numbers for every engine), the CPU twin of `plasticity.wgsl`,
//! and the analysis of a run (responses per presentation, preference).
//!
//! Discrete time, step t = 0, 1, ...; every f32 operation rounds once, in
//! the order written (no fused multiply-add, as in docs/arithmetic.md §2):
//!
//! - dopamine: `d(t) = d(t-1) * decay_d + R(t)`, `d(-1) = 0`,
//!   `decay_d = f32(exp(-dt / tau_d))`, `R(t)` the rewards of step t summed
//!   in config order (explicit rewards, then rules).
//! - gain of the excitatory projections onto a D1 population:
//!   `g(t) = 1 + k * d(t)`; onto D2: `g(t) = max(0, 1 - k * d(t))`; the
//!   projection's current is `cur = (nearest(acc 2^-F) + b) * g(t)`.
//! - plasticity of a projection pre -> post (after every population of
//!   step t is updated; x, y, c as stored after step t-1):
//!   `c = c * decay_c`; if post j spiked at t: `c = c + a_plus * x_i`;
//!   if pre i spiked at t: `c = c - a_minus * y_j`;
//!   `dw = clamp(eta(t) * c, -2^30, 2^30)` with
//!   `eta(t) = (learning_rate * d(t)) * 2^F`;
//!   `wq = clamp(wq + trunc(dw), wq_min, wq_max)`; then the traces
//!   `x_i = x_i * decay_pre + s_i(t)`, `y_j = y_j * decay_post + s_j(t)`.
//!   Stored traces and eligibilities below 2^-64 in magnitude become +0,
//!   and so do the per-step factors (gains, eta) and the decays below
//!   2^-40: then no operand is subnormal and no product either, so a GPU
//!   that flushes subnormals computes the same numbers as the CPU.

use crate::config::Network;
use crate::error::{Error, Result, bad_value};
use crate::network::{Quantized, pow2};
use crate::record::PopRecord;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Stored traces and eligibilities below this magnitude become +0.
pub const TRACE_FLOOR: f32 = 5.421_011e-20; // 2^-64
/// Per-step factors and decays below this magnitude become +0.
pub const FACTOR_FLOOR: f32 = 9.094_947e-13; // 2^-40
/// The most one step may change a fixed-point weight.
pub const MAX_STEP_CHANGE: f32 = 1_073_741_824.0; // 2^30
/// Largest |amplitude|, |learning rate|, |reward| and gain accepted.
use crate::checks::{MAX_PARAM, check_param};

#[inline]
pub fn flush_below(x: f32, floor: f32) -> f32 {
    if x.abs() < floor { 0.0 } else { x }
}

/// `f32(exp(-dt / tau))`, +0 below [`FACTOR_FLOOR`].
pub fn decay(dt_ms: f64, tau_ms: f64) -> f32 {
    flush_below((-dt_ms / tau_ms).exp() as f32, FACTOR_FLOOR)
}

// ---------------------------------------------------------------------------
// Parameters (validated)

/// Which way dopamine turns the gain of a population's excitatory input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receptor {
    /// `g = 1 + k d`
    D1,
    /// `g = max(0, 1 - k d)`
    D2,
}

/// Dopamine modulation of a LIF population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modulation {
    pub receptor: Receptor,
    /// k of the gain equation.
    pub gain: f32,
}

/// Three-factor plasticity of a dense projection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plasticity {
    pub tau_pre_ms: f64,
    pub tau_post_ms: f64,
    /// Eligibility time constant.
    pub tau_c_ms: f64,
    pub a_plus: f32,
    pub a_minus: f32,
    /// Any sign: a negative rate depresses where dopamine meets positive
    /// eligibility (a D2-like rule).
    pub learning_rate: f32,
    pub w_min: f32,
    pub w_max: f32,
}

/// One input pattern: neurons of the stimulated population that fire at
/// `rate` while the pattern is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub name: String,
    pub neurons: Range<usize>,
    pub rate: f32,
}

/// Patterns shown in turn: presentation k starts at step `k * trial_steps`,
/// shows `patterns[sequence[k % len]]` for `present_steps` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Stimulus {
    pub population: usize,
    pub trial_ms: f64,
    pub present_ms: f64,
    pub trial_steps: u64,
    pub present_steps: u64,
    pub sequence: Vec<usize>,
    pub patterns: Vec<Pattern>,
}

impl Stimulus {
    /// The pattern shown at `step`, if any.
    pub fn pattern_at(&self, step: u64) -> Option<usize> {
        let k = step / self.trial_steps;
        (step % self.trial_steps < self.present_steps)
            .then(|| self.sequence[(k % self.sequence.len() as u64) as usize])
    }

    /// The pattern of presentation `k`.
    pub fn pattern_of(&self, k: u64) -> usize {
        self.sequence[(k % self.sequence.len() as u64) as usize]
    }
}

/// A reward `amount` `delay_steps` after the onset of every presentation
/// of `pattern`.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardRule {
    pub pattern: usize,
    pub delay_ms: f64,
    pub delay_steps: u64,
    pub amount: f32,
}

/// The dopamine level and what raises it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dopamine {
    pub tau_ms: f64,
    /// Explicit rewards: (time in ms, step, amount), in config order.
    pub rewards: Vec<(f64, u64, f32)>,
    pub rules: Vec<RewardRule>,
}

impl Dopamine {
    /// R(t): the rewards of `step`, summed in config order.
    pub fn reward_at(&self, step: u64, stim: Option<&Stimulus>) -> f32 {
        let mut r = 0.0f32;
        for &(_, s, a) in &self.rewards {
            if s == step {
                r += a;
            }
        }
        if let Some(st) = stim {
            for rule in &self.rules {
                let Some(onset) = step.checked_sub(rule.delay_steps) else {
                    continue;
                };
                if onset % st.trial_steps == 0
                    && st.pattern_of(onset / st.trial_steps) == rule.pattern
                {
                    r += rule.amount;
                }
            }
        }
        r
    }
}

// ---------------------------------------------------------------------------
// Raw TOML form

/// `[stimulus]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStimulus {
    pub population: String,
    pub trial_ms: f64,
    pub present_ms: f64,
    pub sequence: Vec<String>,
    #[serde(rename = "pattern")]
    pub patterns: Vec<RawPattern>,
}

/// A pair `[a, b]`: a list of any other length is an error (a fixed-size
/// array alone would drop a third value without a word).
fn exactly_two<'de, D, T>(d: D) -> std::result::Result<[T; 2], D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v: Vec<T> = Vec::deserialize(d)?;
    let n = v.len();
    <[T; 2]>::try_from(v)
        .map_err(|_| serde::de::Error::custom(format!("expected a pair [a, b], found {n} values")))
}

/// A list of pairs, each as [`exactly_two`].
fn pairs<'de, D>(d: D) -> std::result::Result<Vec<[f64; 2]>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v: Vec<Vec<f64>> = Vec::deserialize(d)?;
    v.into_iter()
        .map(|p| {
            let n = p.len();
            <[f64; 2]>::try_from(p).map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected [time_ms, amount] pairs, found one of {n} values"
                ))
            })
        })
        .collect()
}

/// `[[stimulus.pattern]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPattern {
    pub name: String,
    /// First and one-past-last neuron.
    #[serde(deserialize_with = "exactly_two")]
    pub neurons: [i64; 2],
    pub rate: f32,
}

/// `[dopamine]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDopamine {
    pub tau_ms: f64,
    /// `[time_ms, amount]` pairs.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "pairs"
    )]
    pub rewards: Vec<[f64; 2]>,
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RawRewardRule>,
}

/// `[[dopamine.rule]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRewardRule {
    pub pattern: String,
    pub delay_ms: f64,
    pub amount: f32,
}

fn steps_of(field: &str, ms: f64, dt_ms: f64) -> Result<u64> {
    if !(ms.is_finite() && ms >= 0.0 && ms / dt_ms < 4e9) {
        return Err(bad_value(
            field,
            ms,
            "must be a finite number of ms, >= 0 and below 4e9 steps",
        ));
    }
    Ok((ms / dt_ms).round() as u64)
}

fn check_tau(field: &str, tau: f64) -> Result<()> {
    if tau.is_finite() && tau > 0.0 {
        Ok(())
    } else {
        Err(bad_value(field, tau, "must be a finite time in ms, > 0"))
    }
}

pub fn validate_stimulus(
    raw: &RawStimulus,
    net_pops: &[crate::config::Population],
    dt_ms: f64,
) -> Result<Stimulus> {
    let f = |field: &str| format!("stimulus field `{field}`");
    let population = net_pops
        .iter()
        .position(|p| p.name == raw.population)
        .ok_or_else(|| {
            bad_value(
                f("population"),
                format!("{:?}", raw.population),
                "is not a population",
            )
        })?;
    let pop = &net_pops[population];
    if !pop.is_poisson() {
        return Err(bad_value(
            f("population"),
            format!("{:?}", raw.population),
            "must be a poisson population (patterns set input rates)",
        ));
    }
    let trial_steps = steps_of(&f("trial_ms"), raw.trial_ms, dt_ms)?;
    if trial_steps == 0 {
        return Err(bad_value(
            f("trial_ms"),
            raw.trial_ms,
            format!("must be at least one step ({dt_ms} ms)"),
        ));
    }
    let present_steps = steps_of(&f("present_ms"), raw.present_ms, dt_ms)?;
    if present_steps == 0 || present_steps > trial_steps {
        return Err(bad_value(
            f("present_ms"),
            raw.present_ms,
            format!(
                "must be at least one step ({dt_ms} ms) and at most trial_ms ({})",
                raw.trial_ms
            ),
        ));
    }
    if raw.patterns.is_empty() {
        return Err(Error::Input(
            "stimulus: no [[stimulus.pattern]] given".into(),
        ));
    }
    let mut patterns: Vec<Pattern> = Vec::new();
    for (i, rp) in raw.patterns.iter().enumerate() {
        crate::config::check_name(&format!("stimulus.pattern[{i}].name"), &rp.name)?;
        let g = |field: &str| format!("stimulus pattern `{}` field `{field}`", rp.name);
        if patterns.iter().any(|p| p.name == rp.name) {
            return Err(bad_value(
                g("name"),
                format!("{:?}", rp.name),
                "is used by another pattern",
            ));
        }
        let [a, b] = rp.neurons;
        if !(0 <= a && a < b && b <= pop.size as i64) {
            return Err(bad_value(
                g("neurons"),
                format!("[{a}, {b}]"),
                format!(
                    "must be [first, end) with 0 <= first < end <= {} (the size of `{}`)",
                    pop.size, pop.name
                ),
            ));
        }
        if !(0.0..=1.0).contains(&rp.rate) {
            return Err(bad_value(
                g("rate"),
                rp.rate,
                "must be within [0, 1] spikes per step",
            ));
        }
        patterns.push(Pattern {
            name: rp.name.clone(),
            neurons: a as usize..b as usize,
            rate: rp.rate,
        });
    }
    if raw.sequence.is_empty() {
        return Err(bad_value(
            f("sequence"),
            "[]",
            "must name at least one pattern",
        ));
    }
    let sequence = raw
        .sequence
        .iter()
        .map(|name| pattern_index(&patterns, name, &f("sequence")))
        .collect::<Result<_>>()?;
    Ok(Stimulus {
        population,
        trial_ms: raw.trial_ms,
        present_ms: raw.present_ms,
        trial_steps,
        present_steps,
        sequence,
        patterns,
    })
}

fn pattern_index(patterns: &[Pattern], name: &str, field: &str) -> Result<usize> {
    patterns.iter().position(|p| p.name == name).ok_or_else(|| {
        let known: Vec<_> = patterns.iter().map(|p| format!("\"{}\"", p.name)).collect();
        bad_value(
            field,
            format!("{name:?}"),
            format!("is not a pattern; known: {}", known.join(", ")),
        )
    })
}

pub fn validate_dopamine(
    raw: &RawDopamine,
    stim: Option<&Stimulus>,
    dt_ms: f64,
) -> Result<Dopamine> {
    check_tau("dopamine field `tau_ms`", raw.tau_ms)?;
    let mut rewards = Vec::new();
    for (i, &[t, a]) in raw.rewards.iter().enumerate() {
        let step = steps_of(&format!("dopamine.rewards[{i}] time"), t, dt_ms)?;
        check_param(
            &format!("dopamine.rewards[{i}] amount"),
            a as f32,
            -MAX_PARAM,
        )?;
        rewards.push((t, step, a as f32));
    }
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let field = format!("dopamine.rule[{i}].pattern");
        let Some(st) = stim else {
            return Err(bad_value(
                field,
                format!("{:?}", r.pattern),
                "needs a [stimulus] section that defines the pattern",
            ));
        };
        rules.push(RewardRule {
            pattern: pattern_index(&st.patterns, &r.pattern, &field)?,
            delay_ms: r.delay_ms,
            delay_steps: steps_of(&format!("dopamine.rule[{i}].delay_ms"), r.delay_ms, dt_ms)?,
            amount: {
                check_param(&format!("dopamine.rule[{i}].amount"), r.amount, -MAX_PARAM)?;
                r.amount
            },
        });
    }
    Ok(Dopamine {
        tau_ms: raw.tau_ms,
        rewards,
        rules,
    })
}

pub fn validate_modulation(
    field: impl Fn(&str) -> String,
    kind: &str,
    gain: Option<f32>,
) -> Result<Modulation> {
    let receptor = match kind {
        "d1" => Receptor::D1,
        "d2" => Receptor::D2,
        other => {
            return Err(bad_value(
                field("dopamine"),
                format!("{other:?}"),
                "must be \"d1\" or \"d2\"",
            ));
        }
    };
    let gain = gain.unwrap_or(1.0);
    check_param(&field("da_gain"), gain, 0.0)?;
    Ok(Modulation { receptor, gain })
}

pub fn validate_plasticity(field: impl Fn(&str) -> String, p: &Plasticity) -> Result<()> {
    check_tau(&field("plasticity.tau_pre_ms"), p.tau_pre_ms)?;
    check_tau(&field("plasticity.tau_post_ms"), p.tau_post_ms)?;
    check_tau(&field("plasticity.tau_c_ms"), p.tau_c_ms)?;
    for (name, v) in [("a_plus", p.a_plus), ("a_minus", p.a_minus)] {
        check_param(&field(&format!("plasticity.{name}")), v, 0.0)?;
        if v != 0.0 && v < FACTOR_FLOOR {
            return Err(bad_value(
                field(&format!("plasticity.{name}")),
                v,
                format!("must be 0 or >= {FACTOR_FLOOR} (2^-40)"),
            ));
        }
    }
    check_param(
        &field("plasticity.learning_rate"),
        p.learning_rate,
        -MAX_PARAM,
    )?;
    for (name, v) in [("w_min", p.w_min), ("w_max", p.w_max)] {
        check_param(&field(&format!("plasticity.{name}")), v, -MAX_PARAM)?;
    }
    if p.w_min > p.w_max {
        return Err(bad_value(
            field("plasticity.w_min"),
            p.w_min,
            format!("must be <= w_max ({})", p.w_max),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The host side of every step

/// The per-step values both engines read, computed step after step on the
/// host: d(t), and per projection its gain (1 where unmodulated) and its
/// learning factor eta(t) (0 where not plastic).
#[derive(Debug, Clone)]
pub struct Clock {
    stimulus: Option<Stimulus>,
    dopamine: Option<Dopamine>,
    decay_d: f32,
    /// Per projection: the modulation of its post population, when it is
    /// excitatory and that population is modulated.
    gain_of: Vec<Option<Modulation>>,
    /// Per projection: (learning rate, F) when plastic.
    eta_of: Vec<Option<(f32, u32)>>,
    d: f32,
    step: u64,
}

impl Clock {
    /// `frac_bits`: F of every projection, in config order.
    pub fn new(net: &Network, frac_bits: &[u32]) -> Clock {
        let gain_of = net
            .projections
            .iter()
            .map(|p| net.populations[p.post].dopamine.filter(|_| p.sign > 0))
            .collect();
        let eta_of = net
            .projections
            .iter()
            .zip(frac_bits)
            .map(|(p, &f)| p.plasticity.map(|pl| (pl.learning_rate, f)))
            .collect();
        Clock {
            stimulus: net.stimulus.clone(),
            decay_d: net
                .dopamine
                .as_ref()
                .map_or(0.0, |d| decay(net.dt_ms, d.tau_ms)),
            dopamine: net.dopamine.clone(),
            gain_of,
            eta_of,
            d: 0.0,
            step: 0,
        }
    }

    /// The clock of an engine: None when no projection's gain or weights
    /// depend on d(t) (then the engines skip the per-step values).
    pub fn for_engine(net: &Network, quantized: &[impl AsRef<Quantized>]) -> Option<Clock> {
        let frac_bits: Vec<u32> = quantized.iter().map(|q| q.as_ref().frac_bits).collect();
        let c = Clock::new(net, &frac_bits);
        (c.gain_of.iter().any(Option::is_some) || c.eta_of.iter().any(Option::is_some)).then_some(c)
    }

    /// Back to step 0, d = 0.
    pub fn restart(&mut self) {
        self.d = 0.0;
        self.step = 0;
    }

    /// The plastic projections, in config order.
    pub fn plastic(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.eta_of.len()).filter(|&j| self.eta_of[j].is_some())
    }

    /// Advances one step: d(t), and each projection's gain and eta into
    /// `gains` and `etas` (one per projection).
    pub fn next(&mut self, gains: &mut [f32], etas: &mut [f32]) -> f32 {
        let r = self
            .dopamine
            .as_ref()
            .map_or(0.0, |d| d.reward_at(self.step, self.stimulus.as_ref()));
        self.d = self.d * self.decay_d + r;
        self.step += 1;
        let d = self.d;
        for (g, m) in gains.iter_mut().zip(&self.gain_of) {
            *g = match m {
                None => 1.0,
                Some(Modulation {
                    receptor: Receptor::D1,
                    gain,
                }) => flush_below(1.0 + gain * d, FACTOR_FLOOR),
                Some(Modulation {
                    receptor: Receptor::D2,
                    gain,
                }) => flush_below((1.0 - gain * d).max(0.0), FACTOR_FLOOR),
            };
        }
        for (e, p) in etas.iter_mut().zip(&self.eta_of) {
            *e = match p {
                None => 0.0,
                Some((rate, f)) => flush_below((rate * d) * pow2(*f as i32), FACTOR_FLOOR),
            };
        }
        d
    }
}

/// d(t) for steps `0..steps` (dopamine.npy).
pub fn dopamine_trace(net: &Network, steps: usize) -> Vec<f32> {
    let mut clock = Clock::new(net, &vec![0; net.projections.len()]);
    let n = net.projections.len();
    let (mut g, mut e) = (vec![0.0; n], vec![0.0; n]);
    (0..steps).map(|_| clock.next(&mut g, &mut e)).collect()
}

// ---------------------------------------------------------------------------
// Plasticity: the CPU twin of shaders/plasticity.wgsl

/// The constants of one plastic projection, as both engines use them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlasticConsts {
    pub decay_pre: f32,
    pub decay_post: f32,
    pub decay_c: f32,
    pub a_plus: f32,
    pub a_minus: f32,
    pub wq_min: i32,
    pub wq_max: i32,
}

impl PlasticConsts {
    pub fn new(p: &Plasticity, dt_ms: f64, bounds: [i32; 2]) -> PlasticConsts {
        PlasticConsts {
            decay_pre: decay(dt_ms, p.tau_pre_ms),
            decay_post: decay(dt_ms, p.tau_post_ms),
            decay_c: decay(dt_ms, p.tau_c_ms),
            a_plus: p.a_plus,
            a_minus: p.a_minus,
            wq_min: bounds[0],
            wq_max: bounds[1],
        }
    }
}

/// The state of one plastic projection: traces and eligibilities.
#[derive(Debug, Clone, PartialEq)]
pub struct PlasticState {
    pub k: PlasticConsts,
    /// `elig[pre * n_post + post]`, like the weights.
    pub elig: Vec<f32>,
    pub x_pre: Vec<f32>,
    pub y_post: Vec<f32>,
    /// Scratch: whether each post neuron spiked this step.
    post_spiked: Vec<bool>,
}

impl PlasticState {
    pub fn new(k: PlasticConsts, n_pre: usize, n_post: usize) -> PlasticState {
        PlasticState {
            k,
            elig: vec![0.0; n_pre * n_post],
            x_pre: vec![0.0; n_pre],
            y_post: vec![0.0; n_post],
            post_spiked: vec![false; n_post],
        }
    }
}

#[inline]
fn bit(words: &[u32], n: usize) -> bool {
    words[n / 32] >> (n % 32) & 1 == 1
}

/// Kernel `plasticity` for one synapse: the new eligibility and
/// fixed-point weight from the old ones, the pre and post traces `(x, y)`
/// and whether pre and post spiked this step.
#[inline]
pub fn synapse_update(
    k: &PlasticConsts,
    (c, wq): (f32, i32),
    (x, y): (f32, f32),
    (pre, post): (bool, bool),
    eta: f32,
) -> (f32, i32) {
    let mut c = flush_below(c * k.decay_c, TRACE_FLOOR);
    if post {
        c = flush_below(c + k.a_plus * x, TRACE_FLOOR);
    }
    if pre {
        c = flush_below(c - k.a_minus * y, TRACE_FLOOR);
    }
    let dw = (eta * c).clamp(-MAX_STEP_CHANGE, MAX_STEP_CHANGE) as i32;
    (c, (wq + dw).clamp(k.wq_min, k.wq_max))
}

/// Kernel `plasticity_traces` for one neuron: `x * decay + s`.
#[inline]
pub fn trace_step(x: f32, decay: f32, spiked: bool) -> f32 {
    flush_below(x * decay + spiked as u32 as f32, TRACE_FLOOR)
}

/// Plastic projections of at least this many synapses split their update
/// across threads (each synapse's update depends on nothing but its own
/// state, so the result is the same whatever the count).
pub const PLASTIC_PARALLEL_MIN_SYNAPSES: usize = 1 << 16;

/// [`synapse_update`] for the synapses of one pre neuron (`c`, `w`: its
/// row), written without branches on the post spikes so that it
/// vectorises. The same numbers: where post j did not spike it adds +0 to a
/// `c` already floored, which changes nothing (a floored value is +0 or at
/// least 2^-64 in magnitude, never -0); tested against `synapse_update`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn synapse_row(
    k: &PlasticConsts,
    c: &mut [f32],
    w: &mut [i32],
    x: f32,
    y: &[f32],
    pre: bool,
    post: &[bool],
    eta: f32,
) {
    let ax = k.a_plus * x;
    let update = |c: f32, w: i32| {
        let dw = (eta * c).clamp(-MAX_STEP_CHANGE, MAX_STEP_CHANGE) as i32;
        (w + dw).clamp(k.wq_min, k.wq_max)
    };
    let n = c.len();
    let (w, y, post) = (&mut w[..n], &y[..n], &post[..n]);
    if pre {
        for j in 0..n {
            let mut cj = flush_below(c[j] * k.decay_c, TRACE_FLOOR);
            cj = flush_below(cj + if post[j] { ax } else { 0.0 }, TRACE_FLOOR);
            cj = flush_below(cj - k.a_minus * y[j], TRACE_FLOOR);
            c[j] = cj;
            w[j] = update(cj, w[j]);
        }
    } else {
        for j in 0..n {
            let mut cj = flush_below(c[j] * k.decay_c, TRACE_FLOOR);
            cj = flush_below(cj + if post[j] { ax } else { 0.0 }, TRACE_FLOOR);
            c[j] = cj;
            w[j] = update(cj, w[j]);
        }
    }
}

/// One step of a plastic projection (kernels `plasticity`, then
/// `plasticity_traces`): `wq` pre-major like the weights the engines read;
/// the pre neurons are split across `threads` threads.
pub fn plasticity_step(
    st: &mut PlasticState,
    wq: &mut [i32],
    pre_spikes: &[u32],
    post_spikes: &[u32],
    eta: f32,
    threads: usize,
) {
    let n_post = st.y_post.len();
    if n_post == 0 {
        return;
    }
    for (j, p) in st.post_spiked.iter_mut().enumerate() {
        *p = bit(post_spikes, j);
    }
    let (k, x_pre, y_post, post) = (&st.k, &st.x_pre, &st.y_post, &st.post_spiked);
    let rows = |elig: &mut [f32], wq: &mut [i32], first: usize| {
        let pairs = elig
            .chunks_exact_mut(n_post)
            .zip(wq.chunks_exact_mut(n_post));
        for (r, (c, w)) in pairs.enumerate() {
            let i = first + r;
            synapse_row(k, c, w, x_pre[i], y_post, bit(pre_spikes, i), post, eta);
        }
    };
    let threads = threads.clamp(1, x_pre.len().max(1));
    if threads == 1 {
        rows(&mut st.elig, wq, 0);
    } else {
        let per = x_pre.len().div_ceil(threads);
        std::thread::scope(|sc| {
            let parts = st
                .elig
                .chunks_mut(per * n_post)
                .zip(wq.chunks_mut(per * n_post));
            for (t, (c, w)) in parts.enumerate() {
                sc.spawn(move || rows(c, w, t * per));
            }
        });
    }
    for (i, x) in st.x_pre.iter_mut().enumerate() {
        *x = trace_step(*x, st.k.decay_pre, bit(pre_spikes, i));
    }
    for (j, y) in st.y_post.iter_mut().enumerate() {
        *y = trace_step(*y, st.k.decay_post, bit(post_spikes, j));
    }
}

// ---------------------------------------------------------------------------
// What a run shows

/// One presentation of a pattern, and how each population answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    pub index: u64,
    pub pattern: usize,
    pub onset: u64,
    /// A reward rule names its pattern.
    pub rewarded: bool,
    /// Per population: mean rate (Hz) over the presentation window.
    pub rate_hz: Vec<f64>,
}

/// The spikes of every population during each presentation, counted as
/// the steps go by (a streamed run, which keeps no record, has them too).
#[derive(Debug, Clone, Default)]
pub struct ResponseCounter {
    /// Per presentation: the spikes of each population while it was shown.
    spikes: Vec<Vec<u64>>,
    /// Steps counted so far.
    steps: u64,
}

impl ResponseCounter {
    /// Counts the next `steps` steps: `rows[p]` holds population p's
    /// spikes of those steps, bit-packed (`words_per_step` words a step).
    pub fn add(&mut self, net: &Network, rows: &[&[u32]], steps: usize) {
        let Some(st) = &net.stimulus else {
            return;
        };
        for s in 0..steps {
            let t = self.steps + s as u64;
            if st.pattern_at(t).is_none() {
                continue;
            }
            let k = (t / st.trial_steps) as usize;
            if self.spikes.len() <= k {
                self.spikes.resize(k + 1, vec![0; net.populations.len()]);
            }
            for (p, pop) in net.populations.iter().enumerate() {
                let wps = pop.words_per_step();
                let row = &rows[p][s * wps..(s + 1) * wps];
                self.spikes[k][p] += row.iter().map(|w| w.count_ones() as u64).sum::<u64>();
            }
        }
        self.steps += steps as u64;
    }

    /// Every presentation the counted steps hold whole.
    pub fn presentations(&self, net: &Network) -> Vec<Presentation> {
        let Some(st) = &net.stimulus else {
            return Vec::new();
        };
        let rewarded: Vec<usize> = net
            .dopamine
            .iter()
            .flat_map(|d| d.rules.iter().map(|r| r.pattern))
            .collect();
        let window_s = st.present_steps as f64 * net.dt_ms / 1000.0;
        self.spikes
            .iter()
            .enumerate()
            .map(|(k, spikes)| (k as u64, spikes))
            .take_while(|&(k, _)| k * st.trial_steps + st.present_steps <= self.steps)
            .map(|(k, spikes)| {
                let pattern = st.pattern_of(k);
                Presentation {
                    index: k,
                    pattern,
                    onset: k * st.trial_steps,
                    rewarded: rewarded.contains(&pattern),
                    rate_hz: spikes
                        .iter()
                        .zip(&net.populations)
                        .map(|(&n, pop)| n as f64 / (pop.size as f64 * window_s))
                        .collect(),
                }
            })
            .collect()
    }
}

/// Every presentation the spikes of `pops` (every population's) hold whole.
pub fn responses(net: &Network, pops: &[PopRecord]) -> Vec<Presentation> {
    let mut c = ResponseCounter::default();
    let rows: Vec<&[u32]> = pops.iter().map(|p| &p.bits[..]).collect();
    c.add(net, &rows, pops.first().map_or(0, |r| r.steps()));
    c.presentations(net)
}

/// `responses.csv`: one row per presentation.
pub fn responses_csv(net: &Network, rows: &[Presentation]) -> String {
    let mut s = String::from("presentation,pattern,onset_step,rewarded");
    for p in &net.populations {
        s += &format!(",{}_hz", p.name);
    }
    s.push('\n');
    let names = &net
        .stimulus
        .as_ref()
        .expect("responses need a stimulus")
        .patterns;
    for r in rows {
        s += &format!(
            "{},{},{},{}",
            r.index, names[r.pattern].name, r.onset, r.rewarded as u8
        );
        for x in &r.rate_hz {
            s += &format!(",{x:.3}");
        }
        s.push('\n');
    }
    s
}

/// Did a D1 population come to prefer the rewarded patterns?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preference {
    pub population: String,
    /// Mean rate (Hz) over the first and the last quarter of the
    /// presentations of the rewarded patterns, and of the others.
    pub early_rewarded_hz: f64,
    pub early_other_hz: f64,
    pub late_rewarded_hz: f64,
    pub late_other_hz: f64,
    /// `late_rewarded > late_other` and the difference grew from the first
    /// quarter to the last.
    pub prefers_rewarded: bool,
}

/// The preference of every D1 population, when rewarded and unrewarded
/// patterns were both shown at least once.
pub fn preferences(net: &Network, rows: &[Presentation]) -> Vec<Preference> {
    let (rew, other): (Vec<&Presentation>, Vec<&Presentation>) =
        rows.iter().partition(|r| r.rewarded);
    if rew.is_empty() || other.is_empty() {
        return Vec::new();
    }
    let quarter = |v: &[&Presentation], p: usize, late: bool| {
        let n = v.len().div_ceil(4);
        let part = if late { &v[v.len() - n..] } else { &v[..n] };
        part.iter().map(|r| r.rate_hz[p]).sum::<f64>() / n as f64
    };
    net.populations
        .iter()
        .enumerate()
        .filter(|(_, p)| p.dopamine.is_some_and(|m| m.receptor == Receptor::D1))
        .map(|(p, pop)| {
            let (er, eo) = (quarter(&rew, p, false), quarter(&other, p, false));
            let (lr, lo) = (quarter(&rew, p, true), quarter(&other, p, true));
            Preference {
                population: pop.name.clone(),
                early_rewarded_hz: er,
                early_other_hz: eo,
                late_rewarded_hz: lr,
                late_other_hz: lo,
                prefers_rewarded: lr > lo && lr - lo > er - eo,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_are_the_powers_of_two_they_claim() {
        assert_eq!(TRACE_FLOOR, pow2(-64));
        assert_eq!(FACTOR_FLOOR, pow2(-40));
        assert_eq!(MAX_STEP_CHANGE, pow2(30));
    }

    /// The row-wise, threaded update equals `synapse_update` synapse by
    /// synapse (and the traces `trace_step`), on random states that reach
    /// the floors and the bounds, with 1 to 3 threads.
    #[test]
    fn plasticity_step_equals_the_per_synapse_update() {
        let mut r = 0x1234_5678u32;
        let mut next = || {
            r = crate::input::mix32(r);
            r
        };
        for case in 0..24 {
            let (n_pre, n_post) = (1 + next() as usize % 200, 1 + next() as usize % 200);
            let k = PlasticConsts {
                decay_pre: 0.9,
                decay_post: 0.8,
                decay_c: [0.5, 0.99, 0.0][case % 3],
                a_plus: 0.7,
                a_minus: 0.45,
                wq_min: -(1 << 20),
                wq_max: 1 << 22,
            };
            let mut st = PlasticState::new(k, n_pre, n_post);
            for c in &mut st.elig {
                // magnitudes from ~2^-98 up: some below the floor
                *c = flush_below(f32::from_bits(next() & 0x8fff_ffff), TRACE_FLOOR);
            }
            for x in st.x_pre.iter_mut().chain(&mut st.y_post) {
                *x = (next() >> 8) as f32 / 16_777_216.0 * 3.0;
            }
            let mut wq: Vec<i32> = (0..n_pre * n_post)
                .map(|_| (next() % (5 << 20)) as i32 - (1 << 20))
                .collect();
            let pre: Vec<u32> = (0..n_pre.div_ceil(32)).map(|_| next() & next()).collect();
            let post: Vec<u32> = (0..n_post.div_ceil(32)).map(|_| next() & next()).collect();
            let eta = [0.0, 3.0e5, -1.0e9, 7.5][case % 4];
            let (mut want, mut want_wq) = (st.clone(), wq.clone());
            for i in 0..n_pre {
                for j in 0..n_post {
                    let s = i * n_post + j;
                    (want.elig[s], want_wq[s]) = synapse_update(
                        &k,
                        (want.elig[s], want_wq[s]),
                        (want.x_pre[i], want.y_post[j]),
                        (bit(&pre, i), bit(&post, j)),
                        eta,
                    );
                }
            }
            for (i, x) in want.x_pre.iter_mut().enumerate() {
                *x = trace_step(*x, k.decay_pre, bit(&pre, i));
            }
            for (j, y) in want.y_post.iter_mut().enumerate() {
                *y = trace_step(*y, k.decay_post, bit(&post, j));
            }
            plasticity_step(&mut st, &mut wq, &pre, &post, eta, 1 + case % 3);
            assert_eq!(wq, want_wq, "case {case}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&st.elig), bits(&want.elig), "case {case}");
            assert_eq!(bits(&st.x_pre), bits(&want.x_pre), "case {case}");
            assert_eq!(bits(&st.y_post), bits(&want.y_post), "case {case}");
            assert!(wq.iter().all(|w| (k.wq_min..=k.wq_max).contains(w)));
        }
    }

    #[test]
    fn decay_of_one_over_ln2_is_one_half() {
        assert_eq!(decay(1.0, 1.0 / std::f64::consts::LN_2), 0.5);
        assert_eq!(decay(1.0, 1e-3), 0.0);
    }
}
