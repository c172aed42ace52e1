//! The fixed-point form of every projection (docs/arithmetic.md §2.2).

use super::build::*;
use crate::error::{Error, Result, try_zeroed};
use crate::fixed::pow2;
use rayon::prelude::*;
use std::sync::Arc;

/// `(w * 2^f).round()` as an integer (ties away from zero, docs/arithmetic.md §2.2), or
/// `None` when it does not fit an `i32`.
pub(super) fn quantize_one(w: f32, f: u32) -> Option<i32> {
    let x = w as f64 * (1u64 << f) as f64; // exact: a power-of-two scaling
    if x.is_nan() || x.abs() >= 2_147_483_648.0 {
        return None;
    }
    // round half away from zero without f64::round, a libm call on
    // baseline x86-64 (most of the setup of a large dense network): the
    // conversion truncates, and the remainder x - t is exact (the bits of x
    // below the units)
    let t = x as i64;
    let rest = x - t as f64;
    let r = t + (rest >= 0.5) as i64 - (rest <= -0.5) as i64;
    i32::try_from(r).ok()
}

/// `f(range)` for ranges of `0..n` split across the build threads, the
/// results in order; `size` is the work of one item (as weights), so that
/// small jobs run on this thread alone.
pub(crate) fn in_ranges<T: Send>(
    n: usize,
    size: usize,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = build_threads(n.saturating_mul(size));
    if threads == 1 {
        return vec![f(0..n)];
    }
    let per = n.div_ceil(threads).max(1);
    // one range a thread of the pool, in order
    let starts: Vec<usize> = (0..n).step_by(per).collect();
    starts
        .into_par_iter()
        .map(|a| f(a..(a + per).min(n)))
        .collect()
}

/// The worst-case |sum| a post neuron can receive at `f` fractional bits
/// (`row(j)`: the weights of post neuron j of `n_rows`), or `None` when it
/// reaches 2^31.
pub(super) fn worst_case_sum<'a>(
    n_rows: usize,
    row_len: usize,
    row: &(impl Fn(usize) -> &'a [f32] + Sync),
    f: u32,
) -> Option<u64> {
    let parts = in_ranges(n_rows, row_len, |js| {
        let mut worst = 0u64;
        for j in js {
            let mut s = 0u64;
            for &x in row(j) {
                s += quantize_one(x, f)?.unsigned_abs() as u64;
                if s >= 1 << 31 {
                    return None;
                }
            }
            worst = worst.max(s);
        }
        Some(worst)
    });
    parts.into_iter().try_fold(0, |a, b| Some(a.max(b?)))
}

/// The largest F in 0..=30 for which no post neuron's sum can reach 2^31
/// (docs/arithmetic.md §2.2), or `None` when even F = 0 fails; `row(j)` is the weights
/// of post neuron j of `n_rows`.
pub(super) fn choose_frac_bits_rows<'a>(
    n_rows: usize,
    row_len: usize,
    row: impl Fn(usize) -> &'a [f32] + Sync,
) -> Option<u32> {
    // |round(x)| is within 1/2 of |x|, so with S the largest row sum of |w|
    // and L the longest row, 2^F S - L/2 <= worst(F) <= 2^F S + L/2: these
    // bounds settle every F but one or two, which exact passes decide.
    let (s_max, l_max) = in_ranges(n_rows, row_len, |js| {
        let (mut s_max, mut l_max) = (0f64, 0f64);
        for j in js {
            let r = row(j);
            s_max = s_max.max(r.iter().map(|&x| (x as f64).abs()).sum::<f64>());
            l_max = l_max.max(r.len() as f64);
        }
        (s_max, l_max)
    })
    .into_iter()
    .fold((0f64, 0f64), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    let limit = 2147483648.0;
    let margin = 1.0 + 1e-9; // the f64 sums' own rounding
    let surely_ok = |f: u32| (2f64.powi(f as i32) * s_max * margin + l_max / 2.0) < limit;
    let surely_bad = |f: u32| (2f64.powi(f as i32) * s_max / margin - l_max / 2.0) >= limit;
    // The worst case grows with F, so the predicate is monotone: bisect
    // between the last F surely fine and the first F surely not.
    let mut ok = match (0..=30u32).rev().find(|&f| surely_ok(f)) {
        Some(f) => f,
        None => {
            worst_case_sum(n_rows, row_len, &row, 0)?;
            0
        }
    };
    let mut bad = (ok + 1..=30).find(|&f| surely_bad(f)).unwrap_or(31);
    while bad - ok > 1 {
        let mid = (ok + bad) / 2;
        if worst_case_sum(n_rows, row_len, &row, mid).is_some() {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    Some(ok)
}

/// `choose_frac_bits_rows` for dense weights in the `nn.Linear` layout.
pub fn choose_frac_bits(w: &[f32], n_pre: usize) -> Option<u32> {
    let n_pre = n_pre.max(1);
    choose_frac_bits_rows(w.len() / n_pre, n_pre, |j| &w[j * n_pre..(j + 1) * n_pre])
}

/// F of a plastic projection and its bounds in fixed point (see
/// [`Quantized::new_plastic`]).
pub(super) fn plastic_bits(n_pre: usize, w_min: f32, w_max: f32) -> Result<(u32, [i32; 2])> {
    let fits = |f: u32| {
        let (lo, hi) = (quantize_one(w_min, f)?, quantize_one(w_max, f)?);
        let m = lo.unsigned_abs().max(hi.unsigned_abs()) as u64;
        (m <= 1 << 29 && m * (n_pre as u64) < 1 << 31).then_some([lo, hi])
    };
    (0..=30u32)
        .rev()
        .find_map(|f| fits(f).map(|b| (f, b)))
        .ok_or_else(|| {
            Error::Input(format!(
                "plasticity.w_min, w_max = [{w_min}, {w_max}]: too large for exact integer sums over {n_pre} pre neurons (docs/arithmetic.md); narrow the range"
            ))
        })
}

pub(super) fn too_large() -> Error {
    Error::Input(TOO_LARGE.into())
}

pub(super) const TOO_LARGE: &str = "weights too large for exact integer sums: even at 0 fractional bits a post neuron's sum of |round(w)| reaches 2^31 (docs/arithmetic.md); lower the projection's init values (low, high, weight) or the values of its weights file";

/// A sparse projection's synapses by pre neuron: pre `i` projects to
/// `post[pre_ptr[i]..pre_ptr[i + 1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreMajor {
    pub pre_ptr: Vec<usize>,
    pub post: Vec<u32>,
}

impl AsRef<Quantized> for Quantized {
    fn as_ref(&self) -> &Quantized {
        self
    }
}

/// A projection in the form the engines read.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// F: weights are integers in units of 2^-F.
    pub frac_bits: u32,
    pub n_pre: usize,
    pub n_post: usize,
    /// Dense: `wq[pre * n_post + post]`, pre-major, so that a spiking pre
    /// neuron's row is contiguous (event-driven accumulation reads only those
    /// rows). Sparse: one per synapse, in the order of `sparse`, or of
    /// `rows` when [`Quantized::by_post`].
    pub wq: Vec<i32>,
    /// The synapses of a sparse projection by pre neuron; None when dense
    /// or by post.
    pub sparse: Option<PreMajor>,
    /// A sparse projection whose synapses stay by post, as they were built
    /// ([`Model::quantize_for`]; the engines gather these): its synapses,
    /// shared with the model's [`Weights::sparse`]; `wq[k]` is the weight
    /// of synapse `k`.
    pub rows: Option<Arc<SparseRows>>,
    /// 2^(12-F) and 2^-F: the exact conversion of docs/arithmetic.md §2.2.
    pub scale_hi: f32,
    pub scale_lo: f32,
    /// A plastic projection's [wq_min, wq_max]: F was chosen so that no sum
    /// of weights within them can overflow.
    pub bounds: Option<[i32; 2]>,
    /// Per synapse, in the order of `wq`: its delay in steps, when the
    /// projection has a delay range; else None and every synapse has
    /// the projection's one delay.
    pub delays: Option<Vec<u8>>,
}

pub(super) fn check_finite(w: &[f32], index: impl Fn(usize) -> String) -> Result<()> {
    let first = in_ranges(w.len(), 1, |r| {
        let start = r.start;
        w[r].iter().position(|x| !x.is_finite()).map(|i| start + i)
    });
    match first.into_iter().flatten().next() {
        Some(i) => Err(Error::Input(format!(
            "weight {} = {} is not finite",
            index(i),
            w[i]
        ))),
        None => Ok(()),
    }
}

impl Quantized {
    /// Whether the synapses are held by post (`rows`), not by pre neuron.
    pub fn by_post(&self) -> bool {
        self.rows.is_some()
    }

    fn with_bits(
        f: u32,
        n_pre: usize,
        n_post: usize,
        wq: Vec<i32>,
        sparse: Option<PreMajor>,
    ) -> Quantized {
        Quantized {
            frac_bits: f,
            n_pre,
            n_post,
            wq,
            sparse,
            rows: None,
            scale_hi: pow2(12 - f as i32),
            scale_lo: pow2(-(f as i32)),
            bounds: None,
            delays: None,
        }
    }

    /// A plastic projection: F is fixed by `[w_min, w_max]` instead of the
    /// weights, so that learning cannot make a sum overflow: the largest F
    /// in 0..=30 for which `n_pre` weights at the larger bound stay below
    /// 2^31 and a bound is at most 2^29 (a step's change is at most 2^30,
    /// so `wq + change` stays within 2^29 + 2^30, inside an i32, before it
    /// is clamped).
    pub fn new_plastic(
        w: &[f32],
        n_post: usize,
        n_pre: usize,
        w_min: f32,
        w_max: f32,
    ) -> Result<Quantized> {
        check_finite(w, |i| format!("[{}, {}]", i / n_pre, i % n_pre))?;
        if let Some(i) = w.iter().position(|&x| x < w_min || x > w_max) {
            return Err(Error::Input(format!(
                "weight [{}, {}] = {} lies outside the plastic range [w_min, w_max] = [{w_min}, {w_max}]",
                i / n_pre,
                i % n_pre,
                w[i]
            )));
        }
        let (f, bounds) = plastic_bits(n_pre, w_min, w_max)?;
        let mut q = Quantized::new_with_bits(w, n_post, n_pre, f)?;
        q.bounds = Some(bounds);
        Ok(q)
    }

    /// Dense weights at a given F (each quantised weight within the range
    /// the caller checked).
    fn new_with_bits(w: &[f32], n_post: usize, n_pre: usize, f: u32) -> Result<Quantized> {
        let mut wq: Vec<i32> = try_zeroed(w.len(), "quantised weights")?;
        // a transpose (post-major in, pre-major out) in tiles of TILE x TILE,
        // whose rows stay in cache, threads owning ranges of pre rows
        const TILE: usize = 64;
        let rows_per = n_pre.div_ceil(build_threads(w.len())).max(1);
        rayon::scope(|scope| {
            for (k, out) in wq.chunks_mut(rows_per * n_post.max(1)).enumerate() {
                let first_pre = k * rows_per;
                let rows = out.len() / n_post.max(1);
                scope.spawn(move |_| {
                    for i0 in (0..rows).step_by(TILE) {
                        let i1 = (i0 + TILE).min(rows);
                        for p0 in (0..n_post).step_by(TILE) {
                            for post in p0..(p0 + TILE).min(n_post) {
                                let row = &w[post * n_pre + first_pre..][..rows];
                                for i in i0..i1 {
                                    out[i * n_post + post] =
                                        quantize_one(row[i], f).expect("within the bounds");
                                }
                            }
                        }
                    }
                });
            }
        });
        Ok(Quantized::with_bits(f, n_pre, n_post, wq, None))
    }

    /// `w` in the `nn.Linear` layout (N_post x N_pre).
    pub fn new(w: &[f32], n_post: usize, n_pre: usize) -> Result<Quantized> {
        Quantized::new_at(w, n_post, n_pre, None)
    }

    /// [`Quantized::new`] at F = `f` when given (a slice of a projection
    /// whose F was chosen from the whole, which bounds every row's sum).
    pub fn new_at(w: &[f32], n_post: usize, n_pre: usize, f: Option<u32>) -> Result<Quantized> {
        assert_eq!(w.len(), n_post * n_pre);
        check_finite(w, |i| format!("[{}, {}]", i / n_pre, i % n_pre))?;
        let f = match f {
            Some(f) => f,
            None => choose_frac_bits(w, n_pre).ok_or_else(too_large)?,
        };
        Quantized::new_with_bits(w, n_post, n_pre, f)
    }

    /// Fixed-point weights `wq` of this dense projection (pre-major, as
    /// the engines hold them) back in the `nn.Linear` layout: each the f32
    /// nearest to `wq * 2^-F`.
    pub fn to_linear(&self, wq: &[i32]) -> Vec<f32> {
        let mut w = vec![0f32; self.n_pre * self.n_post];
        for (pre, row) in wq.chunks_exact(self.n_post.max(1)).enumerate() {
            for (post, &x) in row.iter().enumerate() {
                w[post * self.n_pre + pre] =
                    crate::fixed::fixed_to_f32(x, self.scale_hi, self.scale_lo);
            }
        }
        w
    }

    /// Sparse weights (one per synapse of `rows`), kept by post: the same
    /// F and integers as [`Quantized::new_sparse`], in the order of `rows`.
    pub fn new_sparse_by_post(
        w: &[f32],
        rows: &Arc<SparseRows>,
        n_post: usize,
        n_pre: usize,
        f: Option<u32>,
    ) -> Result<Quantized> {
        let f = match f {
            Some(f) => f,
            None => sparse_frac_bits(w, rows)?,
        };
        let mut wq: Vec<i32> = try_zeroed(w.len(), "quantised weights")?;
        let per = w.len().div_ceil(build_threads(w.len())).max(1);
        rayon::scope(|scope| {
            for (out, w) in wq.chunks_mut(per).zip(w.chunks(per)) {
                scope.spawn(move |_| {
                    for (q, &x) in out.iter_mut().zip(w) {
                        *q = quantize_one(x, f).expect("checked by choose_frac_bits");
                    }
                });
            }
        });
        Ok(Quantized {
            rows: Some(rows.clone()),
            ..Quantized::with_bits(f, n_pre, n_post, wq, None)
        })
    }

    /// Takes per-synapse `delays` (in the order of `rows`) into the
    /// pre-major synapses of [`Quantized::new_sparse`], each pre neuron's
    /// sorted by delay, then post: the CPU's scatter adds a run of synapses
    /// of one delay to one slot of its ring (the sums do not depend on the
    /// order; the GPU's scatter reads any).
    pub fn with_delays(mut self, rows: &SparseRows, delays: &[u8]) -> Quantized {
        let Some(pm) = &mut self.sparse else {
            self.delays = Some(delays.to_vec());
            return self;
        };
        let mut next = pm.pre_ptr.clone();
        let mut d = vec![0u8; delays.len()];
        for (&i, &x) in rows.pre.iter().zip(delays) {
            d[next[i as usize]] = x;
            next[i as usize] += 1;
        }
        let mut row: Vec<(u8, u32, i32)> = Vec::new();
        for i in 0..pm.pre_ptr.len() - 1 {
            let r = pm.pre_ptr[i]..pm.pre_ptr[i + 1];
            row.clear();
            let synapses = d[r.clone()]
                .iter()
                .zip(&pm.post[r.clone()])
                .zip(&self.wq[r.clone()]);
            row.extend(synapses.map(|((&d, &p), &w)| (d, p, w)));
            row.sort_unstable();
            for (k, &(x, p, w)) in r.zip(&row) {
                (d[k], pm.post[k], self.wq[k]) = (x, p, w);
            }
        }
        self.delays = Some(d);
        self
    }

    /// Sparse weights (one per synapse of `rows`), regrouped by pre neuron,
    /// at F = `f` when given (else chosen from the weights).
    pub fn new_sparse(
        w: &[f32],
        rows: &SparseRows,
        n_post: usize,
        n_pre: usize,
        f: Option<u32>,
    ) -> Result<Quantized> {
        let f = match f {
            Some(f) => f,
            None => sparse_frac_bits(w, rows)?,
        };
        // counting sort by pre
        let mut pre_ptr = vec![0usize; n_pre + 1];
        for &i in &rows.pre {
            pre_ptr[i as usize + 1] += 1;
        }
        for i in 0..n_pre {
            pre_ptr[i + 1] += pre_ptr[i];
        }
        let mut post: Vec<u32> = try_zeroed(w.len(), "sparse synapses")?;
        let mut wq: Vec<i32> = try_zeroed(w.len(), "quantised weights")?;
        // threads own ranges of pre neurons with about equal synapse counts,
        // so their parts of `post` and `wq` are disjoint; each walks every
        // synapse in post order and places its own: the serial order
        let threads = build_threads(w.len()).min(n_pre.max(1));
        let bounds: Vec<usize> = (0..threads)
            .map(|t| {
                pre_ptr
                    .partition_point(|&p| p < t * w.len() / threads)
                    .min(n_pre)
            })
            .chain([n_pre])
            .collect();
        let lens: Vec<usize> = bounds
            .windows(2)
            .map(|b| pre_ptr[b[1]] - pre_ptr[b[0]])
            .collect();
        in_parts(&mut post, &mut wq, &lens, |t, post_part, wq_part| {
            let (lo, hi) = (bounds[t], bounds[t + 1]);
            let base = pre_ptr[lo];
            let mut next: Vec<usize> = pre_ptr[lo..hi].iter().map(|&p| p - base).collect();
            for (j, r) in rows.ptr.windows(2).enumerate().take(n_post) {
                for (&i, &x) in rows.pre[r[0]..r[1]].iter().zip(&w[r[0]..r[1]]) {
                    let i = i as usize;
                    if i < lo || i >= hi {
                        continue;
                    }
                    let slot = &mut next[i - lo];
                    post_part[*slot] = j as u32;
                    wq_part[*slot] = quantize_one(x, f).expect("checked by choose_frac_bits");
                    *slot += 1;
                }
            }
        });
        Ok(Quantized::with_bits(
            f,
            n_pre,
            n_post,
            wq,
            Some(PreMajor { pre_ptr, post }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    #[test]
    fn quantize_one_rounds_half_away_from_zero_as_f64_round_does() {
        // the definition (docs/arithmetic.md §2.2) with f64::round
        let reference = |w: f32, f: u32| -> Option<i32> {
            let x = (w as f64 * (1u64 << f) as f64).round();
            (x.abs() < 2_147_483_648.0).then_some(x as i32)
        };
        let mut cases: Vec<f32> = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999997,
            -0.49999997,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            2147483520.0,
            -2147483520.0,
            2147483648.0,
            -2147483648.0,
            1073741824.0,
            -1073741824.0,
        ];
        // halves near the limits at every F: 2^31 - 0.5 rounds out of range
        for f in 0..=30u32 {
            let s = (1u64 << f) as f32;
            cases.extend([
                (2147483647.5 / s as f64) as f32,
                (-2147483647.5 / s as f64) as f32,
                (2147483646.5 / s as f64) as f32,
            ]);
        }
        let mut x = 0x2545F491u32;
        for _ in 0..200_000 {
            // xorshift: random bit patterns (any exponent, sign, NaN)
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            cases.push(f32::from_bits(x));
            // and weights of ordinary size, halves included
            cases.push((x as i32 as f32) / 2f32.powi((x % 40) as i32));
        }
        for &w in &cases {
            for f in 0..=30u32 {
                assert_eq!(
                    quantize_one(w, f),
                    reference(w, f),
                    "w = {w:e} ({:#x}), F = {f}",
                    w.to_bits()
                );
            }
        }
    }

    #[test]
    fn frac_bits_are_those_of_the_fixed_point_weights() {
        let sparse = crate::config::DEFAULT_TOML.replacen(
            "init = \"linear\"",
            "init = \"linear\"\nfixed_fan_in = 30",
            1,
        );
        for text in [
            crate::config::DEFAULT_TOML,
            sparse.as_str(),
            include_str!("../../assets/reward_learning.toml"),
        ] {
            let model = Model::build(Network::from_toml_str(text, "t").unwrap(), 3).unwrap();
            let want: Vec<u32> = model
                .quantize()
                .unwrap()
                .iter()
                .map(|q| q.frac_bits)
                .collect();
            assert_eq!(model.frac_bits().unwrap(), want);
        }
    }

    #[test]
    fn pow2_is_exact() {
        for k in -126..=127 {
            assert_eq!(pow2(k) as f64, 2f64.powi(k));
        }
    }
}
