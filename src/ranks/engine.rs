//! [`SplitEngine`]: one rank's share of a run, behind the [`Engine`] trait,
//! so that the run loop, streaming, signals and outputs are those of one
//! process.
//!
//! A chunk runs in sub-chunks of at most the least delay of a projection
//! that feeds back (the whole chunk when none does). In each sub-chunk the
//! stages run in the update order; after each, the ranks exchange its
//! population's spikes (and recorded states) bit-packed, so that the next
//! stage's ghosts hold the spikes of the same steps: a projection without
//! delay reaches the next population in the same step, as in one process.

use super::stage::{self, StageMap};
use super::{Ranks, gather, place_bits, slice, words_of};
use crate::engine::{Engine, Exchanged, InputSource};
use crate::error::Result;
use crate::network::{Model, Network};
use crate::record::ChunkSpikes;
use std::ops::Range;

/// Builds the engine of a stage: its model, its input (given: the host
/// writes it in) and the steps of its chunks.
pub type MakeEngine<'a> = dyn Fn(&Model, &InputSource, usize) -> Result<Box<dyn Engine>> + 'a;

struct Stage {
    map: StageMap,
    net: Network,
    engine: Box<dyn Engine>,
    buf: ChunkSpikes,
    /// Per probe of the population (in the order of `map.probes`): its
    /// record's period, the owner of each recorded neuron in the record's
    /// order, and how many each rank owns.
    owners: Vec<(u64, Vec<usize>, Vec<usize>)>,
}

pub struct SplitEngine {
    comm: Ranks,
    net: Network,
    stages: Vec<Stage>,
    /// Per population: each rank's slice (empty for Poisson populations).
    slices: Vec<Vec<Range<usize>>>,
    /// Steps of a sub-chunk.
    sub: usize,
    /// Per population: its spikes of the last `shift` steps, oldest
    /// first, when a projection feeding back reads them.
    history: Vec<Vec<u32>>,
    steps_done: u64,
    spent: Exchanged,
    describe: String,
}

impl SplitEngine {
    /// This rank's stages of `model`, each on an engine of `make`. Every
    /// rank builds its own; a rank that fails makes every rank fail with
    /// its message.
    pub fn new(comm: Ranks, model: &Model, chunk: usize, make: &MakeEngine) -> Result<SplitEngine> {
        let net = &model.net;
        let (rank, size) = (comm.rank(), comm.size());
        let span = stage::span(net);
        let shift = span.unwrap_or(0);
        let sub = span.unwrap_or(chunk).min(chunk).max(1);
        let slices: Vec<Vec<Range<usize>>> = net
            .populations
            .iter()
            .map(|p| match p.is_poisson() {
                true => Vec::new(),
                false => (0..size).map(|r| slice(p.size, size, r)).collect(),
            })
            .collect();
        let built = (|| -> Result<Vec<Stage>> {
            let frac_bits = model.frac_bits()?;
            let mut stages = Vec::new();
            for &p in net
                .order
                .iter()
                .filter(|&&p| !net.populations[p].is_poisson())
            {
                let (m, map) = stage::stage(model, &frac_bits, p, slices[p][rank].clone(), shift)?;
                let given = InputSource::Given {
                    steps: 0,
                    spikes: Vec::new(),
                };
                let engine = make(&m, &given, sub)?;
                let owners = map
                    .probes
                    .iter()
                    .map(|&(k, _)| owners_of(net, k, &slices[p]))
                    .collect();
                stages.push(Stage {
                    buf: ChunkSpikes::new(&m.net, sub),
                    net: m.net,
                    engine,
                    map,
                    owners,
                });
            }
            Ok(stages)
        })();
        let mut spent = Exchanged {
            ranks: size,
            ..Exchanged::default()
        };
        let (stages, mine) = match built {
            Ok(s) => {
                let d = s.first().map(|x| x.engine.describe()).unwrap_or_default();
                let w = words_of(d.as_bytes());
                (s, Ok(w))
            }
            Err(e) => (Vec::new(), Err(e)),
        };
        let all = gather(&*comm, mine, &mut spent)?;
        let names: Vec<String> = all
            .iter()
            .map(|w| String::from_utf8_lossy(&super::bytes_of(w)).into_owned())
            .collect();
        let describe = match names.iter().all(|n| *n == names[0]) {
            true => format!("{}, on each of {size} ranks", names[0]),
            false => names
                .iter()
                .enumerate()
                .map(|(r, n)| format!("rank {r}: {n}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let shifted = |p: usize| {
            stages
                .iter()
                .any(|s| s.map.ghosts.iter().any(|g| g.0 == p && g.2))
        };
        let history = (0..net.populations.len())
            .map(|p| match shifted(p) {
                true => vec![0; shift * net.populations[p].words_per_step()],
                false => Vec::new(),
            })
            .collect();
        Ok(SplitEngine {
            comm,
            net: net.clone(),
            stages,
            slices,
            sub,
            history,
            steps_done: 0,
            spent,
            describe,
        })
    }

    /// Runs stage `st` for steps `s0 .. s0 + m` of the chunk, then places
    /// every rank's spikes and samples of its population into `spikes`.
    fn run_stage(
        &mut self,
        st: usize,
        spikes: &mut ChunkSpikes,
        s0: usize,
        m: usize,
    ) -> Result<()> {
        let stage = &mut self.stages[st];
        let net = &self.net;
        stage.buf.resize(&stage.net, m);
        let rows = |p: usize| {
            let wps = net.populations[p].words_per_step();
            s0 * wps..(s0 + m) * wps
        };
        for &(w, l) in &stage.map.poisson {
            stage.buf.bits[l].copy_from_slice(&spikes.bits[w][rows(w)]);
        }
        for &(w, l, shifted) in &stage.map.ghosts {
            let from = match shifted {
                true => &self.history[w][..rows(w).len()],
                false => &spikes.bits[w][rows(w)],
            };
            stage.buf.bits[l].copy_from_slice(from);
        }
        let (a, b) = (stage.map.slice.start, stage.map.slice.end);
        let ran = stage.engine.run_chunk(&mut stage.buf);
        let ran = ran.map_err(|e| {
            let name = &net.populations[stage.map.pop].name;
            e.context(format!(
                "population `{name}`'s neurons {a}..{b} (a neuron named counts from {a})"
            ))
        });
        let ran = ran.map(|()| {
            let mut msg = stage.buf.bits[stage.map.local].clone();
            for &(_, i) in &stage.map.probes {
                if let Some(i) = i {
                    msg.extend(stage.buf.state[i].iter().map(|x| x.to_bits()));
                }
            }
            msg
        });
        let all = gather(&*self.comm, ran, &mut self.spent)?;
        let p = stage.map.pop;
        let wps = net.populations[p].words_per_step();
        let out = &mut spikes.bits[p][rows(p)];
        out.fill(0);
        let mut at = vec![0usize; all.len()];
        for (q, msg) in all.iter().enumerate() {
            let sl = &self.slices[p][q];
            let lw = sl.len().div_ceil(32);
            for s in 0..m {
                place_bits(
                    &mut out[s * wps..(s + 1) * wps],
                    sl.start,
                    &msg[s * lw..(s + 1) * lw],
                );
            }
            at[q] = m * lw;
        }
        // the samples of the records of the population, in the record's
        // order of neurons
        let first = self.steps_done + s0 as u64;
        for (&(k, _), (every, owner, count)) in stage.map.probes.iter().zip(&stage.owners) {
            let every = *every;
            let samples = (first..first + m as u64)
                .filter(|t| t.is_multiple_of(every))
                .count();
            let state = &mut spikes.state[k];
            let mut next = vec![0usize; all.len()];
            for i in 0..samples {
                next.fill(0);
                for &q in owner {
                    let x = all[q][at[q] + i * count[q] + next[q]];
                    state.push(f32::from_bits(x));
                    next[q] += 1;
                }
            }
            for (q, a) in at.iter_mut().enumerate() {
                *a += samples * count[q];
            }
        }
        Ok(())
    }

    /// Keeps the last steps of every population a shifted ghost reads.
    fn remember(&mut self, spikes: &ChunkSpikes, s0: usize, m: usize) {
        for (p, h) in self.history.iter_mut().enumerate() {
            if h.is_empty() {
                continue;
            }
            let wps = self.net.populations[p].words_per_step();
            h.drain(..m * wps);
            h.extend_from_slice(&spikes.bits[p][s0 * wps..(s0 + m) * wps]);
        }
    }
}

/// Probe `k`'s record's period, its neurons' owners in the record's order,
/// and each rank's count.
fn owners_of(net: &Network, k: usize, slices: &[Range<usize>]) -> (u64, Vec<usize>, Vec<usize>) {
    let rec = &net.records[net.probes()[k].0];
    let mut count = vec![0; slices.len()];
    let owner = rec
        .neurons
        .iter()
        .map(|&n| {
            let q = slices
                .iter()
                .position(|s| s.contains(&(n as usize)))
                .expect("the slices cover the population");
            count[q] += 1;
            q
        })
        .collect();
    (rec.every, owner, count)
}

impl Engine for SplitEngine {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()> {
        let n = spikes.steps;
        let mut s0 = 0;
        while s0 < n {
            let m = self.sub.min(n - s0);
            for st in 0..self.stages.len() {
                self.run_stage(st, spikes, s0, m)?;
            }
            self.remember(spikes, s0, m);
            s0 += m;
        }
        self.steps_done += n as u64;
        Ok(())
    }

    fn membranes(&mut self) -> Result<Vec<Vec<f32>>> {
        let mut out = vec![Vec::new(); self.net.populations.len()];
        for st in &mut self.stages {
            let local = st.map.local;
            let mine = st
                .engine
                .membranes()
                .map(|mut v| v.swap_remove(local).iter().map(|x| x.to_bits()).collect());
            let all = gather(&*self.comm, mine, &mut self.spent)?;
            out[st.map.pop] = all.concat().into_iter().map(f32::from_bits).collect();
        }
        Ok(out)
    }

    fn plastic_weights(&mut self) -> Result<Vec<Option<Vec<i32>>>> {
        let mut out = vec![None; self.net.projections.len()];
        for st in &mut self.stages {
            let plastic: Vec<usize> = (0..st.map.projections.len())
                .filter(|&l| {
                    self.net.projections[st.map.projections[l]]
                        .plasticity
                        .is_some()
                })
                .collect();
            if plastic.is_empty() {
                continue;
            }
            let mine = st.engine.plastic_weights().map(|w| {
                plastic
                    .iter()
                    .flat_map(|&l| w[l].clone().unwrap_or_default())
                    .map(|x| x as u32)
                    .collect()
            });
            let all = gather(&*self.comm, mine, &mut self.spent)?;
            let p = st.map.pop;
            let n_post = self.net.populations[p].size;
            let mut at = vec![0usize; all.len()];
            for &l in &plastic {
                let j = st.map.projections[l];
                let n_pre = self.net.populations[self.net.projections[j].pre].size;
                let mut wq = vec![0i32; n_pre * n_post];
                for (q, msg) in all.iter().enumerate() {
                    let sl = &self.slices[p][q];
                    for i in 0..n_pre {
                        let row = &msg[at[q] + i * sl.len()..][..sl.len()];
                        for (c, &x) in row.iter().enumerate() {
                            wq[i * n_post + sl.start + c] = x as i32;
                        }
                    }
                    at[q] += n_pre * sl.len();
                }
                out[j] = Some(wq);
            }
        }
        Ok(out)
    }

    fn exchanged(&self) -> Option<Exchanged> {
        Some(self.spent)
    }
}
