//! Rasters and rate curves. A raster is drawn from a density grid: the
//! window's steps and neurons are split into at most one bin per pixel
//! column and row, each bin holds the fraction of its (neuron, step) cells
//! that spiked, and every bin with a spike is drawn darker than the
//! background. When there are fewer steps and neurons than pixels, every bin
//! is one cell and the raster is exact: a black tick per spike.

use super::canvas::{Align, BLACK, BLUE, Canvas, GREY, LIGHT, nice_ceil, nice_ticks, tick_label};
use crate::record::PopRecord;
use std::ops::Range;

/// Bin `k` of `n` equal bins over `len` items: `[k*len/n, (k+1)*len/n)`.
/// Bin sizes differ by at most one, so a uniform pattern stays uniform.
pub fn bin_range(k: usize, n: usize, len: usize) -> Range<usize> {
    (k * len / n)..((k + 1) * len / n)
}

/// Number of set bits of neurons `[a, b)` in one step's words.
fn count_range(words: &[u32], a: usize, b: usize) -> u32 {
    if a >= b {
        return 0;
    }
    let (wa, wb) = (a / 32, (b - 1) / 32);
    let lo_mask = u32::MAX << (a % 32);
    let hi_mask = u32::MAX >> (31 - (b - 1) % 32);
    if wa == wb {
        return (words[wa] & lo_mask & hi_mask).count_ones();
    }
    let mut n = (words[wa] & lo_mask).count_ones() + (words[wb] & hi_mask).count_ones();
    for w in &words[wa + 1..wb] {
        n += w.count_ones();
    }
    n
}

/// Spike fraction per bin, `grid[row * cols + col]`, row 0 holding the
/// lowest neurons. `cols <= steps.len()` and `rows <= neurons.len()`.
pub fn density_grid(
    rec: &PopRecord,
    steps: Range<usize>,
    neurons: Range<usize>,
    cols: usize,
    rows: usize,
) -> Vec<f32> {
    let (nt, nn) = (steps.len(), neurons.len());
    assert!(cols >= 1 && rows >= 1 && cols <= nt && rows <= nn);
    let mut counts = vec![0u32; rows * cols];
    // neuron bin edges, once
    let edges: Vec<Range<usize>> = (0..rows).map(|r| bin_range(r, rows, nn)).collect();
    for c in 0..cols {
        for t in bin_range(c, cols, nt) {
            let step = steps.start + t;
            let words = &rec.bits[step * rec.words_per_step..][..rec.words_per_step];
            for (r, e) in edges.iter().enumerate() {
                counts[r * cols + c] +=
                    count_range(words, neurons.start + e.start, neurons.start + e.end);
            }
        }
    }
    let mut grid = vec![0f32; rows * cols];
    for r in 0..rows {
        let h = edges[r].len();
        for c in 0..cols {
            let w = bin_range(c, cols, nt).len();
            grid[r * cols + c] = counts[r * cols + c] as f32 / (w * h) as f32;
        }
    }
    grid
}

/// Grey level of a bin: white when empty, a light grey for the sparsest bin
/// with a spike, black when every cell spiked.
pub fn shade(fraction: f32) -> u8 {
    if fraction <= 0.0 {
        255
    } else {
        (215.0 * (1.0 - fraction.min(1.0).sqrt())).round() as u8
    }
}

/// Population rate in Hz in `bins` bins of the window's steps, as equal
/// as can be (their lengths differ by at most one step, see [`bin_range`]):
/// no short bin at the end.
pub fn rate_curve(
    rec: &PopRecord,
    steps: Range<usize>,
    neurons: Range<usize>,
    bins: usize,
    dt_ms: f64,
) -> Vec<f64> {
    let bins = bins.clamp(1, steps.len().max(1));
    (0..bins)
        .map(|k| {
            let r = bin_range(k, bins, steps.len());
            let spikes: u64 = r
                .clone()
                .map(|t| {
                    let s = steps.start + t;
                    count_range(
                        &rec.bits[s * rec.words_per_step..][..rec.words_per_step],
                        neurons.start,
                        neurons.end,
                    ) as u64
                })
                .sum();
            spikes as f64 / (neurons.len() as f64 * r.len() as f64 * dt_ms * 1e-3)
        })
        .collect()
}

/// Where a panel's plot area lies on the canvas.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

/// What a raster panel shows.
pub struct RasterSpec<'a> {
    pub name: &'a str,
    pub size: usize,
    pub rec: &'a PopRecord,
    pub steps: Range<usize>,
    pub neurons: Range<usize>,
    pub dt_ms: f64,
}

impl RasterSpec<'_> {
    pub fn mean_rate_hz(&self) -> f64 {
        let spikes: u64 = self
            .steps
            .clone()
            .map(|s| {
                count_range(
                    &self.rec.bits[s * self.rec.words_per_step..][..self.rec.words_per_step],
                    self.neurons.start,
                    self.neurons.end,
                ) as u64
            })
            .sum();
        spikes as f64 / (self.neurons.len() as f64 * self.steps.len() as f64 * self.dt_ms * 1e-3)
    }
}

pub const TITLE_H: i64 = 26;
pub const RATE_GAP: i64 = 14;
pub const RATE_H: i64 = 56;
pub const XAXIS_H: i64 = 34;

/// Height of a raster panel with a raster area `h` high.
pub fn panel_height(h: i64, x_label: bool) -> i64 {
    TITLE_H + h + RATE_GAP + RATE_H + if x_label { XAXIS_H + 16 } else { XAXIS_H }
}

/// Draws title, raster, its rate curve and the time axis with the plot area
/// from `left` to `left + width` and the panel's top at `top`.
pub fn draw_panel(
    c: &mut Canvas,
    spec: &RasterSpec,
    left: i64,
    top: i64,
    width: i64,
    raster_h: i64,
    x_label: bool,
) {
    let nt = spec.steps.len();
    let nn = spec.neurons.len();
    let area = Area {
        x: left,
        y: top + TITLE_H,
        w: width,
        h: raster_h,
    };
    let cols = nt.min(area.w as usize).max(1);
    let rows = nn.min(area.h as usize).max(1);
    draw_title(c, spec, (left, top, width), (cols, rows));
    draw_raster(c, spec, &area, (cols, rows));
    let ra = draw_rate(c, spec, &area);
    draw_time_axis(c, spec, &area, &ra, x_label);
}

/// The panel's title, and beside it how many neurons and steps a pixel
/// shades when they do not fit.
fn draw_title(
    c: &mut Canvas,
    spec: &RasterSpec,
    (left, top, width): (i64, i64, i64),
    (cols, rows): (usize, usize),
) {
    let (nt, nn) = (spec.steps.len(), spec.neurons.len());
    let shaded = cols < nt || rows < nn;
    let mut title = format!("{} ({} neurons", spec.name, spec.size);
    if nn != spec.size {
        title += &format!(", showing {}..{}", spec.neurons.start, spec.neurons.end);
    }
    title += &format!("), mean rate {:.1} Hz", spec.mean_rate_hz());
    let short = format!("{}, {:.1} Hz", spec.name, spec.mean_rate_hz());
    let title_w = c.title_fitting(left, top, width, &[title, short]);
    // the note beside the title, in as many words as fit (or none)
    let (per_n, per_t) = (nn.div_ceil(rows), nt.div_ceil(cols));
    let notes = [
        format!(
            "shaded: spike density of ~{per_n} neuron{} x {per_t} step{} per pixel",
            if per_n > 1 { "s" } else { "" },
            if per_t > 1 { "s" } else { "" }
        ),
        format!("~{per_n} x {per_t} per pixel"),
    ];
    let room = width - title_w - 16;
    let note = notes
        .iter()
        .find(|n| (Canvas::text_width(12.0, n).ceil() as i64) <= room);
    if let (true, Some(note)) = (shaded, note) {
        c.text(
            (left + width) as f64,
            (top + 6) as f64,
            12.0,
            note,
            GREY,
            (Align::End, Align::Start),
        );
    }
}

/// The raster: spike density per pixel, and the neuron axis.
fn draw_raster(c: &mut Canvas, spec: &RasterSpec, area: &Area, (cols, rows): (usize, usize)) {
    let nn = spec.neurons.len();
    let grid = density_grid(
        spec.rec,
        spec.steps.clone(),
        spec.neurons.clone(),
        cols,
        rows,
    );
    for r in 0..rows {
        let ys = bin_range(r, rows, area.h as usize);
        // row 0 (lowest neurons) at the bottom
        let (y0, y1) = (
            area.y + area.h - ys.end as i64,
            area.y + area.h - ys.start as i64,
        );
        for col in 0..cols {
            let f = grid[r * cols + col];
            if f > 0.0 {
                let xs = bin_range(col, cols, area.w as usize);
                let g = shade(f);
                c.fill_rect(
                    area.x + xs.start as i64,
                    y0,
                    area.x + xs.end as i64,
                    y1,
                    image::Rgb([g, g, g]),
                );
            }
        }
    }
    c.frame(area.x, area.y, area.x + area.w, area.y + area.h, GREY);
    // neuron axis
    let n_ticks = nice_ticks(
        spec.neurons.start as f64,
        (spec.neurons.end - 1) as f64,
        (area.h / 40).clamp(2, 6) as usize,
    );
    for v in n_ticks {
        let frac = (v - spec.neurons.start as f64 + 0.5) / nn as f64;
        let y = area.y + area.h - (frac * area.h as f64).round() as i64;
        c.y_tick(area.x, y, &tick_label(v));
    }
    c.y_label(area.x, area.y + area.h / 2, "neuron");
}

/// The rate curve under the raster; returns its area.
fn draw_rate(c: &mut Canvas, spec: &RasterSpec, area: &Area) -> Area {
    let nt = spec.steps.len();
    let (left, width) = (area.x, area.w);
    let ra = Area {
        x: left,
        y: area.y + area.h + RATE_GAP,
        w: width,
        h: RATE_H,
    };
    // about one bin per 4 pixels, all of (nearly) one length
    let bin = nt.div_ceil((area.w as usize / 4).max(1)).max(1);
    let bins = nt.div_ceil(bin);
    let rates = rate_curve(
        spec.rec,
        spec.steps.clone(),
        spec.neurons.clone(),
        bins,
        spec.dt_ms,
    );
    let ymax = nice_ceil(rates.iter().cloned().fold(0.0, f64::max));
    c.fill_rect(
        ra.x,
        ra.y,
        ra.x + ra.w,
        ra.y + ra.h,
        image::Rgb([248, 249, 252]),
    );
    let point = |k: usize, r: f64| {
        let b = bin_range(k, bins, nt);
        let t_mid = (b.start + b.end) as f64 / 2.0;
        (
            ra.x as f64 + t_mid / nt as f64 * ra.w as f64,
            (ra.y + ra.h) as f64 - r / ymax * (ra.h - 2) as f64 - 1.0,
        )
    };
    for k in 1..rates.len() {
        c.line(point(k - 1, rates[k - 1]), point(k, rates[k]), BLUE);
    }
    if rates.len() == 1 {
        let p = point(0, rates[0]);
        c.line((ra.x as f64, p.1), ((ra.x + ra.w) as f64, p.1), BLUE);
    }
    c.frame(ra.x, ra.y, ra.x + ra.w, ra.y + ra.h, GREY);
    for v in [0.0, ymax] {
        let y = ra.y + ra.h - 1 - (v / ymax * (ra.h - 2) as f64).round() as i64;
        c.y_tick(ra.x, y, &tick_label(v));
    }
    c.y_label(ra.x, ra.y + ra.h / 2, "rate (Hz)");
    let (short, long) = (nt / bins, nt.div_ceil(bins));
    let note = if short == long {
        format!("bins of {} ms", tick_label(long as f64 * spec.dt_ms))
    } else {
        format!(
            "bins of {}-{} ms",
            tick_label(short as f64 * spec.dt_ms),
            tick_label(long as f64 * spec.dt_ms)
        )
    };
    let nw = Canvas::text_width(11.0, &note).ceil() as i64;
    c.fill_rect(
        ra.x + ra.w - nw - 6,
        ra.y,
        ra.x + ra.w,
        ra.y + 15,
        image::Rgb([255, 255, 255]),
    );
    c.text(
        (ra.x + ra.w - 3) as f64,
        (ra.y + 2) as f64,
        11.0,
        &note,
        GREY,
        (Align::End, Align::Start),
    );

    ra
}

/// The time axis under the rate curve `ra`, shared by every raster of a
/// figure (labelled with `x_label`).
fn draw_time_axis(c: &mut Canvas, spec: &RasterSpec, area: &Area, ra: &Area, x_label: bool) {
    let width = area.w;
    let (t0, t1) = (
        spec.steps.start as f64 * spec.dt_ms,
        spec.steps.end as f64 * spec.dt_ms,
    );
    let ay = ra.y + ra.h;
    for v in nice_ticks(t0, t1, (width / 110).clamp(2, 12) as usize) {
        let x = ra.x + ((v - t0) / (t1 - t0) * ra.w as f64).round() as i64;
        c.fill_rect(x, ay + 1, x + 1, ay + 6, GREY);
        c.fill_rect(x, area.y + area.h, x + 1, area.y + area.h + 3, LIGHT);
        c.text(
            x as f64,
            (ay + 8) as f64,
            12.0,
            &tick_label(v),
            BLACK,
            (Align::Center, Align::Start),
        );
    }
    if x_label {
        c.text(
            (ra.x + ra.w / 2) as f64,
            (ay + 28) as f64,
            13.0,
            "time (ms)",
            BLACK,
            (Align::Center, Align::Start),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_range_counts_partial_words() {
        let words = [0xFFFF_FFFFu32, 0b1011, 0x8000_0000];
        assert_eq!(count_range(&words, 0, 96), 32 + 3 + 1);
        assert_eq!(count_range(&words, 4, 8), 4);
        assert_eq!(count_range(&words, 30, 34), 2 + 2);
        assert_eq!(count_range(&words, 33, 95), 2);
        assert_eq!(count_range(&words, 95, 96), 1);
        assert_eq!(count_range(&words, 5, 5), 0);
    }

    #[test]
    fn bins_cover_everything_once() {
        for (n, len) in [(3, 10), (7, 7), (1, 5), (640, 1000)] {
            let mut next = 0;
            for k in 0..n {
                let r = bin_range(k, n, len);
                assert_eq!(r.start, next);
                assert!(!r.is_empty());
                next = r.end;
            }
            assert_eq!(next, len);
        }
    }

    #[test]
    fn shade_keeps_every_spike_visible() {
        assert_eq!(shade(0.0), 255);
        assert!(shade(1e-6) < 255);
        assert_eq!(shade(1.0), 0);
        assert!(shade(0.25) > shade(0.5));
    }
}
