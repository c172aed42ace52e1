//! The CPU twins of the kernel family `synapse_gather`
//! (shaders/block_masks.wgsl, shaders/synapse_gather.wgsl): the steps of a
//! block in which each pre neuron spikes ([`block_masks`]), then each post
//! neuron's sums of the block from its synapses ([`synapse_gather`]).

use super::{BLOCK_STEPS, ProjectionState, Threads};
use crate::simd::avx2_twin;

/// Kernel `block_masks`: `masks[pre]` gets bit `t` where pre neuron `pre`
/// spikes at step `t < t_n` of the block; `rows` holds the pre
/// population's spikes of those steps, `wps` words a step.
pub fn block_masks(rows: &[u32], wps: usize, t_n: usize, masks: &mut [u16]) {
    masks.fill(0);
    for t in 0..t_n {
        for (w, &word) in rows[t * wps..(t + 1) * wps].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                masks[w * 32 + bits.trailing_zeros() as usize] |= 1 << t;
                bits &= bits - 1;
            }
        }
    }
}

/// The sums of `t_n` consecutive steps of a sparse projection held by post
/// (`proj.q.by_post()`) into `proj.block`, the posts split across
/// `threads`; `rows` holds the pre population's spikes of those steps,
/// `wps` words a step.
pub(super) fn gather_block(
    proj: &mut ProjectionState,
    rows: &[u32],
    wps: usize,
    t_n: usize,
    threads: &Threads,
) {
    let mut masks = std::mem::take(&mut proj.masks);
    masks.resize(proj.q.n_pre, 0);
    block_masks(rows, wps, t_n, &mut masks);
    proj.sum_in_parts(threads, |q, first, part| {
        let rows = q.rows.as_deref().expect("synapses by post");
        synapse_gather(&rows.ptr, &rows.pre, &q.wq, &masks, first, t_n, part)
    });
    proj.masks = masks;
}

/// Each byte of a mask of steps as 8 lanes, all ones where its bit is set:
/// `w & EXPAND[m][t]` is `w` when bit `t` of `m` is set, else 0.
static EXPAND: [[i32; 8]; 256] = {
    let mut e = [[0i32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut t = 0;
        while t < 8 {
            e[m][t] = -((m >> t & 1) as i32);
            t += 1;
        }
        m += 1;
    }
    e
};

avx2_twin! {
    /// Kernel `synapse_gather`: for the posts `first_post ..` (`len =
    /// out.len() / BLOCK_STEPS` of them), `out[t * len + i]` is the sum of
    /// step `t < t_n` over the synapses of post `first_post + i` (`pre` and
    /// `wq` by post, from `ptr`) whose pre neuron has bit `t` set in
    /// `masks`. Each synapse is read once for the block and added to every
    /// step's sum ANDed with that step's lane of [`EXPAND`] (16 lanes, two
    /// table rows, no multiply: 1.4x faster with AVX2, 2.6x with SSE2, which
    /// has no 32-bit vector multiply); the same integers as step by step.
    pub fn synapse_gather(
        ptr: &[usize],
        pre: &[u32],
        wq: &[i32],
        masks: &[u16],
        first_post: usize,
        t_n: usize,
        out: &mut [i32],
    ) {
        let len = out.len() / BLOCK_STEPS;
        for i in 0..len {
            let j = first_post + i;
            let mut sums = [0i32; BLOCK_STEPS];
            for k in ptr[j]..ptr[j + 1] {
                let (m, w) = (masks[pre[k] as usize], wq[k]);
                let (lo, hi) = (&EXPAND[(m & 0xFF) as usize], &EXPAND[(m >> 8) as usize]);
                for t in 0..8 {
                    sums[t] = sums[t].wrapping_add(w & lo[t]);
                    sums[8 + t] = sums[8 + t].wrapping_add(w & hi[t]);
                }
            }
            for (t, &s) in sums.iter().enumerate().take(t_n) {
                out[t * len + i] = s;
            }
        }
    }
}
