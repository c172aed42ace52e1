//! The validated description of a network: populations, projections,
//! the reward tables (stimulus, dopamine, modulation, plasticity), as
//! `config` reads them from TOML; and, in [`build`] and [`quantize`], the
//! network made concrete from the seed (connectivity, weights, biases,
//! rates) and in the fixed-point form both engines read.

pub mod build;
pub mod neuron;
pub mod quantize;

pub(crate) use build::in_parts;
pub use build::{Model, SparseRows, Weights};
pub use neuron::{DaEffects, Iaf, Izhikevich, Preset, Synapse, SynapseKind};
pub(crate) use quantize::in_ranges;
pub use quantize::{PreMajor, Quantized, choose_frac_bits};

use crate::fixed::decay;
use serde::{Deserialize, Serialize};
use std::ops::Range;

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
    /// Leaky integrate-and-fire in mV (docs/arithmetic.md §7.1).
    Iaf(Iaf),
    /// Izhikevich's quadratic model (docs/arithmetic.md §7.2).
    Izhikevich(Izhikevich),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub name: String,
    pub size: usize,
    pub kind: PopKind,
    /// Dopamine's effect on its excitatory input (and, for an Izhikevich
    /// population with `DaEffects`, on its parameters).
    pub dopamine: Option<Modulation>,
}

impl Population {
    /// The dimensionless snntorch LIF's parameters.
    pub fn lif(&self) -> Option<&LifParams> {
        match &self.kind {
            PopKind::Lif(p) => Some(p),
            _ => None,
        }
    }
    /// A model in physical units (iaf or Izhikevich): its constants for a
    /// step of `dt_ms`.
    pub fn physical(&self, dt_ms: f64) -> Option<neuron::ModelConsts> {
        match &self.kind {
            PopKind::Iaf(m) => Some(m.consts(dt_ms)),
            PopKind::Izhikevich(m) => Some(m.consts(dt_ms)),
            _ => None,
        }
    }
    pub fn is_physical(&self) -> bool {
        matches!(self.kind, PopKind::Iaf(_) | PopKind::Izhikevich(_))
    }
    /// The membrane a run starts from (mV for a physical model, 0 for lif).
    pub fn v_init(&self) -> f32 {
        match &self.kind {
            PopKind::Iaf(m) => m.v_init_mv,
            PopKind::Izhikevich(m) => m.v_init_mv,
            _ => 0.0,
        }
    }
    /// The second state variable a run starts from: Izhikevich's u, iaf's
    /// refractory counter (0).
    pub fn u_init(&self) -> f32 {
        match &self.kind {
            PopKind::Izhikevich(m) => m.u_init,
            _ => 0.0,
        }
    }
    /// Dopamine's effect on the parameters of an Izhikevich population.
    pub fn da_effects(&self) -> Option<(Receptor, DaEffects)> {
        match &self.kind {
            PopKind::Izhikevich(m) => {
                m.da.zip(self.dopamine.map(|d| d.receptor))
                    .map(|(e, r)| (r, e))
            }
            _ => None,
        }
    }
    /// The model's name, as the file's `kind`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            PopKind::Poisson { .. } => "poisson",
            PopKind::Lif(_) => "lif",
            PopKind::Iaf(_) => "iaf",
            PopKind::Izhikevich(_) => "izhikevich",
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
    /// Steps a spike takes to reach the post neuron (docs/arithmetic.md §2.4).
    pub delay: Delay,
    /// A self-projection (pre = post) keeps the synapse of a neuron onto
    /// itself. Always false for other projections.
    pub autapses: bool,
    /// How the arriving weights act on the post neuron (docs/arithmetic.md §8).
    pub synapse: Synapse,
}

/// Most steps a spike may take to arrive: a synapse's delay is held in one
/// byte.
pub const MAX_DELAY_STEPS: u32 = 255;

/// A projection's synaptic delay in steps: every synapse `lo` (`lo == hi`),
/// or each synapse's drawn uniformly in `lo..=hi` from the seed (or read
/// from a delay file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delay {
    pub lo: u32,
    pub hi: u32,
    /// Written as a range `[lo, hi]` (per-synapse delays), not one value.
    pub range: bool,
}

impl Delay {
    /// Same-step delivery: today's, and the default.
    pub const NONE: Delay = Delay {
        lo: 0,
        hi: 0,
        range: false,
    };
    /// Whether spikes arrive later than the step they are emitted in (on
    /// some synapse).
    pub fn is_delayed(self) -> bool {
        self.hi > 0
    }
    /// Whether each synapse has its own delay.
    pub fn per_synapse(self) -> bool {
        self.range
    }
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
    /// Each pre neuron to exactly k distinct post neurons.
    FixedFanOut(u32),
    /// Pre neuron i to post neuron i (the populations are alike in size).
    OneToOne,
}

impl Connectivity {
    pub fn is_dense(self) -> bool {
        self == Connectivity::Dense
    }
}

impl Projection {
    /// Pre and post are one population.
    pub fn is_recurrent(&self) -> bool {
        self.pre == self.post
    }
    /// A self-projection without the synapses of a neuron onto itself.
    pub fn drops_autapses(&self) -> bool {
        self.is_recurrent() && !self.autapses
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
    /// State variables recorded (`[[record]]`).
    pub records: Vec<Record>,
}

/// A state variable of a population's neurons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateVar {
    /// The membrane.
    V,
    /// Izhikevich's recovery variable (pA).
    U,
    /// iaf's refractory counter: steps left held at the reset.
    Refractory,
    /// Projection `j`'s synaptic current (pA) or conductance (nS).
    Syn(usize),
}

/// A `[[record]]` section: variables of some neurons of a population,
/// sampled after every `every`-th step (steps 0, every, 2 every, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub population: usize,
    pub neurons: Vec<u32>,
    /// Written as a range `[lo, hi)` (for config.toml).
    pub range: Option<(u32, u32)>,
    pub variables: Vec<StateVar>,
    pub every: u64,
}

impl Record {
    /// The variable's name in file names: v, u, refractory, or the
    /// projection's `g_<name>` (a conductance) or `i_<name>` (a current).
    pub fn var_name(net: &Network, var: StateVar) -> String {
        match var {
            StateVar::V => "v".into(),
            StateVar::U => "u".into(),
            StateVar::Refractory => "refractory".into(),
            StateVar::Syn(j) => {
                let p = &net.projections[j];
                match p.synapse.is_conductance() {
                    true => format!("g_{}", p.name),
                    false => format!("i_{}", p.name),
                }
            }
        }
    }

    /// The samples a run of `steps` steps takes.
    pub fn samples(&self, steps: u64) -> u64 {
        steps.div_ceil(self.every)
    }
}

impl Network {
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

    /// Delayed projections out of population `pre`, in config order: the
    /// engines sum them right after its update (docs/arithmetic.md §2.4).
    pub fn delayed_out(&self, pre: usize) -> impl Iterator<Item = usize> + '_ {
        self.projections
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.pre == pre && p.delay.is_delayed())
            .map(|(j, _)| j)
    }

    /// Every recorded variable, `(record, variable)` in file order: one
    /// `state_<pop>_<var>.npy` each.
    pub fn probes(&self) -> Vec<(usize, StateVar)> {
        self.records
            .iter()
            .enumerate()
            .flat_map(|(r, rec)| rec.variables.iter().map(move |&v| (r, v)))
            .collect()
    }

    /// The file of record `r`'s variable `var`: `state_<pop>_<var>.npy`.
    pub fn state_file(&self, r: usize, var: StateVar) -> String {
        let pop = &self.populations[self.records[r].population].name;
        format!("state_{pop}_{}.npy", Record::var_name(self, var))
    }

    /// Whether the records sample step `step` (of the run) for record `r`.
    pub fn samples_at(&self, r: usize, step: u64) -> bool {
        step.is_multiple_of(self.records[r].every)
    }

    /// Words of the physical models' own state beyond the membranes: a
    /// recovery variable or refractory counter per neuron in physical
    /// units, a current or conductance per post neuron of every synapse
    /// with a state (docs/arithmetic.md §7-§8).
    pub fn state_words(&self) -> usize {
        let pops: usize = self
            .populations
            .iter()
            .filter(|p| p.is_physical())
            .map(|p| p.size)
            .sum();
        let syn: usize = self
            .projections
            .iter()
            .filter(|p| p.synapse.has_state())
            .map(|p| self.populations[p.post].size)
            .sum();
        pops + syn
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
        let pairs = match p.drops_autapses() {
            true => n_pre * n_post - n_post,
            false => n_pre * n_post,
        };
        match p.conn {
            Connectivity::Dense => n_pre * n_post,
            Connectivity::FixedProbability(q) => (q * pairs as f64).round() as u64,
            Connectivity::FixedFanIn(k) => k as u64 * n_post,
            Connectivity::FixedFanOut(k) => k as u64 * n_pre,
            Connectivity::OneToOne => n_post,
        }
    }

    pub fn total_synapses(&self) -> u64 {
        (0..self.projections.len()).map(|j| self.synapses(j)).sum()
    }

    /// Words of one step's spikes of every population (a GPU spike row).
    pub fn row_words(&self) -> usize {
        self.populations.iter().map(|p| p.words_per_step()).sum()
    }
}

// ---------------------------------------------------------------------------
// The reward tables (validated; docs/reward.md)

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
    /// The tonic level: d(t) = phasic(t) + tonic (0: d(t) is the phasic
    /// level itself, as before the field existed).
    pub tonic: f32,
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
