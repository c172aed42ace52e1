//! Counter-based Poisson input (docs/arithmetic.md §2.1).
//!
//! Every random number nacc draws is a pure function of `(seed, stream, a, b)`:
//! a few rounds of a 32-bit integer mixer, so the draw for a given neuron and
//! step never depends on chunk size, thread count or backend, and the same
//! function can run in WGSL (`shaders/rng.wgsl` will mirror [`hash4`] with
//! only `u32` multiplies, xors and shifts).
//!
//! A Poisson neuron with rate `r` (spikes per step, in `[0, 1]`) spikes at step
//! `t` when the top 24 bits of its draw are below `round(r * 2^24)`: an exact
//! integer comparison, so `r = 0` never spikes and `r = 1` always does.

use crate::simd::avx2_twin;

/// One round of Chris Wellons' `lowbias32` mixer (a bijection on `u32`).
#[inline(always)]
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The two 32-bit keys [`hash4`] mixes in for `seed` and `stream` (the GPU
/// kernels receive these).
#[inline(always)]
pub fn keys(seed: u64, stream: u32) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32 ^ stream]
}

/// The one random function of nacc: 32 well-mixed bits from a 64-bit seed,
/// a 32-bit stream id and two 32-bit counters.
#[inline(always)]
pub fn hash4(seed: u64, stream: u32, a: u32, b: u32) -> u32 {
    let [k0, k1] = keys(seed, stream);
    let mut h = mix32(b.wrapping_add(0x9e37_79b9));
    h = mix32(h ^ a.wrapping_add(0x85eb_ca6b));
    h = mix32(h ^ k1);
    mix32(h ^ k0)
}

/// A uniform f32 in `[0, 1)` with 24 random bits (every value exact).
#[inline]
pub fn unit_f32(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Stream id of a named object (FNV-1a of its name, then mixed with a
/// purpose tag), so that draws survive reordering the config file.
pub fn stream_id(name: &str, purpose: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    mix32(h ^ mix32(purpose))
}

/// Purpose tags for [`stream_id`].
pub mod purpose {
    pub const RATE: u32 = 1;
    pub const SPIKE: u32 = 2;
    pub const WEIGHT: u32 = 3;
    pub const BIAS: u32 = 4;
    pub const CONNECT: u32 = 5;
}

/// The integer threshold of a rate: spike iff `hash >> 8 < threshold`.
pub fn rate_threshold(rate: f32) -> u32 {
    (rate.clamp(0.0, 1.0) * 16_777_216.0).round() as u32
}

/// Per-neuron rates of a Poisson population, drawn once:
/// `r_i = lo + (hi - lo) * u_i`.
pub fn draw_rates(seed: u64, pop_name: &str, size: usize, lo: f32, hi: f32) -> Vec<f32> {
    let stream = stream_id(pop_name, purpose::RATE);
    (0..size)
        .map(|i| lo + (hi - lo) * unit_f32(hash4(seed, stream, i as u32, 0)))
        .collect()
}

avx2_twin! {
    /// Generates the spikes of one Poisson population for steps
    /// `first_step .. first_step + steps`, bit-packed: `words_per_step` words a
    /// step, bit `n % 32` of word `n / 32` for neuron `n`. `out` is overwritten.
    /// The draws of a word's 32 neurons are independent, so the compiler can
    /// compute them in vector lanes.
    pub fn poisson_chunk(
        seed: u64,
        stream: u32,
        thresholds: &[u32],
        first_step: u64,
        steps: usize,
        out: &mut [u32],
    ) {
        let wps = thresholds.len().div_ceil(32);
        debug_assert_eq!(out.len(), wps * steps);
        for (s, row) in out.chunks_exact_mut(wps.max(1)).take(steps).enumerate() {
            let step = (first_step + s as u64) as u32;
            for (w, (word, thr)) in row.iter_mut().zip(thresholds.chunks(32)).enumerate() {
                let mut bits = 0u32;
                for (i, &t) in thr.iter().enumerate() {
                    let n = (w * 32 + i) as u32;
                    bits |= (((hash4(seed, stream, n, step) >> 8) < t) as u32) << i;
                }
                *word = bits;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix32_is_not_identity_and_spreads_bits() {
        // Neighbouring inputs must differ in about half their bits.
        let mut total = 0;
        for x in 0..1000u32 {
            total += (mix32(x) ^ mix32(x + 1)).count_ones();
        }
        let mean = total as f64 / 1000.0;
        assert!((14.0..18.0).contains(&mean), "mean flipped bits {mean}");
    }

    #[test]
    fn rate_threshold_edges() {
        assert_eq!(rate_threshold(0.0), 0);
        assert_eq!(rate_threshold(1.0), 1 << 24);
        assert_eq!(rate_threshold(0.5), 1 << 23);
    }

    #[test]
    fn streams_differ_by_name_and_purpose() {
        assert_ne!(
            stream_id("input", purpose::RATE),
            stream_id("input", purpose::SPIKE)
        );
        assert_ne!(stream_id("a", purpose::RATE), stream_id("b", purpose::RATE));
    }
}
