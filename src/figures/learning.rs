//! The figures of reward learning (issue 7): the dopamine trace d(t) under
//! the rasters, the learning curve (each pattern's response per
//! presentation) and the weight change of a plastic projection as a
//! heatmap with a diverging colour bar.

use super::DEFAULT_WIDTH;
use super::canvas::{Align, BLACK, BLUE, Canvas, Color, GREY, nice_ticks, tick_label};
use super::heatmap::draw_cells;
use crate::error::Result;
use crate::network::Network;
use crate::responses::Presentation;
use image::Rgb;
use std::ops::Range;

pub const TITLE_H: i64 = 26;
pub const AXIS_H: i64 = 46;
/// Height of the plot of the dopamine panel.
pub const DOPAMINE_H: i64 = 90;
const BAR_W: i64 = 90;
const RED: Color = Rgb([200, 40, 40]);

/// Colours of the learning curves, one per pattern.
pub const SERIES: [Color; 6] = [
    RED,
    BLUE,
    Rgb([40, 140, 60]),
    Rgb([150, 80, 170]),
    Rgb([220, 130, 20]),
    Rgb([90, 90, 90]),
];

pub fn panel_height(h: i64) -> i64 {
    TITLE_H + h + AXIS_H
}

/// A series of a line plot: its legend and its points (x, y).
pub struct Series<'a> {
    pub label: &'a str,
    pub color: Color,
    pub points: &'a [(f64, f64)],
}

/// A line plot with axes: `x` and `y` the ranges shown.
#[allow(clippy::too_many_arguments)]
pub fn draw_lines(
    c: &mut Canvas,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x: Range<f64>,
    y: Range<f64>,
    (left, top, width, h): (i64, i64, i64, i64),
) {
    // without its parenthesis when the whole does not fit
    let short = title.split(" (").next().unwrap_or(title).to_string();
    c.title_fitting(left, top, width, &[title.to_string(), short]);
    let py = top + TITLE_H;
    let span = |r: &Range<f64>| (r.end - r.start).max(1e-12);
    let to_px = |(vx, vy): (f64, f64)| {
        (
            left as f64 + (vx - x.start) / span(&x) * width as f64,
            (py + h) as f64 - (vy - y.start) / span(&y) * (h - 2) as f64 - 1.0,
        )
    };
    c.fill_rect(left, py, left + width, py + h, Rgb([248, 249, 252]));
    for s in series {
        for w in s.points.windows(2) {
            c.line(to_px(w[0]), to_px(w[1]), s.color);
        }
        if let [p] = s.points {
            let (px, ppy) = to_px(*p);
            c.fill_rect(
                px as i64 - 1,
                ppy as i64 - 1,
                px as i64 + 2,
                ppy as i64 + 2,
                s.color,
            );
        }
    }
    c.frame(left, py, left + width, py + h, GREY);
    for v in nice_ticks(y.start, y.end, (h / 30).clamp(2, 6) as usize) {
        let (_, yy) = to_px((x.start, v));
        c.y_tick(left, yy.round() as i64, &tick_label(v));
    }
    c.y_label(left, py + h / 2, y_label);
    let ticks: Vec<_> = nice_ticks(x.start, x.end, (width / 90).clamp(2, 10) as usize)
        .into_iter()
        .map(|v| (to_px((v, y.start)).0.round() as i64, tick_label(v)))
        .collect();
    c.x_axis(left, width, py + h, &ticks, x_label);
    // legend, top right inside the plot
    if series.len() > 1 {
        let mut lx = left + width - 8;
        for s in series.iter().rev() {
            let tw = Canvas::text_width(12.0, s.label).ceil() as i64;
            lx -= tw;
            c.text(
                lx as f64,
                (py + 6) as f64,
                12.0,
                s.label,
                BLACK,
                (Align::Start, Align::Start),
            );
            c.fill_rect(lx - 22, py + 13, lx - 6, py + 15, s.color);
            lx -= 34;
        }
    }
}

/// The dopamine panel: d(t) over `steps` (ms on the x axis).
pub fn draw_dopamine(
    c: &mut Canvas,
    d: &[f32],
    steps: Range<usize>,
    dt_ms: f64,
    area: (i64, i64, i64, i64),
) {
    let width = area.2.max(1) as usize;
    // at most ~2 points a pixel: the maximum of each bin, so no reward is lost
    let per = steps.len().div_ceil(2 * width).max(1);
    let mut points = Vec::new();
    let mut t = steps.start;
    while t < steps.end {
        let end = (t + per).min(steps.end);
        let m = d[t..end].iter().cloned().fold(f32::MIN, f32::max);
        points.push((t as f64 * dt_ms, m as f64));
        t = end;
    }
    let lo = d[steps.clone()].iter().cloned().fold(0f32, f32::min) as f64;
    let hi = d[steps.clone()].iter().cloned().fold(0f32, f32::max) as f64;
    let hi = if hi > lo {
        hi + 0.05 * (hi - lo)
    } else {
        lo + 1.0
    };
    draw_lines(
        c,
        "dopamine d(t)",
        "time (ms)",
        "d(t)",
        &[Series {
            label: "d(t)",
            color: Rgb([120, 60, 160]),
            points: &points,
        }],
        steps.start as f64 * dt_ms..steps.end as f64 * dt_ms,
        lo..hi,
        area,
    );
}

/// Blue (negative) through white (0) to red (positive), `v` in [-1, 1].
pub fn diverging(v: f32) -> Color {
    let v = v.clamp(-1.0, 1.0);
    let (end, a) = if v < 0.0 {
        ([33f32, 102., 172.], -v)
    } else {
        ([178., 24., 43.], v)
    };
    let mix = |k: usize| (255.0 + (end[k] - 255.0) * a).round() as u8;
    Rgb([mix(0), mix(1), mix(2)])
}

/// The change of a plastic projection's weights: `dw[post * n_pre + pre]`,
/// pre neurons on y and post neurons on x (as the activity heatmap draws a
/// projection), symmetric colour scale.
#[allow(clippy::too_many_arguments)]
pub fn draw_weight_change(
    c: &mut Canvas,
    title: &str,
    pre: &str,
    post: &str,
    dw: &[f32],
    n_pre: usize,
    n_post: usize,
    (left, top, width, h): (i64, i64, i64, i64),
) {
    // without its parenthesis when the whole does not fit
    let short = title.split(" (").next().unwrap_or(title).to_string();
    c.title_fitting(left, top, width, &[title.to_string(), short]);
    let max = dw.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
    let (x, y, w) = (left, top + TITLE_H, width - BAR_W);
    draw_cells(
        c,
        (x, y, w, h),
        (n_pre, n_post),
        |i, j| dw[j * n_pre + i],
        |v| diverging(v * scale),
        (&format!("{pre} neuron"), &format!("{post} neuron")),
    );
    // colour bar, -max .. +max
    let (bx, bw) = (x + w + 24, 16);
    for py in 0..h {
        let v = 1.0 - 2.0 * (py as f32 + 0.5) / h as f32;
        c.fill_rect(bx, y + py, bx + bw, y + py + 1, diverging(v));
    }
    c.frame(bx, y, bx + bw, y + h, GREY);
    for (v, label) in [(-1.0, -max), (0.0, 0.0), (1.0, max)] {
        let yy = y + h / 2 - (v * (h / 2) as f64).round() as i64;
        c.fill_rect(bx + bw, yy, bx + bw + 4, yy + 1, GREY);
        c.text(
            (bx + bw + 6) as f64,
            yy as f64,
            11.0,
            &change_label(label),
            BLACK,
            (Align::Start, Align::Center),
        );
    }
    c.text_vertical(
        (bx + bw + 66) as f64,
        (y + h / 2) as f64,
        12.0,
        "\u{394}w",
        BLACK,
    );
}

/// A colour bar's value: "0", or three significant digits.
pub fn change_label(v: f32) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.2e}")
    }
}

/// `weights_change_<proj>.png` of plastic projection `j`: `after - before`
/// (both in the `nn.Linear` layout) over a run of `steps` steps.
pub fn write_weight_change(
    dir: super::Dest,
    net: &Network,
    j: usize,
    before: &[f32],
    after: &[f32],
    steps: usize,
) -> Result<()> {
    let proj = &net.projections[j];
    let (pre, post) = (&net.populations[proj.pre], &net.populations[proj.post]);
    let dw: Vec<f32> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let h = (pre.size as i64 * 8).clamp(120, 320);
    let mut c = Canvas::new(DEFAULT_WIDTH, (panel_height(h) + 16) as u32);
    draw_weight_change(
        &mut c,
        &format!(
            "weight change of {} ({} \u{2192} {}) over {steps} steps: learned \u{2212} initial",
            proj.name, pre.name, post.name
        ),
        &pre.name,
        &post.name,
        &dw,
        pre.size,
        post.size,
        (84, 8, DEFAULT_WIDTH as i64 - 104, h),
    );
    super::png(dir, &format!("weights_change_{}.png", proj.name), &c)
}

/// `learning.png`: each pattern's response per presentation, one panel per
/// dopamine-modulated population (every LIF population when none is).
pub fn write_learning_curve(dir: super::Dest, net: &Network, rows: &[Presentation]) -> Result<()> {
    let Some(st) = &net.stimulus else {
        return Ok(());
    };
    let mut shown: Vec<usize> = (0..net.populations.len())
        .filter(|&p| net.populations[p].dopamine.is_some())
        .collect();
    if shown.is_empty() {
        shown = (0..net.populations.len())
            .filter(|&p| !net.populations[p].is_poisson())
            .collect();
    }
    let h = 160;
    let panel = panel_height(h);
    let mut c = Canvas::new(DEFAULT_WIDTH, (panel * shown.len() as i64 + 16) as u32);
    let per_pattern = rows.len().div_ceil(st.sequence.len()).max(1);
    // a running mean over `win` presentations of the same pattern
    let win = (per_pattern / 20).max(1);
    let mut panels = Vec::new();
    for &p in &shown {
        let mut curves = Vec::new();
        for (pi, pat) in st.patterns.iter().enumerate() {
            let r: Vec<f64> = rows
                .iter()
                .filter(|r| r.pattern == pi)
                .map(|r| r.rate_hz[p])
                .collect();
            let pts: Vec<(f64, f64)> = (0..r.len())
                .map(|i| {
                    let from = (i + 1).saturating_sub(win);
                    (
                        i as f64,
                        r[from..=i].iter().sum::<f64>() / (i + 1 - from) as f64,
                    )
                })
                .collect();
            let rewarded = rows.iter().any(|r| r.pattern == pi && r.rewarded);
            let label = format!("{}{}", pat.name, if rewarded { " (rewarded)" } else { "" });
            curves.push((label, pts));
        }
        panels.push((p, curves));
    }
    // one y range for every panel, so that they compare at a glance
    let ymax = panels
        .iter()
        .flat_map(|(_, curves)| curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)))
        .fold(0.0, f64::max);
    for (k, (p, curves)) in panels.iter().enumerate() {
        let p = *p;
        let series: Vec<Series> = curves
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.1.is_empty())
            .map(|(i, c)| Series {
                label: &c.0,
                color: SERIES[i % SERIES.len()],
                points: &c.1,
            })
            .collect();
        let title = format!(
            "{} response to each pattern (mean rate while shown{})",
            net.populations[p].name,
            if win > 1 {
                format!(", running mean of {win} presentations")
            } else {
                String::new()
            }
        );
        draw_lines(
            &mut c,
            &title,
            "presentation of the pattern",
            "rate (Hz)",
            &series,
            0.0..(per_pattern.max(2) - 1) as f64,
            0.0..super::canvas::nice_ceil(ymax.max(1.0)),
            (84, 8 + k as i64 * panel, DEFAULT_WIDTH as i64 - 104, h),
        );
    }
    super::png(dir, "learning.png", &c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: the colour bar said "0.00e0"; plain numbers now.
    #[test]
    fn change_labels_are_plain_numbers() {
        assert_eq!(change_label(0.0), "0");
        assert_eq!(change_label(0.0223), "0.0223");
        assert_eq!(change_label(-0.0223), "-0.0223");
        assert_eq!(change_label(1.5), "1.50");
        assert_eq!(change_label(250.0), "250");
        assert_eq!(change_label(2e-5), "2.00e-5");
        assert_eq!(change_label(3e5), "3.00e5");
    }

    #[test]
    fn diverging_is_white_at_zero_and_saturates_at_the_ends() {
        assert_eq!(diverging(0.0), Rgb([255, 255, 255]));
        assert_eq!(diverging(1.0), Rgb([178, 24, 43]));
        assert_eq!(diverging(-1.0), Rgb([33, 102, 172]));
        assert_eq!(diverging(7.0), diverging(1.0));
        // more change, deeper colour
        let lum = |c: Color| c.0.iter().map(|&x| x as u32).sum::<u32>();
        assert!(lum(diverging(0.3)) > lum(diverging(0.8)));
        assert!(lum(diverging(-0.3)) > lum(diverging(-0.8)));
    }
}
