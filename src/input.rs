//! Counter-based random draws and Poisson input (docs/arithmetic.md §2.1,
//! §6).
//!
//! Every random number nacc draws is a word of Philox4x32-10
//! ([`crate::philox`]) of the counter `(a, b, stream, 0)` under the key
//! `(low, high 32 bits of the seed)`: a pure function of the seed, the
//! object drawn for (`stream`, from its name) and two indices, so the draw
//! for a given neuron and step never depends on chunk size, thread count or
//! backend, and the WGSL kernels compute the same words. A call gives four
//! words: consecutive indices share a call (`a` or `b` is the index over
//! 4, the word its remainder).
//!
//! A Poisson neuron with rate `r` (spikes per step, in `[0, 1]`) spikes at step
//! `t` when the top 24 bits of its draw are below `round(r * 2^24)`: an exact
//! integer comparison, so `r = 0` never spikes and `r = 1` always does.

use crate::philox::{philox4x32_10, philox4x32_10_lanes};
use crate::simd::avx2_twin;

/// The generator every draw comes from, as `config.toml` and
/// `summary.json` name it.
pub const GENERATOR: &str = "philox4x32-10";

/// One round of Chris Wellons' `lowbias32` mixer (a bijection on `u32`),
/// for the stream ids of names (not for draws).
#[inline(always)]
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The key (low and high words of the seed) and stream of the draws for
/// `stream` under `seed`, as the GPU kernels receive them: `[key0, key1,
/// stream, 0]`.
#[inline(always)]
pub fn key_words(seed: u64, stream: u32) -> [u32; 4] {
    [seed as u32, (seed >> 32) as u32, stream, 0]
}

/// The four words of the call `(a, b)` of `stream` under `seed`.
#[inline(always)]
pub fn draw4(seed: u64, stream: u32, a: u32, b: u32) -> [u32; 4] {
    philox4x32_10([a, b, stream, 0], [seed as u32, (seed >> 32) as u32])
}

/// The draw of index `i` in a run of indices that share calls four at a
/// time: word `i % 4` of call `(i / 4, b)`.
#[inline(always)]
pub fn draw_at(seed: u64, stream: u32, i: u32, b: u32) -> u32 {
    draw4(seed, stream, i >> 2, b)[(i & 3) as usize]
}

/// The draw of pair `(j, i)` (post, pre): word `i % 4` of call `(j, i / 4)`.
#[inline(always)]
pub fn draw_pair(seed: u64, stream: u32, j: u32, i: u32) -> u32 {
    draw4(seed, stream, j, i >> 2)[(i & 3) as usize]
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
    pub const DELAY: u32 = 6;
}

/// The integer threshold of a rate: spike iff `hash >> 8 < threshold`.
pub fn rate_threshold(rate: f32) -> u32 {
    (rate.clamp(0.0, 1.0) * 16_777_216.0).round() as u32
}

/// Per-neuron rates of a Poisson population, drawn once:
/// `r_i = lo + (hi - lo) * u_i`, `u_i` from [`draw_at`]`(i, 0)`.
pub fn draw_rates(seed: u64, pop_name: &str, size: usize, lo: f32, hi: f32) -> Vec<f32> {
    let stream = stream_id(pop_name, purpose::RATE);
    (0..size)
        .map(|i| lo + (hi - lo) * unit_f32(draw_at(seed, stream, i as u32, 0)))
        .collect()
}

/// The calls `(first + l, step)` of `stream` for lanes `l < L`.
#[inline(always)]
fn philox_calls<const L: usize>(
    first: u32,
    step: u32,
    stream: u32,
    key: [u32; 2],
) -> [[u32; L]; 4] {
    philox4x32_10_lanes::<L>(
        [
            std::array::from_fn(|g| first + g as u32),
            [step; L],
            [stream; L],
            [0; L],
        ],
        key,
    )
}

/// `L` lanes of words in the first lanes of 32.
#[inline(always)]
fn spread<const L: usize>(d: [[u32; L]; 4]) -> [[u32; 32]; 4] {
    d.map(|w| std::array::from_fn(|l| if l < L { w[l] } else { 0 }))
}

avx2_twin! {
    /// Generates the spikes of one Poisson population for steps
    /// `first_step .. first_step + steps`, bit-packed: `words_per_step` words a
    /// step, bit `n % 32` of word `n / 32` for neuron `n`. `out` is overwritten.
    /// Neuron `n` at step `t` takes word `n % 4` of the call `(n / 4, t)`
    /// ([`draw_at`]): four words of 32 neurons are 32 calls, independent of
    /// each other, computed in vector lanes.
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
            let key = [seed as u32, (seed >> 32) as u32];
            // four words (32 calls) at a time in lanes, so that the rounds of
            // independent calls overlap; fewer lanes for a short last part
            for (q, (words, thr)) in row.chunks_mut(4).zip(thresholds.chunks(128)).enumerate() {
                let first = (q * 32) as u32;
                let d = match thr.len().div_ceil(4) {
                    1 => spread(philox_calls::<1>(first, step, stream, key)),
                    2 => spread(philox_calls::<2>(first, step, stream, key)),
                    3 | 4 => spread(philox_calls::<4>(first, step, stream, key)),
                    5..=8 => spread(philox_calls::<8>(first, step, stream, key)),
                    9..=16 => spread(philox_calls::<16>(first, step, stream, key)),
                    _ => philox_calls::<32>(first, step, stream, key),
                };
                for (w, (word, thr)) in words.iter_mut().zip(thr.chunks(32)).enumerate() {
                    let mut bits = 0u32;
                    if let Ok(thr) = <&[u32; 32]>::try_from(thr) {
                        // neuron order (a fixed shuffle), then 32 comparisons
                        let flat: [u32; 32] = std::array::from_fn(|i| d[i % 4][w * 8 + i / 4]);
                        for i in 0..32 {
                            bits |= (((flat[i] >> 8) < thr[i]) as u32) << i;
                        }
                    } else {
                        for (i, &t) in thr.iter().enumerate() {
                            bits |= (((d[i % 4][w * 8 + i / 4] >> 8) < t) as u32) << i;
                        }
                    }
                    *word = bits;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws are Philox words: the counter and key as documented.
    #[test]
    fn draws_are_the_documented_philox_words() {
        let seed = 0x0123_4567_89ab_cdef_u64;
        let want = crate::philox::philox4x32_10([5, 9, 77, 0], [0x89ab_cdef, 0x0123_4567]);
        assert_eq!(draw4(seed, 77, 5, 9), want);
        assert_eq!(draw_at(seed, 77, 22, 9), want[2]);
        assert_eq!(draw_pair(seed, 77, 5, 39), want[3]);
        assert_eq!(key_words(seed, 77), [0x89ab_cdef, 0x0123_4567, 77, 0]);
    }

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
