//! The input -> population activity heatmap of docs/arithmetic.md §3:
//! `A[i][j] = |W[j][i]| * (spikes of pre neuron i) / T`, the mean synaptic
//! drive pre neuron i delivered to post neuron j per step, scaled to [0, 1]
//! by its maximum; white below 0.1, deepening blue above.

use super::canvas::{Align, BLACK, Canvas, GREY, nice_ticks, tick_label};
use super::raster::bin_range;
use image::Rgb;

/// A projection's weights as the heatmap reads them.
#[derive(Clone, Copy)]
pub enum Synapses<'a> {
    /// The `nn.Linear` layout, `w[j * n_pre + i]`.
    Dense(&'a [f32]),
    /// By post neuron: post `j`'s synapses are `k` in
    /// `rows.ptr[j]..rows.ptr[j + 1]`, from pre `rows.pre[k]`, of weight
    /// `w[k]`; absent pairs are 0.
    Sparse(&'a crate::network::SparseRows, &'a [f32]),
}

/// The cells of the heatmap a plot shows: the matrix `A` restricted to the
/// pre neurons `pre` (rows) and post neurons `post` (columns), in `rows` x
/// `cols` pixels (`rows <= pre.len()`, `cols <= post.len()`).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub pre: std::ops::Range<usize>,
    pub post: std::ops::Range<usize>,
    pub rows: usize,
    pub cols: usize,
}

/// The matrix `A` of docs/arithmetic.md §3, scaled by its largest cell
/// within the window, as a heatmap of `win.rows` x `win.cols` pixels shows
/// it (pixel `(r, c)` covers the cells `bin_range(r, rows, pre.len())` x
/// `bin_range(c, cols, post.len())` of the window): `bins[r * cols + c]`
/// is the mean of its cells. From the weights (`n_pre` pre neurons) and the
/// pre neurons' spike counts over `steps`. With the whole matrix in one
/// pixel per cell it is `A` itself. Two passes over the weights (the
/// largest cell, then the bins), nothing as large as them allocated: `A`
/// at `--scale 300` would be 450 M cells. Threads take whole columns of
/// pixels, each summed in the same order, so the result does not depend on
/// the thread count.
pub fn activity_bins(
    w: Synapses,
    n_pre: usize,
    counts: &[u64],
    steps: usize,
    win: &Window,
) -> Vec<f32> {
    let (rows, cols) = (win.rows, win.cols);
    let (n_rows, n_cols) = (win.pre.len(), win.post.len());
    assert!(rows >= 1 && cols >= 1 && rows <= n_rows && cols <= n_cols);
    let scale = 1.0 / steps.max(1) as f64;
    let cell = |i: usize, x: f32| (x as f64).abs() * counts[i] as f64 * scale;
    // the pixel row of each pre neuron in the window (none outside)
    let mut row_of = vec![usize::MAX; n_pre];
    for r in 0..rows {
        let b = bin_range(r, rows, n_rows);
        row_of[win.pre.start + b.start..win.pre.start + b.end].fill(r);
    }
    // visits the cells (pixel row, value) of post neuron j, in one order
    let visit = |j: usize, f: &mut dyn FnMut(usize, f64)| match w {
        Synapses::Dense(w) => {
            for i in win.pre.clone() {
                f(row_of[i], cell(i, w[j * n_pre + i]));
            }
        }
        Synapses::Sparse(sr, w) => {
            let k = sr.ptr[j]..sr.ptr[j + 1];
            for (&i, &x) in sr.pre[k.clone()].iter().zip(&w[k]) {
                let i = i as usize;
                if row_of[i] != usize::MAX {
                    f(row_of[i], cell(i, x));
                }
            }
        }
    };
    let posts_of = |c: usize| {
        let b = bin_range(c, cols, n_cols);
        win.post.start + b.start..win.post.start + b.end
    };
    // ranges of pixel columns across threads (in order)
    let parts = |f: &(dyn Fn(std::ops::Range<usize>) -> Vec<f64> + Sync)| {
        crate::network::in_ranges(cols, n_rows * (n_cols / cols).max(1), f)
    };
    let max = parts(&|cs| {
        let mut m = 0f64;
        for c in cs {
            for j in posts_of(c) {
                visit(j, &mut |_, x| m = m.max(x));
            }
        }
        vec![m]
    })
    .into_iter()
    .flatten()
    .fold(0f64, f64::max);
    // per pixel column, column-major sums of its pixels
    let sums = parts(&|cs| {
        let mut s = vec![0f64; cs.len() * rows];
        for (k, c) in cs.enumerate() {
            let col = &mut s[k * rows..][..rows];
            for j in posts_of(c) {
                visit(j, &mut |r, x| {
                    let v = if max > 0.0 { (x / max) as f32 } else { 0.0 };
                    col[r] += v as f64;
                });
            }
        }
        s
    })
    .concat();
    let mut bins = vec![0f32; rows * cols];
    for r in 0..rows {
        let n_r = bin_range(r, rows, n_rows).len();
        for c in 0..cols {
            let n = (n_r * bin_range(c, cols, n_cols).len()) as f64;
            bins[r * cols + c] = (sums[c * rows + r] / n) as f32;
        }
    }
    bins
}

/// The pixels (rows, columns) a `w` x `h` plot of `n_rows` x `n_cols`
/// cells shows them in: one per cell, or fewer, each the mean of the cells
/// it covers.
pub fn grid_dims((n_rows, n_cols): (usize, usize), w: i64, h: i64) -> (usize, usize) {
    (
        n_rows.min(h.max(1) as usize).max(1),
        n_cols.min(w.max(1) as usize).max(1),
    )
}

/// White below 0.1, then from a pale to a deep blue.
pub fn blues(v: f32) -> Rgb<u8> {
    if v < 0.1 {
        return Rgb([255, 255, 255]);
    }
    let stops = [
        (0.1f32, [222f32, 235., 247.]),
        (0.55, [107., 174., 214.]),
        (1.0, [8., 48., 107.]),
    ];
    let v = v.min(1.0);
    let k = if v <= stops[1].0 { 0 } else { 1 };
    let (a, b) = (stops[k], stops[k + 1]);
    let t = (v - a.0) / (b.0 - a.0);
    Rgb(std::array::from_fn(|c| {
        (a.1[c] + (b.1[c] - a.1[c]) * t).round() as u8
    }))
}

pub struct HeatSpec<'a> {
    pub projection: &'a str,
    pub pre: &'a str,
    pub post: &'a str,
    /// The neurons and pixels drawn ([`grid_dims`] of the plot)
    pub win: &'a Window,
    /// [`activity_bins`] of the window
    pub a: &'a [f32],
    /// The steps the spike counts cover, and dt, for the title.
    pub steps: std::ops::Range<usize>,
    pub dt_ms: f64,
    /// Whether the steps and neurons are a part of the run's (then said).
    pub part: bool,
}

pub const TITLE_H: i64 = 26;
pub const AXIS_H: i64 = 48;
pub const BAR_W: i64 = 90;

pub fn panel_height(h: i64) -> i64 {
    TITLE_H + h + AXIS_H
}

/// The width of the matrix in a panel `width` wide (the colour bar beside).
pub fn plot_width(width: i64) -> i64 {
    width - BAR_W
}

/// A matrix of `n_rows` x `n_cols` cells filling the plot `(x, y, w, h)`,
/// row 0 at the bottom: each pixel is `colour` of the mean of the cells it
/// covers (`value(row, col)`), framed, with the row indices on a y axis and
/// the column indices on an x axis, labelled `(row_label, col_label)`.
pub fn draw_cells(
    c: &mut Canvas,
    (x, y, w, h): (i64, i64, i64, i64),
    (n_rows, n_cols): (usize, usize),
    value: impl Fn(usize, usize) -> f32,
    colour: impl Fn(f32) -> Rgb<u8>,
    labels: (&str, &str),
) {
    let (rows, cols) = grid_dims((n_rows, n_cols), w, h);
    let mut bins = vec![0f32; rows * cols];
    for r in 0..rows {
        let rr = bin_range(r, rows, n_rows);
        for col in 0..cols {
            let cc = bin_range(col, cols, n_cols);
            // a pixel covering several cells shows their mean
            let mut sum = 0f64;
            for i in rr.clone() {
                for j in cc.clone() {
                    sum += value(i, j) as f64;
                }
            }
            bins[r * cols + col] = (sum / (rr.len() * cc.len()) as f64) as f32;
        }
    }
    draw_bins(
        c,
        (x, y, w, h),
        (0..n_rows, 0..n_cols),
        (rows, cols),
        &bins,
        colour,
        labels,
    );
}

/// [`draw_cells`] from the pixels' values already binned (`bins[r * cols +
/// col]`, `(rows, cols)` from [`grid_dims`]) of the cells `row_range` x
/// `col_range` (the axes are labelled with their indices).
pub fn draw_bins(
    c: &mut Canvas,
    (x, y, w, h): (i64, i64, i64, i64),
    (row_range, col_range): (std::ops::Range<usize>, std::ops::Range<usize>),
    (rows, cols): (usize, usize),
    bins: &[f32],
    colour: impl Fn(f32) -> Rgb<u8>,
    (row_label, col_label): (&str, &str),
) {
    for r in 0..rows {
        let ys = bin_range(r, rows, h as usize);
        for col in 0..cols {
            let v = bins[r * cols + col];
            let xs = bin_range(col, cols, w as usize);
            c.fill_rect(
                x + xs.start as i64,
                y + h - ys.end as i64,
                x + xs.end as i64,
                y + h - ys.start as i64,
                colour(v),
            );
        }
    }
    c.frame(x, y, x + w, y + h, GREY);
    let (n_rows, n_cols) = (row_range.len(), col_range.len());
    let (r0, c0) = (row_range.start as f64, col_range.start as f64);
    for v in nice_ticks(r0, r0 + (n_rows - 1) as f64, (h / 40).clamp(2, 6) as usize) {
        let yy = y + h - ((v - r0 + 0.5) / n_rows as f64 * h as f64).round() as i64;
        c.y_tick(x, yy, &tick_label(v));
    }
    c.y_label(x, y + h / 2, row_label);
    let ticks: Vec<_> = nice_ticks(c0, c0 + (n_cols - 1) as f64, (w / 90).clamp(2, 10) as usize)
        .into_iter()
        .map(|v| {
            let xx = x + ((v - c0 + 0.5) / n_cols as f64 * w as f64).round() as i64;
            (xx, tick_label(v))
        })
        .collect();
    c.x_axis(x, w, y + h, &ticks, col_label);
}

/// Draws the heatmap (pre index on y, post index on x) and its colour bar.
pub fn draw_panel(c: &mut Canvas, s: &HeatSpec, left: i64, top: i64, width: i64, h: i64) {
    let window = if s.part {
        format!(
            ", steps {}..{} ({} ms)",
            s.steps.start,
            s.steps.end,
            tick_label(s.steps.len() as f64 * s.dt_ms)
        )
    } else {
        String::new()
    };
    c.title_fitting(
        left,
        top,
        width,
        &[
            format!(
                "{} \u{2192} {} activity ({}{window}): |W| \u{d7} {} spikes / T, scaled to its maximum",
                s.pre, s.post, s.projection, s.pre
            ),
            format!(
                "{} \u{2192} {} activity ({}{window})",
                s.pre, s.post, s.projection
            ),
            format!("{} \u{2192} {} ({})", s.pre, s.post, s.projection),
        ],
    );
    let (x, y, w) = (left, top + TITLE_H, plot_width(width));
    draw_bins(
        c,
        (x, y, w, h),
        (s.win.pre.clone(), s.win.post.clone()),
        (s.win.rows, s.win.cols),
        s.a,
        blues,
        (&format!("{} neuron", s.pre), &format!("{} neuron", s.post)),
    );

    // colour bar
    let (bx, bw) = (x + w + 24, 16);
    for py in 0..h {
        let v = 1.0 - (py as f32 + 0.5) / h as f32;
        c.fill_rect(bx, y + py, bx + bw, y + py + 1, blues(v));
    }
    c.frame(bx, y, bx + bw, y + h, GREY);
    for v in [0.0, 0.1, 0.5, 1.0] {
        let yy = y + h - (v * h as f64).round() as i64;
        c.fill_rect(bx + bw, yy, bx + bw + 4, yy + 1, GREY);
        c.text(
            (bx + bw + 6) as f64,
            yy as f64,
            11.0,
            &tick_label(v),
            BLACK,
            (Align::Start, Align::Center),
        );
    }
    c.text_vertical(
        (bx + bw + 40) as f64,
        (y + h / 2) as f64,
        12.0,
        "normalised drive",
        BLACK,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blues_is_white_below_a_tenth_and_darkens() {
        assert_eq!(blues(0.0), Rgb([255, 255, 255]));
        assert_eq!(blues(0.099), Rgb([255, 255, 255]));
        assert_ne!(blues(0.1), Rgb([255, 255, 255]));
        let lum = |c: Rgb<u8>| c.0.iter().map(|&x| x as u32).sum::<u32>();
        assert!(lum(blues(0.2)) > lum(blues(0.6)) && lum(blues(0.6)) > lum(blues(1.0)));
        assert_eq!(blues(1.0), Rgb([8, 48, 107]));
    }
}
