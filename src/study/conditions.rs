//! The runs of a study: the model changed in one way each, as network
//! files (so each can be repeated with `nacc run --config`).

use crate::config::RawConfig;
use crate::error::{Error, Result};
use crate::network::Network;

/// How long each experiment runs and what it varies.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Protocol {
    /// The model as it is (steps of its dt).
    pub activity_steps: usize,
    /// Cortical volleys: one every `volley_every_ms`, `volley_ms` long, in
    /// which every prefrontal afferent fires at `volley_hz`.
    pub volleys: usize,
    pub volley_every_ms: f64,
    pub volley_ms: f64,
    pub volley_hz: f64,
    /// Tonic dopamine levels, each run for `dose_steps`.
    pub doses: Vec<f32>,
    pub dose_steps: usize,
    /// Reward learning: A/B presentations per run, and the seeds (the
    /// study's seed, +1, ...), each run rewarded and not.
    pub trials: usize,
    pub learning_seeds: usize,
    /// The dopamine a reward adds.
    pub reward: f32,
}

impl Protocol {
    /// The protocol of the figures in docs/models/nacc-striatum.md.
    pub fn full() -> Protocol {
        Protocol {
            activity_steps: 3000,
            volleys: 50,
            volley_every_ms: 200.0,
            volley_ms: 10.0,
            volley_hz: 50.0,
            doses: vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            dose_steps: 3000,
            trials: 160,
            learning_seeds: 4,
            reward: REWARD,
        }
    }

    /// A shorter protocol, for a first look and for the tests.
    pub fn quick() -> Protocol {
        Protocol {
            activity_steps: 2000,
            volleys: 20,
            doses: vec![0.0, 0.25, 0.5],
            dose_steps: 2000,
            trials: 60,
            learning_seeds: 3,
            ..Protocol::full()
        }
    }

    /// Every run of the study on `net` (the model, scaled), in order.
    pub fn conditions(&self, net: &Network) -> Result<Vec<Condition>> {
        let base = net.to_raw();
        let mut runs = vec![Condition::new(
            "activity",
            Experiment::Activity,
            base.clone(),
            self.activity_steps,
            0,
        )?];
        for intact in [true, false] {
            let mut raw = base.clone();
            volleys(&mut raw, self)?;
            if !intact {
                raw.projections
                    .retain(|p| !(p.pre == "fsi" && (p.post == "d1" || p.post == "d2")));
            }
            let name = if intact {
                "ffi_intact"
            } else {
                "ffi_no_fsi_msn"
            };
            let steps = (self.volleys as f64 * self.volley_every_ms / net.dt_ms).round() as usize;
            runs.push(Condition::new(
                name,
                Experiment::Feedforward { intact },
                raw,
                steps,
                0,
            )?);
        }
        for &d in &self.doses {
            let mut raw = base.clone();
            let da = raw.dopamine.get_or_insert_with(|| {
                parse_part("[dopamine]\ntau_ms = 100.0\n").dopamine.unwrap()
            });
            da.tonic = (d != 0.0).then_some(d);
            runs.push(Condition::new(
                &format!("dopamine_{d:.2}"),
                Experiment::Dopamine { d },
                raw,
                self.dose_steps,
                0,
            )?);
        }
        for s in 0..self.learning_seeds {
            for rewarded in [true, false] {
                let mut raw = base.clone();
                learning(&mut raw, if rewarded { self.reward } else { 0.0 })?;
                let name = format!(
                    "learning_{}_{s}",
                    if rewarded { "reward" } else { "control" }
                );
                let steps = (self.trials as f64 * TRIAL_MS / net.dt_ms).round() as usize;
                runs.push(Condition::new(
                    &name,
                    Experiment::Learning { rewarded },
                    raw,
                    steps,
                    s as u64,
                )?);
            }
        }
        Ok(runs)
    }
}

/// What a run is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Experiment {
    Activity,
    Feedforward {
        intact: bool,
    },
    Dopamine {
        d: f32,
    },
    /// Its seed is the study's + the run's `seed_offset`.
    Learning {
        rewarded: bool,
    },
}

/// One run of a study.
#[derive(Debug, Clone)]
pub struct Condition {
    /// `study_<name>.toml`.
    pub name: String,
    pub experiment: Experiment,
    pub raw: RawConfig,
    pub net: Network,
    pub steps: usize,
    /// Added to the study's seed.
    pub seed_offset: u64,
}

impl Condition {
    fn new(
        name: &str,
        experiment: Experiment,
        mut raw: RawConfig,
        steps: usize,
        seed_offset: u64,
    ) -> Result<Condition> {
        raw.steps = Some(steps as i64);
        let net = raw
            .validate()
            .map_err(|e| e.context(format!("nacc study, run `{name}`")))?;
        Ok(Condition {
            name: name.to_string(),
            experiment,
            raw,
            net,
            steps,
            seed_offset,
        })
    }

    /// The run as a network file.
    pub fn toml(&self) -> Result<String> {
        let body = toml::to_string(&self.raw)
            .map_err(|e| Error::Input(format!("study run `{}`: {e}", self.name)))?;
        Ok(format!(
            "# nacc study, run `{}`: repeat it with\n#   nacc run --config study_{}.toml --seed SEED\n# (SEED: the study's seed + {})\n{body}",
            self.name, self.name, self.seed_offset
        ))
    }
}

/// Parts of a network file (populations, projections, a stimulus, a
/// dopamine section), written here.
fn parse_part(text: &str) -> RawConfig {
    toml::from_str(text).expect("the study's network parts parse")
}

/// Cortical volleys instead of the slow oscillation.
fn volleys(raw: &mut RawConfig, p: &Protocol) -> Result<()> {
    let pfc = raw
        .populations
        .iter()
        .find(|q| q.name == "pfc")
        .map_or(0, |q| q.size);
    let part = parse_part(&format!(
        "[stimulus]\npopulation = \"pfc\"\ntrial_ms = {:?}\npresent_ms = {:?}\nsequence = [\"volley\"]\n\
         [[stimulus.pattern]]\nname = \"volley\"\nneurons = [0, {pfc}]\nrate_hz = {:?}\n",
        p.volley_every_ms, p.volley_ms, p.volley_hz
    ));
    raw.stimulus = part.stimulus;
    // no reward rule may name the old patterns
    if let Some(d) = &mut raw.dopamine {
        d.rules.clear();
    }
    Ok(())
}

/// One presentation of the A/B task: 500 ms, the pattern shown for the
/// first 100 ms (as in `assets/reward_learning.toml`).
pub const TRIAL_MS: f64 = 500.0;

/// The dopamine a reward adds (Humphries' d is within [0, 1]).
pub const REWARD: f32 = 0.3;

/// The A/B task carried over: 50 cue afferents (A: 0-24, B: 25-49, 10 Hz,
/// 100 Hz while shown) onto every D1 MSN (plastic, dense) and D2 MSN
/// (fixed); a reward `reward` after 120 ms of every A.
fn learning(raw: &mut RawConfig, reward: f32) -> Result<()> {
    let tau = raw.dopamine.as_ref().map_or(100.0, |d| d.tau_ms);
    let part = parse_part(&format!(
        r#"
[[population]]
name = "cue"
size = 50
kind = "poisson"
rate_hz = [10.0, 10.0]

[[projection]]
name = "cue_d1"
pre = "cue"
post = "d1"
synapse = "ampa"
init = "uniform"
low = {lo:?}
high = {hi:?}

[projection.plasticity]
tau_pre_ms = 20.0
tau_post_ms = 20.0
tau_c_ms = 200.0
a_plus = 1.0
a_minus = 0.6
learning_rate = {rate:?}
w_min = 0.0
w_max = {w_max:?}

[[projection]]
name = "cue_d2"
pre = "cue"
post = "d2"
synapse = "ampa"
init = "uniform"
low = {lo:?}
high = {hi:?}

[stimulus]
population = "cue"
trial_ms = {TRIAL_MS:?}
present_ms = 100.0
sequence = ["A", "B"]

[[stimulus.pattern]]
name = "A"
neurons = [0, 25]
rate_hz = 100.0

[[stimulus.pattern]]
name = "B"
neurons = [25, 50]
rate_hz = 100.0

[dopamine]
tau_ms = {tau:?}

[[dopamine.rule]]
pattern = "A"
delay_ms = 120.0
amount = {reward:?}
"#,
        lo = CUE_W.0,
        hi = CUE_W.1,
        rate = CUE_LEARNING_RATE,
        w_max = CUE_W_MAX,
    ));
    raw.populations.extend(part.populations);
    raw.projections.extend(part.projections);
    raw.stimulus = part.stimulus;
    raw.dopamine = part.dopamine;
    Ok(())
}

/// The cue synapses' initial conductances (nS), bound and learning rate.
pub const CUE_W: (f32, f32) = (0.0, 0.5);
pub const CUE_W_MAX: f32 = 0.6;
pub const CUE_LEARNING_RATE: f32 = 2e-4;
