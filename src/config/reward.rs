//! The reward tables in TOML form and their validation (docs/reward.md).

use crate::checks::{MAX_PARAM, check_param};
use crate::error::{Error, Result, bad_value};
use crate::fixed::FACTOR_FLOOR;
use crate::network::{Dopamine, Modulation, Pattern, Plasticity, Receptor, RewardRule, Stimulus};
use serde::{Deserialize, Serialize};

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
    /// Spikes a step while shown; or `rate_hz` (not both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<f64>,
}

/// `[dopamine]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDopamine {
    pub tau_ms: f64,
    /// The tonic level added to the phasic d(t) every step (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tonic: Option<f32>,
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
    net_pops: &[crate::network::Population],
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
        let rate = match (rp.rate, rp.rate_hz) {
            (Some(r), None) => r,
            (None, Some(hz)) => {
                let most = 1000.0 / dt_ms;
                if !(hz.is_finite() && (0.0..=most).contains(&hz)) {
                    return Err(bad_value(
                        g("rate_hz"),
                        hz,
                        format!(
                            "must be a rate in Hz within [0, {most}] (one spike a step of dt_ms = {dt_ms})"
                        ),
                    ));
                }
                (hz * dt_ms / 1000.0) as f32
            }
            (r, hz) => {
                return Err(bad_value(
                    g("rate"),
                    format!("rate {r:?}, rate_hz {hz:?}"),
                    "give one: rate (spikes a step) or rate_hz",
                ));
            }
        };
        if !(0.0..=1.0).contains(&rate) {
            return Err(bad_value(
                g("rate"),
                rate,
                "must be within [0, 1] spikes per step",
            ));
        }
        patterns.push(Pattern {
            name: rp.name.clone(),
            neurons: a as usize..b as usize,
            rate,
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
    let tonic = raw.tonic.unwrap_or(0.0);
    check_param("dopamine field `tonic`", tonic, 0.0)?;
    Ok(Dopamine {
        tau_ms: raw.tau_ms,
        tonic,
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
