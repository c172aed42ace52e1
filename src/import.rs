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
        if !proj.conn.is_dense() {
            let (rows, w) = read_coo(dir, &proj.name, n_post, n_pre)?;
            model.weights[j].sparse = Some(std::sync::Arc::new(rows));
            model.weights[j].w = w;
        } else {
            let wpath = dir.join(format!("weights_{}.npy", proj.name));
            model.weights[j].w = read_f32(&wpath, &[n_post, n_pre], crate::checks::MAX_PARAM)?;
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
