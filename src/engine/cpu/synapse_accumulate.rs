//! The CPU twins of the kernel family `synapse_accumulate`
//! (shaders/synapse_accumulate.wgsl): [`synapse_accumulate`] (a dense
//! projection's sums of one step) and [`synapse_accumulate_steps`] (twin of
//! `synapse_block`: a block of steps at once).

use super::{BLOCK_STEPS, ProjectionState, Threads};
use crate::simd::avx2_twin;

/// Posts a tile of [`synapse_accumulate_steps`] holds: `BLOCK_STEPS` sums of
/// 256 posts are 16 KiB, half an L1 cache, the rest for the weights (the
/// sizes tried: docs/design-log.md).
const TILE_POSTS: usize = 256;

/// How many rows ahead [`synapse_accumulate_steps`] prefetches: a row's
/// tile is a short run of a long stride, which the hardware prefetcher
/// does not anticipate. 1 to 4 ran alike, 8 and 16 slower.
const PREFETCH_AHEAD: usize = 2;

avx2_twin! {
    /// Kernel `synapse_accumulate`: `acc[post] = sum of weights[pre][post] over
    /// the pre neurons whose bit is set in `pre_spikes`` (docs/arithmetic.md §2.2), for the
    /// posts `first_post .. first_post + acc.len()` of `n_post`. Integer
    /// addition is exact and the weights were quantised so that no sum reaches
    /// 2^31, so the order of the terms does not matter.
    pub fn synapse_accumulate(
        weights: &[i32],
        n_post: usize,
        first_post: usize,
        pre_spikes: &[u32],
        acc: &mut [i32],
    ) {
        acc.fill(0);
        for (w, &word) in pre_spikes.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let pre = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let row = &weights[pre * n_post + first_post..][..acc.len()];
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a = a.wrapping_add(x);
                }
            }
        }
    }
}

/// The sums of `t_n` consecutive steps of a dense projection from a Poisson
/// population into `proj.block`, the posts split across `threads`;
/// `rows` holds the pre population's spikes of those steps, `wps` words a
/// step.
pub(super) fn sum_block(
    proj: &mut ProjectionState,
    rows: &[u32],
    wps: usize,
    t_n: usize,
    threads: &Threads,
) {
    // once for all threads
    let list = spike_list(rows, wps, t_n);
    proj.sum_in_parts(threads, |q, first, part| {
        synapse_accumulate_steps(&q.wq, q.n_post, first, &list, t_n, part)
    });
}

/// The pre neurons that spike in `t_n` consecutive steps (`rows`, `wps`
/// words a step), each with the steps in which it spikes as bits: the list
/// [`synapse_accumulate_steps`] reads (the kernels' `list_block`).
pub fn spike_list(rows: &[u32], wps: usize, t_n: usize) -> Vec<(usize, u32)> {
    let mut list = Vec::new();
    for w in 0..wps {
        let any = (0..t_n).fold(0, |a, t| a | rows[t * wps + w]);
        let mut bits = any;
        while bits != 0 {
            let b = bits.trailing_zeros();
            bits &= bits - 1;
            let mask = (0..t_n).fold(0u32, |m, t| m | ((rows[t * wps + w] >> b) & 1) << t);
            list.push((w * 32 + b as usize, mask));
        }
    }
    list
}

avx2_twin! {
    /// [`synapse_accumulate`] for `t_n` consecutive steps at once (kernel
    /// `synapse_block`):
    /// `out[t * len + i]` (`len = out.len() / BLOCK_STEPS`) is the sum of step
    /// `t` for post `first_post + i`, over the `(pre, steps)` pairs of `list`,
    /// where bit `t` of `steps` says pre spikes at step `t`. Each weight row is
    /// read once for the block, a tile of posts at a time; the sums are the same
    /// integers as step by step.
    pub fn synapse_accumulate_steps(
        weights: &[i32],
        n_post: usize,
        first_post: usize,
        list: &[(usize, u32)],
        t_n: usize,
        out: &mut [i32],
    ) {
        let len = out.len() / BLOCK_STEPS;
        out[..t_n * len].fill(0);
        for tile in (0..len).step_by(TILE_POSTS) {
            let tl = TILE_POSTS.min(len - tile);
            for (i, &(pre, steps)) in list.iter().enumerate() {
                if let Some(&(ahead, _)) = list.get(i + PREFETCH_AHEAD) {
                    crate::simd::prefetch(&weights[ahead * n_post + first_post + tile..][..tl]);
                }
                let row = &weights[pre * n_post + first_post + tile..][..tl];
                let mut m = steps;
                while m != 0 {
                    let t = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let acc = &mut out[t * len + tile..][..tl];
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a = a.wrapping_add(x);
                    }
                }
            }
        }
    }
}
