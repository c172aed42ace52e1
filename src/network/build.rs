//! A [`Network`] made concrete: connectivity, weights, biases and input
//! rates drawn from the seed (docs/arithmetic.md §1), and the fixed-point form of every
//! projection (docs/arithmetic.md §2.2).

use super::quantize::*;
use super::{Connectivity, Init, Network, PopKind, Projection, Quantized};
use crate::error::{Error, Result, try_with_capacity, try_zeroed};
use crate::input::{draw_at, draw_rates, draw4, purpose, stream_id, unit_f32};
use crate::simd::avx2_twin;
use rayon::prelude::*;
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
    /// Per synapse of a sparse projection with a delay range, in the order
    /// of `sparse`: its delay in steps. None: every synapse has the
    /// projection's one delay.
    pub delays: Option<Vec<u8>>,
    /// F given instead of chosen from `w` (docs/arithmetic.md §2.2): a
    /// rank's slice of a projection keeps the F of the whole (`ranks`), so
    /// that its sums are the whole's. None: chosen from the weights.
    pub frac_bits: Option<u32>,
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
pub(super) fn build_threads(work: usize) -> usize {
    crate::threads::count().min(work >> 16).max(1)
}

/// The pre neurons of post `j` of a sparse projection, ascending: a pure
/// function of (seed, projection, j). `seen` is a bit set of `n_pre` bits,
/// empty on entry and on return.
#[allow(clippy::too_many_arguments)]
pub(super) fn choose_pres(
    conn: Connectivity,
    seed: u64,
    stream: u32,
    j: u32,
    n_pre: usize,
    no_autapse: bool,
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
            if no_autapse {
                out.retain(|&i| i != j);
            }
        }
        Connectivity::FixedFanIn(k) if no_autapse => {
            // k of the n - 1 others: pick among 0..n-1, then skip j
            floyd(seed, stream, j, n_pre as u64 - 1, k, out, seen);
            skip_self(out, j);
        }
        Connectivity::FixedFanIn(k) => floyd(seed, stream, j, n_pre as u64, k, out, seen),
        Connectivity::OneToOne => out.push(j),
        Connectivity::FixedFanOut(_) => unreachable!("fan-out rows are chosen by pre neuron"),
    }
}

/// Picks `p` of `0..n-1` as neurons of `0..n` other than `me`: `p + 1` from
/// `me` on (order kept).
fn skip_self(picks: &mut [u32], me: u32) {
    for p in picks {
        *p += (*p >= me) as u32;
    }
}

/// Floyd's algorithm: `k` distinct of `0..n` with k draws, the draw of step
/// i that of pair (j, i) of `stream`, into `out` ascending. `seen` is a bit
/// set of `n` bits, empty on entry and on return.
fn floyd(seed: u64, stream: u32, j: u32, n: u64, k: u32, out: &mut Vec<u32>, seen: &mut [u64]) {
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

/// The synapses of a `fixed_fan_out` projection by post: each pre neuron
/// `i` picks `k` distinct posts with [`floyd`] (pair (i, step) of
/// `stream`), and each post receives from its pickers in ascending order.
/// Without autapses (a self-projection) pre `i` picks among the others.
pub(super) fn fan_out_rows(
    seed: u64,
    stream: u32,
    k: u32,
    n_pre: usize,
    n_post: usize,
    no_autapse: bool,
) -> Result<SparseRows> {
    let total = k as usize * n_pre;
    let mut picks: Vec<u32> = try_with_capacity(total, "fixed_fan_out synapses")?;
    let (mut row, mut seen) = (Vec::new(), vec![0u64; n_post.div_ceil(64)]);
    let n = n_post as u64 - no_autapse as u64;
    for i in 0..n_pre as u32 {
        row.clear();
        floyd(seed, stream, i, n, k, &mut row, &mut seen);
        if no_autapse {
            skip_self(&mut row, i);
        }
        picks.extend_from_slice(&row);
    }
    // counting sort by post; pre neurons ascend within each post
    let mut ptr = vec![0usize; n_post + 1];
    for &post in &picks {
        ptr[post as usize + 1] += 1;
    }
    for p in 0..n_post {
        ptr[p + 1] += ptr[p];
    }
    let mut at = ptr.clone();
    let mut pre: Vec<u32> = try_zeroed(total, "fixed_fan_out synapses")?;
    for (s, &post) in picks.iter().enumerate() {
        pre[at[post as usize]] = (s / k as usize) as u32;
        at[post as usize] += 1;
    }
    Ok(SparseRows { ptr, pre })
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
pub(super) fn pair_draws(
    seed: u64,
    stream: u32,
    j: u32,
    pres: &[u32],
) -> impl Iterator<Item = u32> + '_ {
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
pub(super) fn build_sparse(
    proj: &Projection,
    seed: u64,
    n_pre: usize,
    n_post: usize,
    lo: f32,
    hi: f32,
    constant: Option<f32>,
) -> Result<(SparseRows, Vec<f32>, Option<Vec<u8>>)> {
    let sc = stream_id(&proj.name, purpose::CONNECT);
    let sw = stream_id(&proj.name, purpose::WEIGHT);
    let sd = stream_id(&proj.name, purpose::DELAY);
    let delay = proj.delay;
    let fan_out = match proj.conn {
        Connectivity::FixedFanOut(k) => Some(fan_out_rows(
            seed,
            sc,
            k,
            n_pre,
            n_post,
            proj.drops_autapses(),
        )?),
        _ => None,
    };
    let fan_out = fan_out.as_ref();
    let per_post = match proj.conn {
        Connectivity::FixedFanIn(k) => k as usize,
        Connectivity::OneToOne => 1,
        Connectivity::FixedFanOut(k) => (k as usize * n_pre).div_ceil(n_post.max(1)),
        _ => n_pre,
    };
    let threads = build_threads(per_post.saturating_mul(n_post)).min(n_post.max(1));
    let per = n_post.div_ceil(threads);
    // one part a thread of the pool, in order
    // per thread: its posts' synapse counts, pre neurons, weights, delays
    type Part = (Vec<usize>, Vec<u32>, Vec<f32>, Vec<u8>);
    let parts: Vec<Part> = (0..threads)
        .into_par_iter()
        .map(|t| {
            let (mut counts, mut pres, mut ws, mut ds) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut row, mut seen) = (Vec::new(), vec![0u64; n_pre.div_ceil(64)]);
            for j in (t * per)..((t + 1) * per).min(n_post) {
                match fan_out {
                    Some(rows) => {
                        row.clear();
                        row.extend_from_slice(&rows.pre[rows.ptr[j]..rows.ptr[j + 1]]);
                    }
                    None => {
                        let conn = proj.conn;
                        let no_self = proj.drops_autapses();
                        let (j, n) = (j as u32, n_pre);
                        choose_pres(conn, seed, sc, j, n, no_self, &mut row, &mut seen)
                    }
                }
                counts.push(row.len());
                match constant {
                    Some(c) => ws.extend(std::iter::repeat_n(c, row.len())),
                    None => ws.extend(
                        pair_draws(seed, sw, j as u32, &row).map(|r| lo + (hi - lo) * unit_f32(r)),
                    ),
                }
                if delay.per_synapse() {
                    ds.extend(
                        pair_draws(seed, sd, j as u32, &row)
                            .map(|r| draw_delay(r, delay.lo, delay.hi)),
                    );
                }
                pres.extend_from_slice(&row);
            }
            (counts, pres, ws, ds)
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.1.len()).sum();
    let mut ptr = Vec::with_capacity(n_post + 1);
    ptr.push(0);
    let what = format!("projection `{}` ({total} synapses)", proj.name);
    let mut pre: Vec<u32> = try_with_capacity(total, &what)?;
    let mut w: Vec<f32> = try_with_capacity(total, &what)?;
    let mut delays: Vec<u8> = match delay.per_synapse() {
        true => try_with_capacity(total, &what)?,
        false => Vec::new(),
    };
    for (counts, pres, ws, ds) in parts {
        for c in counts {
            ptr.push(ptr.last().unwrap() + c);
        }
        pre.extend_from_slice(&pres);
        w.extend_from_slice(&ws);
        delays.extend_from_slice(&ds);
    }
    let delays = delay.per_synapse().then_some(delays);
    Ok((SparseRows { ptr, pre }, w, delays))
}

/// The drawn delay of every synapse of `rows` (a projection with a delay
/// range): synapse (post j, pre i) takes the draw of pair (j, i).
pub fn delays_of(seed: u64, proj: &Projection, rows: &SparseRows) -> Vec<u8> {
    let sd = stream_id(&proj.name, purpose::DELAY);
    let (lo, hi) = (proj.delay.lo, proj.delay.hi);
    (0..rows.ptr.len() - 1)
        .flat_map(|j| {
            let row = &rows.pre[rows.ptr[j]..rows.ptr[j + 1]];
            pair_draws(seed, sd, j as u32, row).map(move |r| draw_delay(r, lo, hi))
        })
        .collect()
}

/// A synapse's delay in `lo..=hi` steps from its draw: `lo + floor(word *
/// (hi - lo + 1) / 2^32)` (docs/arithmetic.md §6).
pub fn draw_delay(word: u32, lo: u32, hi: u32) -> u8 {
    let d = lo as u64 + ((word as u64 * (hi - lo + 1) as u64) >> 32);
    d as u8
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
                Connectivity::FixedFanOut(k) => (k as f64 * n_pre as f64 / n_post as f64).max(1.0),
                Connectivity::OneToOne => 1.0,
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
                            *x = crate::fixed::flush_subnormal(drawn);
                        }
                    }
                }
            }
            if !proj.conn.is_dense() {
                let (rows, w, delays) = build_sparse(proj, seed, n_pre, n_post, lo, hi, constant)?;
                weights.push(Weights {
                    w,
                    b,
                    sparse: Some(Arc::new(rows)),
                    delays,
                    frac_bits: None,
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
            if proj.drops_autapses() {
                // no synapse from a neuron onto itself: its weight is 0
                for j in 0..n_post {
                    w[j * n_pre + j] = 0.0;
                }
            }
            weights.push(Weights {
                w,
                b,
                sparse: None,
                delays: None,
                frac_bits: None,
            });
        }
        let rates = net
            .populations
            .iter()
            .map(|p| match p.kind {
                PopKind::Poisson { rate_lo, rate_hi } => {
                    draw_rates(seed, &p.name, p.size, rate_lo, rate_hi)
                }
                _ => Vec::new(),
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
        debug_assert!(
            !(by_post && self.weights[j].delays.is_some()),
            "never gathered"
        );
        let (proj, w) = (&self.net.projections[j], &self.weights[j]);
        let n_pre = self.net.populations[proj.pre].size;
        let n_post = self.net.populations[proj.post].size;
        let f = w.frac_bits;
        let q = match (&w.sparse, &proj.plasticity) {
            (None, Some(pl)) => Quantized::new_plastic(&w.w, n_post, n_pre, pl.w_min, pl.w_max),
            (None, None) => Quantized::new_at(&w.w, n_post, n_pre, f),
            (Some(rows), _) if by_post => {
                Quantized::new_sparse_by_post(&w.w, rows, n_post, n_pre, f)
            }
            (Some(rows), _) => Quantized::new_sparse(&w.w, rows, n_post, n_pre, f),
        };
        let q = q.map_err(|e| e.context(format!("projection `{}`", proj.name)))?;
        Ok(match (&w.sparse, &w.delays) {
            (Some(rows), Some(d)) => q.with_delays(rows, d),
            _ => q,
        })
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
                    (_, None) if w.frac_bits.is_some() => Ok(w.frac_bits.unwrap_or_default()),
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
    rayon::scope(|scope| {
        let (mut a, mut b) = (a, b);
        for (k, &len) in lens.iter().enumerate() {
            let (a_k, a_rest) = std::mem::take(&mut a).split_at_mut(len);
            let (b_k, b_rest) = std::mem::take(&mut b).split_at_mut(len);
            (a, b) = (a_rest, b_rest);
            let f = &f;
            scope.spawn(move |_| f(k, a_k, b_k));
        }
    });
}

/// F of a sparse projection's weights (one per synapse of `rows`), after
/// checking that they are finite.
pub(super) fn sparse_frac_bits(w: &[f32], rows: &SparseRows) -> Result<u32> {
    assert_eq!(w.len(), rows.pre.len());
    check_finite(w, |k| {
        let j = rows.ptr.partition_point(|&p| p <= k) - 1;
        format!("[{j}, {}]", rows.pre[k])
    })?;
    let n_post = rows.ptr.len() - 1;
    let mean = w.len() / n_post.max(1);
    choose_frac_bits_rows(n_post, mean, |j| &w[rows.ptr[j]..rows.ptr[j + 1]]).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::draw_pair;

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
