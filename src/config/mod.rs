//! TOML network description -> validated [`Network`] (every check lives here).
//!
//! The file format (see `assets/nacc.toml` and docs/network-file.md):
//!
//! ```toml
//! dt_ms = 1.0
//! steps = 1000            # optional: the run length when --steps is not given
//! [[population]]
//! name = "input"          # letters, digits, '_' and '-'
//! size = 100
//! kind = "poisson"        # poisson | lif
//! rate = [0.1, 0.5]       # poisson: per-neuron rate drawn uniformly in [lo, hi], spikes/step
//! [[population]]
//! name = "inter"
//! size = 50
//! kind = "lif"
//! beta = 0.9              # lif: membrane decay per step, in [0, 1]
//! threshold = 1.0         # lif: finite, > 0
//! reset = "subtract"      # lif: subtract | zero | none
//! [[projection]]
//! name = "fc1"
//! pre = "input"
//! post = "inter"
//! sign = 1                # +1 excitatory, -1 inhibitory
//! bias = true             # add a per-post bias (nn.Linear bias)
//! init = "linear"         # linear | uniform (low, high) | constant (weight, bias_value)
//! ```

mod neuron;
mod reward;
mod validate;

pub use neuron::{RawModel, RawRecord};

pub use reward::{RawDopamine, RawPattern, RawRewardRule, RawStimulus};
pub(crate) use validate::check_name;

use crate::error::{Error, Result, bad_value};
use crate::network::{
    Connectivity, Delay, Init, MAX_POPULATION_SIZE, Network, Plasticity, PopKind, Projection,
    Receptor,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use validate::{dependency_order, validate_population, validate_projection};

// ---------------------------------------------------------------------------
// Raw TOML form

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The generator of every draw: "philox4x32-10" (the only one; files
    /// without the field use it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<String>,
    #[serde(default = "default_dt")]
    pub dt_ms: f64,
    /// Steps a run takes unless `--steps` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i64>,
    #[serde(default, rename = "population")]
    pub populations: Vec<RawPopulation>,
    #[serde(default, rename = "projection")]
    pub projections: Vec<RawProjection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stimulus: Option<RawStimulus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dopamine: Option<RawDopamine>,
    /// State variables to record, `[[record]]`.
    #[serde(default, rename = "record", skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RawRecord>,
}

fn default_dt() -> f64 {
    1.0
}

/// A `[[population]]`. Its unknown fields are refused when it is
/// validated (serde's `deny_unknown_fields` does not work beside the
/// flattened physical parameters).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawPopulation {
    pub name: String,
    pub size: i64,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Vec<f32>>,
    /// poisson: the rates in Hz instead (`rate` = Hz x dt_ms / 1000 a step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<String>,
    /// lif: "d1" or "d2", dopamine's effect on its excitatory input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dopamine: Option<String>,
    /// lif with `dopamine`: k of the gain equation (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_gain: Option<f32>,
    /// iaf and izhikevich: their parameters (docs/network-file.md).
    #[serde(flatten)]
    pub model: RawModel,
    /// Fields no kind has (refused by `validate`).
    #[serde(flatten, skip_serializing)]
    pub unknown: std::collections::BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawProjection {
    pub name: String,
    pub pre: String,
    pub post: String,
    /// +1 or -1; default +1, or -1 for a conductance reversing below -40 mV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<i64>,
    /// Default true, false for a conductance synapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    #[serde(default = "default_init")]
    pub init: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias_value: Option<f32>,
    /// Sparse: each (pre, post) pair with this probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_probability: Option<f64>,
    /// Sparse: each post neuron from exactly this many pre neurons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_fan_in: Option<i64>,
    /// Sparse: each pre neuron to exactly this many post neurons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_fan_out: Option<i64>,
    /// Sparse: pre neuron i to post neuron i.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_to_one: Option<bool>,
    /// Synaptic delay in ms: one value, or `[lo, hi]` drawn per synapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<DelayMs>,
    /// A self-projection keeps each neuron's synapse onto itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autapses: Option<bool>,
    /// "instant" (default), "exp_current", "exp_conductance", "ampa",
    /// "gaba_a" or "nmda" (docs/arithmetic.md §8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapse: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_rev_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mg_mm: Option<f32>,
    /// Three-factor plasticity, `[projection.plasticity]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plasticity: Option<Plasticity>,
}

/// `delay_ms = 2.0` or `delay_ms = [1.0, 5.0]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "delay_ms must be a number of ms (2.0) or a range [lo, hi] of ms drawn per synapse"
)]
pub enum DelayMs {
    One(f64),
    Range(Vec<f64>),
}

fn default_init() -> String {
    "linear".into()
}

/// The built-in default network, identical to `assets/nacc.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../assets/nacc.toml");

impl Network {
    /// The NAcc model of docs/arithmetic.md §1.
    pub fn default_nacc() -> Network {
        Network::from_toml_str(DEFAULT_TOML, "built-in nacc.toml")
            .expect("the built-in network is valid (tested)")
    }

    pub fn from_file(path: &Path) -> Result<Network> {
        let text = crate::files::read_text(path, "--config", crate::files::MAX_CONFIG_BYTES)?;
        Network::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, origin: &str) -> Result<Network> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            Error::Input(format!(
                "{origin}: invalid network file: {}",
                clip_lines(&e.to_string())
            ))
        })?;
        raw.validate().map_err(|e| e.context(origin))
    }

    /// Multiplies every population size by `k` (k >= 1).
    pub fn scaled(mut self, k: u64) -> Result<Network> {
        if k == 0 {
            return Err(bad_value("--scale", k, "must be a whole number >= 1"));
        }
        for p in &mut self.populations {
            let s = (p.size as u64)
                .checked_mul(k)
                .filter(|&s| s <= MAX_POPULATION_SIZE);
            p.size = s.ok_or_else(|| {
                bad_value(
                    "--scale",
                    k,
                    format!(
                        "population `{}` (size {}) would exceed {MAX_POPULATION_SIZE} neurons",
                        p.name, p.size
                    ),
                )
            })? as usize;
        }
        // patterns keep their share of the stimulated population
        if let Some(st) = &mut self.stimulus {
            let k = k as usize;
            for p in &mut st.patterns {
                p.neurons = p.neurons.start * k..p.neurons.end * k;
            }
        }
        Ok(self)
    }

    /// The resolved network in the same TOML form it was read from, every
    /// field explicit, so that a run can be repeated from it.
    pub fn to_raw(&self) -> RawConfig {
        let populations = self
            .populations
            .iter()
            .map(|p| {
                let mut r = RawPopulation {
                    name: p.name.clone(),
                    size: p.size as i64,
                    kind: String::new(),
                    rate: None,
                    rate_hz: None,
                    beta: None,
                    threshold: None,
                    reset: None,
                    dopamine: p.dopamine.map(|m| {
                        match m.receptor {
                            Receptor::D1 => "d1",
                            Receptor::D2 => "d2",
                        }
                        .to_string()
                    }),
                    // unused (and refused) beside Humphries' effects
                    da_gain: p
                        .dopamine
                        .filter(|_| p.da_effects().is_none())
                        .map(|m| m.gain),
                    model: neuron::raw_model(&p.kind),
                    unknown: Default::default(),
                };
                match p.kind {
                    PopKind::Poisson { rate_lo, rate_hi } => {
                        r.kind = "poisson".into();
                        r.rate = Some(vec![rate_lo, rate_hi]);
                    }
                    PopKind::Lif(l) => {
                        r.kind = "lif".into();
                        r.beta = Some(l.beta);
                        r.threshold = Some(l.threshold);
                        r.reset = Some(l.reset.as_str().into());
                    }
                    PopKind::Iaf(_) | PopKind::Izhikevich(_) => r.kind = p.kind_name().into(),
                }
                r
            })
            .collect();
        let projections = self
            .projections
            .iter()
            .map(|p| self.raw_projection(p))
            .collect();
        let names = |pop: usize| self.populations[pop].name.clone();
        let stimulus = self.stimulus.as_ref().map(|st| RawStimulus {
            population: names(st.population),
            trial_ms: st.trial_ms,
            present_ms: st.present_ms,
            sequence: st
                .sequence
                .iter()
                .map(|&i| st.patterns[i].name.clone())
                .collect(),
            patterns: st
                .patterns
                .iter()
                .map(|p| RawPattern {
                    name: p.name.clone(),
                    neurons: [p.neurons.start as i64, p.neurons.end as i64],
                    rate: Some(p.rate),
                    rate_hz: None,
                })
                .collect(),
        });
        let dopamine = self.dopamine.as_ref().map(|d| RawDopamine {
            tau_ms: d.tau_ms,
            tonic: (d.tonic != 0.0).then_some(d.tonic),
            rewards: d.rewards.iter().map(|&(t, _, a)| [t, a as f64]).collect(),
            rules: d
                .rules
                .iter()
                .map(|r| RawRewardRule {
                    pattern: self
                        .stimulus
                        .as_ref()
                        .expect("rules need a stimulus")
                        .patterns[r.pattern]
                        .name
                        .clone(),
                    delay_ms: r.delay_ms,
                    amount: r.amount,
                })
                .collect(),
        });
        RawConfig {
            rng: Some(crate::input::GENERATOR.to_string()),
            dt_ms: self.dt_ms,
            steps: self.steps.map(|s| s as i64),
            populations,
            projections,
            stimulus,
            dopamine,
            records: neuron::raw_records(self),
        }
    }

    /// Projection `p` in the TOML form, every field explicit.
    fn raw_projection(&self, p: &crate::network::Projection) -> RawProjection {
        let mut r = RawProjection {
            name: p.name.clone(),
            pre: self.populations[p.pre].name.clone(),
            post: self.populations[p.post].name.clone(),
            sign: Some(p.sign as i64),
            bias: Some(p.bias),
            init: String::new(),
            low: None,
            high: None,
            weight: None,
            bias_value: None,
            fixed_probability: None,
            fixed_fan_in: None,
            fixed_fan_out: None,
            one_to_one: None,
            delay_ms: match p.delay {
                Delay {
                    lo: 0,
                    range: false,
                    ..
                } => None,
                Delay {
                    lo, range: false, ..
                } => Some(DelayMs::One(lo as f64 * self.dt_ms)),
                Delay { lo, hi, .. } => Some(DelayMs::Range(vec![
                    lo as f64 * self.dt_ms,
                    hi as f64 * self.dt_ms,
                ])),
            },
            autapses: p.is_recurrent().then_some(p.autapses),
            synapse: Some(p.synapse.name.to_string()),
            tau_ms: p.synapse.has_state().then_some(p.synapse.tau_ms),
            e_rev_mv: p.synapse.is_conductance().then_some(p.synapse.e_rev_mv),
            mg_mm: (p.synapse.kind == crate::network::SynapseKind::Nmda).then_some(p.synapse.mg_mm),
            plasticity: p.plasticity,
        };
        match p.conn {
            Connectivity::Dense => {}
            Connectivity::FixedProbability(q) => r.fixed_probability = Some(q),
            Connectivity::FixedFanIn(k) => r.fixed_fan_in = Some(k as i64),
            Connectivity::FixedFanOut(k) => r.fixed_fan_out = Some(k as i64),
            Connectivity::OneToOne => r.one_to_one = Some(true),
        }
        match p.init {
            Init::Linear => r.init = "linear".into(),
            Init::Uniform { low, high } => {
                r.init = "uniform".into();
                r.low = Some(low);
                r.high = Some(high);
            }
            Init::Constant { weight, bias } => {
                r.init = "constant".into();
                r.weight = Some(weight);
                r.bias_value = Some(bias);
            }
        }
        r
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(&self.to_raw()).expect("a RawConfig always serialises")
    }
}

/// A parser message with every line cut to 160 characters: a hostile file
/// may be one line of megabytes, which the message would quote whole.
fn clip_lines(msg: &str) -> String {
    msg.lines()
        .map(|l| match l.char_indices().nth(160) {
            Some((i, _)) => format!("{} ...", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl RawConfig {
    pub fn validate(&self) -> Result<Network> {
        crate::checks::check_dt(self.dt_ms)?;
        if let Some(rng) = &self.rng
            && rng != crate::input::GENERATOR
        {
            return Err(bad_value(
                "rng",
                format!("{rng:?}"),
                format!(
                    "must be \"{}\", the generator of every draw of this version (runs of versions before it drew from another and differ)",
                    crate::input::GENERATOR
                ),
            ));
        }
        if self.populations.is_empty() {
            return Err(Error::Input(
                "no [[population]] given: a network needs at least one population".into(),
            ));
        }
        let mut populations = Vec::with_capacity(self.populations.len());
        for (i, rp) in self.populations.iter().enumerate() {
            populations.push(validate_population(i, rp, &populations, self.dt_ms)?);
        }
        let mut projections: Vec<Projection> = Vec::with_capacity(self.projections.len());
        for (i, rp) in self.projections.iter().enumerate() {
            let proj = validate_projection(i, rp, &populations, self.dt_ms)?;
            if projections.iter().any(|p| p.name == proj.name) {
                return Err(bad_value(
                    format!("projection[{i}].name"),
                    format!("{:?}", rp.name),
                    "is used by another projection; names must be unique",
                ));
            }
            projections.push(proj);
        }
        let pop_names: Vec<&str> = populations.iter().map(|p| p.name.as_str()).collect();
        let proj_names: Vec<&str> = projections.iter().map(|p| p.name.as_str()).collect();
        if let Some(clash) = crate::outdir::output_name_collision(&pop_names, &proj_names) {
            return Err(Error::Input(format!("output file names: {clash}")));
        }
        let order = dependency_order(&populations, &projections)?;
        let stimulus = match &self.stimulus {
            Some(raw) => Some(crate::config::reward::validate_stimulus(
                raw,
                &populations,
                self.dt_ms,
            )?),
            None => None,
        };
        let dopamine = match &self.dopamine {
            Some(raw) => Some(crate::config::reward::validate_dopamine(
                raw,
                stimulus.as_ref(),
                self.dt_ms,
            )?),
            None => None,
        };
        if dopamine.is_none() {
            let needs = populations
                .iter()
                .find(|p| p.dopamine.is_some())
                .map(|p| format!("population `{}` field `dopamine`", p.name))
                .or_else(|| {
                    projections
                        .iter()
                        .find(|p| p.plasticity.is_some())
                        .map(|p| format!("projection `{}` field `plasticity`", p.name))
                });
            if let Some(field) = needs {
                return Err(Error::Input(format!(
                    "{field}: needs a [dopamine] section (without one d(t) = 0 and it has no effect)"
                )));
            }
        }
        let records =
            neuron::validate_records(&self.records, &populations, &projections, self.dt_ms)?;
        let steps = match self.steps {
            None => None,
            Some(s) if (1..=u32::MAX as i64).contains(&s) => Some(s as u64),
            Some(s) => {
                return Err(bad_value(
                    "steps",
                    s,
                    format!("must be a whole number in 1..={}", u32::MAX),
                ));
            }
        };
        Ok(Network {
            dt_ms: self.dt_ms,
            steps,
            populations,
            projections,
            order,
            stimulus,
            dopamine,
            records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{LifParams, Reset};

    #[test]
    fn default_network_matches_spec_section_1() {
        let n = Network::default_nacc();
        let sizes: Vec<_> = n
            .populations
            .iter()
            .map(|p| (p.name.as_str(), p.size))
            .collect();
        assert_eq!(sizes, [("input", 100), ("inter", 50), ("msn", 20)]);
        let projs: Vec<_> = n
            .projections
            .iter()
            .map(|p| (p.name.as_str(), p.pre, p.post, p.sign, p.bias, p.init))
            .collect();
        assert_eq!(
            projs,
            [
                ("fc1", 0, 1, 1, true, Init::Linear),
                ("fc2", 1, 2, -1, true, Init::Linear),
                ("fc3", 0, 2, 1, true, Init::Linear)
            ]
        );
        assert_eq!(n.order, [0, 1, 2]);
        let lif = LifParams {
            beta: 0.9,
            threshold: 1.0,
            reset: Reset::Subtract,
        };
        assert_eq!(n.populations[1].kind, PopKind::Lif(lif));
        assert_eq!(n.populations[2].kind, PopKind::Lif(lif));
        assert_eq!(
            n.populations[0].kind,
            PopKind::Poisson {
                rate_lo: 0.1,
                rate_hi: 0.5
            }
        );
        assert_eq!(n.dt_ms, 1.0);
    }

    #[test]
    fn resolved_toml_round_trips() {
        let n = Network::default_nacc().scaled(3).unwrap();
        let again = Network::from_toml_str(&n.to_toml(), "round trip").unwrap();
        assert_eq!(n, again);
    }

    #[test]
    fn order_puts_pre_before_post_whatever_the_file_order() {
        let text = r#"
            [[population]]
            name = "c"
            size = 1
            kind = "lif"
            [[population]]
            name = "b"
            size = 1
            kind = "lif"
            [[population]]
            name = "a"
            size = 1
            kind = "poisson"
            [[projection]]
            name = "bc"
            pre = "b"
            post = "c"
            [[projection]]
            name = "ab"
            pre = "a"
            post = "b"
        "#;
        let n = Network::from_toml_str(text, "t").unwrap();
        assert_eq!(n.order, [2, 1, 0]);
    }
}
