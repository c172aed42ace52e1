//! What a run with a stimulus shows: the responses of every population to
//! each presentation of a pattern, and the preference for the rewarded one.

use crate::network::{Network, Receptor};
use crate::record::PopRecord;
use serde::Serialize;

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
