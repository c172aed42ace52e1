//! `traces_<pop>.png`: a population's recorded variable (the membrane when
//! it is recorded) over time, one panel per neuron for the first
//! [`MAX_TRACES`] neurons of its record, each spike marked by a red tick
//! above the trace. Drawn by `nacc run` and redrawn by `nacc render` from
//! `state_<pop>_<var>.npy` and the spikes.

use super::DEFAULT_WIDTH;
use super::canvas::Canvas;
use super::learning::{Series, draw_lines, panel_height};
use crate::error::Result;
use crate::network::{Network, Record, StateVar};
use crate::record::PopRecord;
use image::Rgb;
use std::ops::Range;

/// Neurons a traces figure shows at most.
pub const MAX_TRACES: usize = 6;
const PLOT_H: i64 = 130;
const TRACE: Rgb<u8> = Rgb([31, 95, 170]);
const SPIKE: Rgb<u8> = Rgb([200, 40, 40]);

/// The recorded variable a population's traces show: its membrane if
/// recorded, else its first recorded variable; `(probe, record, variable)`.
pub fn shown(net: &Network, p: usize) -> Option<(usize, usize, StateVar)> {
    let probes = net.probes();
    let of_p = || {
        probes
            .iter()
            .enumerate()
            .filter(move |(_, (r, _))| net.records[*r].population == p)
    };
    of_p()
        .find(|(_, (_, v))| *v == StateVar::V)
        .or_else(|| of_p().next())
        .map(|(k, &(r, v))| (k, r, v))
}

/// The unit of a variable's axis.
fn unit(net: &Network, p: usize, var: StateVar) -> &'static str {
    let physical = net.populations[p].is_physical();
    match var {
        StateVar::V if physical => " (mV)",
        StateVar::U => " (pA)",
        StateVar::Refractory => " (steps)",
        StateVar::Syn(j) if net.projections[j].synapse.is_conductance() => " (nS)",
        StateVar::Syn(_) => " (pA)",
        StateVar::V => "",
    }
}

/// Writes `traces_<pop>.png` for every population with a record, from its
/// recorded samples (`state[probe]`, samples x neurons) and spikes, over
/// the steps `steps`; returns the file names.
pub fn write_traces(
    dir: super::Dest,
    net: &Network,
    state: &[&[f32]],
    spikes: &[&PopRecord],
    steps: Range<usize>,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (p, pop) in net.populations.iter().enumerate() {
        let Some((k, r, var)) = shown(net, p) else {
            continue;
        };
        let rec = &net.records[r];
        let file = format!("traces_{}.png", pop.name);
        draw(
            dir,
            net,
            (p, rec, var),
            state[k],
            spikes[p],
            steps.clone(),
            &file,
        )?;
        written.push(file);
    }
    Ok(written)
}

fn draw(
    dir: super::Dest,
    net: &Network,
    (p, rec, var): (usize, &Record, StateVar),
    samples: &[f32],
    spikes: &PopRecord,
    steps: Range<usize>,
    file: &str,
) -> Result<()> {
    let n = rec.neurons.len();
    let shown = n.min(MAX_TRACES);
    let panel = panel_height(PLOT_H);
    let mut c = Canvas::new(DEFAULT_WIDTH, (panel * shown as i64 + 16) as u32);
    let dt = net.dt_ms;
    let every = rec.every as usize;
    // the samples within the window: steps every * i
    let first = steps.start.div_ceil(every);
    let last = (steps.end.div_ceil(every)).min(samples.len() / n.max(1));
    let width = DEFAULT_WIDTH as i64 - 104;
    let name = Record::var_name(net, var);
    for (row, &neuron) in rec.neurons.iter().take(shown).enumerate() {
        let i = row;
        let values: Vec<f32> = (first..last).map(|s| samples[s * n + i]).collect();
        // at most ~2 points a pixel: each bin's minimum and maximum
        let per = values.len().div_ceil(width as usize).max(1);
        let mut points = Vec::new();
        for (b, bin) in values.chunks(per).enumerate() {
            let t = ((first + b * per) * every) as f64 * dt;
            let lo = bin.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = bin.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            points.push((t, lo as f64));
            if per > 1 {
                points.push((t, hi as f64));
            }
        }
        let lo = values.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
        let hi = values.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let (lo, hi) = match (lo.is_finite() && hi.is_finite(), hi > lo) {
            (false, _) => (0.0, 1.0),
            (true, true) => (lo - 0.05 * (hi - lo), hi + 0.12 * (hi - lo)),
            (true, false) => (lo - 1.0, hi + 1.0),
        };
        let x = steps.start as f64 * dt..steps.end as f64 * dt;
        let top = 8 + row as i64 * panel;
        let area = (84, top, width, PLOT_H);
        let fired: Vec<usize> = (steps.clone())
            .filter(|&t| t < spikes.steps() && spikes.spiked(t, neuron as usize))
            .collect();
        let title = format!(
            "{} neuron {neuron}: {name}{}, sampled every {} ms ({} spikes, red ticks)",
            net.populations[p].name,
            unit(net, p, var),
            rec.every as f64 * dt,
            fired.len()
        );
        let series = [Series {
            label: &name,
            color: TRACE,
            points: &points,
        }];
        draw_lines(
            &mut c,
            &title,
            "time (ms)",
            &name,
            &series,
            x.clone(),
            lo..hi,
            area,
        );
        // the spikes, as ticks along the top of the plot
        let py = top + super::learning::TITLE_H;
        let span = (x.end - x.start).max(1e-12);
        for t in fired {
            let px = 84.0 + (t as f64 * dt - x.start) / span * width as f64;
            c.line((px, (py + 1) as f64), (px, (py + 9) as f64), SPIKE);
        }
    }
    super::png(dir, file, &c)
}
