//! Everything a run writes into its out dir. Every file is written under a
//! temporary name and renamed when complete, so no file ever looks complete
//! when it is not; the directory as a whole is replaced by [`crate::outdir`].

use crate::error::{Error, Result, bad_value, io_error};
use crate::network::Model;
use crate::network::Network;
use crate::npy;
use crate::outdir::{write_atomic, write_atomic_as};
use crate::record::PopRecord;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Creates `dir` if needed and checks that files can be written there, before
/// any work is done (`nacc render`'s out dir; a run's is an
/// [`crate::outdir::OutDir`]).
pub fn prepare_out_dir(dir: &Path) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        Error::Input(format!(
            "--out = {}: {what} ({e}); the out dir must be a directory nacc can write to",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    crate::outdir::temp_file_for(&dir.join("probe"))
        .map_err(|e| fail("cannot write into it", e))?;
    Ok(())
}

/// Bytes a run's outputs take on disk, about: the spike files (`trials` x
/// `steps` rows, a byte a neuron, or 8 neurons a byte when `packed`), the
/// weight files (only the learned ones without `weight_files`), the figures
/// ([`crate::figures::png_bytes`]), the recorded state (float32 samples,
/// 256 KiB a traces figure), and 16 KiB for `summary.json` and
/// `config.toml`.
pub fn output_bytes(
    net: &Network,
    steps: usize,
    trials: usize,
    packed: bool,
    weight_files: bool,
) -> u64 {
    let spikes: u64 = net
        .populations
        .iter()
        .map(|p| (trials * steps * spikes_row_len(p.size, packed)) as u64 + 128)
        .sum();
    let weights: u64 = net
        .projections
        .iter()
        .enumerate()
        .filter(|(_, p)| weight_files || p.plasticity.is_some())
        .map(|(j, p)| {
            let syn = net.synapses(j);
            let n_post = net.populations[p.post].size as u64;
            // dense: a float; sparse: post, pre, value (and a delay)
            let w = match (p.conn.is_dense(), p.delay.per_synapse()) {
                (true, _) => syn * 4,
                (false, false) => syn * 12,
                (false, true) => syn * 14,
            };
            // a plastic projection writes its initial weights too
            let copies = if p.plasticity.is_some() { 2 } else { 1 };
            copies * w + if p.bias { n_post * 4 } else { 0 }
        })
        .sum();
    // recorded state: float32 samples, and a traces figure per population
    let state = trials as u64 * crate::memory::state_record_bytes(net, steps)
        + net.records.len() as u64 * (256 << 10);
    spikes
        + weights
        + state
        + crate::figures::png_bytes(net, crate::figures::DEFAULT_WIDTH)
        + (16 << 10)
}

/// Free bytes on the disk that holds `dir` (or, before it exists, its
/// nearest existing parent); None where the system does not say. Files of a
/// previous run in `dir` do not count as free: the new run is written beside
/// them and replaces them only when complete.
pub fn disk_available(dir: &Path) -> Option<u64> {
    // a relative --out's last ancestor, "", does not exist: then "."
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    free_space(existing)
}

/// The error for outputs of `bytes` that the disk of `out` cannot hold
/// ([`disk_available`]), before the run's first step;
/// `NACC_MEMORY_CHECK=off` lets it try anyway.
pub fn check_disk(out: &Path, bytes: u64) -> Result<()> {
    match disk_available(out) {
        Some(free) if bytes > free => Err(bad_value(
            "--out",
            out.display(),
            format!(
                "the outputs need about {} but its disk has {} free: --packed-spikes (spikes 8x smaller), --no-weight-files, fewer --steps or --trials, another --out, or NACC_MEMORY_CHECK=off to try anyway",
                crate::files::human(bytes),
                crate::files::human(free),
            ),
        )),
        _ => Ok(()),
    }
}

/// Free bytes (for an unprivileged user) on the file system of `path`.
#[cfg(unix)]
fn free_space(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `s` has room for the result,
    // which is read only when the call succeeded.
    let s = unsafe {
        if libc::statvfs(c.as_ptr(), s.as_mut_ptr()) != 0 {
            return None;
        }
        s.assume_init()
    };
    // a file system of no blocks (procfs, sysfs) says nothing of space
    if s.f_blocks == 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_space(_: &Path) -> Option<u64> {
    None
}

/// The spikes file of population `pop`: `spikes_<pop>.npy`, one byte a
/// neuron, or with `packed` `spikes_<pop>_packed.npy`, 8 neurons a byte.
pub fn spikes_file(pop: &str, packed: bool) -> String {
    if packed {
        format!("spikes_{pop}_packed.npy")
    } else {
        format!("spikes_{pop}.npy")
    }
}

/// Bytes of a step of `size` neurons in a spikes file.
pub fn spikes_row_len(size: usize, packed: bool) -> usize {
    if packed { size.div_ceil(8) } else { size }
}

/// A step's packed spikes (`words`, `size` neurons) as a spikes file's row
/// (see [`spikes_file`]).
fn spikes_row(words: &[u32], size: usize, packed: bool, row: &mut [u8]) {
    if packed {
        crate::record::packed_row(words, size, row)
    } else {
        crate::record::unpack_row(words, row)
    }
}

/// `spikes_<pop>.npy`: T x N uint8 unpacked from the bit-packed record, or
/// trials x T x N with `trial_axis` (one record per trial). With `packed`,
/// `spikes_<pop>_packed.npy`: T x ceil(N / 8) uint8, bit `n % 8` of byte
/// `n / 8` for neuron `n` (`np.unpackbits(a, axis=-1, count=N,
/// bitorder="little")` gives the T x N array).
pub fn write_spikes(
    dir: &Path,
    name: &str,
    recs: &[&PopRecord],
    trial_axis: bool,
    packed: bool,
) -> Result<()> {
    let (steps, size) = (recs[0].steps(), recs[0].size);
    let len = spikes_row_len(size, packed);
    let shape = if trial_axis {
        vec![recs.len(), steps, len]
    } else {
        vec![steps, len]
    };
    write_atomic(&dir.join(spikes_file(name, packed)), |w| {
        w.write_all(&npy::header(npy::DType::U8, &shape))?;
        let mut row = vec![0u8; len];
        for rec in recs {
            for t in 0..steps {
                let words = &rec.bits[t * rec.words_per_step..][..rec.words_per_step];
                spikes_row(words, size, packed, &mut row);
                w.write_all(&row)?;
            }
        }
        Ok(())
    })
}

/// A projection's initial and learned weights when it is plastic
/// (`nn.Linear` layout, the exact values of the fixed-point weights the
/// engine started and ended with), None for the others.
pub type Learned = Option<(Vec<f32>, Vec<f32>)>;

/// `weights_<proj>.npy` (N_post x N_pre) and, for projections with a bias,
/// `bias_<proj>.npy` (N_post), float32, raw unquantised values. A sparse
/// projection is written in COO form instead: `weights_<proj>_post.npy`,
/// `weights_<proj>_pre.npy` (uint32) and `weights_<proj>_value.npy`
/// (float32), one entry per synapse, sorted by post then pre, so that
/// `scipy.sparse.coo_matrix((value, (post, pre)), shape=(N_post, N_pre))` is
/// the `nn.Linear` weight with zeros where there is no synapse.
///
/// A plastic projection with `learned[j] = Some((initial, learned))` writes
/// those instead (both `nn.Linear` layout): `weights_<proj>_initial.npy`
/// and, as `weights_<proj>.npy`, the learned weights.
///
/// With `learned_only` (`--no-weight-files`) only those learned ones are
/// written: the others follow from `config.toml` and the seed.
pub fn write_weights(
    dir: &Path,
    model: &Model,
    learned: &[Learned],
    learned_only: bool,
) -> Result<()> {
    for (j, (proj, w)) in model.net.projections.iter().zip(&model.weights).enumerate() {
        if learned_only && learned.get(j).is_none_or(Option::is_none) {
            continue;
        }
        let n_pre = model.net.populations[proj.pre].size;
        let n_post = model.net.populations[proj.post].size;
        let dense = |name: &str, w: &[f32]| {
            write_atomic(&dir.join(format!("weights_{}{name}.npy", proj.name)), |f| {
                npy::write_f32(f, &[n_post, n_pre], w)
            })
        };
        match (&w.sparse, learned.get(j).and_then(Option::as_ref)) {
            (None, Some((initial, after))) => {
                dense("_initial", initial)?;
                dense("", after)?;
            }
            (None, None) => dense("", &w.w)?,
            (Some(rows), _) => {
                let n = rows.pre.len();
                // each synapse's post, written as it goes (not held: 4
                // bytes a synapse)
                write_atomic(&dir.join(format!("weights_{}_post.npy", proj.name)), |f| {
                    f.write_all(&npy::header(npy::DType::U32, &[n]))?;
                    for j in 0..n_post {
                        let bytes = (j as u32).to_le_bytes();
                        for _ in rows.ptr[j]..rows.ptr[j + 1] {
                            f.write_all(&bytes)?;
                        }
                    }
                    Ok(())
                })?;
                write_atomic(&dir.join(format!("weights_{}_pre.npy", proj.name)), |f| {
                    npy::write_u32(f, &[n], &rows.pre)
                })?;
                write_atomic(&dir.join(format!("weights_{}_value.npy", proj.name)), |f| {
                    npy::write_f32(f, &[n], &w.w)
                })?;
                if let Some(d) = &w.delays {
                    let d: Vec<u16> = d.iter().map(|&x| x as u16).collect();
                    write_atomic(&dir.join(format!("weights_{}_delay.npy", proj.name)), |f| {
                        npy::write_u16(f, &[n], &d)
                    })?;
                }
            }
        }
        if proj.bias {
            write_atomic(&dir.join(format!("bias_{}.npy", proj.name)), |f| {
                npy::write_f32(f, &[n_post], &w.b)
            })?;
        }
    }
    Ok(())
}

/// A projection's weights as its files hold them (see [`write_weights`]).
pub enum WeightArrays {
    /// `weights_<proj>.npy` (N_post x N_pre), and a plastic projection's
    /// `weights_<proj>_initial.npy`.
    Dense {
        w: Vec<f32>,
        initial: Option<Vec<f32>>,
    },
    /// `weights_<proj>_{post,pre,value}.npy`, and `_delay.npy` when each
    /// synapse has its own delay.
    Sparse {
        post: Vec<u32>,
        pre: Vec<u32>,
        value: Vec<f32>,
        delay: Option<Vec<u16>>,
    },
}

/// Projection `j`'s weights as [`write_weights`] writes them (`learned`:
/// its initial and learned weights when it is plastic).
pub fn weight_arrays(model: &Model, j: usize, learned: &Learned) -> WeightArrays {
    let w = &model.weights[j];
    match (&w.sparse, learned) {
        (None, Some((initial, after))) => WeightArrays::Dense {
            w: after.clone(),
            initial: Some(initial.clone()),
        },
        (None, None) => WeightArrays::Dense {
            w: w.w.clone(),
            initial: None,
        },
        (Some(rows), _) => WeightArrays::Sparse {
            post: (0..rows.ptr.len() - 1)
                .flat_map(|j| std::iter::repeat_n(j as u32, rows.ptr[j + 1] - rows.ptr[j]))
                .collect(),
            pre: rows.pre.clone(),
            value: w.w.clone(),
            delay: w
                .delays
                .as_ref()
                .map(|d| d.iter().map(|&x| x as u16).collect()),
        },
    }
}

/// `config.toml`: the resolved network, so that
/// `nacc run --config out/config.toml --seed S` repeats the run.
pub fn write_config(dir: &Path, net: &Network, seed: u64) -> Result<()> {
    let text = format!(
        "# The resolved network of a nacc run (seed {seed}, every field explicit).\n\
         # Repeat the run: nacc run --config config.toml --seed {seed}\n\n{}",
        net.to_toml()
    );
    write_atomic(&dir.join("config.toml"), |f| f.write_all(text.as_bytes()))
}

pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    write_json_as(path, true, value)
}

/// [`write_json`], synced to the disk only with `sync`.
pub fn write_json_as(path: &Path, sync: bool, value: &serde_json::Value) -> Result<()> {
    write_atomic_as(path, sync, |f| {
        serde_json::to_writer_pretty(&mut *f, value)?;
        f.write_all(b"\n")
    })
}

/// `spikes_<pop>.npy` written chunk by chunk (`--stream`): rows are
/// appended as chunks come off the engine and the header, whose length does
/// not depend on the step count, is rewritten after each, so every file is a
/// valid T x N array after every chunk (a crash leaves the completed
/// chunks, any half-written rows lie past what the header counts) and memory
/// stays flat however many steps run. These files are written in place, not
/// renamed: they are valid at every chunk boundary by construction.
pub struct SpikeStream {
    files: Vec<(std::path::PathBuf, File, usize)>,
    steps: usize,
    row: Vec<u8>,
    packed: bool,
}

impl SpikeStream {
    /// The spikes files of every population of `net` (packed with
    /// `packed`, see [`write_spikes`]), holding no step yet.
    pub fn create(dir: &Path, net: &Network, packed: bool) -> Result<SpikeStream> {
        let mut files = Vec::new();
        for pop in &net.populations {
            let path = dir.join(spikes_file(&pop.name, packed));
            // a new file in the fresh staging directory: never one planted there
            let mut f = File::create_new(&path).map_err(|e| io_error(&path, "cannot create", e))?;
            let len = spikes_row_len(pop.size, packed);
            f.write_all(&npy::header(npy::DType::U8, &[0, len]))
                .map_err(|e| io_error(&path, "cannot write", e))?;
            files.push((path, f, pop.size));
        }
        Ok(SpikeStream {
            files,
            steps: 0,
            row: Vec::new(),
            packed,
        })
    }

    /// Appends a chunk's rows to every file, then counts them in the headers.
    pub fn append(&mut self, chunk: &crate::record::ChunkSpikes) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        for ((path, f, size), bits) in self.files.iter_mut().zip(&chunk.bits) {
            let wps = size.div_ceil(32);
            let len = spikes_row_len(*size, self.packed);
            self.row.resize(len * chunk.steps, 0);
            for s in 0..chunk.steps {
                let (words, row) = (&bits[s * wps..][..wps], &mut self.row[s * len..][..len]);
                spikes_row(words, *size, self.packed, row);
            }
            let header = npy::header(npy::DType::U8, &[self.steps + chunk.steps, len]);
            let r = (|| {
                f.seek(SeekFrom::End(0))?;
                f.write_all(&self.row)?;
                f.flush()?;
                f.seek(SeekFrom::Start(0))?;
                f.write_all(&header)?;
                f.flush()
            })();
            r.map_err(|e| io_error(path, "cannot write", e))?;
        }
        self.steps += chunk.steps;
        Ok(())
    }

    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// Every recorded variable's `state_<pop>_<var>.npy`: float32, samples x
/// neurons, or trials x samples x neurons with `trial_axis` (one record
/// per trial).
pub fn write_state(
    dir: &Path,
    net: &Network,
    recs: &[&crate::record::SpikeRecord],
    trial_axis: bool,
) -> Result<()> {
    for (k, (r, var)) in net.probes().into_iter().enumerate() {
        let n = net.records[r].neurons.len();
        let samples = recs[0].state[k].len() / n;
        let shape = match trial_axis {
            true => vec![recs.len(), samples, n],
            false => vec![samples, n],
        };
        write_atomic(&dir.join(net.state_file(r, var)), |w| {
            w.write_all(&npy::header(npy::DType::F32, &shape))?;
            for rec in recs {
                w.write_all(bytemuck::cast_slice(&rec.state[k][..samples * n]))?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The `state_<pop>_<var>.npy` files written chunk by chunk (`--stream`),
/// valid after every chunk as [`SpikeStream`]'s are.
pub struct StateStream {
    /// Per recorded variable: its file, its neurons and its samples so far.
    files: Vec<(std::path::PathBuf, File, usize, usize)>,
}

impl StateStream {
    pub fn create(dir: &Path, net: &Network) -> Result<StateStream> {
        let mut files = Vec::new();
        for (r, var) in net.probes() {
            let path = dir.join(net.state_file(r, var));
            let mut f = File::create_new(&path).map_err(|e| io_error(&path, "cannot create", e))?;
            let n = net.records[r].neurons.len();
            f.write_all(&npy::header(npy::DType::F32, &[0, n]))
                .map_err(|e| io_error(&path, "cannot write", e))?;
            files.push((path, f, n, 0));
        }
        Ok(StateStream { files })
    }

    /// Appends a chunk's samples to every file, then counts them in the
    /// headers.
    pub fn append(&mut self, chunk: &crate::record::ChunkSpikes) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        for ((path, f, n, samples), data) in self.files.iter_mut().zip(&chunk.state) {
            let new = data.len() / *n;
            let header = npy::header(npy::DType::F32, &[*samples + new, *n]);
            let r = (|| {
                f.seek(SeekFrom::End(0))?;
                f.write_all(bytemuck::cast_slice(data))?;
                f.flush()?;
                f.seek(SeekFrom::Start(0))?;
                f.write_all(&header)?;
                f.flush()
            })();
            r.map_err(|e| io_error(path, "cannot write", e))?;
            *samples += new;
        }
        Ok(())
    }
}
