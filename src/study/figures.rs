//! The study's figures: each names its seed and the command that drew it.

use super::conditions::Condition;
use super::measure::{LearningRun, StudyReport};
use super::{Done, Roles, StudyOptions};
use crate::error::Result;
use crate::figures::canvas::{Align, BLACK, BLUE, Canvas, Color, GREY, WHITE};
use crate::figures::learning::{SERIES, Series, draw_lines, panel_height};
use crate::figures::raster::{self, RasterSpec};
use crate::network::StateVar;
use std::path::Path;

/// The figures, in the order of the experiments.
pub const NAMES: [&str; 4] = [
    "study_activity.png",
    "study_feedforward.png",
    "study_dopamine.png",
    "study_learning.png",
];

const W: i64 = 1200;
const LEFT: i64 = 84;
const RIGHT: i64 = 20;
const HEADER: i64 = 34;
const FOOTER: i64 = 28;
const GAP: i64 = 10;
const RED: Color = image::Rgb([200, 40, 40]);

pub(super) fn write_all(
    dir: &Path,
    opts: &StudyOptions,
    act: &Condition,
    report: &StudyReport,
    act_done: &Done,
) -> Result<()> {
    let footer = format!(
        "seed {}, scale {} ({} neurons, {} synapses), {}; drawn by: {}",
        opts.seed, opts.scale, report.neurons, report.synapses, report.engine, report.command
    );
    let canvases = [
        activity(act, act_done, report, &footer)?,
        feedforward(report, &footer),
        dopamine(report, &footer),
        learning(report, &footer),
    ];
    for (name, c) in NAMES.iter().zip(&canvases) {
        crate::figures::png(dir.into(), name, c)?;
    }
    Ok(())
}

/// A line of a plot: its label, colour and points.
type Line<'a> = (&'a str, Color, Vec<(f64, f64)>);

/// Line series from (label, colour, points).
fn series<'a>(lines: &'a [Line<'a>]) -> Vec<Series<'a>> {
    lines
        .iter()
        .map(|(label, color, points)| Series {
            label,
            color: *color,
            points,
        })
        .collect()
}

/// The mean over `rows` (equal lengths) at each index.
fn mean_of(rows: &[&Vec<f64>]) -> Vec<f64> {
    let n = rows.iter().map(|r| r.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| rows.iter().map(|r| r[i]).sum::<f64>() / rows.len() as f64)
        .collect()
}

fn frame(h: i64, title: &str, footer: &str) -> Canvas {
    let mut c = Canvas::new(W as u32, h as u32);
    c.fill_rect(0, 0, W, h, WHITE);
    c.text(
        LEFT as f64,
        8.0,
        16.0,
        title,
        BLACK,
        (Align::Start, Align::Start),
    );
    c.text(
        LEFT as f64,
        (h - 8) as f64,
        12.0,
        footer,
        GREY,
        (Align::Start, Align::End),
    );
    c
}

fn range_of(values: impl Iterator<Item = f64>, floor: f64) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let lo = lo.min(floor);
    let span = (hi - lo).max(1e-9);
    lo..hi + 0.05 * span
}

/// Rasters, rate histograms and membranes of the model as it is.
fn activity(c: &Condition, d: &Done, report: &StudyReport, footer: &str) -> Result<Canvas> {
    let net = &c.net;
    let roles = Roles::of(net, &c.name)?;
    let a = &report.activity;
    let raster_h = 150;
    let rp = raster::panel_height(raster_h, true);
    let hist_h = 150;
    let trace_h = 110;
    let traces: Vec<(String, Vec<(f64, f64)>)> = chosen_traces(c, d, roles);
    let h = HEADER
        + 3 * (rp + GAP)
        + panel_height(hist_h)
        + GAP
        + traces.len() as i64 * (panel_height(trace_h) + GAP)
        + FOOTER;
    let title = format!(
        "NAcc striatum: activity over {} ms (d1 {:.1} Hz, d2 {:.1} Hz, fsi {:.1} Hz; MSN membrane {} up, {} down)",
        a.steps as f64 * net.dt_ms,
        a.d1_hz,
        a.d2_hz,
        a.fsi_hz,
        mv(a.msn_up_mv),
        mv(a.msn_down_mv)
    );
    let mut cv = frame(h, &title, footer);
    let width = W - LEFT - RIGHT;
    let mut top = HEADER;
    for p in [roles.d1, roles.d2, roles.fsi] {
        let pop = &net.populations[p];
        let rec = &d.record.pops[p];
        let spec = RasterSpec {
            name: &pop.name,
            size: pop.size,
            rec,
            steps: 0..rec.steps(),
            neurons: 0..pop.size.min(200),
            dt_ms: net.dt_ms,
        };
        raster::draw_panel(&mut cv, &spec, LEFT, top, width, raster_h, true);
        top += rp + GAP;
    }
    // the rate histograms side by side
    let names = ["d1", "d2", "fsi"];
    let pw = (width - 2 * 60) / 3;
    for (k, rates) in a.rates.iter().enumerate() {
        let hi = rates.iter().copied().fold(0.0f64, f64::max).max(1.0);
        let bins = 20usize;
        let bw = hi / bins as f64;
        let mut counts = vec![0usize; bins];
        for &r in rates {
            counts[((r / bw) as usize).min(bins - 1)] += 1;
        }
        let frac: Vec<f64> = counts
            .iter()
            .map(|&n| n as f64 / rates.len().max(1) as f64)
            .collect();
        let mut pts = Vec::with_capacity(2 * bins + 2);
        for (i, f) in frac.iter().enumerate() {
            pts.push((i as f64 * bw, *f));
            pts.push(((i + 1) as f64 * bw, *f));
        }
        let ymax = frac.iter().copied().fold(0.0, f64::max).max(0.01) * 1.1;
        draw_lines(
            &mut cv,
            &format!("{} rates across neurons", names[k]),
            "rate (Hz)",
            "fraction",
            &[Series {
                label: names[k],
                color: SERIES[k],
                points: &pts,
            }],
            0.0..hi,
            0.0..ymax,
            (LEFT + k as i64 * (pw + 60), top, pw, hist_h),
        );
    }
    top += panel_height(hist_h) + GAP;
    for (label, pts) in &traces {
        let y = range_of(pts.iter().map(|p| p.1), -80.0);
        draw_lines(
            &mut cv,
            label,
            "time (ms)",
            "v (mV)",
            &[Series {
                label,
                color: BLUE,
                points: pts,
            }],
            0.0..a.steps as f64 * net.dt_ms,
            y,
            (LEFT, top, width, trace_h),
        );
        top += panel_height(trace_h) + GAP;
    }
    Ok(cv)
}

fn mv(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.0} mV"))
}

/// The recorded membranes of two D1 MSNs, a D2 MSN and an FSI (the first
/// recorded neurons of each).
fn chosen_traces(c: &Condition, d: &Done, roles: Roles) -> Vec<(String, Vec<(f64, f64)>)> {
    let net = &c.net;
    let mut out = Vec::new();
    for (i, (r, var)) in net.probes().into_iter().enumerate() {
        let rec = &net.records[r];
        if var != StateVar::V {
            continue;
        }
        let take = match rec.population {
            p if p == roles.d1 => 2,
            p if p == roles.d2 || p == roles.fsi => 1,
            _ => 0,
        };
        let n = rec.neurons.len();
        for k in 0..take.min(n) {
            let pts: Vec<(f64, f64)> = d.record.state[i]
                .chunks_exact(n)
                .enumerate()
                .map(|(s, row)| ((s as u64 * rec.every) as f64 * net.dt_ms, row[k] as f64))
                .collect();
            let name = &net.populations[rec.population].name;
            out.push((
                format!("{name} neuron {}: membrane (mV)", rec.neurons[k]),
                pts,
            ));
        }
    }
    out
}

fn feedforward(report: &StudyReport, footer: &str) -> Canvas {
    let f = &report.feedforward;
    let ph = 220;
    let h = HEADER + 2 * (panel_height(ph) + GAP) + FOOTER;
    let title = format!(
        "Feed-forward inhibition: {} cortical volleys; FSI peak {:.0} ms, MSN peak {:.0} ms; MSN response {:.3} -> {:.3} spikes/neuron without FSI -> MSN",
        f.volleys, f.fsi_peak_ms, f.msn_peak_ms, f.msn_response_intact, f.msn_response_no_fsi_msn
    );
    let mut cv = frame(h, &title, footer);
    let width = W - LEFT - RIGHT;
    let pts = |y: &[f64]| -> Vec<(f64, f64)> {
        f.intact
            .lag_ms
            .iter()
            .copied()
            .zip(y.iter().copied())
            .collect()
    };
    let x = f.intact.lag_ms[0]..*f.intact.lag_ms.last().unwrap_or(&100.0);
    let fsi = pts(&f.intact.fsi_hz);
    draw_lines(
        &mut cv,
        "FSIs around a volley (onset at 0 ms)",
        "time from volley onset (ms)",
        "rate (Hz)",
        &[Series {
            label: "fsi",
            color: SERIES[2],
            points: &fsi,
        }],
        x.clone(),
        range_of(fsi.iter().map(|p| p.1), 0.0),
        (LEFT, HEADER, width, ph),
    );
    let (a, b) = (pts(&f.intact.msn_hz), pts(&f.no_fsi_msn.msn_hz));
    draw_lines(
        &mut cv,
        "MSNs (D1 and D2) around a volley: intact, and without FSI -> MSN",
        "time from volley onset (ms)",
        "rate (Hz)",
        &[
            Series {
                label: "intact",
                color: BLUE,
                points: &a,
            },
            Series {
                label: "no FSI -> MSN",
                color: RED,
                points: &b,
            },
        ],
        x,
        range_of(a.iter().chain(&b).map(|p| p.1), 0.0),
        (LEFT, HEADER + panel_height(ph) + GAP, width, ph),
    );
    cv
}

fn dopamine(report: &StudyReport, footer: &str) -> Canvas {
    let ph = 260;
    let h = HEADER + 2 * (panel_height(ph) + GAP) + FOOTER;
    let mut cv = frame(
        h,
        "Dopamine: MSN rates against the tonic level d (Humphries et al. 2009's D1 and D2 effects)",
        footer,
    );
    let rates = |f: fn(&super::measure::DoseResponse) -> f64| -> Vec<(f64, f64)> {
        report.dopamine.iter().map(|r| (r.d as f64, f(r))).collect()
    };
    let (d1, d2) = (rates(|r| r.d1_hz), rates(|r| r.d2_hz));
    let x = range_of(d1.iter().map(|p| p.0), 0.0);
    let width = W - LEFT - RIGHT;
    // a panel each, on its own scale: D1 rises many-fold, D2 falls by Hz
    for (k, (title, label, color, pts)) in [
        ("D1 MSNs: mean rate over the run", "D1 MSNs", RED, &d1),
        ("D2 MSNs: mean rate over the run", "D2 MSNs", BLUE, &d2),
    ]
    .into_iter()
    .enumerate()
    {
        draw_lines(
            &mut cv,
            title,
            "tonic dopamine d",
            "rate (Hz)",
            &[Series {
                label,
                color,
                points: pts,
            }],
            x.clone(),
            range_of(pts.iter().map(|p| p.1), 0.0),
            (
                LEFT,
                HEADER + k as i64 * (panel_height(ph) + GAP),
                width,
                ph,
            ),
        );
    }
    cv
}

fn learning(report: &StudyReport, footer: &str) -> Canvas {
    let l = &report.learning;
    let ph = 260;
    let h = HEADER + 2 * (panel_height(ph) + GAP) + FOOTER;
    // the runs' values of one condition, mean over seeds, at x = at(index)
    let mean =
        |rewarded: bool, of: &dyn Fn(&LearningRun) -> &Vec<f64>, at: &dyn Fn(usize) -> f64| {
            let rows: Vec<&Vec<f64>> = l
                .runs
                .iter()
                .filter(|r| r.rewarded == rewarded)
                .map(of)
                .collect();
            mean_of(&rows)
                .into_iter()
                .enumerate()
                .map(|(i, m)| (at(i), m))
                .collect::<Vec<_>>()
        };
    let block = |k: usize| (k * 10 + 5) as f64;
    let mean_curve = |rewarded: bool, a: bool| match a {
        true => mean(rewarded, &|r| &r.curve_a_hz, &block),
        false => mean(rewarded, &|r| &r.curve_b_hz, &block),
    };
    let curves = [
        ("A, rewarded", RED, mean_curve(true, true)),
        ("B, rewarded", BLUE, mean_curve(true, false)),
        ("A, no reward", SERIES[4], mean_curve(false, true)),
        ("B, no reward", SERIES[5], mean_curve(false, false)),
    ];
    let title = format!(
        "Reward learning (A rewarded): D1 came to prefer A in {} of {} rewarded runs, {} of {} without reward",
        l.rewarded_prefer_a, l.seeds, l.control_prefer_a, l.seeds
    );
    let mut cv = frame(h, &title, footer);
    let lines = series(&curves);
    let x_hi = curves[0].2.last().map_or(10.0, |p| p.0 + 5.0);
    draw_lines(
        &mut cv,
        &format!(
            "D1 response while the pattern is shown, mean of {} seeds, per 10 presentations",
            l.seeds
        ),
        "presentation of the pattern",
        "rate (Hz)",
        &lines,
        0.0..x_hi,
        range_of(curves.iter().flat_map(|c| c.2.iter().map(|p| p.1)), 0.0),
        (LEFT, HEADER, W - LEFT - RIGHT, ph),
    );
    // the weight change of each cue neuron, mean over seeds
    let per_cue = |rewarded: bool| mean(rewarded, &|r| &r.dw_per_cue_ns, &|i| i as f64);
    let w = [
        ("rewarded", RED, per_cue(true)),
        ("no reward", SERIES[4], per_cue(false)),
    ];
    let lines = series(&w);
    draw_lines(
        &mut cv,
        "change of each cue neuron's conductances onto D1 over the run, mean over D1 and seeds (A: cues 0-24, B: 25-49)",
        "cue neuron",
        "change (nS)",
        &lines,
        0.0..50.0,
        range_of(w.iter().flat_map(|c| c.2.iter().map(|p| p.1)), 0.0),
        (LEFT, HEADER + panel_height(ph) + GAP, W - LEFT - RIGHT, ph),
    );
    cv
}
