//! Inputs from files: weights and biases (`--weights DIR`, e.g. saved from a
//! trained snntorch model) and input spikes (`--input-spikes FILE.npy`).
//! Every shape, dtype and value is checked against the network, and errors
//! name the file, what was expected and what was found.

use crate::config::Network;
use crate::engine::InputSource;
use crate::error::{Error, Result, bad_file};
use crate::network::Model;
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
        let wpath = dir.join(format!("weights_{}.npy", proj.name));
        let w = read_f32(&wpath, &[n_post, n_pre])?;
        let b = if proj.bias {
            read_f32(&dir.join(format!("bias_{}.npy", proj.name)), &[n_post])?
        } else {
            vec![0.0; n_post]
        };
        model.weights[j].w = w;
        model.weights[j].b = b;
    }
    Ok(())
}

fn read_f32(path: &Path, shape: &[usize]) -> Result<Vec<f32>> {
    let a = npy::read(path)?;
    npy::expect(path, &a, &[DType::F32], shape)?;
    let v = a.to_f32();
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        let index = if shape.len() == 2 {
            format!("[{}, {}]", i / shape[1], i % shape[1])
        } else {
            format!("[{i}]")
        };
        return Err(bad_file(
            path,
            format!(
                "value at {index} is {}; weights and biases must be finite",
                v[i]
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
    let a = npy::read(path)?;
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
