//! A [`Network`] made concrete: connectivity, weights, biases and input
//! rates drawn from the seed (docs/arithmetic.md §1), and the fixed-point form of every
//! projection (docs/arithmetic.md §2.2).

use crate::config::{Connectivity, Init, Network, PopKind, Projection};
use crate::error::{Error, Result, try_with_capacity, try_zeroed};
use crate::input::{draw_at, draw_rates, draw4, purpose, stream_id, unit_f32};
use crate::simd::avx2_twin;
use std::sync::Arc;

/// Which pre neurons each post neuron of a sparse projection receives from:
/// post `j` from `pre[ptr[j]..ptr[j + 1]]`, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows {
    pub ptr: Vec<usize>,
    pub pre: Vec<u32>,
}

/// Raw weights of one projection, as torch stores them.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Dense: `w[post * n_pre + pre]`, the `nn.Linear.weight` layout
    /// (N_post x N_pre). Sparse: one per synapse, in the order of `sparse`.
    pub w: Vec<f32>,
    /// `b[post]`; all zero when the projection has no bias.
    pub b: Vec<f32>,
    /// The synapses of a sparse projection; None when dense. Shared with
    /// the engines that read them by post ([`Quantized::rows`]).
    pub sparse: Option<Arc<SparseRows>>,
}

/// A network with its parameters: what every engine runs.
#[derive(Debug, Clone)]
pub struct Model {
    pub net: Network,
    pub seed: u64,
    /// One per projection, in config order.
    pub weights: Vec<Weights>,
    /// Per population: the rates (spikes/step) of a Poisson population, else empty.
    pub rates: Vec<Vec<f32>>,
}

/// Threads for a build job of `work` items (weights, synapses, draws):
/// the CPU engine's threads, but one per 64 Ki items at most, so that a
/// small projection is built on this thread (starting threads would cost
/// more than they save).
fn build_threads(work: usize) -> usize {
    crate::engine::cpu::default_threads().min(work >> 16).max(1)
}

/// The pre neurons of post `j` of a sparse projection, ascending: a pure
/// function of (seed, projection, j). `seen` is a bit set of `n_pre` bits,
/// empty on entry and on return.
fn choose_pres(
    conn: Connectivity,
    seed: u64,
    stream: u32,
    j: u32,
    n_pre: usize,
    out: &mut Vec<u32>,
    seen: &mut [u64],
) {
    out.clear();
    match conn {
        Connectivity::Dense => out.extend(0..n_pre as u32),
        Connectivity::FixedProbability(p) => {
            // each pair independently: its draw below p * 2^32
            let thr = (p * 4294967296.0).min(4294967295.0) as u64;
            pairs_below(seed, stream, j, n_pre as u32, thr, p >= 1.0, out);
        }
        Connectivity::FixedFanIn(k) => {
            // Floyd's algorithm: k distinct of n_pre with k draws, the draw
            // of step i that of pair (j, i)
            let n = n_pre as u64;
            // consecutive steps share a call (four words)
            let mut call = (u32::MAX, [0u32; 4]);
            for i in (n - k as u64)..n {
                let g = (i >> 2) as u32;
                if call.0 != g {
                    call = (g, draw4(seed, stream, j, g));
                }
                let r = call.1[(i & 3) as usize];
                let t = ((r as u64 * (i + 1)) >> 32) as u32; // uniform in 0..=i
                let (word, bit) = (t as usize / 64, 1u64 << (t % 64));
                // i itself was never picked: the picks so far are below it
                let pick = if seen[word] & bit == 0 { t } else { i as u32 };
                seen[pick as usize / 64] |= 1 << (pick % 64);
                out.push(pick);
            }
            for &x in out.iter() {
                seen[x as usize / 64] = 0;
            }
            out.sort_unstable();
        }
    }
}

avx2_twin! {
    /// Appends to `out` the pre neurons `i < n_pre` whose draw
    /// [`crate::input::draw_pair`]`(j, i)` is below `thr` (all of them when `all`),
    /// ascending. The draws of 32 neurons at a time (8 calls) are
    /// independent of each other, so they run in vector lanes; this is most
    /// of the time it takes to build a `fixed_probability` projection (every
    /// pair is drawn).
    fn pairs_below(
        seed: u64,
        stream: u32,
        j: u32,
        n_pre: u32,
        thr: u64,
        all: bool,
        out: &mut Vec<u32>,
    ) {
        let key = [seed as u32, (seed >> 32) as u32];
        for base in (0..n_pre).step_by(32) {
            let mut bits = 0u32;
            let count = 32.min(n_pre - base);
            // the 8 calls of these 32 pairs in lanes
            let d = crate::philox::philox4x32_10_lanes::<8>(
                [[j; 8], std::array::from_fn(|g| (base >> 2) + g as u32), [stream; 8], [0; 8]],
                key,
            );
            for k in 0..count {
                let below = (d[(k % 4) as usize][(k / 4) as usize] as u64) < thr || all;
                bits |= (below as u32) << k;
            }
            while bits != 0 {
                out.push(base + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }
}

/// The draws [`crate::input::draw_pair`]`(j, i)` of the pre neurons `pres` of post `j`,
/// eight calls at a time in vector lanes.
fn pair_draws(seed: u64, stream: u32, j: u32, pres: &[u32]) -> impl Iterator<Item = u32> + '_ {
    let key = [seed as u32, (seed >> 32) as u32];
    pres.chunks(8).flat_map(move |eight| {
        let d = crate::philox::philox4x32_10_lanes::<8>(
            [
                [j; 8],
                std::array::from_fn(|l| eight.get(l).map_or(0, |i| i >> 2)),
                [stream; 8],
                [0; 8],
            ],
            key,
        );
        eight
            .iter()
            .enumerate()
            .map(move |(l, i)| d[(i & 3) as usize][l])
    })
}

/// Connectivity and raw weights of a sparse projection, posts split across
/// threads (each post's synapses depend on nothing but the seed).
fn build_sparse(
    proj: &Projection,
    seed: u64,
    n_pre: usize,
    n_post: usize,
    lo: f32,
    hi: f32,
    constant: Option<f32>,
) -> Result<(SparseRows, Vec<f32>)> {
    let sc = stream_id(&proj.name, purpose::CONNECT);
    let sw = stream_id(&proj.name, purpose::WEIGHT);
    let per_post = match proj.conn {
        Connectivity::FixedFanIn(k) => k as usize,
        _ => n_pre,
    };
    let threads = build_threads(per_post.saturating_mul(n_post)).min(n_post.max(1));
    let per = n_post.div_ceil(threads);
    let parts: Vec<(Vec<usize>, Vec<u32>, Vec<f32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let (mut counts, mut pres, mut ws) = (Vec::new(), Vec::new(), Vec::new());
                    let (mut row, mut seen) = (Vec::new(), vec![0u64; n_pre.div_ceil(64)]);
                    for j in (t * per)..((t + 1) * per).min(n_post) {
                        choose_pres(proj.conn, seed, sc, j as u32, n_pre, &mut row, &mut seen);
                        counts.push(row.len());
                        match constant {
                            Some(c) => ws.extend(std::iter::repeat_n(c, row.len())),
                            None => ws.extend(
                                pair_draws(seed, sw, j as u32, &row)
                                    .map(|r| lo + (hi - lo) * unit_f32(r)),
                            ),
                        }
                        pres.extend_from_slice(&row);
                    }
                    (counts, pres, ws)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("building a projection does not panic"))
            .collect()
    });
    let total: usize = parts.iter().map(|p| p.1.len()).sum();
    let mut ptr = Vec::with_capacity(n_post + 1);
    ptr.push(0);
    let what = format!("projection `{}` ({total} synapses)", proj.name);
    let mut pre: Vec<u32> = try_with_capacity(total, &what)?;
    let mut w: Vec<f32> = try_with_capacity(total, &what)?;
    for (counts, pres, ws) in parts {
        for c in counts {
            ptr.push(ptr.last().unwrap() + c);
        }
        pre.extend_from_slice(&pres);
        w.extend_from_slice(&ws);
    }
    Ok((SparseRows { ptr, pre }, w))
}

impl Model {
    /// Draws every synapse, weight, bias and rate from `seed`, each a pure
    /// function of (seed, object name, index) so that nothing depends on
    /// evaluation order or thread count. A synapse of a sparse projection
    /// gets the weight the dense projection would have at its place.
    pub fn build(net: Network, seed: u64) -> Result<Model> {
        let mut weights = Vec::with_capacity(net.projections.len());
        for proj in &net.projections {
            let n_pre = net.populations[proj.pre].size;
            let n_post = net.populations[proj.post].size;
            // nn.Linear's bound 1/sqrt(fan_in), with a sparse projection's fan-in
            let fan_in = match proj.conn {
                Connectivity::Dense => n_pre as f64,
                Connectivity::FixedProbability(p) => (p * n_pre as f64).max(1.0),
                Connectivity::FixedFanIn(k) => k as f64,
            };
            let (lo, hi, constant) = match proj.init {
                Init::Linear => {
                    let k = 1.0 / (fan_in as f32).sqrt();
                    (-k, k, None)
                }
                Init::Uniform { low, high } => (low, high, None),
                Init::Constant { weight, .. } => (weight, weight, Some(weight)),
            };
            let mut b = vec![0.0f32; n_post];
            if proj.bias {
                match proj.init {
                    Init::Constant { bias, .. } => b.fill(bias),
                    _ => {
                        let sb = stream_id(&proj.name, purpose::BIAS);
                        for (post, x) in b.iter_mut().enumerate() {
                            let drawn =
                                lo + (hi - lo) * unit_f32(draw_at(seed, sb, post as u32, 0));
                            // a subnormal bias is 0 (docs/arithmetic.md)
                            *x = crate::engine::cpu::flush_subnormal(drawn);
                        }
                    }
                }
            }
            if !proj.conn.is_dense() {
                let (rows, w) = build_sparse(proj, seed, n_pre, n_post, lo, hi, constant)?;
                weights.push(Weights {
                    w,
                    b,
                    sparse: Some(Arc::new(rows)),
                });
                continue;
            }
            let count = n_pre.checked_mul(n_post).ok_or_else(|| {
                Error::Input(format!("projection `{}` has too many synapses", proj.name))
            })?;
            let mut w: Vec<f32> =
                try_zeroed(count, &format!("projection `{}` weights", proj.name))?;
            match constant {
                Some(c) => w.fill(c),
                None => {
                    let sw = stream_id(&proj.name, purpose::WEIGHT);
                    for (post, row) in w.chunks_exact_mut(n_pre).enumerate() {
                        // four pre neurons a call (draw_pair)
                        for (g, four) in row.chunks_mut(4).enumerate() {
                            let d = draw4(seed, sw, post as u32, g as u32);
                            for (x, &r) in four.iter_mut().zip(&d) {
                                *x = lo + (hi - lo) * unit_f32(r);
                            }
                        }
                    }
                }
            }
            weights.push(Weights { w, b, sparse: None });
        }
        let rates = net
            .populations
            .iter()
            .map(|p| match p.kind {
                PopKind::Poisson { rate_lo, rate_hi } => {
                    draw_rates(seed, &p.name, p.size, rate_lo, rate_hi)
                }
                PopKind::Lif(_) => Vec::new(),
            })
            .collect();
        Ok(Model {
            net,
            seed,
            weights,
            rates,
        })
    }

    /// The fixed-point form of every projection, in config order.
    pub fn quantize(&self) -> Result<Vec<Quantized>> {
        self.quantize_for(&[])
    }

    /// [`Model::quantize`], except that each sparse projection `j` with
    /// `by_post[j]` keeps its synapses by post, as they were built (see
    /// [`Quantized::by_post`]): the GPU's gather reads them so, and the
    /// regrouping by pre neuron is most of the setup of a large network.
    pub fn quantize_for(&self, by_post: &[bool]) -> Result<Vec<Quantized>> {
        (0..self.net.projections.len())
            .map(|j| self.quantize_projection(j, by_post.get(j) == Some(&true)))
            .collect()
    }

    /// The fixed-point form of projection `j` (a sparse one by post when
    /// `by_post`).
    pub fn quantize_projection(&self, j: usize, by_post: bool) -> Result<Quantized> {
        let (proj, w) = (&self.net.projections[j], &self.weights[j]);
        let n_pre = self.net.populations[proj.pre].size;
        let n_post = self.net.populations[proj.post].size;
        let q = match (&w.sparse, &proj.plasticity) {
            (None, Some(pl)) => Quantized::new_plastic(&w.w, n_post, n_pre, pl.w_min, pl.w_max),
            (None, None) => Quantized::new(&w.w, n_post, n_pre),
            (Some(rows), _) if by_post => Quantized::new_sparse_by_post(&w.w, rows, n_post, n_pre),
            (Some(rows), _) => Quantized::new_sparse(&w.w, rows, n_post, n_pre),
        };
        q.map_err(|e| e.context(format!("projection `{}`", proj.name)))
    }

    /// F of every projection, as [`Model::quantize`] would choose it,
    /// without building the fixed-point weights.
    pub fn frac_bits(&self) -> Result<Vec<u32>> {
        let net = &self.net;
        net.projections
            .iter()
            .zip(&self.weights)
            .map(|(proj, w)| {
                let n_pre = net.populations[proj.pre].size;
                let f = match (&w.sparse, &proj.plasticity) {
                    (None, Some(pl)) => plastic_bits(n_pre, pl.w_min, pl.w_max).map(|b| b.0),
                    (None, None) => choose_frac_bits(&w.w, n_pre).ok_or_else(too_large),
                    (Some(rows), _) => sparse_frac_bits(&w.w, rows),
                };
                f.map_err(|e| e.context(format!("projection `{}`", proj.name)))
            })
            .collect()
    }
}

/// Runs `f(k, a_k, b_k)` on a thread per part, where `a_k` and `b_k` are the
/// `k`-th consecutive parts of `a` and `b`, `lens[k]` long each (disjoint
/// outputs filled in parallel).
pub(crate) fn in_parts<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    lens: &[usize],
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    std::thread::scope(|scope| {
        let (mut a, mut b) = (a, b);
        for (k, &len) in lens.iter().enumerate() {
            let (a_k, a_rest) = std::mem::take(&mut a).split_at_mut(len);
            let (b_k, b_rest) = std::mem::take(&mut b).split_at_mut(len);
            (a, b) = (a_rest, b_rest);
            let f = &f;
            scope.spawn(move || f(k, a_k, b_k));
        }
    });
}

/// F of a sparse projection's weights (one per synapse of `rows`), after
/// checking that they are finite.
fn sparse_frac_bits(w: &[f32], rows: &SparseRows) -> Result<u32> {
    assert_eq!(w.len(), rows.pre.len());
    check_finite(w, |k| {
        let j = rows.ptr.partition_point(|&p| p <= k) - 1;
        format!("[{j}, {}]", rows.pre[k])
    })?;
    let n_post = rows.ptr.len() - 1;
    let mean = w.len() / n_post.max(1);
    choose_frac_bits_rows(n_post, mean, |j| &w[rows.ptr[j]..rows.ptr[j + 1]]).ok_or_else(too_large)
}

/// `2^k` as f32, exact for -126 <= k <= 127.
pub fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `(w * 2^f).round()` as an integer (ties away from zero, docs/arithmetic.md §2.2), or
/// `None` when it does not fit an `i32`.
fn quantize_one(w: f32, f: u32) -> Option<i32> {
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
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..n)
            .step_by(per)
            .map(|a| scope.spawn(move || f(a..(a + per).min(n))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The worst-case |sum| a post neuron can receive at `f` fractional bits
/// (`row(j)`: the weights of post neuron j of `n_rows`), or `None` when it
/// reaches 2^31.
fn worst_case_sum<'a>(
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
fn choose_frac_bits_rows<'a>(
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
fn plastic_bits(n_pre: usize, w_min: f32, w_max: f32) -> Result<(u32, [i32; 2])> {
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

fn too_large() -> Error {
    Error::Input(TOO_LARGE.into())
}

const TOO_LARGE: &str = "weights too large for exact integer sums: even at 0 fractional bits a post neuron's sum of |round(w)| reaches 2^31 (docs/arithmetic.md); lower the projection's init values (low, high, weight) or the values of its weights file";

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
}

fn check_finite(w: &[f32], index: impl Fn(usize) -> String) -> Result<()> {
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
        std::thread::scope(|scope| {
            for (k, out) in wq.chunks_mut(rows_per * n_post.max(1)).enumerate() {
                let first_pre = k * rows_per;
                let rows = out.len() / n_post.max(1);
                scope.spawn(move || {
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
        assert_eq!(w.len(), n_post * n_pre);
        check_finite(w, |i| format!("[{}, {}]", i / n_pre, i % n_pre))?;
        let f = choose_frac_bits(w, n_pre).ok_or_else(too_large)?;
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
                    crate::engine::cpu::fixed_to_f32(x, self.scale_hi, self.scale_lo);
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
    ) -> Result<Quantized> {
        let f = sparse_frac_bits(w, rows)?;
        let mut wq: Vec<i32> = try_zeroed(w.len(), "quantised weights")?;
        let per = w.len().div_ceil(build_threads(w.len())).max(1);
        std::thread::scope(|scope| {
            for (out, w) in wq.chunks_mut(per).zip(w.chunks(per)) {
                scope.spawn(move || {
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

    /// Sparse weights (one per synapse of `rows`), regrouped by pre neuron.
    pub fn new_sparse(
        w: &[f32],
        rows: &SparseRows,
        n_post: usize,
        n_pre: usize,
    ) -> Result<Quantized> {
        let f = sparse_frac_bits(w, rows)?;
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
    use crate::input::draw_pair;

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
            include_str!("../assets/reward_learning.toml"),
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
    fn pairs_below_draws_every_pair_as_defined() {
        // the definition: pre i is connected iff its draw is below thr
        for n_pre in [0u32, 1, 31, 32, 33, 100, 1000] {
            for (thr, all) in [(0u64, false), (1 << 30, false), (3 << 31, false), (0, true)] {
                let want: Vec<u32> = (0..n_pre)
                    .filter(|&i| (draw_pair(9, 17, 4, i) as u64) < thr || all)
                    .collect();
                // the dispatched build (AVX2 where the CPU has it) and the
                // baseline one (other tests in this binary may run either
                // meanwhile: both give the same values)
                let (mut got, mut base) = (Vec::new(), Vec::new());
                pairs_below(9, 17, 4, n_pre, thr, all, &mut got);
                crate::simd::set_portable(true);
                pairs_below(9, 17, 4, n_pre, thr, all, &mut base);
                crate::simd::set_portable(false);
                assert_eq!(got, want, "n_pre {n_pre} thr {thr} all {all}");
                assert_eq!(base, want, "n_pre {n_pre} thr {thr} all {all} (baseline)");
            }
        }
    }

    #[test]
    fn pow2_is_exact() {
        for k in -126..=127 {
            assert_eq!(pow2(k) as f64, 2f64.powi(k));
        }
    }

    #[test]
    fn build_is_a_pure_function_of_the_seed() {
        let a = Model::build(Network::default_nacc(), 7).unwrap();
        let b = Model::build(Network::default_nacc(), 7).unwrap();
        let c = Model::build(Network::default_nacc(), 8).unwrap();
        assert_eq!(a.weights, b.weights);
        assert_ne!(a.weights, c.weights);
        assert_eq!(a.rates, b.rates);
    }

    #[test]
    fn linear_init_stays_within_fan_in_bound() {
        let m = Model::build(Network::default_nacc(), 1).unwrap();
        for (proj, w) in m.net.projections.iter().zip(&m.weights) {
            let k = 1.0 / (m.net.populations[proj.pre].size as f32).sqrt();
            assert!(w.w.iter().chain(&w.b).all(|x| x.abs() <= k));
            // and uses the range: the extremes come near the bound
            let max = w.w.iter().fold(0f32, |a, x| a.max(x.abs()));
            assert!(max > 0.9 * k, "{}: max |w| {max} vs bound {k}", proj.name);
        }
    }
}
