//! `nacc bench`: a fixed suite of networks on the chosen backend, with the
//! CPU engine measured in the same run for the speed-up.
//!
//! Each network runs a warm-up chunk, then as many steps as fit a time
//! budget (at most its step count), so that slow backends still report a
//! figure. Only the simulation loop is timed (input generation, steps,
//! readback of the spikes), not building the network.

use crate::config::Network;
use crate::engine::{Engine, InputSource, run_chunk_from};
use crate::error::Result;
use crate::network::Model;
use crate::record::ChunkSpikes;
use crate::run::{Backend, make_engine};
use serde_json::json;
use std::time::{Duration, Instant};

/// One network of the suite.
pub struct Case {
    pub name: &'static str,
    /// What it is, for the table.
    pub about: &'static str,
    /// The network, or why it cannot run in this version.
    pub network: std::result::Result<Network, &'static str>,
    /// Steps at most.
    pub steps: usize,
}

/// The suite of issue 5: seed, large, sparse-1m, trials.
pub fn suite() -> Vec<Case> {
    vec![
        Case {
            name: "seed",
            about: "100/50/20 dense",
            network: Ok(Network::default_nacc()),
            steps: 100_000,
        },
        Case {
            name: "large",
            about: "10 000/5 000/2 000 dense",
            network: Network::default_nacc()
                .scaled(100)
                .map_err(|_| "cannot scale"),
            steps: 2_000,
        },
        Case {
            name: "sparse-1m",
            about: "500 000/300 000/200 000, fixed fan-in",
            network: Err("needs sparse connectivity (fixed_fan_in), not implemented yet"),
            steps: 1_000,
        },
        Case {
            name: "trials",
            about: "seed network x 1 024 trials",
            network: Err("needs --trials, not implemented yet"),
            steps: 1_000,
        },
    ]
}

/// A measured run.
#[derive(Debug, Clone)]
pub struct Measure {
    pub steps: usize,
    pub wall: Duration,
    /// Synaptic events: pre spikes x post neurons, summed over projections.
    pub events: u64,
}

impl Measure {
    pub fn steps_per_s(&self) -> f64 {
        self.steps as f64 / self.wall.as_secs_f64().max(1e-12)
    }
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64().max(1e-12)
    }
}

/// Runs `engine` for a warm-up chunk, then chunk after chunk until
/// `max_steps` steps or `budget` have passed, whichever comes first.
pub fn measure(
    engine: &mut dyn Engine,
    model: &Model,
    max_steps: usize,
    budget: Duration,
) -> Result<Measure> {
    let net = &model.net;
    let input = InputSource::generated(model);
    let warm = max_steps.clamp(1, 20);
    let mut buf = ChunkSpikes::new(net, warm);
    let t = Instant::now();
    run_chunk_from(engine, net, &input, 0, &mut buf)?;
    let per_step = t.elapsed().as_secs_f64() / warm as f64;
    // chunks of about a tenth of the budget, at most 1000 steps
    let chunk =
        ((budget.as_secs_f64() / 10.0 / per_step.max(1e-9)) as usize).clamp(1, 1000.min(max_steps));
    let mut spikes = vec![0u64; net.populations.len()];
    let (mut steps, t) = (0usize, Instant::now());
    while steps < max_steps && t.elapsed() < budget {
        let n = chunk.min(max_steps - steps);
        buf.resize(net, n);
        run_chunk_from(engine, net, &input, (warm + steps) as u64, &mut buf)?;
        for (s, bits) in spikes.iter_mut().zip(&buf.bits) {
            *s += bits.iter().map(|w| w.count_ones() as u64).sum::<u64>();
        }
        steps += n;
    }
    let wall = t.elapsed();
    let events = net
        .projections
        .iter()
        .map(|p| spikes[p.pre] * net.populations[p.post].size as u64)
        .sum();
    Ok(Measure {
        steps,
        wall,
        events,
    })
}

/// Runs the suite, reporting one JSON object per network (also for skipped
/// ones, with `skipped` and the reason); stops early when `report` returns
/// false.
pub fn run(
    backend: Backend,
    budget: Duration,
    mut report: impl FnMut(&serde_json::Value) -> bool,
) -> Result<()> {
    for case in suite() {
        let net = match case.network {
            Ok(n) => n,
            Err(why) => {
                if !report(&json!({ "network": case.name, "about": case.about, "skipped": why })) {
                    return Ok(());
                }
                continue;
            }
        };
        let model = Model::build(net, 0)?;
        let (mut engine, adapter) =
            make_engine(backend, &model, &InputSource::generated(&model), 1000)?;
        let m = measure(engine.as_mut(), &model, case.steps, budget)?;
        // the CPU engine in the same run, for the speed-up
        let cpu = if adapter.is_some() {
            let mut e = crate::engine::cpu::CpuEngine::new(&model)?;
            Some(measure(&mut e, &model, case.steps, budget / 2)?)
        } else {
            None
        };
        let bytes_per_step = (m.events as f64 / m.steps as f64) * 4.0;
        let more = report(&json!({
            "network": case.name,
            "about": case.about,
            "backend": if adapter.is_some() { "gpu" } else { "cpu" },
            "engine": engine.describe(),
            "neurons": model.net.total_neurons(),
            "synapses": model.net.total_synapses(),
            "steps": m.steps,
            "wall_s": m.wall.as_secs_f64(),
            "steps_per_s": m.steps_per_s(),
            "events_per_s": m.events_per_s(),
            "weight_bytes_per_step": bytes_per_step,
            "gb_per_s": bytes_per_step * m.steps_per_s() / 1e9,
            "cpu_steps_per_s": cpu.as_ref().map(|c| c.steps_per_s()),
            "speedup_vs_cpu": cpu.as_ref().map(|c| m.steps_per_s() / c.steps_per_s()),
        }));
        if !more {
            return Ok(());
        }
    }
    Ok(())
}

/// One line of the human-readable table.
pub fn table_line(v: &serde_json::Value) -> String {
    if let Some(why) = v["skipped"].as_str() {
        return format!(
            "{:<10} skipped ({}): {why}",
            v["network"].as_str().unwrap_or(""),
            v["about"].as_str().unwrap_or("")
        );
    }
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let speed = match v["speedup_vs_cpu"].as_f64() {
        Some(s) if s < 10.0 => format!("{s:>9.2}x"),
        Some(s) => format!("{s:>9.0}x"),
        None => format!("{:>10}", "-"),
    };
    format!(
        "{:<10} {:>9} {:>11} {:>7} {:>12.0} {:>10.2e} {:>8.2} {:>13} {speed}",
        v["network"].as_str().unwrap_or(""),
        v["neurons"].as_u64().unwrap_or(0),
        v["synapses"].as_u64().unwrap_or(0),
        v["steps"].as_u64().unwrap_or(0),
        f("steps_per_s"),
        f("events_per_s"),
        f("gb_per_s"),
        v["cpu_steps_per_s"]
            .as_f64()
            .map_or("-".into(), |c| format!("{c:.0}")),
    )
}

pub const TABLE_HEADER: &str = "network      neurons    synapses   steps      steps/s   events/s     GB/s   CPU steps/s   speed-up";
