//! Figures: golden images, exact rasters, density shading, the docs/arithmetic.md §3
//! heatmap, rate curves, and `nacc render`.
//!
//! Golden images are compared pixel by pixel; `NACC_UPDATE_GOLDEN=1 cargo
//! test --release --test figures` rewrites them (look at them before
//! committing).

mod common;

use nacc::figures::canvas::Canvas;
use nacc::figures::heatmap::{Synapses, Window, activity_bins};
use nacc::figures::raster::{RasterSpec, density_grid, draw_panel, rate_curve, shade};
use nacc::figures::{PopData, View, write_all};
use nacc::record::PopRecord;
use std::path::{Path, PathBuf};
use std::process::Command;

fn record(n: usize, steps: usize, spike: impl Fn(usize, usize) -> bool) -> PopRecord {
    let wps = n.div_ceil(32);
    let mut bits = vec![0u32; steps * wps];
    for t in 0..steps {
        for i in 0..n {
            if spike(t, i) {
                bits[t * wps + i / 32] |= 1 << (i % 32);
            }
        }
    }
    PopRecord::from_bits(n, bits)
}

/// A pseudo-random but fixed bit for (t, i) with probability ~p.
fn coin(t: usize, i: usize, p: f64) -> bool {
    (nacc::input::draw_pair(3, 9, t as u32, i as u32) as f64) < p * 4294967296.0
}

fn golden(name: &str, actual: &Path) {
    golden_at(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name),
        actual,
    );
}

fn golden_at(path: &Path, actual: &Path) {
    let name = path.file_name().unwrap().to_string_lossy();
    if std::env::var("NACC_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::copy(actual, path).unwrap();
        return;
    }
    let want = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e} (NACC_UPDATE_GOLDEN=1 creates it)", path.display()))
        .to_rgb8();
    let got = image::open(actual).unwrap().to_rgb8();
    assert_eq!(got.dimensions(), want.dimensions(), "{name}: size");
    let differ = got
        .pixels()
        .zip(want.pixels())
        .filter(|(a, b)| a != b)
        .count();
    if differ > 0 {
        let keep = std::env::temp_dir().join(format!("nacc-actual-{name}"));
        std::fs::copy(actual, &keep).unwrap();
        panic!(
            "{name}: {differ} pixels differ from the golden image; actual kept at {}",
            keep.display()
        );
    }
}

#[test]
fn golden_default_run_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args([
            "run",
            "--backend",
            "cpu",
            "--steps",
            "200",
            "--seed",
            "1",
            "--quiet",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "nacc.png",
        "raster_input.png",
        "raster_inter.png",
        "raster_msn.png",
        "heatmap_fc1.png",
        "heatmap_fc3.png",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    golden("default_seed1_200.png", &tmp.path().join("nacc.png"));
}

/// The figure the README shows is the default run's, as it is drawn today.
#[test]
fn readme_figure_is_the_default_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(["run", "--backend", "cpu", "--quiet", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    golden_at(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/figures/nacc_default.png"),
        &tmp.path().join("nacc.png"),
    );
}

#[test]
fn golden_density_raster() {
    // 3000 neurons x 4000 steps: shaded. Rate rises with the neuron index
    // and a burst covers steps 2000..2400.
    let rec = record(3000, 4000, |t, i| {
        coin(
            t,
            i,
            if (2000..2400).contains(&t) {
                0.5
            } else {
                i as f64 / 3000.0 * 0.2
            },
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    let view = View {
        steps: 0..4000,
        neurons: None,
        width: 900,
        height: None,
        title: nacc::figures::DEFAULT_TITLE.into(),
    };
    write_all(
        tmp.path().into(),
        0.5,
        &[PopData {
            name: "big",
            rec: &rec,
        }],
        &[],
        None,
        &view,
    )
    .unwrap();
    golden("density_3000x4000.png", &tmp.path().join("raster_big.png"));
}

fn spec<'a>(rec: &'a PopRecord, steps: std::ops::Range<usize>) -> RasterSpec<'a> {
    RasterSpec {
        name: "p",
        size: rec.size,
        rec,
        steps,
        neurons: 0..rec.size,
        dt_ms: 1.0,
    }
}

#[test]
fn one_pixel_per_spike_is_dark_exactly_where_the_spikes_are() {
    let (n, steps) = (37, 150);
    let rec = record(n, steps, |t, i| coin(t, i, 0.2));
    let mut c = Canvas::new(400, 400);
    let (left, top) = (90i64, 10i64);
    // raster area: steps x neurons pixels, below the title
    draw_panel(
        &mut c,
        &spec(&rec, 0..steps),
        left,
        top,
        steps as i64,
        n as i64,
        true,
    );
    let area_top = top + nacc::figures::raster::TITLE_H;
    let mut spikes = 0;
    for t in 0..steps {
        for i in 0..n {
            let (x, y) = (
                (left + t as i64) as u32,
                (area_top + (n - 1 - i) as i64) as u32,
            );
            let p = c.img.get_pixel(x, y).0;
            if rec.spiked(t, i) {
                spikes += 1;
                assert_eq!(p, [0, 0, 0], "spike at step {t} neuron {i} not black");
            } else {
                assert_eq!(
                    p,
                    [255, 255, 255],
                    "no spike at step {t} neuron {i}, pixel {p:?}"
                );
            }
        }
    }
    assert!(spikes > 500);
}

#[test]
fn density_grid_on_a_constructed_pattern() {
    // Neurons 0..50 spike on every even step, 50..100 never: 10 neurons and
    // 10 steps per bin give exactly 0.5 below and 0 above.
    let rec = record(100, 1000, |t, i| i < 50 && t % 2 == 0);
    let g = density_grid(&rec, 0..1000, 0..100, 100, 10);
    for r in 0..10 {
        for c in 0..100 {
            assert_eq!(
                g[r * 100 + c],
                if r < 5 { 0.5 } else { 0.0 },
                "bin ({r}, {c})"
            );
        }
    }
    // and drawn: the lower half is shade(0.5), the upper half white
    let mut canvas = Canvas::new(300, 200);
    draw_panel(&mut canvas, &spec(&rec, 0..1000), 80, 0, 100, 10, false);
    let y0 = nacc::figures::raster::TITLE_H;
    assert_eq!(
        canvas.img.get_pixel(120, (y0 + 9) as u32).0,
        [shade(0.5); 3]
    );
    assert_eq!(canvas.img.get_pixel(120, y0 as u32).0, [255; 3]);
}

#[test]
fn uniform_noise_stays_uniform_when_bins_do_not_divide() {
    // 1000 steps into 300 columns and 700 neurons into 90 rows: bins of
    // unequal size, normalised by their size, so no stripes appear.
    let rec = record(700, 1000, |t, i| coin(t, i, 0.3));
    let g = density_grid(&rec, 0..1000, 0..700, 300, 90);
    let mean = g.iter().sum::<f32>() / g.len() as f32;
    assert!((mean - 0.3).abs() < 0.01, "{mean}");
    // each column mean covers >= 1890 cells (sd ~0.011): unnormalised bins of
    // 3 and 4 steps would make them differ by a third
    let mean_col = |c: usize| (0..90).map(|r| g[r * 300 + c]).sum::<f32>() / 90.0;
    let (lo, hi) = (0..300)
        .map(mean_col)
        .fold((1f32, 0f32), |(a, b), x| (a.min(x), b.max(x)));
    assert!(hi - lo < 0.1, "column means vary from {lo} to {hi}");
}

#[test]
fn a_single_spike_in_a_large_raster_is_not_dropped() {
    let rec = record(50_000, 3000, |t, i| t == 1234 && i == 31_337);
    let g = density_grid(&rec, 0..3000, 0..50_000, 1000, 200);
    let nonzero: Vec<_> = g.iter().enumerate().filter(|(_, f)| **f > 0.0).collect();
    assert_eq!(nonzero.len(), 1);
    let (k, &f) = nonzero[0];
    assert_eq!(
        (k / 1000, k % 1000),
        (31_337 * 200 / 50_000, 1234 * 1000 / 3000)
    );
    assert!(shade(f) < 255);
}

#[test]
fn rate_curve_in_hz() {
    // 10 neurons, neuron i spikes at every step when i < 4: 40% at dt 0.5 ms = 800 Hz
    let rec = record(10, 100, |_, i| i < 4);
    let r = rate_curve(&rec, 0..100, 0..10, 4, 0.5);
    assert_eq!(r.len(), 4); // 25 steps each
    for x in r {
        assert!((x - 800.0).abs() < 1e-9, "{x}");
    }
    let r = rate_curve(&rec, 0..100, 2..6, 1, 1.0);
    assert!((r[0] - 500.0).abs() < 1e-9);
    // issue 15: no short bin at the end. 100 steps in 9 bins of 11 or 12;
    // neurons 0..4 spike in the last 20 steps only: the last two bins,
    // both (nearly) full length, show (nearly) the same rate
    let late = record(10, 100, |t, i| i < 4 && t >= 80);
    let r = rate_curve(&late, 0..100, 0..10, 9, 1.0);
    let lens: Vec<usize> = (0..9)
        .map(|k| nacc::figures::raster::bin_range(k, 9, 100).len())
        .collect();
    assert!(lens.iter().all(|&l| l == 11 || l == 12), "{lens:?}");
    let last = r[8];
    assert!((last - 400.0).abs() < 1e-9, "{r:?}");
}

#[test]
fn heatmap_matches_spec_section_3() {
    let (n_pre, n_post, steps) = (7, 5, 40);
    let w: Vec<f32> = (0..n_post * n_pre)
        .map(|k| ((k * 37 % 11) as f32 - 5.0) / 7.0)
        .collect();
    let counts: Vec<u64> = (0..n_pre as u64).map(|i| (i * 13) % 17).collect();
    let whole = |rows, cols| Window {
        pre: 0..n_pre,
        post: 0..n_post,
        rows,
        cols,
    };
    let a = activity_bins(
        Synapses::Dense(&w),
        n_pre,
        &counts,
        steps,
        &whole(n_pre, n_post),
    );
    // A[i][j] = |W_fc1[j][i]| * spikes_i / T, scaled by its maximum
    let mut want = vec![vec![0f64; n_post]; n_pre];
    let mut max = 0f64;
    for i in 0..n_pre {
        for j in 0..n_post {
            want[i][j] = (w[j * n_pre + i] as f64).abs() * counts[i] as f64 / steps as f64;
            max = max.max(want[i][j]);
        }
    }
    for i in 0..n_pre {
        for j in 0..n_post {
            assert!(
                (a[i * n_post + j] as f64 - want[i][j] / max).abs() < 1e-6,
                "A[{i}][{j}]"
            );
        }
    }
    assert!(a.contains(&1.0));
    // binned as a plot of fewer pixels shows it: each pixel the mean of the
    // cells it covers (rows 0..2, 2..4, 4..7 of pre; columns 0..2, 2..5 of post)
    let bins = activity_bins(Synapses::Dense(&w), n_pre, &counts, steps, &whole(3, 2));
    let edges = |k: usize, n: usize, len: usize| (k * len / n)..((k + 1) * len / n);
    for r in 0..3 {
        for c in 0..2 {
            let (rr, cc) = (edges(r, 3, n_pre), edges(c, 2, n_post));
            let cells: Vec<f64> = rr
                .flat_map(|i| cc.clone().map(move |j| (i, j)))
                .map(|(i, j)| want[i][j] / max)
                .collect();
            let mean = cells.iter().sum::<f64>() / cells.len() as f64;
            assert!(
                (bins[r * 2 + c] as f64 - mean).abs() < 1e-6,
                "pixel ({r}, {c})"
            );
        }
    }

    // issue 15: a window of neurons (pre 2..6 as rows, post 1..4 as
    // columns) is that part of A, scaled by its own maximum
    let win = Window {
        pre: 2..6,
        post: 1..4,
        rows: 4,
        cols: 3,
    };
    let part = activity_bins(Synapses::Dense(&w), n_pre, &counts, steps, &win);
    let wmax = (2..6)
        .flat_map(|i| (1..4).map(move |j| (i, j)))
        .map(|(i, j)| want[i][j])
        .fold(0f64, f64::max);
    for (r, i) in (2..6).enumerate() {
        for (c, j) in (1..4).enumerate() {
            assert!(
                (part[r * 3 + c] as f64 - want[i][j] / wmax).abs() < 1e-6,
                "window ({i}, {j})"
            );
        }
    }
    // a sparse projection is the dense one with zeros where it has no
    // synapse: every third pair left out
    let keep = |i: usize, j: usize| !(i + 2 * j).is_multiple_of(3);
    let (mut ptr, mut pre, mut value) = (vec![0usize], Vec::new(), Vec::new());
    let mut holed = vec![0f32; n_pre * n_post];
    for j in 0..n_post {
        for i in 0..n_pre {
            if keep(i, j) {
                pre.push(i as u32);
                value.push(w[j * n_pre + i]);
                holed[j * n_pre + i] = w[j * n_pre + i];
            }
        }
        ptr.push(pre.len());
    }
    let rows = nacc::network::SparseRows { ptr, pre };
    for (r, c) in [(n_pre, n_post), (3, 2)] {
        let sparse = activity_bins(
            Synapses::Sparse(&rows, &value),
            n_pre,
            &counts,
            steps,
            &whole(r, c),
        );
        let dense = activity_bins(Synapses::Dense(&holed), n_pre, &counts, steps, &whole(r, c));
        assert_eq!(sparse, dense, "{r} x {c} pixels");
    }
}

fn nacc(args: &[&str], dir: &Path) -> std::process::Output {
    common::nacc(dir, args)
}

#[test]
fn render_redraws_a_window_at_a_given_size() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(
        nacc(
            &[
                "run",
                "--backend",
                "cpu",
                "--steps",
                "300",
                "--quiet",
                "--out",
                "run"
            ],
            d
        )
        .status
        .success()
    );
    let o = nacc(
        &[
            "render",
            "run",
            "--from",
            "50ms",
            "--to",
            "250",
            "--neurons",
            "0..10",
            "--width",
            "800",
            "--height",
            "900",
            "--out",
            "fig",
        ],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(d.join("fig/nacc.png")).unwrap();
    assert_eq!((img.width(), img.height()), (800, 900));
    for f in [
        "raster_input.png",
        "raster_inter.png",
        "raster_msn.png",
        "heatmap_fc1.png",
        "heatmap_fc3.png",
    ] {
        assert_eq!(
            image::open(d.join("fig").join(f)).unwrap().width(),
            800,
            "{f}"
        );
    }
    // redrawing the whole run reproduces the figure nacc run drew
    assert!(
        nacc(&["render", "run", "--out", "again"], d)
            .status
            .success()
    );
    let a = image::open(d.join("run/nacc.png")).unwrap().to_rgb8();
    let b = image::open(d.join("again/nacc.png")).unwrap().to_rgb8();
    assert!(
        a == b,
        "render of the whole run differs from the run's own figure"
    );
}

#[test]
fn render_errors_exit_2_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(
        nacc(
            &[
                "run",
                "--backend",
                "cpu",
                "--steps",
                "100",
                "--quiet",
                "--out",
                "run"
            ],
            d
        )
        .status
        .success()
    );
    let fails = |args: &[&str], parts: &[&str]| {
        let o = nacc(args, d);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        for p in parts {
            assert!(err.contains(p), "{args:?}: {err:?} lacks {p:?}");
        }
    };
    fails(&["render", "nowhere"], &["nowhere", "not a directory"]);
    fails(
        &["render", "run", "--to", "101"],
        &["--to", "101", "100 steps"],
    );
    fails(
        &["render", "run", "--from", "60", "--to", "50"],
        &["--from", "60", "before --to"],
    );
    fails(
        &["render", "run", "--from", "abc"],
        &["--from", "\"abc\"", "ms"],
    );
    fails(
        &["render", "run", "--neurons", "5..2"],
        &["--neurons", "\"5..2\"", "A < B"],
    );
    fails(
        &["render", "run", "--neurons", "30..40"],
        &["--neurons", "msn", "20 neurons"],
    );
    fails(
        &["render", "run", "--width", "10"],
        &["--width", "10", "600"],
    );
    // damaged files
    let spikes = d.join("run/spikes_msn.npy");
    let full = std::fs::read(&spikes).unwrap();
    std::fs::write(&spikes, &full[..full.len() - 7]).unwrap();
    fails(&["render", "run"], &["spikes_msn.npy", "truncated"]);
    std::fs::remove_file(&spikes).unwrap();
    fails(&["render", "run"], &["spikes_msn.npy", "cannot open"]);
    std::fs::write(&spikes, &full).unwrap();
    std::fs::write(d.join("run/weights_fc1.npy"), b"garbage").unwrap();
    fails(&["render", "run"], &["weights_fc1.npy"]);
    std::fs::remove_file(d.join("run/config.toml")).unwrap();
    fails(&["render", "run"], &["config.toml", "missing"]);
}

/// The reward experiment's figures as the README shows them (learning
/// curve, weight change: the whole shipped run), and `nacc.png` with the
/// dopamine panel under the rasters (its first 3 000 steps).
#[test]
fn reward_figures_are_the_experiment() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/reward_learning.toml");
    let run = |extra: &[&str]| {
        let tmp = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args(["run", "--backend", "cpu", "--quiet", "--config"])
            .arg(&config)
            .args(extra)
            .arg("--out")
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        tmp
    };
    let full = run(&[]);
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/figures");
    golden_at(
        &assets.join("reward_learning.png"),
        &full.path().join("learning.png"),
    );
    golden_at(
        &assets.join("reward_weight_change.png"),
        &full.path().join("weights_change_in_d1.png"),
    );
    let short = run(&["--steps", "3000"]);
    assert!(short.path().join("dopamine.png").is_file());
    golden("reward_seed0_3000.png", &short.path().join("nacc.png"));
}

/// Issue 15: nacc.png does not grow with the number of populations (10 000
/// one-neuron populations once asked for a 10 GB canvas): past
/// `MAX_COMBINED_HEIGHT` it shows the first populations that fit and says
/// so; every population still gets its raster file, and --dry-run counts
/// the canvases.
#[test]
fn many_populations_keep_nacc_png_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut text = String::from("[[population]]\nname = \"in\"\nsize = 3\nkind = \"poisson\"\n");
    for k in 0..200 {
        text += &format!("[[population]]\nname = \"p{k}\"\nsize = 1\nkind = \"lif\"\n");
    }
    std::fs::write(d.join("many.toml"), text).unwrap();
    let args = [
        "run",
        "--config",
        "many.toml",
        "--steps",
        "50",
        "--backend",
        "cpu",
        "--quiet",
    ];
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(args)
        .arg("--dry-run")
        .current_dir(d)
        .output()
        .unwrap();
    let dry = String::from_utf8_lossy(&o.stdout);
    assert!(dry.contains("figures (canvases)"), "{dry}");
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(args)
        .current_dir(d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(d.join("out/nacc.png")).unwrap();
    assert!(
        img.height() as i64 <= nacc::figures::MAX_COMBINED_HEIGHT,
        "{}",
        img.height()
    );
    assert!(
        img.height() > 10_000,
        "it uses the room it has: {}",
        img.height()
    );
    assert!(d.join("out/raster_p199.png").is_file());
    // and the layout says how many it shows
    let layout = nacc::figures::Layout::new(&vec![1; 201], None, false, None);
    assert!(layout.shown > 40 && layout.shown < 201, "{}", layout.shown);
    assert_eq!(layout.total, img.height() as i64);
    // with --height, the panels of those that fit share it exactly
    let least = nacc::figures::Layout::min_height(true, true);
    assert!(least > 200, "{least}");
    for h in [least as u32, 900, 5000] {
        let l = nacc::figures::Layout::new(&vec![1; 201], Some(100), true, Some(h));
        assert_eq!(l.total, h as i64, "--height {h}");
        assert!(l.shown >= 1 && l.raster_h.iter().all(|&x| x >= 10));
    }
    // a --height below that is an error naming it, not a figure of another size
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(["render", "out", "--height", "200", "--out", "small"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--height = 200") && err.contains("at least"),
        "{err}"
    );
}
