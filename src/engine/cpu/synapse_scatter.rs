//! The CPU twin of the kernel family `synapse_scatter`
//! (shaders/synapse_scatter.wgsl): a sparse projection's sums of one step
//! from its spiking pre neurons. (`synapse_scatter_block` writes the same
//! sums a block at a time into per-step slots.)

use crate::simd::avx2_twin;

avx2_twin! {
    /// Kernel `synapse_scatter`, the sparse twin of [`synapse_accumulate`]:
    /// `acc[post] = sum of wq over the synapses of the pre neurons whose bit is
    /// set in `pre_spikes`` (word 0 of `pre_spikes` is word `first_word` of the
    /// population). Pre neuron `i` projects to `post[pre_ptr[i]..pre_ptr[i + 1]]`.
    /// The cost grows with spikes x fan-out.
    pub fn synapse_scatter(
        pre_ptr: &[usize],
        post: &[u32],
        wq: &[i32],
        pre_spikes: &[u32],
        first_word: usize,
        acc: &mut [i32],
    ) {
        acc.fill(0);
        for (w, &word) in pre_spikes.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let pre = (first_word + w) * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                for k in pre_ptr[pre]..pre_ptr[pre + 1] {
                    let a = &mut acc[post[k] as usize];
                    *a = a.wrapping_add(wq[k]);
                }
            }
        }
    }
}
