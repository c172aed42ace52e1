//! What a study measures in its runs: rates, membranes in the cortical up
//! and down states, peri-stimulus time histograms, dose-response,
//! preference for the rewarded pattern and the learned weights.

use super::conditions::{Condition, Experiment, Protocol};
use super::{Done, Roles, StudyOptions};
use crate::error::Result;
use crate::network::{Network, StateVar};
use crate::record::PopRecord;
use serde::Serialize;

/// Everything a study measured (`study.json`).
#[derive(Debug, Clone, Serialize)]
pub struct StudyReport {
    pub command: String,
    pub seed: u64,
    pub scale: u64,
    /// The GPU adapter, or "cpu".
    pub engine: String,
    pub protocol: Protocol,
    /// Neurons and synapses of the model (afferents included).
    pub neurons: u64,
    pub synapses: u64,
    pub activity: Activity,
    pub feedforward: Feedforward,
    pub dopamine: Vec<DoseResponse>,
    pub learning: Learning,
}

/// The model as it is.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub steps: usize,
    /// Mean rates (Hz) of d1, d2 and fsi.
    pub d1_hz: f64,
    pub d2_hz: f64,
    pub fsi_hz: f64,
    /// Fraction of MSNs (D1 and D2) below 1 Hz, and silent.
    pub msn_below_1hz: f64,
    pub msn_silent: f64,
    /// Fraction of FSIs at 10 Hz or more.
    pub fsi_above_10hz: f64,
    /// Median membrane (mV) of the recorded MSNs late in the cortical up
    /// states and late in the down states; None without a recorded MSN v.
    pub msn_up_mv: Option<f64>,
    pub msn_down_mv: Option<f64>,
    /// Per-neuron rates (Hz) of d1, d2 and fsi, for the histograms.
    #[serde(skip)]
    pub rates: [Vec<f64>; 3],
}

/// Spikes per neuron and second around the volleys' onsets.
#[derive(Debug, Clone, Serialize)]
pub struct Psth {
    /// Lags (ms) from the onset.
    pub lag_ms: Vec<f64>,
    pub fsi_hz: Vec<f64>,
    /// D1 and D2 together.
    pub msn_hz: Vec<f64>,
}

/// FSI feed-forward inhibition.
#[derive(Debug, Clone, Serialize)]
pub struct Feedforward {
    pub volleys: usize,
    pub intact: Psth,
    pub no_fsi_msn: Psth,
    /// Lag (ms) of the FSI's and the MSNs' (intact) peak after the onset.
    pub fsi_peak_ms: f64,
    pub msn_peak_ms: f64,
    /// MSN spikes per neuron in the 50 ms after an onset, above the 20 ms
    /// before it: intact and without FSI -> MSN.
    pub msn_response_intact: f64,
    pub msn_response_no_fsi_msn: f64,
}

/// Rates at one tonic dopamine level.
#[derive(Debug, Clone, Serialize)]
pub struct DoseResponse {
    pub d: f32,
    pub d1_hz: f64,
    pub d2_hz: f64,
    pub fsi_hz: f64,
}

/// One learning run.
#[derive(Debug, Clone, Serialize)]
pub struct LearningRun {
    pub seed: u64,
    pub rewarded: bool,
    /// D1's mean rate (Hz) while A or B is shown, first and last quarter.
    pub early_a_hz: f64,
    pub early_b_hz: f64,
    pub late_a_hz: f64,
    pub late_b_hz: f64,
    /// Growth of the preference for A: (late A - late B) - (early A - early B).
    pub preference_gain_hz: f64,
    /// Mean change (nS) of the cue -> D1 weights from A's and B's cues,
    /// and from each cue neuron (A: 0-24, B: 25-49).
    pub dw_a_ns: f64,
    pub dw_b_ns: f64,
    pub dw_per_cue_ns: Vec<f64>,
    /// D1's response to A and to B per block of 10 presentations of each.
    pub curve_a_hz: Vec<f64>,
    pub curve_b_hz: Vec<f64>,
}

/// Reward learning over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Learning {
    pub runs: Vec<LearningRun>,
    /// Rewarded runs in which D1 came to prefer A (the last quarter's
    /// response to A above B's by more than [`PREFERENCE_HZ`], and by that
    /// much more than in the first quarter), of all rewarded runs; the same
    /// for the controls.
    pub rewarded_prefer_a: usize,
    pub control_prefer_a: usize,
    pub seeds: usize,
}

/// How much more (Hz) D1 must answer A than B, and by how much more than
/// at the start, to count as preferring A (a margin above the few Hz by
/// which two patterns' responses differ by chance).
pub const PREFERENCE_HZ: f64 = 5.0;

/// The measurements of a study, run by run: each run is measured as it
/// ends and its spikes dropped, but the activity run's, which the figures
/// draw.
#[derive(Default)]
pub(super) struct Collector {
    activity: Option<(Activity, Done)>,
    feed: (Option<Psth>, Option<Psth>),
    dopamine: Vec<DoseResponse>,
    learning: Vec<LearningRun>,
}

impl Collector {
    /// Measures run `c` (seed `seed`).
    pub fn add(&mut self, c: &Condition, d: Done, seed: u64) -> Result<()> {
        let pops = &d.record.pops;
        let roles = Roles::of(&c.net, &c.name)?;
        let dt = c.net.dt_ms;
        match c.experiment {
            Experiment::Activity => {
                self.activity = Some((measure_activity(&c.net, roles, &d), d));
            }
            Experiment::Feedforward { intact } => {
                let p = Some(psth(&c.net, roles, pops));
                match intact {
                    true => self.feed.0 = p,
                    false => self.feed.1 = p,
                }
            }
            Experiment::Dopamine { d: level } => self.dopamine.push(DoseResponse {
                d: level,
                d1_hz: pops[roles.d1].mean_rate_hz(dt),
                d2_hz: pops[roles.d2].mean_rate_hz(dt),
                fsi_hz: pops[roles.fsi].mean_rate_hz(dt),
            }),
            Experiment::Learning { rewarded } => self
                .learning
                .push(measure_learning(&c.net, roles, &d, rewarded, seed)),
        }
        Ok(())
    }

    /// The report of every run added, and the activity run (the model
    /// `net`, its spikes and recorded membranes) for the figures.
    pub fn finish(
        self,
        opts: &StudyOptions,
        protocol: &Protocol,
        net: &Network,
        adapter: Option<String>,
    ) -> (StudyReport, Done) {
        let (Some((activity, done)), (Some(intact), Some(no_fsi_msn))) = (self.activity, self.feed)
        else {
            unreachable!("a protocol has the activity run and both volley runs")
        };
        let prefer = |r: &LearningRun| {
            r.late_a_hz - r.late_b_hz > PREFERENCE_HZ && r.preference_gain_hz > PREFERENCE_HZ
        };
        let learning = self.learning;
        let report = StudyReport {
            command: opts.command(),
            seed: opts.seed,
            scale: opts.scale,
            engine: adapter.unwrap_or_else(|| "cpu".to_string()),
            protocol: protocol.clone(),
            neurons: net.total_neurons(),
            synapses: net.total_synapses(),
            activity,
            feedforward: feedforward(intact, no_fsi_msn, protocol.volleys),
            dopamine: self.dopamine,
            learning: Learning {
                rewarded_prefer_a: learning.iter().filter(|r| r.rewarded && prefer(r)).count(),
                control_prefer_a: learning.iter().filter(|r| !r.rewarded && prefer(r)).count(),
                seeds: protocol.learning_seeds,
                runs: learning,
            },
        };
        (report, done)
    }
}

fn rates(p: &PopRecord, dt_ms: f64) -> Vec<f64> {
    let s = p.steps() as f64 * dt_ms / 1000.0;
    p.counts.iter().map(|&c| c as f64 / s).collect()
}

fn median(mut v: Vec<f32>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2] as f64)
}

fn measure_activity(net: &Network, roles: Roles, d: &Done) -> Activity {
    let pops = &d.record.pops;
    let dt = net.dt_ms;
    let r = [
        rates(&pops[roles.d1], dt),
        rates(&pops[roles.d2], dt),
        rates(&pops[roles.fsi], dt),
    ];
    let msn: Vec<f64> = r[0].iter().chain(&r[1]).copied().collect();
    let frac = |v: &[f64], f: &dyn Fn(f64) -> bool| {
        v.iter().filter(|&&x| f(x)).count() as f64 / v.len().max(1) as f64
    };
    // membranes late in the cortical up states (the second half of the
    // pattern's window) and late in the down states (the last 30 % of a trial)
    let (mut up, mut down) = (Vec::new(), Vec::new());
    if let Some(st) = &net.stimulus {
        for (i, (rec, var)) in net.probes().into_iter().enumerate() {
            let r = &net.records[rec];
            if var != StateVar::V || !(r.population == roles.d1 || r.population == roles.d2) {
                continue;
            }
            let n = r.neurons.len();
            for (k, row) in d.record.state[i].chunks_exact(n.max(1)).enumerate() {
                let t = k as u64 * r.every;
                let phase = t % st.trial_steps;
                if phase >= st.present_steps / 2 && phase < st.present_steps {
                    up.extend_from_slice(row);
                } else if phase * 10 >= st.trial_steps * 7 {
                    down.extend_from_slice(row);
                }
            }
        }
    }
    Activity {
        steps: pops[roles.d1].steps(),
        d1_hz: pops[roles.d1].mean_rate_hz(dt),
        d2_hz: pops[roles.d2].mean_rate_hz(dt),
        fsi_hz: pops[roles.fsi].mean_rate_hz(dt),
        msn_below_1hz: frac(&msn, &|x| x < 1.0),
        msn_silent: frac(&msn, &|x| x == 0.0),
        fsi_above_10hz: frac(&r[2], &|x| x >= 10.0),
        msn_up_mv: median(up),
        msn_down_mv: median(down),
        rates: r,
    }
}

/// Lags of the peri-stimulus time histograms: 20 ms before to 100 ms after.
const LAGS: std::ops::RangeInclusive<i64> = -20..=100;

/// Spikes of each step of a population.
fn per_step(p: &PopRecord) -> Vec<u32> {
    p.bits
        .chunks_exact(p.words_per_step.max(1))
        .map(|w| w.iter().map(|x| x.count_ones()).sum())
        .collect()
}

fn psth(net: &Network, roles: Roles, pops: &[PopRecord]) -> Psth {
    let st = net.stimulus.as_ref().expect("volley runs have a stimulus");
    let steps = pops[roles.d1].steps() as i64;
    let trial = st.trial_steps as i64;
    let onsets: Vec<i64> = (1..steps / trial).map(|k| k * trial).collect();
    let dt = net.dt_ms;
    let hist = |counts: &[u32], size: usize| -> Vec<f64> {
        LAGS.map(|lag| {
            let n: u64 = onsets
                .iter()
                .filter_map(|&o| counts.get((o + lag) as usize))
                .map(|&c| c as u64)
                .sum();
            n as f64 / (onsets.len().max(1) as f64 * size as f64 * dt / 1000.0)
        })
        .collect()
    };
    let (c1, c2) = (per_step(&pops[roles.d1]), per_step(&pops[roles.d2]));
    let msn: Vec<u32> = c1.iter().zip(&c2).map(|(a, b)| a + b).collect();
    Psth {
        lag_ms: LAGS.map(|l| l as f64 * dt).collect(),
        fsi_hz: hist(&per_step(&pops[roles.fsi]), pops[roles.fsi].size),
        msn_hz: hist(&msn, pops[roles.d1].size + pops[roles.d2].size),
    }
}

fn feedforward(intact: Psth, no_fsi_msn: Psth, volleys: usize) -> Feedforward {
    let at = |p: &Psth, lo: f64, hi: f64| {
        let v: Vec<f64> = p
            .lag_ms
            .iter()
            .zip(&p.msn_hz)
            .filter(|(l, _)| **l >= lo && **l < hi)
            .map(|(_, r)| *r)
            .collect();
        (
            v.iter().sum::<f64>() / v.len().max(1) as f64,
            v.len() as f64,
        )
    };
    // spikes per neuron in [0, 50) ms above the rate of [-20, 0)
    let response = |p: &Psth| {
        let (after, n) = at(p, 0.0, 50.0);
        let (before, _) = at(p, -20.0, 0.0);
        (after - before) * n * (p.lag_ms[1] - p.lag_ms[0]) / 1000.0
    };
    let peak = |lags: &[f64], r: &[f64], smooth: usize| {
        let s: Vec<f64> = (0..r.len())
            .map(|i| {
                let w = &r[i.saturating_sub(smooth)..(i + smooth + 1).min(r.len())];
                w.iter().sum::<f64>() / w.len() as f64
            })
            .collect();
        lags.iter()
            .zip(&s)
            .filter(|(l, _)| **l >= 0.0)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0.0, |(l, _)| *l)
    };
    Feedforward {
        volleys,
        fsi_peak_ms: peak(&intact.lag_ms, &intact.fsi_hz, 0),
        msn_peak_ms: peak(&intact.lag_ms, &intact.msn_hz, 2),
        msn_response_intact: response(&intact),
        msn_response_no_fsi_msn: response(&no_fsi_msn),
        intact,
        no_fsi_msn,
    }
}

fn measure_learning(
    net: &Network,
    roles: Roles,
    d: &Done,
    rewarded: bool,
    seed: u64,
) -> LearningRun {
    let rows = crate::responses::responses(net, &d.record.pops);
    let of = |pattern: usize| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.pattern == pattern)
            .map(|r| r.rate_hz[roles.d1])
            .collect()
    };
    let (a, b) = (of(0), of(1));
    let quarter = |v: &[f64], late: bool| {
        let n = v.len().div_ceil(4).max(1);
        let part = if late {
            &v[v.len().saturating_sub(n)..]
        } else {
            &v[..n.min(v.len())]
        };
        part.iter().sum::<f64>() / part.len().max(1) as f64
    };
    let blocks = |v: &[f64]| {
        v.chunks(10)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect()
    };
    let j = net
        .projections
        .iter()
        .position(|p| p.name == "cue_d1")
        .expect("learning runs have cue_d1");
    let n_pre = net.populations[net.projections[j].pre].size;
    // the mean change of each cue neuron's weights onto D1 ([post][pre])
    let per_cue: Vec<f64> = match &d.learned[j] {
        Some((before, after)) => {
            let rows = before.len() / n_pre.max(1);
            (0..n_pre)
                .map(|i| {
                    let s: f64 = (0..rows)
                        .map(|r| (after[r * n_pre + i] - before[r * n_pre + i]) as f64)
                        .sum();
                    s / rows.max(1) as f64
                })
                .collect()
        }
        None => vec![0.0; n_pre],
    };
    let mean = |r: std::ops::Range<usize>| per_cue[r.clone()].iter().sum::<f64>() / r.len() as f64;
    let (dw_a, dw_b) = (mean(0..25), mean(25..50));
    let (ea, eb, la, lb) = (
        quarter(&a, false),
        quarter(&b, false),
        quarter(&a, true),
        quarter(&b, true),
    );
    LearningRun {
        seed,
        rewarded,
        early_a_hz: ea,
        early_b_hz: eb,
        late_a_hz: la,
        late_b_hz: lb,
        preference_gain_hz: (la - lb) - (ea - eb),
        dw_a_ns: dw_a,
        dw_b_ns: dw_b,
        dw_per_cue_ns: per_cue,
        curve_a_hz: blocks(&a),
        curve_b_hz: blocks(&b),
    }
}
