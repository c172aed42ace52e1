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

use crate::error::{Error, Result, bad_value};
use crate::reward::{
    Dopamine, Modulation, Plasticity, RawDopamine, RawPattern, RawRewardRule, RawStimulus,
    Receptor, Stimulus,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest population size: neuron indices are `u32` on every engine.
pub const MAX_POPULATION_SIZE: u64 = 1 << 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    Subtract,
    Zero,
    None,
}

impl Reset {
    pub fn as_str(self) -> &'static str {
        match self {
            Reset::Subtract => "subtract",
            Reset::Zero => "zero",
            Reset::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifParams {
    pub beta: f32,
    pub threshold: f32,
    pub reset: Reset,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PopKind {
    /// Rates (spikes per step) drawn once per neuron, uniform in `[lo, hi]`.
    Poisson {
        rate_lo: f32,
        rate_hi: f32,
    },
    Lif(LifParams),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub name: String,
    pub size: usize,
    pub kind: PopKind,
    /// Dopamine's effect on the gain of its excitatory input (LIF only).
    pub dopamine: Option<Modulation>,
}

impl Population {
    pub fn lif(&self) -> Option<&LifParams> {
        match &self.kind {
            PopKind::Lif(p) => Some(p),
            PopKind::Poisson { .. } => None,
        }
    }
    pub fn is_poisson(&self) -> bool {
        matches!(self.kind, PopKind::Poisson { .. })
    }
    /// Words of 32 bits holding one step of this population's spikes.
    pub fn words_per_step(&self) -> usize {
        self.size.div_ceil(32)
    }
}

/// How a projection's weights (and bias) are initialised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// `nn.Linear` default: W and b uniform in `±1/sqrt(fan_in)`.
    Linear,
    /// W and b uniform in `[low, high]`.
    Uniform { low: f32, high: f32 },
    /// Every weight `weight`, every bias `bias`.
    Constant { weight: f32, bias: f32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub name: String,
    pub pre: usize,
    pub post: usize,
    /// +1 excitatory, -1 inhibitory; applied when the current is formed.
    pub sign: i32,
    pub bias: bool,
    pub init: Init,
    pub conn: Connectivity,
    /// Three-factor plasticity (dense projections only).
    pub plasticity: Option<Plasticity>,
}

/// Which pre neurons a post neuron receives synapses from. A missing synapse
/// contributes nothing (docs/arithmetic.md §2 with w = 0), and never occupies memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connectivity {
    /// Every pre neuron to every post neuron (an `nn.Linear`).
    Dense,
    /// Each (pre, post) pair independently with probability p.
    FixedProbability(f64),
    /// Each post neuron from exactly k distinct pre neurons.
    FixedFanIn(u32),
}

impl Connectivity {
    pub fn is_dense(self) -> bool {
        self == Connectivity::Dense
    }
}

/// A validated network: every field within its rule, projections between
/// existing populations, and `order` a dependency order of the populations.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub dt_ms: f64,
    /// Steps a run takes unless `--steps` says otherwise (the file's `steps`).
    pub steps: Option<u64>,
    pub populations: Vec<Population>,
    pub projections: Vec<Projection>,
    /// Population indices in update order (pre before post).
    pub order: Vec<usize>,
    /// Input patterns shown in turn.
    pub stimulus: Option<Stimulus>,
    /// The dopamine level d(t) and the rewards that raise it.
    pub dopamine: Option<Dopamine>,
}

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
}

fn default_dt() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPopulation {
    pub name: String,
    pub size: i64,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Vec<f32>>,
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
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawProjection {
    pub name: String,
    pub pre: String,
    pub post: String,
    #[serde(default = "default_sign")]
    pub sign: i64,
    #[serde(default = "default_true")]
    pub bias: bool,
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
    /// Three-factor plasticity, `[projection.plasticity]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plasticity: Option<Plasticity>,
}

fn default_sign() -> i64 {
    1
}
fn default_true() -> bool {
    true
}
fn default_init() -> String {
    "linear".into()
}

/// The built-in default network, identical to `assets/nacc.toml`.
pub const DEFAULT_TOML: &str = include_str!("../assets/nacc.toml");

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

    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    /// Incoming projections of population `post`, in config order.
    pub fn incoming(&self, post: usize) -> impl Iterator<Item = (usize, &Projection)> {
        self.projections
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.post == post)
    }

    pub fn total_neurons(&self) -> u64 {
        self.populations.iter().map(|p| p.size as u64).sum()
    }

    /// Synapses of projection `j`: exact for dense and fixed fan-in, the
    /// expected number for a fixed probability.
    pub fn synapses(&self, j: usize) -> u64 {
        let p = &self.projections[j];
        let (n_pre, n_post) = (
            self.populations[p.pre].size as u64,
            self.populations[p.post].size as u64,
        );
        match p.conn {
            Connectivity::Dense => n_pre * n_post,
            Connectivity::FixedProbability(q) => (q * (n_pre * n_post) as f64).round() as u64,
            Connectivity::FixedFanIn(k) => k as u64 * n_post,
        }
    }

    pub fn total_synapses(&self) -> u64 {
        (0..self.projections.len()).map(|j| self.synapses(j)).sum()
    }

    /// Words of one step's spikes of every population (a GPU spike row).
    pub fn row_words(&self) -> usize {
        self.populations.iter().map(|p| p.words_per_step()).sum()
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
                    da_gain: p.dopamine.map(|m| m.gain),
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
                }
                r
            })
            .collect();
        let projections = self
            .projections
            .iter()
            .map(|p| {
                let mut r = RawProjection {
                    name: p.name.clone(),
                    pre: self.populations[p.pre].name.clone(),
                    post: self.populations[p.post].name.clone(),
                    sign: p.sign as i64,
                    bias: p.bias,
                    init: String::new(),
                    low: None,
                    high: None,
                    weight: None,
                    bias_value: None,
                    fixed_probability: None,
                    fixed_fan_in: None,
                    plasticity: p.plasticity,
                };
                match p.conn {
                    Connectivity::Dense => {}
                    Connectivity::FixedProbability(q) => r.fixed_probability = Some(q),
                    Connectivity::FixedFanIn(k) => r.fixed_fan_in = Some(k as i64),
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
            })
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
                    rate: p.rate,
                })
                .collect(),
        });
        let dopamine = self.dopamine.as_ref().map(|d| RawDopamine {
            tau_ms: d.tau_ms,
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
        }
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

pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(bad_value(
            field,
            format!("{name:?}"),
            "must be 1 to 64 characters from letters, digits, '_' and '-' (it names output files)",
        ))
    }
}

fn check_unit_interval(field: &str, v: f32) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        crate::checks::check_normal(field, v)
    } else {
        Err(bad_value(field, v, "must be within [0, 1]"))
    }
}

/// A weight or bias of an init: finite, within +-MAX_PARAM, not subnormal.
fn check_finite(field: &str, v: f32) -> Result<()> {
    crate::checks::check_param(field, v, -crate::checks::MAX_PARAM)
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
            populations.push(validate_population(i, rp, &populations)?);
        }
        let mut projections: Vec<Projection> = Vec::with_capacity(self.projections.len());
        for (i, rp) in self.projections.iter().enumerate() {
            let proj = validate_projection(i, rp, &populations)?;
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
            Some(raw) => Some(crate::reward::validate_stimulus(
                raw,
                &populations,
                self.dt_ms,
            )?),
            None => None,
        };
        let dopamine = match &self.dopamine {
            Some(raw) => Some(crate::reward::validate_dopamine(
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
        })
    }
}

fn validate_population(i: usize, rp: &RawPopulation, earlier: &[Population]) -> Result<Population> {
    check_name(&format!("population[{i}].name"), &rp.name)?;
    let f = |field: &str| format!("population `{}` field `{field}`", rp.name);
    if earlier.iter().any(|p| p.name == rp.name) {
        return Err(bad_value(
            f("name"),
            format!("{:?}", rp.name),
            "is used by another population; names must be unique",
        ));
    }
    if rp.size <= 0 || rp.size as u64 > MAX_POPULATION_SIZE {
        return Err(bad_value(
            f("size"),
            rp.size,
            format!("must be a whole number in 1..={MAX_POPULATION_SIZE}"),
        ));
    }
    let kind = match rp.kind.as_str() {
        "poisson" => {
            for (field, present) in [
                ("beta", rp.beta.is_some()),
                ("threshold", rp.threshold.is_some()),
                ("reset", rp.reset.is_some()),
                ("dopamine", rp.dopamine.is_some()),
                ("da_gain", rp.da_gain.is_some()),
            ] {
                if present {
                    return Err(Error::Input(format!(
                        "{}: a poisson population has no `{field}` (only lif populations do)",
                        f(field)
                    )));
                }
            }
            let [lo, hi] = match rp.rate.as_deref() {
                None => [0.1, 0.5],
                Some(&[lo, hi]) => [lo, hi],
                Some(other) => {
                    return Err(bad_value(
                        f("rate"),
                        format!("{other:?}"),
                        "must be two numbers [lo, hi]: each neuron's rate is drawn uniformly between them",
                    ));
                }
            };
            check_unit_interval(&f("rate[0]"), lo)?;
            check_unit_interval(&f("rate[1]"), hi)?;
            if lo > hi {
                return Err(bad_value(
                    f("rate"),
                    format!("[{lo}, {hi}]"),
                    "needs lo <= hi",
                ));
            }
            PopKind::Poisson {
                rate_lo: lo,
                rate_hi: hi,
            }
        }
        "lif" => {
            if rp.rate.is_some() {
                return Err(Error::Input(format!(
                    "{}: a lif population has no `rate` (only poisson populations do)",
                    f("rate")
                )));
            }
            let beta = rp.beta.unwrap_or(0.9);
            check_unit_interval(&f("beta"), beta)?;
            let threshold = rp.threshold.unwrap_or(1.0);
            if threshold.is_nan() || threshold <= 0.0 {
                return Err(bad_value(
                    f("threshold"),
                    threshold,
                    "must be finite and > 0",
                ));
            }
            crate::checks::check_param(&f("threshold"), threshold, 0.0)?;
            let reset = match rp.reset.as_deref().unwrap_or("subtract") {
                "subtract" => Reset::Subtract,
                "zero" => Reset::Zero,
                "none" => Reset::None,
                other => {
                    return Err(bad_value(
                        f("reset"),
                        format!("{other:?}"),
                        "must be one of \"subtract\", \"zero\", \"none\"",
                    ));
                }
            };
            PopKind::Lif(LifParams {
                beta,
                threshold,
                reset,
            })
        }
        other => {
            return Err(bad_value(
                f("kind"),
                format!("{other:?}"),
                "must be \"poisson\" or \"lif\"",
            ));
        }
    };
    let dopamine = match (&rp.dopamine, rp.da_gain) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Error::Input(format!(
                "{}: set only together with `dopamine` (\"d1\" or \"d2\")",
                f("da_gain")
            )));
        }
        (Some(kind), gain) => Some(crate::reward::validate_modulation(f, kind, gain)?),
    };
    Ok(Population {
        name: rp.name.clone(),
        size: rp.size as usize,
        kind,
        dopamine,
    })
}

fn validate_projection(i: usize, rp: &RawProjection, pops: &[Population]) -> Result<Projection> {
    check_name(&format!("projection[{i}].name"), &rp.name)?;
    let f = |field: &str| format!("projection `{}` field `{field}`", rp.name);
    let names = || {
        pops.iter()
            .map(|p| format!("\"{}\"", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |field: &str, name: &str| {
        pops.iter().position(|p| p.name == name).ok_or_else(|| {
            bad_value(
                f(field),
                format!("{name:?}"),
                format!("is not a population; known: {}", names()),
            )
        })
    };
    let pre = find("pre", &rp.pre)?;
    let post = find("post", &rp.post)?;
    if pops[post].is_poisson() {
        return Err(bad_value(
            f("post"),
            format!("{:?}", rp.post),
            "is a poisson population; only lif populations receive projections",
        ));
    }
    if rp.sign != 1 && rp.sign != -1 {
        return Err(bad_value(
            f("sign"),
            rp.sign,
            "must be 1 (excitatory) or -1 (inhibitory)",
        ));
    }
    let unused = |fields: &[(&str, bool)], init: &str| -> Result<()> {
        for (field, present) in fields {
            if *present {
                return Err(Error::Input(format!(
                    "{}: not used by init = \"{init}\"",
                    f(field)
                )));
            }
        }
        Ok(())
    };
    let need = |field: &str, v: Option<f32>, init: &str| -> Result<f32> {
        let v = v.ok_or_else(|| {
            Error::Input(format!("{}: missing; init = \"{init}\" needs it", f(field)))
        })?;
        check_finite(&f(field), v)?;
        Ok(v)
    };
    let init = match rp.init.as_str() {
        "linear" => {
            unused(
                &[
                    ("low", rp.low.is_some()),
                    ("high", rp.high.is_some()),
                    ("weight", rp.weight.is_some()),
                    ("bias_value", rp.bias_value.is_some()),
                ],
                "linear",
            )?;
            Init::Linear
        }
        "uniform" => {
            unused(
                &[
                    ("weight", rp.weight.is_some()),
                    ("bias_value", rp.bias_value.is_some()),
                ],
                "uniform",
            )?;
            let low = need("low", rp.low, "uniform")?;
            let high = need("high", rp.high, "uniform")?;
            if low > high {
                return Err(bad_value(
                    f("low"),
                    low,
                    format!("must be <= high ({high})"),
                ));
            }
            Init::Uniform { low, high }
        }
        "constant" => {
            unused(
                &[("low", rp.low.is_some()), ("high", rp.high.is_some())],
                "constant",
            )?;
            let weight = need("weight", rp.weight, "constant")?;
            let bias = match rp.bias_value {
                Some(b) => {
                    check_finite(&f("bias_value"), b)?;
                    b
                }
                None => 0.0,
            };
            Init::Constant { weight, bias }
        }
        other => {
            return Err(bad_value(
                f("init"),
                format!("{other:?}"),
                "must be one of \"linear\", \"uniform\", \"constant\"",
            ));
        }
    };
    let conn = match (rp.fixed_probability, rp.fixed_fan_in) {
        (None, None) => Connectivity::Dense,
        (Some(_), Some(_)) => {
            return Err(Error::Input(format!(
                "{}: give fixed_probability or fixed_fan_in, not both",
                f("fixed_fan_in")
            )));
        }
        (Some(q), None) => {
            if !(q > 0.0 && q <= 1.0) {
                return Err(bad_value(
                    f("fixed_probability"),
                    q,
                    "must be within (0, 1]",
                ));
            }
            Connectivity::FixedProbability(q)
        }
        (None, Some(k)) => {
            let n_pre = pops[pre].size as i64;
            if k < 1 || k > n_pre {
                return Err(bad_value(
                    f("fixed_fan_in"),
                    k,
                    format!(
                        "must be within 1..={n_pre} (the size of pre population `{}`)",
                        pops[pre].name
                    ),
                ));
            }
            Connectivity::FixedFanIn(k as u32)
        }
    };
    if let Some(pl) = &rp.plasticity {
        crate::reward::validate_plasticity(f, pl)?;
        if !conn.is_dense() {
            return Err(Error::Input(format!(
                "{}: plasticity needs a dense projection (no fixed_probability or fixed_fan_in)",
                f("plasticity")
            )));
        }
        // the initial weights must lie within [w_min, w_max]
        let (lo, hi) = match init {
            Init::Linear => {
                let k = 1.0 / (pops[pre].size as f32).sqrt();
                (-k, k)
            }
            Init::Uniform { low, high } => (low, high),
            Init::Constant { weight, .. } => (weight, weight),
        };
        if lo < pl.w_min || hi > pl.w_max {
            return Err(bad_value(
                f("init"),
                format!("weights in [{lo}, {hi}]"),
                format!(
                    "a plastic projection's initial weights must lie within [w_min, w_max] = [{}, {}]",
                    pl.w_min, pl.w_max
                ),
            ));
        }
    }
    Ok(Projection {
        name: rp.name.clone(),
        pre,
        post,
        sign: rp.sign as i32,
        bias: rp.bias,
        init,
        conn,
        plasticity: rp.plasticity,
    })
}

/// Kahn's algorithm, ties broken by config order. A cycle of (zero-delay)
/// projections is an error that names it.
fn dependency_order(pops: &[Population], projs: &[Projection]) -> Result<Vec<usize>> {
    let n = pops.len();
    let mut indegree = vec![0usize; n];
    for p in projs {
        indegree[p.post] += 1;
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let Some(next) = (0..n).find(|&i| !done[i] && indegree[i] == 0) else {
            return Err(cycle_error(pops, projs, &done));
        };
        done[next] = true;
        order.push(next);
        for p in projs.iter().filter(|p| p.pre == next) {
            indegree[p.post] -= 1;
        }
    }
    Ok(order)
}

fn cycle_error(pops: &[Population], projs: &[Projection], done: &[bool]) -> Error {
    // Every remaining population has an incoming projection from another
    // remaining one: walk backwards until a population repeats.
    let start = (0..pops.len()).find(|&i| !done[i]).unwrap_or(0);
    let mut path: Vec<(usize, usize)> = Vec::new(); // (population, projection into it)
    let mut cur = start;
    loop {
        if let Some(pos) = path.iter().position(|&(p, _)| p == cur) {
            let cycle = &path[pos..];
            // path runs backwards (post <- pre): print it forwards from cycle[0].
            let mut pops_fwd = vec![pops[cycle[0].0].name.as_str()];
            pops_fwd.extend(cycle.iter().rev().map(|&(p, _)| pops[p].name.as_str()));
            let projs_fwd: Vec<&str> = cycle
                .iter()
                .rev()
                .map(|&(_, j)| projs[j].name.as_str())
                .collect();
            return Error::Input(format!(
                "projections form a cycle with no delay: {} (via {}); nacc updates populations in dependency order and cannot order a cycle",
                pops_fwd.join(" -> "),
                projs_fwd.join(", ")
            ));
        }
        let Some((j, proj)) = projs
            .iter()
            .enumerate()
            .find(|(_, p)| p.post == cur && !done[p.pre])
        else {
            return Error::Input("projections form a cycle with no delay".into());
        };
        path.push((cur, j));
        cur = proj.pre;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
