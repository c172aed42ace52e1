//! Figures: the study's panels stacked in `nacc.png` (one raster per
//! population, each with its rate curve, on a shared time axis, then the
//! input -> inter heatmap), and each panel on its own (`raster_<pop>.png`,
//! `heatmap_<proj>.png`). Used by `nacc run` and `nacc render`.

pub mod canvas;
pub mod heatmap;
pub mod learning;
pub mod raster;
pub mod traces;

use crate::error::Result;
use crate::outdir::write_atomic;
use crate::record::PopRecord;
use canvas::{Align, BLACK, Canvas};
use std::ops::Range;
use std::path::Path;

/// One population to draw.
pub struct PopData<'a> {
    pub name: &'a str,
    pub rec: &'a PopRecord,
}

/// One projection from a Poisson population, for its heatmap.
pub struct ProjData<'a> {
    pub name: &'a str,
    pub pre: &'a str,
    pub post: &'a str,
    /// Index of the pre population in the `pops` given alongside.
    pub pre_index: usize,
    pub n_pre: usize,
    pub n_post: usize,
    pub w: heatmap::Synapses<'a>,
}

impl<'a> ProjData<'a> {
    /// Projection `j` of `net`, with weights `w`.
    pub fn of(
        net: &'a crate::network::Network,
        j: usize,
        w: heatmap::Synapses<'a>,
    ) -> ProjData<'a> {
        let p = &net.projections[j];
        ProjData {
            name: &p.name,
            pre: &net.populations[p.pre].name,
            post: &net.populations[p.post].name,
            pre_index: p.pre,
            n_pre: net.populations[p.pre].size,
            n_post: net.populations[p.post].size,
            w,
        }
    }
}

/// Which part of a run to draw, and how large.
#[derive(Debug, Clone)]
pub struct View {
    pub steps: Range<usize>,
    /// Neuron window, applied to every population (clipped to its size).
    pub neurons: Option<Range<usize>>,
    pub width: u32,
    /// Height of `nacc.png`; panels scale to fit. None: from the sizes.
    pub height: Option<u32>,
    /// What `nacc.png` is titled: the network's name.
    pub title: String,
}

/// The title of the built-in network's figures.
pub const DEFAULT_TITLE: &str = "NAcc spiking network";

pub const DEFAULT_WIDTH: u32 = 1200;
const LEFT: i64 = 84;
const RIGHT: i64 = 20;
const TOP: i64 = 8;
const HEADER_H: i64 = 30;

/// Plot height for `n` rows: the smallest whole number of pixels per row
/// that reaches `min`, as long as that stays within `max`.
fn plot_height(n: usize, min: i64, max: i64) -> i64 {
    let n = (n as i64).max(1);
    let whole = n * ((min + n - 1) / n).max(1);
    if whole <= max { whole } else { max }
}

/// Where figures go: PNG files in a directory, or PNG bytes kept in memory
/// by file name (the Python package's figures, which write no file).
#[derive(Clone, Copy)]
pub enum Dest<'a> {
    Dir(&'a Path),
    Memory(&'a std::sync::Mutex<Vec<(String, Vec<u8>)>>),
}

impl<'a> From<&'a Path> for Dest<'a> {
    fn from(dir: &'a Path) -> Dest<'a> {
        Dest::Dir(dir)
    }
}

impl<'a> From<&'a std::path::PathBuf> for Dest<'a> {
    fn from(dir: &'a std::path::PathBuf) -> Dest<'a> {
        Dest::Dir(dir)
    }
}

/// Writes `c` as the PNG `name` to `dest`.
pub fn png(dest: Dest, name: &str, c: &Canvas) -> Result<()> {
    let encode = |w: &mut dyn std::io::Write| {
        c.img
            .write_with_encoder(image::codecs::png::PngEncoder::new(w))
            .map_err(std::io::Error::other)
    };
    match dest {
        Dest::Dir(dir) => write_atomic(&dir.join(name), |w| encode(w)),
        Dest::Memory(kept) => {
            let mut bytes = Vec::new();
            encode(&mut bytes).map_err(|e| crate::Error::Runtime(format!("{name}: {e}")))?;
            let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
            kept.push((name.to_string(), bytes));
            Ok(())
        }
    }
}

/// The neuron window of a population under `view`.
fn neurons_of(view: &View, size: usize) -> Range<usize> {
    match &view.neurons {
        Some(r) => r.start.min(size)..r.end.min(size),
        None => 0..size,
    }
}

/// The tallest `nacc.png` drawn without `--height`: past it, the first
/// populations that fit are drawn there (every one still has its own
/// raster file), so that no canvas grows with the number of populations.
pub const MAX_COMBINED_HEIGHT: i64 = 16_384;

/// The heights of the parts of `nacc.png`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Populations drawn in nacc.png: the first `shown`.
    pub shown: usize,
    /// Their plot heights (at least 10 px each).
    pub raster_h: Vec<i64>,
    /// The heatmap's plot height, when there is one.
    pub heat_h: Option<i64>,
    /// The height of nacc.png.
    pub total: i64,
}

impl Layout {
    /// Rasters of `sizes` neurons, a heatmap of `heat_pre` rows, a
    /// dopamine panel: each plot as tall as its rows need (within its
    /// bounds), or all scaled to make nacc.png `height` tall.
    pub fn new(
        sizes: &[usize],
        heat_pre: Option<usize>,
        dopamine: bool,
        height: Option<u32>,
    ) -> Layout {
        const MIN: i64 = 10;
        let natural: Vec<i64> = sizes.iter().map(|&n| plot_height(n, 150, 240)).collect();
        let heat = heat_pre.map(|n| plot_height(n, 150, 300));
        let fixed = |k: usize| {
            TOP * 2
                + HEADER_H
                + (0..k)
                    .map(|i| raster::panel_height(0, i + 1 == k))
                    .sum::<i64>()
                + heat.map_or(0, |_| heatmap::panel_height(0))
                + if dopamine {
                    learning::panel_height(learning::DOPAMINE_H)
                } else {
                    0
                }
        };
        // the most populations that fit: at their natural heights within
        // MAX_COMBINED_HEIGHT, or at 10 px within --height
        let fits = |k: usize| match height {
            None => {
                fixed(k) + natural[..k].iter().sum::<i64>() + heat.unwrap_or(0)
                    <= MAX_COMBINED_HEIGHT
            }
            Some(h) => fixed(k) + MIN * (k as i64 + heat.is_some() as i64) <= h as i64,
        };
        let mut shown = sizes.len().min(1);
        while shown < sizes.len() && fits(shown + 1) {
            shown += 1;
        }
        let mut raster_h = natural[..shown].to_vec();
        let mut heat_h = heat;
        let fixed = fixed(shown);
        if let Some(h) = height {
            let variable: i64 = raster_h.iter().sum::<i64>() + heat_h.unwrap_or(0);
            let f = ((h as i64 - fixed) as f64 / variable.max(1) as f64).max(0.0);
            for r in &mut raster_h {
                *r = ((*r as f64 * f).round() as i64).max(MIN);
            }
            heat_h = heat_h.map(|x| ((x as f64 * f).round() as i64).max(MIN));
            // rounding: the last plot takes up the difference
            let short = h as i64 - (fixed + raster_h.iter().sum::<i64>() + heat_h.unwrap_or(0));
            match (&mut heat_h, raster_h.last_mut()) {
                (Some(x), _) | (None, Some(x)) => *x = (*x + short).max(MIN),
                (None, None) => {}
            }
        }
        let total = fixed + raster_h.iter().sum::<i64>() + heat_h.unwrap_or(0);
        Layout {
            shown,
            raster_h,
            heat_h,
            total,
        }
    }

    /// The least `--height` that holds one population's panel (and the
    /// heatmap and dopamine panels when there are).
    pub fn min_height(heat: bool, dopamine: bool) -> i64 {
        let one = Layout::new(&[1], heat.then_some(1), dopamine, Some(0));
        one.total - one.raster_h.iter().sum::<i64>() - one.heat_h.unwrap_or(0)
            + 10 * (1 + heat as i64)
    }
}

/// Bytes of the canvases a run's figures hold at once (nacc.png and one
/// panel of its own, 3 bytes a pixel), for the memory estimate.
pub fn canvas_bytes(net: &crate::network::Network, width: u32) -> u64 {
    let sizes: Vec<usize> = net.populations.iter().map(|p| p.size).collect();
    let heat = net
        .projections
        .iter()
        .find(|p| net.populations[p.pre].is_poisson())
        .map(|p| net.populations[p.pre].size);
    let layout = Layout::new(&sizes, heat, net.dopamine.is_some(), None);
    let panel = raster::panel_height(240, true).max(heatmap::panel_height(300)) + 2 * TOP;
    (layout.total + panel) as u64 * width as u64 * 3
}

/// Bytes of the PNG files a run writes, about: every figure's pixels (3
/// bytes each) over [`PNG_RATIO`], the compression measured on nacc's
/// figures (mostly white, a few colours).
pub fn png_bytes(net: &crate::network::Network, width: u32) -> u64 {
    let sizes: Vec<usize> = net.populations.iter().map(|p| p.size).collect();
    let from_poisson: Vec<usize> = net
        .projections
        .iter()
        .filter(|p| net.populations[p.pre].is_poisson())
        .map(|p| net.populations[p.pre].size)
        .collect();
    let combined = Layout::new(
        &sizes,
        from_poisson.first().copied(),
        net.dopamine.is_some(),
        None,
    )
    .total;
    let rasters: i64 = sizes
        .iter()
        .map(|&n| raster::panel_height(plot_height(n, 150, 240), true) + 2 * TOP)
        .sum();
    let heatmaps: i64 = from_poisson
        .iter()
        .map(|&n| heatmap::panel_height(plot_height(n, 150, 300)) + 2 * TOP)
        .sum();
    let learning: i64 = net
        .projections
        .iter()
        .filter(|p| p.plasticity.is_some())
        .map(|p| {
            learning::panel_height((net.populations[p.pre].size as i64 * 8).clamp(120, 320)) + 16
        })
        .sum::<i64>()
        + net.dopamine.as_ref().map_or(0, |_| {
            learning::panel_height(learning::DOPAMINE_H) + 2 * TOP
        })
        + net.stimulus.as_ref().map_or(0, |_| {
            let shown = net.populations.iter().filter(|p| !p.is_poisson()).count() as i64;
            learning::panel_height(160) * shown + 16
        });
    let rows = (combined + rasters + heatmaps + learning) as u64;
    rows * width as u64 * 3 / PNG_RATIO
}

/// Raw pixel bytes over PNG bytes of nacc's figures, about (measured on the
/// default, reward and --scale 20 runs: 2.7 to 12; noisy rasters compress
/// least, and the disk check had better count high).
pub const PNG_RATIO: u64 = 2;

/// Draws and writes `nacc.png`, `raster_<pop>.png` for every population and
/// `heatmap_<proj>.png` for every projection given, and with `dopamine`
/// (d(t) of every step from 0) its panel under the rasters and
/// `dopamine.png`; returns the file names.
pub fn write_all(
    dir: Dest,
    dt_ms: f64,
    pops: &[PopData],
    projs: &[ProjData],
    dopamine: Option<&[f32]>,
    view: &View,
) -> Result<Vec<String>> {
    let width = view.width as i64;
    let plot_w = width - LEFT - RIGHT;
    let specs: Vec<raster::RasterSpec> = pops
        .iter()
        .map(|p| raster::RasterSpec {
            name: p.name,
            size: p.rec.size,
            rec: p.rec,
            steps: view.steps.clone(),
            neurons: neurons_of(view, p.rec.size),
            dt_ms,
        })
        .collect();
    let steps = view.steps.len();

    let sizes: Vec<usize> = specs.iter().map(|s| s.neurons.len()).collect();
    if let Some(h) = view.height {
        let least = Layout::min_height(!projs.is_empty(), dopamine.is_some());
        if (h as i64) < least {
            return Err(crate::error::bad_value(
                "--height",
                h,
                format!("too small: nacc.png's panels need at least {least} pixels"),
            ));
        }
    }
    let Layout {
        shown,
        raster_h,
        heat_h,
        total,
    } = Layout::new(
        &sizes,
        projs.first().map(|p| p.n_pre),
        dopamine.is_some(),
        view.height,
    );

    // the heatmaps, binned to the pixels they are drawn in, over the
    // window's steps and neurons
    let heat_plot = (heatmap::plot_width(plot_w), heat_h.unwrap_or(300));
    let part = |n: usize| {
        view.steps.start > 0
            || view
                .neurons
                .as_ref()
                .is_some_and(|r| r.start > 0 || r.end < n)
    };
    let binned = bin_heatmaps(pops, projs, view, heat_plot);
    let heat: Vec<heatmap::HeatSpec> = projs
        .iter()
        .zip(&binned)
        .map(|(p, (win, a))| heatmap::HeatSpec {
            projection: p.name,
            pre: p.pre,
            post: p.post,
            win,
            a,
            steps: view.steps.clone(),
            dt_ms,
            part: part(p.n_pre) || part(p.n_post),
        })
        .collect();

    let mut written = Vec::new();
    let mut fig = Canvas::new(width as u32, total as u32);
    let more = match specs.len() - shown {
        0 => String::new(),
        n => format!(" (the first {shown} populations; {n} more in their raster_<pop>.png)"),
    };
    let header = format!(
        "{}: steps {}..{} ({} ms at dt = {} ms){more}",
        view.title,
        view.steps.start,
        view.steps.end,
        canvas::tick_label(steps as f64 * dt_ms),
        canvas::tick_label(dt_ms)
    );
    fig.text(
        LEFT as f64,
        (TOP + 4) as f64,
        17.0,
        &header,
        BLACK,
        (Align::Start, Align::Start),
    );
    let mut y = TOP + HEADER_H;
    for (i, s) in specs.iter().enumerate() {
        // in nacc.png, the first `shown`; each on its own
        let h = raster_h
            .get(i)
            .copied()
            .unwrap_or_else(|| plot_height(s.neurons.len(), 150, 240));
        if i < shown {
            let last = i + 1 == shown;
            raster::draw_panel(&mut fig, s, LEFT, y, plot_w, h, last);
            y += raster::panel_height(h, last);
        }
        // each raster also on its own, with its own time-axis label
        let mut one = Canvas::new(
            width as u32,
            (raster::panel_height(h, true) + 2 * TOP) as u32,
        );
        raster::draw_panel(&mut one, s, LEFT, TOP, plot_w, h, true);
        let name = format!("raster_{}.png", s.name);
        png(dir, &name, &one)?;
        written.push(name);
    }
    if let Some(d) = dopamine {
        let h = learning::DOPAMINE_H;
        learning::draw_dopamine(&mut fig, d, view.steps.clone(), dt_ms, (LEFT, y, plot_w, h));
        y += learning::panel_height(h);
        let mut one = Canvas::new(width as u32, (learning::panel_height(h) + 2 * TOP) as u32);
        learning::draw_dopamine(
            &mut one,
            d,
            view.steps.clone(),
            dt_ms,
            (LEFT, TOP, plot_w, h),
        );
        png(dir, "dopamine.png", &one)?;
        written.push("dopamine.png".into());
    }
    if let (Some(hs), Some(h)) = (heat.first(), heat_h) {
        heatmap::draw_panel(&mut fig, hs, LEFT, y, plot_w, h);
    }
    for hs in &heat {
        let h = heat_plot.1;
        let mut one = Canvas::new(width as u32, (heatmap::panel_height(h) + 2 * TOP) as u32);
        heatmap::draw_panel(&mut one, hs, LEFT, TOP, plot_w, h);
        let name = format!("heatmap_{}.png", hs.projection);
        png(dir, &name, &one)?;
        written.push(name);
    }
    png(dir, "nacc.png", &fig)?;
    written.push("nacc.png".into());
    Ok(written)
}

/// Each projection's heatmap binned to the `(width, height)` pixels it is
/// drawn in, over the window's steps and neurons.
fn bin_heatmaps(
    pops: &[PopData],
    projs: &[ProjData],
    view: &View,
    (width, height): (i64, i64),
) -> Vec<(heatmap::Window, Vec<f32>)> {
    let steps = view.steps.len();
    projs
        .iter()
        .map(|pr| {
            let rec = pops[pr.pre_index].rec;
            let counts: Vec<u64> = (0..pr.n_pre)
                .map(|i| view.steps.clone().filter(|&t| rec.spiked(t, i)).count() as u64)
                .collect();
            let (pre, post) = (neurons_of(view, pr.n_pre), neurons_of(view, pr.n_post));
            let (rows, cols) = heatmap::grid_dims((pre.len(), post.len()), width, height);
            let win = heatmap::Window {
                pre,
                post,
                rows,
                cols,
            };
            let a = heatmap::activity_bins(pr.w, pr.n_pre, &counts, steps, &win);
            (win, a)
        })
        .collect()
}
