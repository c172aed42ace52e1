//! `nacc render DIR`: redraws the figures of a previous run from its files
//! (`config.toml`, `spikes_<pop>.npy`, `weights_<proj>.npy`), for a time
//! window and a neuron range, at any size.

use crate::error::{Error, Result, bad_file, bad_value};
use crate::figures::{self, PopData, ProjData, View};
use crate::network::Network;
use crate::npy::{self, DType};
use crate::record::{PopRecord, pack_rows};
use std::path::{Path, PathBuf};

/// Heatmaps of more cells than this are skipped (the weights file alone
/// would be gigabytes).
pub const MAX_HEATMAP_CELLS: usize = 1 << 27;

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub dir: PathBuf,
    /// Start of the time window: steps ("250") or milliseconds ("250ms").
    pub from: Option<String>,
    /// End of the time window (exclusive), same units.
    pub to: Option<String>,
    /// Neuron range "A..B" (B exclusive), applied to every population.
    pub neurons: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Where to write; default DIR.
    pub out: Option<PathBuf>,
    /// The trial to draw of a `--trials` run (default 0).
    pub trial: Option<usize>,
}

/// A field of a run's `summary.json`, where it has one.
fn summary_field(dir: &std::path::Path, field: &str) -> Option<serde_json::Value> {
    let (f, len) = crate::files::open_regular(&dir.join("summary.json")).ok()?;
    if len > crate::files::MAX_CONFIG_BYTES {
        return None;
    }
    let s: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(f)).ok()?;
    s.get(field).cloned()
}

/// The steps a run's `summary.json` says are complete, where it says.
fn complete_steps(dir: &std::path::Path) -> Option<usize> {
    summary_field(dir, "steps")?.as_u64().map(|t| t as usize)
}

/// A time bound in steps: "N" steps or "Nms" milliseconds.
pub fn parse_time(field: &str, text: &str, dt_ms: f64) -> Result<usize> {
    let t = text.trim();
    let rule = "must be a whole number of steps (\"250\") or a time in ms (\"250ms\"), >= 0";
    if let Some(ms) = t.strip_suffix("ms") {
        let v: f64 = ms
            .trim()
            .parse()
            .map_err(|_| bad_value(field, format!("{text:?}"), rule))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad_value(field, format!("{text:?}"), rule));
        }
        Ok((v / dt_ms).round() as usize)
    } else {
        t.parse()
            .map_err(|_| bad_value(field, format!("{text:?}"), rule))
    }
}

/// "A..B" with A < B.
pub fn parse_range(field: &str, text: &str) -> Result<std::ops::Range<usize>> {
    let rule = "must be A..B with whole numbers A < B (B exclusive)";
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| bad_value(field, format!("{text:?}"), rule))?;
    let a: usize = a
        .trim()
        .parse()
        .map_err(|_| bad_value(field, format!("{text:?}"), rule))?;
    let b: usize = b
        .trim()
        .parse()
        .map_err(|_| bad_value(field, format!("{text:?}"), rule))?;
    if a >= b {
        return Err(bad_value(field, format!("{text:?}"), rule));
    }
    Ok(a..b)
}

pub fn render(opts: &RenderOptions) -> Result<Vec<String>> {
    let (dir, net) = read_config(opts)?;
    let dir = &dir;
    let width = check_size(opts)?;
    let (records, total) = read_spikes(dir, &net, opts.trial)?;
    let (from, to, neurons) = window(opts, &net, total)?;
    let weights = heatmap_weights(dir, &net)?;
    let out = opts.out.clone().unwrap_or_else(|| dir.clone());
    crate::export::prepare_out_dir(&out)?;
    let pops: Vec<PopData> = net
        .populations
        .iter()
        .zip(&records)
        .map(|(p, rec)| PopData { name: &p.name, rec })
        .collect();
    let projs: Vec<ProjData> = weights
        .iter()
        .map(|(j, rows, w)| {
            let synapses = match rows {
                Some(rows) => figures::heatmap::Synapses::Sparse(rows, w),
                None => figures::heatmap::Synapses::Dense(w),
            };
            ProjData::of(&net, *j, synapses)
        })
        .collect();
    let view = View {
        steps: from..to,
        neurons,
        width,
        height: opts.height,
        title: summary_field(dir, "network")
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| figures::DEFAULT_TITLE.to_string()),
    };
    let dopamine = net
        .dopamine
        .as_ref()
        .map(|_| crate::dopamine::dopamine_trace(&net, view.steps.end));
    let mut written = figures::write_all(
        (&out).into(),
        net.dt_ms,
        &pops,
        &projs,
        dopamine.as_deref(),
        &view,
    )?;
    if !net.records.is_empty() {
        let state = read_state(dir, &net, opts.trial, total)?;
        let state: Vec<&[f32]> = state.iter().map(|s| &s[..]).collect();
        let spikes: Vec<&PopRecord> = records.iter().collect();
        let steps = view.steps.clone();
        written.extend(figures::traces::write_traces(
            (&out).into(),
            &net,
            &state,
            &spikes,
            steps,
        )?);
    }
    // reward learning, over the whole run: the learning curve, and the
    // change of every plastic projection whose initial weights were written
    if net.stimulus.is_some() {
        let rows = crate::responses::responses(&net, &records);
        if !rows.is_empty() {
            figures::learning::write_learning_curve((&out).into(), &net, &rows)?;
            written.push("learning.png".into());
        }
    }
    for (j, proj) in net.projections.iter().enumerate() {
        let initial = dir.join(format!("weights_{}_initial.npy", proj.name));
        if proj.plasticity.is_none() || !initial.is_file() {
            continue;
        }
        let shape = [
            net.populations[proj.post].size,
            net.populations[proj.pre].size,
        ];
        let read = |path: std::path::PathBuf| -> Result<Vec<f32>> {
            let a = npy::read(&path)?;
            npy::expect(&path, &a, &[DType::F32], &shape)?;
            Ok(a.to_f32())
        };
        let before = read(initial)?;
        let after = read(dir.join(format!("weights_{}.npy", proj.name)))?;
        figures::learning::write_weight_change((&out).into(), &net, j, &before, &after, total)?;
        written.push(format!("weights_change_{}.png", proj.name));
    }
    Ok(written)
}

/// The run's directory and its config.toml.
fn read_config(opts: &RenderOptions) -> Result<(PathBuf, Network)> {
    let dir = &opts.dir;
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "render DIR = {}: not a directory; give the --out dir of a nacc run",
            dir.display()
        )));
    }
    let config = dir.join("config.toml");
    if !config.is_file() {
        return Err(bad_file(
            &config,
            "missing: nacc render needs the config.toml that nacc run writes",
        ));
    }
    let net = Network::from_toml_str(
        &crate::files::read_text(&config, "render DIR", crate::files::MAX_CONFIG_BYTES)?,
        &config.display().to_string(),
    )?;
    Ok((dir.clone(), net))
}

/// --width (returned) and --height, within what a figure can show.
fn check_size(opts: &RenderOptions) -> Result<u32> {
    let width = opts.width.unwrap_or(figures::DEFAULT_WIDTH);
    if !(600..=20000).contains(&width) {
        return Err(bad_value(
            "--width",
            width,
            "must be within 600..=20000 pixels (narrower, titles and notes would overlap)",
        ));
    }
    if let Some(h) = opts.height
        && !(200..=50000).contains(&h)
    {
        return Err(bad_value(
            "--height",
            h,
            "must be within 200..=50000 pixels",
        ));
    }

    Ok(width)
}

/// Every population's spikes (of trial `trial` when the run has several),
/// all with the same number of steps, cut to the steps the run completed;
/// and that number.
fn read_spikes(dir: &Path, net: &Network, trial: Option<usize>) -> Result<(Vec<PopRecord>, usize)> {
    // The steps the run completed, as its summary.json says: a streamed run
    // that was killed may hold a chunk more in some files than in others.
    let complete = complete_steps(dir);
    let mut records = Vec::new();
    let mut steps: Option<(usize, PathBuf)> = None;
    for pop in &net.populations {
        let (t, path, bits) = read_population(dir, pop, trial, complete)?;
        if let Some((t0, first)) = &steps
            && *t0 != t
        {
            return Err(bad_file(
                &path,
                format!("{t} steps, but {} has {t0}", first.display()),
            ));
        }
        steps.get_or_insert((t, path));
        records.push(PopRecord::from_bits(pop.size, bits));
    }
    let total = steps.map_or(0, |s| s.0);
    if total == 0 {
        return Err(Error::Input(format!(
            "{}: the spike files hold no steps",
            dir.display()
        )));
    }
    Ok((records, total))
}

/// Every recorded variable's samples (`state_<pop>_<var>.npy`, trial
/// `trial` of a --trials run), cut to the samples of the run's `steps`.
fn read_state(
    dir: &Path,
    net: &Network,
    trial: Option<usize>,
    steps: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::new();
    for (r, var) in net.probes() {
        let rec = &net.records[r];
        let path = dir.join(net.state_file(r, var));
        let a = npy::read(&path)?;
        let n = rec.neurons.len();
        let (k, samples) = match (&a.shape[..], trial) {
            (&[s, m], None | Some(0)) if m == n => (0, s),
            (&[t, s, m], k) if m == n && k.unwrap_or(0) < t => (k.unwrap_or(0), s),
            _ => {
                return Err(bad_file(
                    &path,
                    format!(
                        "shape {:?} found, expected (samples, {n}) or (trials, samples, {n}) for the {n} neurons its [[record]] in config.toml names{}",
                        a.shape,
                        trial.map_or(String::new(), |k| format!(", with trial {k}"))
                    ),
                ));
            }
        };
        npy::expect(&path, &a, &[DType::F32], &a.shape)?;
        let kept = samples.min(rec.samples(steps as u64) as usize);
        out.push(a.to_f32()[k * samples * n..][..kept * n].to_vec());
    }
    Ok(out)
}

/// One population's spike file: its steps (cut to `complete`), its path
/// and its spikes bit-packed.
fn read_population(
    dir: &Path,
    pop: &crate::network::Population,
    trial: Option<usize>,
    complete: Option<usize>,
) -> Result<(usize, PathBuf, Vec<u32>)> {
    // a byte a neuron, or (--packed-spikes) 8 neurons a byte
    let packed_path = dir.join(crate::export::spikes_file(&pop.name, true));
    let packed = !dir
        .join(crate::export::spikes_file(&pop.name, false))
        .exists()
        && packed_path.exists();
    let path = dir.join(crate::export::spikes_file(&pop.name, packed));
    let mut a = npy::read(&path)?;
    let len = crate::export::spikes_row_len(pop.size, packed);
    // a --trials run: trials x T x row
    if let [trials, t, n] = a.shape[..]
        && n == len
    {
        let k = trial.unwrap_or(0);
        if k >= trials {
            return Err(bad_value(
                "--trial",
                k,
                format!(
                    "the run in {} has {trials} trials (0..{trials})",
                    dir.display()
                ),
            ));
        }
        a.data = a.data[k * t * len..][..t * len].to_vec();
        a.shape = vec![t, n];
    } else if let Some(k) = trial
        && k > 0
    {
        return Err(bad_value(
            "--trial",
            k,
            format!("{} holds one trial (0)", path.display()),
        ));
    }
    let t = match a.shape[..] {
        [t, n] if n == len => t,
        _ => {
            return Err(bad_file(
                &path,
                format!(
                    "shape {:?} found, expected (T, {len}) or (trials, T, {len}) for population `{}` of config.toml ({} neurons{})",
                    a.shape,
                    pop.name,
                    pop.size,
                    if packed { ", 8 a byte" } else { "" }
                ),
            ));
        }
    };
    let dtypes: &[DType] = if packed {
        &[DType::U8]
    } else {
        &[DType::U8, DType::Bool]
    };
    npy::expect(&path, &a, dtypes, &[t, len])?;
    // rows past the complete steps are a killed run's unfinished chunk
    let t = match complete {
        Some(c) if c < t => {
            a.data.truncate(c * len);
            c
        }
        _ => t,
    };
    let bits = if packed {
        crate::record::words_from_packed(&a.data, pop.size)
    } else {
        if let Some(i) = a.data.iter().position(|&x| x > 1) {
            return Err(bad_file(
                &path,
                format!(
                    "value at [{}, {}] is {}; spikes must be 0 or 1",
                    i / pop.size,
                    i % pop.size,
                    a.data[i]
                ),
            ));
        }
        pack_rows(&a.data, pop.size)
    };
    Ok((t, path, bits))
}

/// The window --from, --to, --neurons asks for, within the run's `total`
/// steps and its populations.
fn window(
    opts: &RenderOptions,
    net: &Network,
    total: usize,
) -> Result<(usize, usize, Option<std::ops::Range<usize>>)> {
    // The window.
    let from = match &opts.from {
        Some(s) => parse_time("--from", s, net.dt_ms)?,
        None => 0,
    };
    let to = match &opts.to {
        Some(s) => parse_time("--to", s, net.dt_ms)?,
        None => total,
    };
    if to > total {
        return Err(bad_value("--to", to, format!("the run has {total} steps")));
    }
    if from >= to {
        return Err(bad_value(
            "--from",
            from,
            format!("must be before --to ({to} steps)"),
        ));
    }
    let neurons = match &opts.neurons {
        Some(s) => {
            let r = parse_range("--neurons", s)?;
            if let Some(p) = net.populations.iter().find(|p| r.start >= p.size) {
                return Err(bad_value(
                    "--neurons",
                    s,
                    format!("population `{}` has only {} neurons", p.name, p.size),
                ));
            }
            Some(r)
        }
        None => None,
    };

    Ok((from, to, neurons))
}

/// The weights of the projections from Poisson populations, for heatmaps:
/// (projection, its synapses when sparse, the weights).
#[allow(clippy::type_complexity)]
fn heatmap_weights(
    dir: &Path,
    net: &Network,
) -> Result<Vec<(usize, Option<crate::network::SparseRows>, Vec<f32>)>> {
    // Weights of the projections from Poisson populations, for heatmaps.
    let mut weights = Vec::new();
    for (j, proj) in net.projections.iter().enumerate() {
        let (n_pre, n_post) = (
            net.populations[proj.pre].size,
            net.populations[proj.post].size,
        );
        if !net.populations[proj.pre].is_poisson() {
            continue;
        }
        let dense = proj.conn.is_dense();
        if dense && n_pre * n_post > MAX_HEATMAP_CELLS {
            eprintln!(
                "nacc render: no heatmap for `{}`: {n_pre} x {n_post} cells is above {MAX_HEATMAP_CELLS}",
                proj.name
            );
            continue;
        }
        let file = if dense { "" } else { "_value" };
        let path = dir.join(format!("weights_{}{file}.npy", proj.name));
        if !path.exists() {
            eprintln!(
                "nacc render: no heatmap for `{}`: {} was not written (nacc run --no-weight-files; `nacc run --config config.toml --seed S` writes it)",
                proj.name,
                path.display()
            );
            continue;
        }
        if dense {
            let a = npy::read(&path)?;
            npy::expect(&path, &a, &[DType::F32], &[n_post, n_pre])?;
            weights.push((j, None, a.to_f32()));
        } else {
            let (rows, w) =
                crate::import::read_coo(&crate::import::WeightDir(dir), &proj.name, n_post, n_pre)?;
            weights.push((j, Some(rows), w));
        }
    }

    Ok(weights)
}
