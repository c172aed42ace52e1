//! A rank's part of one population: a network of its own that an engine
//! runs as it would any other.
//!
//! The stage of population P on a rank holds, in this order: every Poisson
//! population of the run, whole (the input drawn by the host, as in one
//! process); a *ghost* of every other population that projects onto P,
//! whole, whose spikes the host writes in from the exchange; and the
//! rank's slice of P. Its projections are P's incoming ones in config
//! order, with the rows of the slice's post neurons and the F of the whole
//! projection ([`crate::network::Weights::frac_bits`]), so every sum is the
//! one process's. A projection that feeds back (its pre population comes
//! at or after P in the update order, P itself included) reaches its ghost
//! `shift` steps late, with its delay `shift` steps shorter: the arrival
//! step is unchanged, and the spikes it needs were exchanged a sub-chunk
//! earlier.

use crate::error::Result;
use crate::network::{Delay, Model, Network, PopKind, Population, Projection, Record, StateVar};
use crate::network::{SparseRows, Weights};
use std::ops::Range;
use std::sync::Arc;

/// Whether projection `p` feeds back: its pre population is updated at or
/// after its post in the step's order (it is delayed: the config checks
/// that every cycle is).
pub(super) fn feeds_back(net: &Network, p: &Projection) -> bool {
    if net.populations[p.pre].is_poisson() {
        return false;
    }
    let at = |pop: usize| net.order.iter().position(|&q| q == pop);
    at(p.pre) >= at(p.post)
}

/// The steps a sub-chunk may take: the least delay of a projection that
/// feeds back (None when none does: a whole chunk at a time).
pub(super) fn span(net: &Network) -> Option<usize> {
    net.projections
        .iter()
        .filter(|p| feeds_back(net, p))
        .map(|p| p.delay.lo as usize)
        .min()
}

/// How a stage's network maps onto the whole one.
#[derive(Debug, Clone)]
pub(super) struct StageMap {
    /// The population it computes, in the whole network.
    pub pop: usize,
    /// The neurons of it this rank owns.
    pub slice: Range<usize>,
    /// (whole, stage) index of every Poisson population.
    pub poisson: Vec<(usize, usize)>,
    /// (whole, stage) index of every ghost, and whether it is shifted.
    pub ghosts: Vec<(usize, usize, bool)>,
    /// The slice's index in the stage.
    pub local: usize,
    /// The whole projection of each of the stage's.
    pub projections: Vec<usize>,
    /// Per probe of the whole network on this population (its index in
    /// [`Network::probes`]): its index among the stage's probes, if this
    /// rank owns any of its neurons.
    pub probes: Vec<(usize, Option<usize>)>,
}

/// The stage of population `pop` (not Poisson) for the rank owning
/// `slice`; projections that feed back are shifted by `shift` steps.
pub(super) fn stage(
    model: &Model,
    frac_bits: &[u32],
    pop: usize,
    slice: Range<usize>,
    shift: usize,
) -> Result<(Model, StageMap)> {
    let net = &model.net;
    let mut pops: Vec<Population> = Vec::new();
    let mut rates: Vec<Vec<f32>> = Vec::new();
    let mut poisson = Vec::new();
    for (p, q) in net.populations.iter().enumerate() {
        if q.is_poisson() {
            poisson.push((p, pops.len()));
            pops.push(q.clone());
            rates.push(model.rates[p].clone());
        }
    }
    let incoming: Vec<usize> = net.incoming(pop).map(|(j, _)| j).collect();
    let mut ghosts: Vec<(usize, usize, bool)> = Vec::new();
    for &j in &incoming {
        let p = &net.projections[j];
        let pre = &net.populations[p.pre];
        let shifted = feeds_back(net, p);
        if !pre.is_poisson() && !ghosts.iter().any(|g| g.0 == p.pre && g.2 == shifted) {
            ghosts.push((p.pre, pops.len(), shifted));
            pops.push(Population {
                name: pre.name.clone(),
                size: pre.size,
                kind: PopKind::Poisson {
                    rate_lo: 0.0,
                    rate_hi: 0.0,
                },
                dopamine: None,
            });
            rates.push(vec![0.0; pre.size]);
        }
    }
    let local = pops.len();
    pops.push(Population {
        size: slice.len(),
        ..net.populations[pop].clone()
    });
    rates.push(Vec::new());
    let mut projections = Vec::new();
    let mut weights = Vec::new();
    for &j in &incoming {
        let p = &net.projections[j];
        let shifted = feeds_back(net, p);
        let pre = match net.populations[p.pre].is_poisson() {
            true => poisson.iter().find(|x| x.0 == p.pre).map(|x| x.1),
            false => ghosts
                .iter()
                .find(|g| g.0 == p.pre && g.2 == shifted)
                .map(|g| g.1),
        }
        .expect("every pre population has a place");
        let by = if shifted { shift as u32 } else { 0 };
        let delay = match p.delay.lo - by == 0 && p.delay.hi - by == 0 {
            true => Delay::NONE,
            false => Delay {
                lo: p.delay.lo - by,
                hi: p.delay.hi - by,
                range: p.delay.range,
            },
        };
        projections.push(Projection {
            pre,
            post: local,
            delay,
            autapses: false,
            ..p.clone()
        });
        let n_pre = net.populations[p.pre].size;
        weights.push(rows_of(
            &model.weights[j],
            n_pre,
            &slice,
            frac_bits[j],
            by as u8,
        ));
    }
    let (records, probes) = records_of(net, pop, &slice, &incoming, local);
    let stage_net = Network {
        dt_ms: net.dt_ms,
        steps: net.steps,
        order: (0..pops.len()).collect(),
        populations: pops,
        projections,
        stimulus: net.stimulus.clone().map(|mut s| {
            s.population = poisson
                .iter()
                .find(|x| x.0 == s.population)
                .map_or(0, |x| x.1);
            s
        }),
        dopamine: net.dopamine.clone(),
        records,
    };
    let map = StageMap {
        pop,
        slice,
        poisson,
        ghosts,
        local,
        projections: incoming,
        probes,
    };
    let model = Model {
        net: stage_net,
        seed: model.seed,
        weights,
        rates,
    };
    Ok((model, map))
}

/// The weights of the post neurons `slice` of a projection (F given:
/// `frac_bits`), per-synapse delays `by` steps shorter.
fn rows_of(w: &Weights, n_pre: usize, slice: &Range<usize>, frac_bits: u32, by: u8) -> Weights {
    let b = match w.b.is_empty() {
        true => Vec::new(),
        false => w.b[slice.clone()].to_vec(),
    };
    let Some(rows) = &w.sparse else {
        return Weights {
            w: w.w[slice.start * n_pre..slice.end * n_pre].to_vec(),
            b,
            sparse: None,
            delays: None,
            frac_bits: Some(frac_bits),
        };
    };
    let (lo, hi) = (rows.ptr[slice.start], rows.ptr[slice.end]);
    let sparse = SparseRows {
        ptr: rows.ptr[slice.start..=slice.end]
            .iter()
            .map(|&x| x - lo)
            .collect(),
        pre: rows.pre[lo..hi].to_vec(),
    };
    Weights {
        w: w.w[lo..hi].to_vec(),
        b,
        sparse: Some(Arc::new(sparse)),
        delays: w
            .delays
            .as_ref()
            .map(|d| d[lo..hi].iter().map(|&x| x - by).collect()),
        frac_bits: Some(frac_bits),
    }
}

/// The records of population `pop` restricted to the neurons of `slice`
/// (renumbered from 0; a record with none of them is left out), and the
/// map of the whole network's probes on `pop` to the stage's.
fn records_of(
    net: &Network,
    pop: usize,
    slice: &Range<usize>,
    incoming: &[usize],
    local: usize,
) -> (Vec<Record>, Vec<(usize, Option<usize>)>) {
    let mut records = Vec::new();
    let mut probes = Vec::new();
    let (mut k, mut next) = (0, 0);
    for rec in &net.records {
        let n = rec.variables.len();
        if rec.population == pop {
            let mine: Vec<u32> = rec
                .neurons
                .iter()
                .filter(|&&x| slice.contains(&(x as usize)))
                .map(|&x| x - slice.start as u32)
                .collect();
            let owned = !mine.is_empty();
            if owned {
                let variables = rec.variables.iter().map(|&v| match v {
                    StateVar::Syn(j) => {
                        StateVar::Syn(incoming.iter().position(|&i| i == j).expect("incoming"))
                    }
                    v => v,
                });
                records.push(Record {
                    population: local,
                    neurons: mine,
                    range: None,
                    variables: variables.collect(),
                    every: rec.every,
                });
            }
            for i in 0..n {
                probes.push((k + i, owned.then(|| next + i)));
            }
            next += if owned { n } else { 0 };
        }
        k += n;
    }
    (records, probes)
}
