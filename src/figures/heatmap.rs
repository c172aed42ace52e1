//! The input -> population activity heatmap of SPEC §3:
//! `A[i][j] = |W[j][i]| * (spikes of pre neuron i) / T`, the mean synaptic
//! drive pre neuron i delivered to post neuron j per step, scaled to [0, 1]
//! by its maximum; white below 0.1, deepening blue above.

use super::canvas::{Align, BLACK, Canvas, GREY, nice_ticks, tick_label};
use super::raster::bin_range;
use image::Rgb;

/// The matrix `A` of SPEC §3, scaled by its largest cell, as a heatmap of
/// `rows` x `cols` pixels shows it (`rows <= n_pre`, `cols <= n_post`;
/// pixel `(r, c)` covers the cells `bin_range(r, rows, n_pre)` x
/// `bin_range(c, cols, n_post)`): `bins[r * cols + c]` is the mean of its
/// cells. From weights in the `nn.Linear` layout (`w[j * n_pre + i]`) and
/// the pre neurons' spike counts over `steps`. With `(n_pre, n_post)` it
/// is `A` itself. Two passes over `w` (the largest cell, then the bins),
/// nothing as large as `w` allocated: `A` at `--scale 300` would be 450 M
/// cells. Threads take whole columns of pixels, each summed in the same
/// order, so the result does not depend on the thread count.
pub fn activity_bins(
    w: &[f32],
    (n_pre, n_post): (usize, usize),
    counts: &[u64],
    steps: usize,
    (rows, cols): (usize, usize),
) -> Vec<f32> {
    assert!(rows <= n_pre && cols <= n_post && w.len() == n_pre * n_post);
    let cell = |i: usize, j: usize| {
        (w[j * n_pre + i] as f64).abs() * counts[i] as f64 / steps.max(1) as f64
    };
    // the pixel row of each pre neuron
    let mut row_of = vec![0usize; n_pre];
    for r in 0..rows {
        row_of[bin_range(r, rows, n_pre)].fill(r);
    }
    // ranges of pixel columns across threads (in order)
    let parts = |f: &(dyn Fn(std::ops::Range<usize>) -> Vec<f64> + Sync)| {
        crate::network::in_ranges(cols, n_pre * (n_post / cols).max(1), f)
    };
    let max = parts(&|cs| {
        let posts =
            bin_range(cs.start, cols, n_post).start..bin_range(cs.end - 1, cols, n_post).end;
        vec![posts.fold(0f64, |m, j| (0..n_pre).fold(m, |m, i| m.max(cell(i, j))))]
    })
    .into_iter()
    .flatten()
    .fold(0f64, f64::max);
    // per pixel column, column-major sums of its pixels
    let sums = parts(&|cs| {
        let mut s = vec![0f64; cs.len() * rows];
        for (k, c) in cs.enumerate() {
            let col = &mut s[k * rows..][..rows];
            for j in bin_range(c, cols, n_post) {
                for i in 0..n_pre {
                    let x = if max > 0.0 {
                        (cell(i, j) / max) as f32
                    } else {
                        0.0
                    };
                    col[row_of[i]] += x as f64;
                }
            }
        }
        s
    })
    .concat();
    let mut bins = vec![0f32; rows * cols];
    for r in 0..rows {
        let n_r = bin_range(r, rows, n_pre).len();
        for c in 0..cols {
            let n = (n_r * bin_range(c, cols, n_post).len()) as f64;
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
    pub n_pre: usize,
    pub n_post: usize,
    /// [`activity_bins`] of `grid` pixels: [`grid_dims`] of the plot the
    /// panel draws
    pub a: &'a [f32],
    pub grid: (usize, usize),
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
        (n_rows, n_cols),
        (rows, cols),
        &bins,
        colour,
        labels,
    );
}

/// [`draw_cells`] from the pixels' values already binned (`bins[r * cols +
/// col]`, `(rows, cols)` from [`grid_dims`]).
pub fn draw_bins(
    c: &mut Canvas,
    (x, y, w, h): (i64, i64, i64, i64),
    (n_rows, n_cols): (usize, usize),
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
    for v in nice_ticks(0.0, (n_rows - 1) as f64, (h / 40).clamp(2, 6) as usize) {
        let yy = y + h - ((v + 0.5) / n_rows as f64 * h as f64).round() as i64;
        c.y_tick(x, yy, &tick_label(v));
    }
    c.y_label(x, y + h / 2, row_label);
    let ticks: Vec<_> = nice_ticks(0.0, (n_cols - 1) as f64, (w / 90).clamp(2, 10) as usize)
        .into_iter()
        .map(|v| {
            let xx = x + ((v + 0.5) / n_cols as f64 * w as f64).round() as i64;
            (xx, tick_label(v))
        })
        .collect();
    c.x_axis(x, w, y + h, &ticks, col_label);
}

/// Draws the heatmap (pre index on y, post index on x) and its colour bar.
pub fn draw_panel(c: &mut Canvas, s: &HeatSpec, left: i64, top: i64, width: i64, h: i64) {
    c.title(
        left,
        top,
        &format!(
            "{} \u{2192} {} activity ({}): |W| \u{d7} {} spikes / T, scaled to its maximum",
            s.pre, s.post, s.projection, s.pre
        ),
    );
    let (x, y, w) = (left, top + TITLE_H, plot_width(width));
    draw_bins(
        c,
        (x, y, w, h),
        (s.n_pre, s.n_post),
        s.grid,
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
