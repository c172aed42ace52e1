//! `summary.json`: the record of a run (its fields are documented in
//! docs/outputs.md), and the note a streamed run keeps while it goes.

use crate::network::Model;
use crate::run::{Outcome, RunOptions, chunk_of};
use serde_json::json;
use std::time::Duration;

/// summary.json's `weights_from` and `input_spikes_from` for arrays handed
/// over in memory (the Python package).
pub const IN_MEMORY: &str = "arrays in memory";

pub fn summary_json(opts: &RunOptions, o: &Outcome, total: Duration) -> serde_json::Value {
    let net = &o.model.net;
    let steps = o.steps;
    let frac_bits = o.model.frac_bits().ok();
    let populations: Vec<_> = net
        .populations
        .iter()
        .zip(&o.record.pops)
        .map(|(p, r)| {
            json!({
                "name": p.name,
                "kind": p.kind_name(),
                "size": p.size,
                "spikes": r.total(),
                "mean_rate_hz": r.rate_over(o.steps, net.dt_ms),
                "active_fraction": r.active_fraction(),
                "substeps": p.physical(net.dt_ms).map(|m| m.substeps),
                "preset": match &p.kind {
                    crate::network::PopKind::Izhikevich(m) => m.preset.map(|x| x.name()),
                    _ => None,
                },
            })
        })
        .collect();
    let projections: Vec<_> = net
        .projections
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let w = &o.model.weights[j];
            // a dense self-projection without autapses holds its diagonal as 0
            let synapses = match (p.conn.is_dense(), p.drops_autapses()) {
                (true, true) => w.w.len() - w.b.len(),
                _ => w.w.len(),
            };
            json!({
                "name": p.name,
                "pre": net.populations[p.pre].name,
                "post": net.populations[p.post].name,
                "synapses": synapses,
                "connectivity": connectivity_json(p.conn),
                "delay": delay_json(p, w, net.dt_ms),
                "autapses": p.is_recurrent().then_some(p.autapses),
                "synapse": p.synapse.name,
                "weight_unit": match (p.synapse.is_conductance(), net.populations[p.post].is_physical()) {
                    (true, _) => "nS",
                    (false, true) => "pA",
                    (false, false) => "dimensionless",
                },
                "frac_bits": frac_bits.as_ref().map(|f| f[j]),
            })
        })
        .collect();
    json!({
        "nacc_version": env!("CARGO_PKG_VERSION"),
        "network": network_title(opts),
        "generator": crate::input::GENERATOR,
        "seed": o.model.seed,
        "steps": steps,
        "dt_ms": net.dt_ms,
        "backend": if o.adapter.is_some() { "gpu" } else { "cpu" },
        "backend_requested": opts.backend.as_str(),
        "engine": o.engine,
        "adapter": o.adapter,
        "chunk_steps": chunk_of(opts, o.steps_requested),
        "weights_from": opts.weights.as_ref().map(|p| p.display().to_string()).or(opts.memory.weights.as_ref().map(|_| IN_MEMORY.into())),
        "input_spikes_from": opts.input_spikes.as_ref().map(|p| p.display().to_string()).or(opts.memory.input_spikes.as_ref().map(|_| IN_MEMORY.into())),
        "scale": opts.scale,
        "wall_time_s": {
            "network": o.build_time.as_secs_f64(),
            "engine_setup": o.setup_time.as_secs_f64(),
            "simulation": o.sim_time.as_secs_f64(),
            "total": total.as_secs_f64(),
        },
        "steps_per_s": steps as f64 / o.sim_time.as_secs_f64().max(1e-12),
        "trials": 1 + o.other_trials.len(),
        "ranks": ranks_json(opts, o),
        "steps_requested": o.steps_requested,
        "streamed": o.streamed,
        "spikes_packed": opts.packed_spikes,
        "weight_files": !opts.no_weight_files,
        "stopped": o.stopped.as_ref().map(|(at, why)| json!({ "after_steps": at, "reason": why })),
        "neuron_steps_per_s": (net.total_neurons() as f64 * steps as f64 * (1 + o.other_trials.len()) as f64) / o.sim_time.as_secs_f64().max(1e-12),
        // per trial, per population (populations above: trial 0)
        "spikes_per_trial": std::iter::once(&o.record).chain(&o.other_trials).map(|r| r.pops.iter().map(|p| p.total()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "populations": populations,
        "projections": projections,
        "learning": o.preferences,
        "records": net.probes().into_iter().map(|(r, var)| {
            let rec = &net.records[r];
            json!({
                "file": net.state_file(r, var),
                "population": net.populations[rec.population].name,
                "variable": crate::network::Record::var_name(net, var),
                "neurons": rec.neurons,
                "every_steps": rec.every,
                "samples": rec.samples(steps as u64),
            })
        }).collect::<Vec<_>>(),
        // through TOML, so that every f32 is its shortest decimal (0.9, not
        // 0.8999999761581421)
        "config": toml::from_str::<serde_json::Value>(&net.to_toml()).unwrap_or_default(),
    })
}

/// The network's name in figures and summary.json: its file's name without
/// `.toml`, or the built-in network's title.
pub fn network_title(opts: &RunOptions) -> String {
    if let Some(title) = &opts.memory.title {
        return title.clone();
    }
    match &opts.config {
        Some(path) => path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
        None => crate::figures::DEFAULT_TITLE.to_string(),
    }
}

/// A projection's connectivity in summary.json, by the names of the
/// network file: `{"kind": "dense"}`, `{"kind": "fixed_fan_in", "fixed_fan_in":
/// k}`, `{"kind": "fixed_fan_out", "fixed_fan_out": k}`, `{"kind":
/// "one_to_one"}`, `{"kind": "fixed_probability", "fixed_probability": p}`.
/// A projection's delays as its synapses have them (drawn or read from a
/// delay file): the shortest and longest, in steps and in ms.
fn delay_json(
    p: &crate::network::Projection,
    w: &crate::network::Weights,
    dt_ms: f64,
) -> serde_json::Value {
    let (lo, hi) = match &w.delays {
        Some(d) if !d.is_empty() => (
            *d.iter().min().unwrap() as u32,
            *d.iter().max().unwrap() as u32,
        ),
        _ => (p.delay.lo, p.delay.hi),
    };
    json!({
        "steps": [lo, hi],
        "ms": [lo as f64 * dt_ms, hi as f64 * dt_ms],
        "per_synapse": p.delay.per_synapse(),
    })
}

fn connectivity_json(conn: crate::network::Connectivity) -> serde_json::Value {
    use crate::network::Connectivity;
    match conn {
        Connectivity::Dense => json!({ "kind": "dense" }),
        Connectivity::FixedFanIn(k) => json!({ "kind": "fixed_fan_in", "fixed_fan_in": k }),
        Connectivity::FixedFanOut(k) => json!({ "kind": "fixed_fan_out", "fixed_fan_out": k }),
        Connectivity::OneToOne => json!({ "kind": "one_to_one" }),
        Connectivity::FixedProbability(p) => {
            json!({ "kind": "fixed_probability", "fixed_probability": p })
        }
    }
}

/// `summary.json` of a streamed run while it goes: the steps its spike
/// files hold so far, marked as not finished (what a killed run leaves).
pub fn progress_json(
    opts: &RunOptions,
    model: &Model,
    done: usize,
    requested: usize,
) -> serde_json::Value {
    json!({
        "nacc_version": env!("CARGO_PKG_VERSION"),
        "seed": model.seed,
        "steps": done,
        "steps_requested": requested,
        "streamed": true,
        "spikes_packed": opts.packed_spikes,
        "stopped": {
            "after_steps": done,
            "reason": "not finished: the run was still going, or was killed",
        },
    })
}

/// The ranks of a run split across processes: how many, the MPI library,
/// and what rank 0 spent exchanging (None in one process).
fn ranks_json(opts: &RunOptions, o: &Outcome) -> Option<serde_json::Value> {
    let c = opts.ranks.as_ref()?;
    let x = o.exchanged.unwrap_or_default();
    Some(json!({
        "count": c.size(),
        "mpi": c.library(),
        "split": match (o.exchanged.is_some(), o.other_trials.is_empty()) {
            (false, _) => "none",
            (true, true) => "neurons",
            (true, false) => "trials",
        },
        "exchange_s": x.time.as_secs_f64(),
        "exchanges": x.count,
        "bytes_sent_by_rank_0": x.bytes,
    }))
}
