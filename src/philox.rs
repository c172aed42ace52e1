//! Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and
//! Shaw ("Parallel random numbers: as easy as 1, 2, 3", SC 2011; Random123,
//! cuRAND's and PyTorch's counter-based generator): four 32-bit words from
//! a 128-bit counter and a 64-bit key, a pure function of both.
//!
//! This is the CPU twin of `philox4x32_10` in `shaders/pieces/philox.wgsl`. WGSL
//! has no 32 x 32 -> 64-bit multiply, so the kernel builds the high word
//! from 16-bit halves ([`mulhi_by_halves`], the same steps here); tests
//! hold both to the published Random123 known answers and the halves to
//! the 64-bit product. Every draw of nacc is a word of it
//! ([`crate::input::draw4`]).

/// The round multipliers.
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
/// The key schedule's increments (the golden ratio and sqrt(3) - 1).
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// The high and low words of `a * b`.
#[inline(always)]
pub fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// The high word of `a * b` from four 16 x 16-bit products, as the WGSL
/// kernel computes it (every intermediate fits 32 bits).
#[inline(always)]
pub fn mulhi_by_halves(a: u32, b: u32) -> u32 {
    let (ah, al) = (a >> 16, a & 0xFFFF);
    let (bh, bl) = (b >> 16, b & 0xFFFF);
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    // the carry out of the low word: (ll >> 16) + low halves of the cross terms
    let mid = (ll >> 16) + (lh & 0xFFFF) + (hl & 0xFFFF);
    hh + (lh >> 16) + (hl >> 16) + (mid >> 16)
}

/// One round: two multiplications, the Feistel-like exchange.
#[inline(always)]
fn round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(M0, c[0]);
    let (hi1, lo1) = mulhilo(M1, c[2]);
    [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
}

/// Philox4x32 with 10 rounds: the key is bumped by (W0, W1) between
/// rounds.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        c = round(c, k);
    }
    c
}

/// [`philox4x32_10`] of `L` counters at once, word by word in lanes
/// (`c[w][l]` is word `w` of counter `l`): the same values, in loops over
/// lanes that the compiler turns into vector instructions (the 32 x 32 ->
/// 64-bit products as `vpmuludq` under AVX2).
#[inline(always)]
pub fn philox4x32_10_lanes<const L: usize>(c: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = c;
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (mut n0, mut n1, mut n2, mut n3) = ([0u32; L], [0u32; L], [0u32; L], [0u32; L]);
        for l in 0..L {
            let p0 = M0 as u64 * c0[l] as u64;
            let p1 = M1 as u64 * c2[l] as u64;
            n0[l] = (p1 >> 32) as u32 ^ c1[l] ^ k[0];
            n1[l] = p1 as u32;
            n2[l] = (p0 >> 32) as u32 ^ c3[l] ^ k[1];
            n3[l] = p0 as u32;
        }
        (c0, c1, c2, c3) = (n0, n1, n2, n3);
    }
    [c0, c1, c2, c3]
}

/// Random123's kat_vectors for philox4x32 with 10 rounds: counter (4
/// words), key (2 words), output (4 words).
pub const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0, 0, 0, 0],
        [0, 0],
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
    ),
    (
        [u32::MAX; 4],
        [u32::MAX; 2],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
    ),
    (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
        [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_gives_random123_s_known_answers() {
        for (c, k, want) in KNOWN_ANSWERS {
            assert_eq!(philox4x32_10(c, k), want, "counter {c:08x?} key {k:08x?}");
        }
    }

    #[test]
    fn lanes_give_the_words_of_one_call_each() {
        let c: [[u32; 8]; 4] = std::array::from_fn(|w| {
            std::array::from_fn(|l| (l * 977 + w * 31) as u32 ^ 0xdead_beef)
        });
        let key = [0x1234_5678, 0x9abc_def0];
        let lanes = philox4x32_10_lanes(c, key);
        for l in 0..8 {
            let one = philox4x32_10([c[0][l], c[1][l], c[2][l], c[3][l]], key);
            assert_eq!(
                [lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]],
                one,
                "lane {l}"
            );
        }
    }

    #[test]
    fn the_high_word_by_halves_is_the_high_word_of_the_product() {
        let extremes = [
            0,
            1,
            2,
            0xFFFF,
            0x1_0000,
            0x8000_0000,
            u32::MAX - 1,
            u32::MAX,
            M0,
            M1,
        ];
        for &a in &extremes {
            for &b in &extremes {
                assert_eq!(mulhi_by_halves(a, b), mulhilo(a, b).0, "{a:#x} * {b:#x}");
            }
        }
        // and a million products of well-spread operands
        let mut x = 1u32;
        for i in 0..1_000_000u32 {
            let [a, b, _, _] = philox4x32_10([i, x, 0, 0], [7, 9]);
            assert_eq!(mulhi_by_halves(a, b), mulhilo(a, b).0, "{a:#x} * {b:#x}");
            x = a;
        }
    }
}
