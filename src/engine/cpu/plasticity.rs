//! The CPU twin of the kernels `plasticity` and `plasticity_traces`
//! (shaders/plasticity.wgsl; docs/arithmetic.md §4).

use crate::fixed::{MAX_STEP_CHANGE, TRACE_FLOOR, flush_below};
use crate::network::PlasticConsts;
use crate::threads::Threads;

/// The state of one plastic projection: traces and eligibilities.
#[derive(Debug, Clone, PartialEq)]
pub struct PlasticState {
    pub k: PlasticConsts,
    /// `elig[pre * n_post + post]`, like the weights.
    pub elig: Vec<f32>,
    pub x_pre: Vec<f32>,
    pub y_post: Vec<f32>,
    /// Scratch: whether each post neuron spiked this step.
    post_spiked: Vec<bool>,
}

impl PlasticState {
    pub fn new(k: PlasticConsts, n_pre: usize, n_post: usize) -> PlasticState {
        PlasticState {
            k,
            elig: vec![0.0; n_pre * n_post],
            x_pre: vec![0.0; n_pre],
            y_post: vec![0.0; n_post],
            post_spiked: vec![false; n_post],
        }
    }
}

#[inline]
fn bit(words: &[u32], n: usize) -> bool {
    words[n / 32] >> (n % 32) & 1 == 1
}

/// Kernel `plasticity` for one synapse: the new eligibility and
/// fixed-point weight from the old ones, the pre and post traces `(x, y)`
/// and whether pre and post spiked this step.
#[inline]
pub fn synapse_update(
    k: &PlasticConsts,
    (c, wq): (f32, i32),
    (x, y): (f32, f32),
    (pre, post): (bool, bool),
    eta: f32,
) -> (f32, i32) {
    let mut c = flush_below(c * k.decay_c, TRACE_FLOOR);
    if post {
        c = flush_below(c + k.a_plus * x, TRACE_FLOOR);
    }
    if pre {
        c = flush_below(c - k.a_minus * y, TRACE_FLOOR);
    }
    let dw = (eta * c).clamp(-MAX_STEP_CHANGE, MAX_STEP_CHANGE) as i32;
    (c, (wq + dw).clamp(k.wq_min, k.wq_max))
}

/// Kernel `plasticity_traces` for one neuron: `x * decay + s`.
#[inline]
pub fn trace_step(x: f32, decay: f32, spiked: bool) -> f32 {
    flush_below(x * decay + spiked as u32 as f32, TRACE_FLOOR)
}

/// Plastic projections of at least this many synapses split their update
/// across threads (each synapse's update depends on nothing but its own
/// state, so the result is the same whatever the count).
pub const PLASTIC_PARALLEL_MIN_SYNAPSES: usize = 1 << 16;

/// [`synapse_update`] for the synapses of one pre neuron (`c`, `w`: its
/// row), written without branches on the post spikes so that it
/// vectorises. The same numbers: where post j did not spike it adds +0 to a
/// `c` already floored, which changes nothing (a floored value is +0 or at
/// least 2^-64 in magnitude, never -0); tested against `synapse_update`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn synapse_row(
    k: &PlasticConsts,
    c: &mut [f32],
    w: &mut [i32],
    x: f32,
    y: &[f32],
    pre: bool,
    post: &[bool],
    eta: f32,
) {
    let ax = k.a_plus * x;
    let update = |c: f32, w: i32| {
        let dw = (eta * c).clamp(-MAX_STEP_CHANGE, MAX_STEP_CHANGE) as i32;
        (w + dw).clamp(k.wq_min, k.wq_max)
    };
    let n = c.len();
    let (w, y, post) = (&mut w[..n], &y[..n], &post[..n]);
    if pre {
        for j in 0..n {
            let mut cj = flush_below(c[j] * k.decay_c, TRACE_FLOOR);
            cj = flush_below(cj + if post[j] { ax } else { 0.0 }, TRACE_FLOOR);
            cj = flush_below(cj - k.a_minus * y[j], TRACE_FLOOR);
            c[j] = cj;
            w[j] = update(cj, w[j]);
        }
    } else {
        for j in 0..n {
            let mut cj = flush_below(c[j] * k.decay_c, TRACE_FLOOR);
            cj = flush_below(cj + if post[j] { ax } else { 0.0 }, TRACE_FLOOR);
            c[j] = cj;
            w[j] = update(cj, w[j]);
        }
    }
}

/// One step of a plastic projection (kernels `plasticity`, then
/// `plasticity_traces`): `wq` pre-major like the weights the engines read;
/// the pre neurons are split across `threads`.
pub fn plasticity_step(
    st: &mut PlasticState,
    wq: &mut [i32],
    pre_spikes: &[u32],
    post_spikes: &[u32],
    eta: f32,
    threads: &Threads,
) {
    let n_post = st.y_post.len();
    if n_post == 0 {
        return;
    }
    for (j, p) in st.post_spiked.iter_mut().enumerate() {
        *p = bit(post_spikes, j);
    }
    let (k, x_pre, y_post, post) = (&st.k, &st.x_pre, &st.y_post, &st.post_spiked);
    let rows = |elig: &mut [f32], wq: &mut [i32], first: usize| {
        let pairs = elig
            .chunks_exact_mut(n_post)
            .zip(wq.chunks_exact_mut(n_post));
        for (r, (c, w)) in pairs.enumerate() {
            let i = first + r;
            synapse_row(k, c, w, x_pre[i], y_post, bit(pre_spikes, i), post, eta);
        }
    };
    let n = threads.count().clamp(1, x_pre.len().max(1));
    if n == 1 {
        rows(&mut st.elig, wq, 0);
    } else {
        let per = x_pre.len().div_ceil(n);
        let rows = &rows;
        threads.scope(|sc| {
            let parts = st
                .elig
                .chunks_mut(per * n_post)
                .zip(wq.chunks_mut(per * n_post));
            for (t, (c, w)) in parts.enumerate() {
                sc.spawn(move |_| rows(c, w, t * per));
            }
        });
    }
    for (i, x) in st.x_pre.iter_mut().enumerate() {
        *x = trace_step(*x, st.k.decay_pre, bit(pre_spikes, i));
    }
    for (j, y) in st.y_post.iter_mut().enumerate() {
        *y = trace_step(*y, st.k.decay_post, bit(post_spikes, j));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row-wise, threaded update equals `synapse_update` synapse by
    /// synapse (and the traces `trace_step`), on random states that reach
    /// the floors and the bounds, with 1 to 3 threads.
    #[test]
    fn plasticity_step_equals_the_per_synapse_update() {
        let mut r = 0x1234_5678u32;
        let mut next = || {
            r = crate::input::mix32(r);
            r
        };
        for case in 0..24 {
            let (n_pre, n_post) = (1 + next() as usize % 200, 1 + next() as usize % 200);
            let k = PlasticConsts {
                decay_pre: 0.9,
                decay_post: 0.8,
                decay_c: [0.5, 0.99, 0.0][case % 3],
                a_plus: 0.7,
                a_minus: 0.45,
                wq_min: -(1 << 20),
                wq_max: 1 << 22,
            };
            let mut st = PlasticState::new(k, n_pre, n_post);
            for c in &mut st.elig {
                // magnitudes from ~2^-98 up: some below the floor
                *c = flush_below(f32::from_bits(next() & 0x8fff_ffff), TRACE_FLOOR);
            }
            for x in st.x_pre.iter_mut().chain(&mut st.y_post) {
                *x = (next() >> 8) as f32 / 16_777_216.0 * 3.0;
            }
            let mut wq: Vec<i32> = (0..n_pre * n_post)
                .map(|_| (next() % (5 << 20)) as i32 - (1 << 20))
                .collect();
            let pre: Vec<u32> = (0..n_pre.div_ceil(32)).map(|_| next() & next()).collect();
            let post: Vec<u32> = (0..n_post.div_ceil(32)).map(|_| next() & next()).collect();
            let eta = [0.0, 3.0e5, -1.0e9, 7.5][case % 4];
            let (mut want, mut want_wq) = (st.clone(), wq.clone());
            for i in 0..n_pre {
                for j in 0..n_post {
                    let s = i * n_post + j;
                    (want.elig[s], want_wq[s]) = synapse_update(
                        &k,
                        (want.elig[s], want_wq[s]),
                        (want.x_pre[i], want.y_post[j]),
                        (bit(&pre, i), bit(&post, j)),
                        eta,
                    );
                }
            }
            for (i, x) in want.x_pre.iter_mut().enumerate() {
                *x = trace_step(*x, k.decay_pre, bit(&pre, i));
            }
            for (j, y) in want.y_post.iter_mut().enumerate() {
                *y = trace_step(*y, k.decay_post, bit(&post, j));
            }
            let threads = crate::threads::Threads::new(1 + case % 3).unwrap();
            plasticity_step(&mut st, &mut wq, &pre, &post, eta, &threads);
            assert_eq!(wq, want_wq, "case {case}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&st.elig), bits(&want.elig), "case {case}");
            assert_eq!(bits(&st.x_pre), bits(&want.x_pre), "case {case}");
            assert_eq!(bits(&st.y_post), bits(&want.y_post), "case {case}");
            assert!(wq.iter().all(|w| (k.wq_min..=k.wq_max).contains(w)));
        }
    }
}
