//! `--trials N` across ranks: the network is whole on every rank and the
//! trials are split, rank r running trials `r N / R .. (r + 1) N / R`
//! ([`crate::trials::run_range`]), with no exchange while they run. At the
//! end every rank's records are gathered, in trial order; when a signal or
//! a failure stopped some rank early, every record is cut to the steps all
//! completed.

use super::{Ranks, bytes_of, gather, words_of};
use crate::engine::{Exchanged, Stop};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::record::{PopRecord, SpikeRecord};
use crate::trials::TrialRun;
use std::ops::Range;

/// The trials of `trials` that rank `r` of `ranks` runs.
pub fn share(trials: usize, ranks: usize, r: usize) -> Range<usize> {
    r * trials / ranks..(r + 1) * trials / ranks
}

/// Every rank's trials, on every rank: `mine` is this rank's run (None when
/// it had no trial).
pub fn gather_trials(
    comm: &Ranks,
    net: &Network,
    mine: Result<Option<TrialRun>>,
    spent: &mut Exchanged,
) -> Result<TrialRun> {
    let (mine, msg) = match mine {
        // a rank without a trial: no record, and no step count to cut to
        Ok(run) => {
            let w = run.as_ref().map_or(vec![0, u32::MAX, 0, 0], encode);
            (run, Ok(w))
        }
        Err(e) => (None, Err(e)),
    };
    let all = gather(&**comm, msg, spent)?;
    let mut parts = Vec::new();
    for w in &all {
        parts.push(decode(net, w));
    }
    let done = parts.iter().filter_map(|p| p.steps).min().unwrap_or(0);
    let mut stopped = None;
    for (r, p) in parts.iter_mut().enumerate() {
        if let Some((failed, why)) = p.why.take() {
            let why = format!("rank {r} of {}: {why}", all.len());
            let this = match failed {
                true => Stop::Failed(Error::Runtime(why)),
                false => Stop::Signal(why),
            };
            // a failure outranks a signal
            if !matches!(stopped, Some(Stop::Failed(_))) {
                stopped = Some(this);
            }
        }
    }
    let records = parts
        .into_iter()
        .flat_map(|p| p.records)
        .map(|rec| cut(net, rec, done))
        .collect();
    let own = mine.unwrap_or(TrialRun {
        records: Vec::new(),
        engine: String::new(),
        adapter: None,
        stopped: None,
        setup: Default::default(),
        engines_built: 0,
    });
    Ok(TrialRun {
        records,
        stopped,
        ..own
    })
}

/// A rank's records as words: records, steps, why it stopped (0 no, 1 a
/// signal, 2 a failure, then its text), then each record's spikes and
/// samples.
fn encode(run: &TrialRun) -> Vec<u32> {
    let steps = run.records.first().map_or(0, |r| r.steps());
    let (kind, why) = match &run.stopped {
        None => (0, String::new()),
        Some(Stop::Signal(s)) => (1, s.clone()),
        Some(Stop::Failed(e)) => (2, e.to_string()),
    };
    let mut w = vec![run.records.len() as u32, steps as u32, kind];
    w.extend(words_of(why.as_bytes()));
    for rec in &run.records {
        for p in &rec.pops {
            w.extend_from_slice(&p.bits);
        }
        for s in &rec.state {
            w.push(s.len() as u32);
            w.extend(s.iter().map(|x| x.to_bits()));
        }
    }
    w
}

struct Part {
    records: Vec<SpikeRecord>,
    /// Steps completed (None: the rank had no trial).
    steps: Option<usize>,
    /// (a failure, its text) when it stopped early.
    why: Option<(bool, String)>,
}

fn decode(net: &Network, w: &[u32]) -> Part {
    let (n, steps, kind) = (w[0] as usize, w[1], w[2]);
    let len = w[3] as usize;
    let why = String::from_utf8_lossy(&bytes_of(&w[3..])).into_owned();
    let mut at = 4 + len.div_ceil(4);
    let mut records = Vec::new();
    for _ in 0..n {
        let pops = net
            .populations
            .iter()
            .map(|p| {
                let words = steps as usize * p.words_per_step();
                let bits = w[at..at + words].to_vec();
                at += words;
                PopRecord::from_bits(p.size, bits)
            })
            .collect();
        let state = net
            .probes()
            .iter()
            .map(|_| {
                let len = w[at] as usize;
                let s = w[at + 1..at + 1 + len]
                    .iter()
                    .map(|&x| f32::from_bits(x))
                    .collect();
                at += 1 + len;
                s
            })
            .collect();
        records.push(SpikeRecord { pops, state });
    }
    Part {
        records,
        steps: (steps != u32::MAX).then_some(steps as usize),
        why: (kind != 0).then_some((kind == 2, why)),
    }
}

/// `rec` cut to its first `steps` steps.
fn cut(net: &Network, rec: SpikeRecord, steps: usize) -> SpikeRecord {
    if rec.steps() == steps {
        return rec;
    }
    let pops = rec
        .pops
        .into_iter()
        .map(|p| {
            let mut bits = p.bits;
            bits.truncate(steps * p.words_per_step);
            PopRecord::from_bits(p.size, bits)
        })
        .collect();
    let state = rec
        .state
        .into_iter()
        .zip(net.probes())
        .map(|(mut s, (r, _))| {
            let rec = &net.records[r];
            s.truncate(rec.samples(steps as u64) as usize * rec.neurons.len());
            s
        })
        .collect();
    SpikeRecord { pops, state }
}
