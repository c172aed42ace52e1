//! Inputs from files: weights and biases (`--weights DIR`, e.g. saved from a
//! trained snntorch model) and input spikes (`--input-spikes FILE.npy`).
//! Every shape, dtype and value is checked against the network, and errors
//! name the file, what was expected and what was found.

use crate::engine::InputSource;
use crate::error::{Error, Result, bad_file};
use crate::network::Network;
use crate::network::{Model, SparseRows};
use crate::npy::{self, DType};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Where given weights come from, array by array, each named by the stem of
/// the file `nacc run` writes for it (`weights_<proj>`, `bias_<proj>`,
/// `weights_<proj>_pre`, ...): a directory of `.npy` files (`--weights
/// DIR`), or arrays held in memory (the Python package).
pub trait ArraySource {
    /// The array `stem` (read from its file, or borrowed); an error when
    /// there is none.
    fn required(&self, stem: &str) -> Result<Cow<'_, npy::Array>>;
    /// The array `stem`, or None when there is none.
    fn optional(&self, stem: &str) -> Result<Option<Cow<'_, npy::Array>>>;
    /// How errors name the array `stem` (a file's path, or a Python
    /// expression such as `weights["fc1"]`).
    fn label(&self, stem: &str) -> PathBuf;
    /// Whether projection `proj` is given at all: a directory gives every
    /// projection; arrays in memory may give some and keep the seed's
    /// weights for the others.
    fn gives(&self, proj: &str) -> bool;
    /// Whether a bias not given keeps the seed's (arrays in memory) instead
    /// of being an error (a directory).
    fn partial(&self) -> bool;
}

/// `--weights DIR`: every projection's arrays as `.npy` files in `DIR`.
pub struct WeightDir<'a>(pub &'a Path);

impl ArraySource for WeightDir<'_> {
    fn required(&self, stem: &str) -> Result<Cow<'_, npy::Array>> {
        npy::read(&self.label(stem)).map(Cow::Owned)
    }
    fn optional(&self, stem: &str) -> Result<Option<Cow<'_, npy::Array>>> {
        let path = self.label(stem);
        match path.exists() {
            true => npy::read(&path).map(|a| Some(Cow::Owned(a))),
            false => Ok(None),
        }
    }
    fn label(&self, stem: &str) -> PathBuf {
        self.0.join(format!("{stem}.npy"))
    }
    fn gives(&self, _: &str) -> bool {
        true
    }
    fn partial(&self) -> bool {
        false
    }
}

/// Arrays given in memory, by stem, each with the label errors name it by.
#[derive(Debug, Clone, Default)]
pub struct Arrays {
    pub arrays: std::collections::BTreeMap<String, (String, npy::Array)>,
}

impl Arrays {
    /// Adds the array `stem`, named `label` in errors.
    pub fn insert(&mut self, stem: impl Into<String>, label: impl Into<String>, a: npy::Array) {
        self.arrays.insert(stem.into(), (label.into(), a));
    }
}

impl ArraySource for Arrays {
    fn required(&self, stem: &str) -> Result<Cow<'_, npy::Array>> {
        self.optional(stem)?.ok_or_else(|| {
            Error::Input(format!(
                "{}: not given; every array of a projection whose weights are given is needed",
                self.label(stem).display()
            ))
        })
    }
    fn optional(&self, stem: &str) -> Result<Option<Cow<'_, npy::Array>>> {
        Ok(self.arrays.get(stem).map(|(_, a)| Cow::Borrowed(a)))
    }
    fn label(&self, stem: &str) -> PathBuf {
        PathBuf::from(self.arrays.get(stem).map_or(stem, |(l, _)| l.as_str()))
    }
    fn gives(&self, proj: &str) -> bool {
        let (dense, pre) = (format!("weights_{proj}"), format!("weights_{proj}_pre"));
        self.arrays.contains_key(&dense) || self.arrays.contains_key(&pre)
    }
    fn partial(&self) -> bool {
        true
    }
}

/// Replaces the model's weights (and biases) with `DIR/weights_<proj>.npy`
/// (N_post x N_pre float32) and `DIR/bias_<proj>.npy` (N_post float32, for
/// projections with `bias = true`).
pub fn load_weights(dir: &Path, model: &mut Model) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--weights = {}: not a directory; it must hold weights_<projection>.npy files",
            dir.display()
        )));
    }
    load_weights_from(&WeightDir(dir), model)
}

/// Replaces the weights (and biases) of every projection `src` gives, as
/// [`load_weights`] does from a directory.
pub fn load_weights_from(src: &dyn ArraySource, model: &mut Model) -> Result<()> {
    for (j, proj) in model.net.projections.iter().enumerate() {
        if !src.gives(&proj.name) {
            continue;
        }
        let n_pre = model.net.populations[proj.pre].size;
        let n_post = model.net.populations[proj.post].size;
        let delay_stem = format!("weights_{}_delay", proj.name);
        let delay_array = src.optional(&delay_stem)?;
        if !proj.conn.is_dense() {
            let (rows, w) = read_coo(src, &proj.name, n_post, n_pre)?;
            if proj.drops_autapses()
                && let Some(k) = (0..n_post).find_map(|j| {
                    (rows.ptr[j]..rows.ptr[j + 1]).find(|&k| rows.pre[k] as usize == j)
                })
            {
                return Err(bad_file(
                    &src.label(&format!("weights_{}_pre", proj.name)),
                    format!(
                        "synapse {k} connects neuron {} to itself; projection `{}` is a self-projection without autapses (give autapses = true to allow them)",
                        rows.pre[k], proj.name
                    ),
                ));
            }
            model.weights[j].delays = match (proj.delay.per_synapse(), &delay_array) {
                (true, Some(a)) => Some(read_delays(
                    &src.label(&delay_stem),
                    a,
                    proj,
                    rows.pre.len(),
                )?),
                // the file's synapses, each with its own draw
                (true, None) => Some(crate::network::build::delays_of(model.seed, proj, &rows)),
                (false, _) => None,
            };
            model.weights[j].sparse = Some(std::sync::Arc::new(rows));
            model.weights[j].w = w;
        } else {
            let wstem = format!("weights_{}", proj.name);
            let wpath = src.label(&wstem);
            let w = read_f32(
                &*src.required(&wstem)?,
                &wpath,
                &[n_post, n_pre],
                crate::checks::MAX_PARAM,
            )?;
            if proj.drops_autapses()
                && let Some(k) = (0..n_post).find(|&k| w[k * n_pre + k] != 0.0)
            {
                return Err(bad_file(
                    &wpath,
                    format!(
                        "value at [{k}, {k}] is {}; projection `{}` is a self-projection without autapses, so a neuron's weight onto itself must be 0 (give autapses = true to allow it)",
                        w[k * n_pre + k],
                        proj.name
                    ),
                ));
            }
            model.weights[j].w = w;
        }
        if proj.synapse.is_conductance()
            && let Some(k) = model.weights[j].w.iter().position(|&x| x < 0.0)
        {
            let stem = match proj.conn.is_dense() {
                true => format!("weights_{}", proj.name),
                false => format!("weights_{}_value", proj.name),
            };
            return Err(bad_file(
                &src.label(&stem),
                format!(
                    "value {k} (in file order) is {}; projection `{}` is a conductance synapse ({}, nS), which must not be negative",
                    model.weights[j].w[k], proj.name, proj.synapse.name
                ),
            ));
        }
        if !proj.delay.per_synapse() && delay_array.is_some() {
            return Err(bad_file(
                &src.label(&delay_stem),
                format!(
                    "projection `{}` has one delay for every synapse; per-synapse delays need delay_ms = [lo, hi] on a sparse projection",
                    proj.name
                ),
            ));
        }
        let stem = format!("bias_{}", proj.name);
        let b = if proj.bias && src.partial() && src.optional(&stem)?.is_none() {
            // arrays in memory without this bias: the seed's
            std::mem::take(&mut model.weights[j].b)
        } else if proj.bias {
            read_f32(
                &*src.required(&stem)?,
                &src.label(&stem),
                &[n_post],
                f32::MAX,
            )?
        } else {
            vec![0.0; n_post]
        };
        // a subnormal bias is read as 0 (docs/arithmetic.md)
        model.weights[j].b = b.into_iter().map(crate::fixed::flush_subnormal).collect();
    }
    Ok(())
}

/// A sparse projection's synapses from `weights_<proj>_{post,pre,value}.npy`
/// (the COO layout `nacc run` writes): entries sorted by post then pre,
/// without repeats, within the populations' sizes.
pub(crate) fn read_coo(
    src: &dyn ArraySource,
    name: &str,
    n_post: usize,
    n_pre: usize,
) -> Result<(SparseRows, Vec<f32>)> {
    let stem = |part: &str| format!("weights_{name}_{part}");
    let path = |part: &str| src.label(&stem(part));
    let read_u32 = |part: &str| -> Result<(Vec<u32>, PathBuf)> {
        let (a, p) = (src.required(&stem(part))?, path(part));
        let n = match a.shape[..] {
            [n] => n,
            _ => {
                return Err(bad_file(
                    &p,
                    format!(
                        "shape {:?} found, expected (n,): one entry per synapse",
                        a.shape
                    ),
                ));
            }
        };
        npy::expect(&p, &a, &[DType::U32], &[n])?;
        Ok((a.to_u32(), p))
    };
    let (post, post_path) = read_u32("post")?;
    let (pre, pre_path) = read_u32("pre")?;
    let n = post.len();
    if pre.len() != n {
        return Err(bad_file(
            &pre_path,
            format!(
                "{} entries found, expected {n} as in {}",
                pre.len(),
                post_path.display()
            ),
        ));
    }
    let value = src.required(&stem("value"))?;
    let w = read_f32(&value, &path("value"), &[n], crate::checks::MAX_PARAM)?;
    for k in 0..n {
        if post[k] as usize >= n_post || pre[k] as usize >= n_pre {
            return Err(bad_file(
                &post_path,
                format!(
                    "synapse {k} is (post {}, pre {}), outside the {n_post} x {n_pre} projection",
                    post[k], pre[k]
                ),
            ));
        }
        if k > 0 && (post[k - 1], pre[k - 1]) >= (post[k], pre[k]) {
            return Err(bad_file(
                &post_path,
                format!("synapse {k}: entries must be sorted by post then pre, without repeats"),
            ));
        }
    }
    let mut ptr = vec![0usize; n_post + 1];
    for &j in &post {
        ptr[j as usize + 1] += 1;
    }
    for j in 0..n_post {
        ptr[j + 1] += ptr[j];
    }
    Ok((SparseRows { ptr, pre }, w))
}

/// Per-synapse delays in steps (`weights_<proj>_delay.npy`): one unsigned
/// integer (uint8, uint16 or uint32) per synapse of the COO files, each
/// within the projection's `delay_ms` range.
fn read_delays(
    path: &Path,
    a: &npy::Array,
    proj: &crate::network::Projection,
    n: usize,
) -> Result<Vec<u8>> {
    npy::expect(path, a, &[DType::U8, DType::U16, DType::U32], &[n])?;
    let (lo, hi) = (proj.delay.lo, proj.delay.hi);
    let d = a.to_unsigned();
    if let Some(k) = d.iter().position(|&x| x < lo || x > hi) {
        return Err(bad_file(
            path,
            format!(
                "synapse {k} has a delay of {} steps; projection `{}` allows {lo}..={hi} (its delay_ms range)",
                d[k], proj.name
            ),
        ));
    }
    Ok(d.into_iter().map(|x| x as u8).collect())
}

/// The values of `a` (named `path` in errors), an f32 array of `shape`
/// whose values are finite and at most `max` in magnitude.
fn read_f32(a: &npy::Array, path: &Path, shape: &[usize], max: f32) -> Result<Vec<f32>> {
    npy::expect(path, a, &[DType::F32], shape)?;
    let v = a.to_f32();
    if let Some(i) = v.iter().position(|x| x.is_nan() || x.abs() > max) {
        let index = if shape.len() == 2 {
            format!("[{}, {}]", i / shape[1], i % shape[1])
        } else {
            format!("[{i}]")
        };
        return Err(bad_file(
            path,
            format!(
                "value at {index} is {:?}; {}",
                v[i],
                if max == f32::MAX {
                    "biases must be finite".to_string()
                } else {
                    format!("weights must be finite and within [-{max:?}, {max:?}]")
                }
            ),
        ));
    }
    Ok(v)
}

/// Reads `T x N_input` spikes (uint8 or bool, values 0 or 1) for the
/// network's one Poisson population. Returns the source and T.
pub fn load_input_spikes(path: &Path, net: &Network) -> Result<(InputSource, usize)> {
    let pop = only_poisson(net)?;
    let a = npy::read(path).map_err(|e| e.context("--input-spikes"))?;
    given_input(net, &[(pop, path.to_path_buf(), a)])
}

/// The network's one Poisson population, which `--input-spikes` replaces.
pub fn only_poisson(net: &Network) -> Result<usize> {
    let poisson: Vec<usize> = (0..net.populations.len())
        .filter(|&p| net.populations[p].is_poisson())
        .collect();
    let [pop] = poisson[..] else {
        let names: Vec<_> = poisson
            .iter()
            .map(|&p| net.populations[p].name.as_str())
            .collect();
        return Err(Error::Input(format!(
            "--input-spikes needs a network with exactly one poisson population; this one has {} ({})",
            poisson.len(),
            names.join(", ")
        )));
    };
    Ok(pop)
}

/// The input of Poisson populations given as `T x N` arrays of spikes
/// (uint8 or bool, values 0 or 1), each `(population, label, array)` with
/// the label errors name it by; every array holds the same T. Returns the
/// source and T.
pub fn given_input(
    net: &Network,
    given: &[(usize, PathBuf, npy::Array)],
) -> Result<(InputSource, usize)> {
    let mut spikes = Vec::with_capacity(given.len());
    let mut steps = None;
    for (pop, path, a) in given {
        let (pop, path) = (*pop, path.as_path());
        let n = net.populations[pop].size;
        let t = match a.shape[..] {
            [t, m] if m == n && t > 0 && steps.is_none_or(|s| s == t) => t,
            _ => {
                let also = steps.map_or(String::new(), |s| {
                    format!(" (T = {s}, as in the other input arrays)")
                });
                return Err(bad_file(
                    path,
                    format!(
                        "shape {:?} found, expected (T, {n}) with T >= 1{also}: steps x neurons of population `{}`",
                        a.shape, net.populations[pop].name
                    ),
                ));
            }
        };
        steps = Some(t);
        npy::expect(path, a, &[DType::U8, DType::Bool], &[t, n])?;
        if let Some(i) = a.data.iter().position(|&x| x > 1) {
            return Err(bad_file(
                path,
                format!(
                    "value at [{}, {}] is {}; spikes must be 0 or 1",
                    i / n,
                    i % n,
                    a.data[i]
                ),
            ));
        }
        spikes.push((pop, crate::record::pack_rows(&a.data, n)));
    }
    let steps = steps.ok_or_else(|| Error::Input("no input spikes given".into()))?;
    Ok((InputSource::Given { steps, spikes }, steps))
}
