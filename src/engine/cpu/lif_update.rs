//! The CPU twin of the kernel family `lif_update`
//! (shaders/lif_update.wgsl: `lif_update`, and `lif_block` for the steps of
//! a block, the same arithmetic per neuron and step).

use super::ProjectionState;
use crate::fixed::{fixed_to_f32, flush_subnormal};
use crate::network::{LifParams, Reset};
use crate::simd::avx2_twin;

/// snntorch `Leaky` (docs/arithmetic.md §2.3) for one neuron: the new membrane, with
/// subnormal results stored as +0.
#[inline]
pub fn membrane_step(lif: &LifParams, v: f32, input: f32, reset: bool) -> f32 {
    let r = reset as u32 as f32;
    let v = match lif.reset {
        Reset::Subtract => (lif.beta * v + input) - r * lif.threshold,
        Reset::Zero => {
            let kept = (1.0 - r) * v;
            lif.beta * kept + input
        }
        Reset::None => lif.beta * v + input,
    };
    flush_subnormal(v)
}

avx2_twin! {
    /// Kernel `lif_update`: forms each neuron's current from the incoming
    /// projections (`I = sign_1 * cur_1 + sign_2 * cur_2 + ...`, left to right,
    /// each `cur` times its gain when `gains` holds this step's, see
    /// [`crate::dopamine`]) into `current`,
    /// updates its membrane `v`, and writes its spike bit into `spikes`.
    /// Returns the first neuron whose membrane is no longer finite.
    /// Each neuron's arithmetic is the kernel's; the loops run over neurons
    /// (projection by projection, then a word of 32 neurons at a time) so that
    /// the compiler can use vector instructions.
    pub fn lif_update(
        lif: &LifParams,
        projections: &[ProjectionState],
        gains: Option<&[f32]>,
        incoming: &[usize],
        v: &mut [f32],
        current: &mut [f32],
        spikes_prev: &[u32],
        spikes: &mut [u32],
    ) -> Option<usize> {
        if incoming.is_empty() {
            current.fill(0.0);
        }
        for (k, &j) in incoming.iter().enumerate() {
            let c = &projections[j];
            let (hi, lo) = (c.q.scale_hi, c.q.scale_lo);
            // dopamine's gain (exactly 1 where unmodulated)
            let gain = gains.map(|g| g[j]);
            let terms = current.iter_mut().zip(&c.acc).zip(&c.bias);
            for ((i, &acc), &b) in terms {
                let mut cur = fixed_to_f32(acc, hi, lo) + b;
                if let Some(g) = gain {
                    cur *= g;
                }
                let term = if c.sign < 0 { -cur } else { cur };
                *i = if k == 0 { term } else { *i + term };
            }
        }
        let words = spikes.iter_mut().zip(spikes_prev);
        let neurons = v.chunks_mut(32).zip(current.chunks(32));
        for ((word, &prev), (v, current)) in words.zip(neurons) {
            let mut bits = 0u32;
            for (n, (v, &i)) in v.iter_mut().zip(current).enumerate() {
                *v = membrane_step(lif, *v, i, prev >> n & 1 == 1);
                bits |= ((*v - lif.threshold > 0.0) as u32) << n;
            }
            *word = bits;
        }
        // membranes were finite before this step (else the run stopped)
        v.iter().position(|v| !v.is_finite())
    }
}
