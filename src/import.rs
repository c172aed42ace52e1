//! Inputs from files: weights and biases (`--weights DIR`, e.g. saved from a
//! trained snntorch model) and input spikes (`--input-spikes FILE.npy`).
//! Every shape, dtype and value is checked against the network, and errors
//! name the file, what was expected and what was found.

use crate::engine::InputSource;
use crate::error::{Error, Result, bad_file};
use crate::network::Network;
use crate::network::{Model, SparseRows};
use crate::npy::{self, DType};
use std::path::Path;

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
    for (j, proj) in model.net.projections.iter().enumerate() {
        let n_pre = model.net.populations[proj.pre].size;
        let n_post = model.net.populations[proj.post].size;
        let delay_path = dir.join(format!("weights_{}_delay.npy", proj.name));
        if !proj.conn.is_dense() {
            let (rows, w) = read_coo(dir, &proj.name, n_post, n_pre)?;
            if proj.drops_autapses()
                && let Some(k) = (0..n_post).find_map(|j| {
                    (rows.ptr[j]..rows.ptr[j + 1]).find(|&k| rows.pre[k] as usize == j)
                })
            {
                return Err(bad_file(
                    &dir.join(format!("weights_{}_pre.npy", proj.name)),
                    format!(
                        "synapse {k} connects neuron {} to itself; projection `{}` is a self-projection without autapses (give autapses = true to allow them)",
                        rows.pre[k], proj.name
                    ),
                ));
            }
            model.weights[j].delays = match proj.delay.per_synapse() {
                true if delay_path.exists() => {
                    Some(read_delays(&delay_path, proj, rows.pre.len())?)
                }
                // the file's synapses, each with its own draw
                true => Some(crate::network::build::delays_of(model.seed, proj, &rows)),
                false => None,
            };
            model.weights[j].sparse = Some(std::sync::Arc::new(rows));
            model.weights[j].w = w;
        } else {
            let wpath = dir.join(format!("weights_{}.npy", proj.name));
            let w = read_f32(&wpath, &[n_post, n_pre], crate::checks::MAX_PARAM)?;
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
            let file = match proj.conn.is_dense() {
                true => format!("weights_{}.npy", proj.name),
                false => format!("weights_{}_value.npy", proj.name),
            };
            return Err(bad_file(
                &dir.join(file),
                format!(
                    "value {k} (in file order) is {}; projection `{}` is a conductance synapse ({}, nS), which must not be negative",
                    model.weights[j].w[k], proj.name, proj.synapse.name
                ),
            ));
        }
        if !proj.delay.per_synapse() && delay_path.exists() {
            return Err(bad_file(
                &delay_path,
                format!(
                    "projection `{}` has one delay for every synapse; per-synapse delays need delay_ms = [lo, hi] on a sparse projection",
                    proj.name
                ),
            ));
        }
        let b = if proj.bias {
            read_f32(
                &dir.join(format!("bias_{}.npy", proj.name)),
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
    dir: &Path,
    name: &str,
    n_post: usize,
    n_pre: usize,
) -> Result<(SparseRows, Vec<f32>)> {
    let path = |part: &str| dir.join(format!("weights_{name}_{part}.npy"));
    let read_u32 = |p: std::path::PathBuf| -> Result<(Vec<u32>, std::path::PathBuf)> {
        let a = npy::read(&p)?;
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
    let (post, post_path) = read_u32(path("post"))?;
    let (pre, pre_path) = read_u32(path("pre"))?;
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
    let w = read_f32(&path("value"), &[n], crate::checks::MAX_PARAM)?;
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
fn read_delays(path: &Path, proj: &crate::network::Projection, n: usize) -> Result<Vec<u8>> {
    let a = npy::read(path)?;
    npy::expect(path, &a, &[DType::U8, DType::U16, DType::U32], &[n])?;
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

/// An f32 array of `shape` whose values are finite and at most `max` in
/// magnitude.
fn read_f32(path: &Path, shape: &[usize], max: f32) -> Result<Vec<f32>> {
    let a = npy::read(path)?;
    npy::expect(path, &a, &[DType::F32], shape)?;
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
    let n = net.populations[pop].size;
    let a = npy::read(path).map_err(|e| e.context("--input-spikes"))?;
    let steps = match a.shape[..] {
        [t, m] if m == n && t > 0 => t,
        _ => {
            return Err(bad_file(
                path,
                format!(
                    "shape {:?} found, expected (T, {n}) with T >= 1: steps x neurons of population `{}`",
                    a.shape, net.populations[pop].name
                ),
            ));
        }
    };
    npy::expect(path, &a, &[DType::U8, DType::Bool], &[steps, n])?;
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
    let bits = crate::record::pack_rows(&a.data, n);
    Ok((
        InputSource::Given {
            steps,
            spikes: vec![(pop, bits)],
        },
        steps,
    ))
}
