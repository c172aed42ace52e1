//! Runs split across processes: `mpirun -n R nacc run ...` (docs/mpi.md).
//!
//! Every rank owns a slice of every population that is not Poisson
//! ([`slice`]), with the incoming synapses of its neurons, so that every
//! sum is computed where its post neuron lives; Poisson input is a pure
//! function of (seed, population, neuron, step), so every rank draws the
//! whole of it and none is sent. The ranks exchange the bit-packed spikes
//! of each population once per sub-chunk ([`engine::SplitEngine`]); the
//! sums stay integers (docs/arithmetic.md §2), so the spikes, weights and
//! states are those of one process, bit for bit, for any rank count.
//!
//! [`Comm`] is what the ranks need of MPI: the `mpi` feature provides it
//! over the system's MPI library ([`mpi::World`]); the library itself has
//! no MPI dependency.

pub mod engine;
#[cfg(feature = "mpi")]
pub mod mpi;
mod stage;
pub mod trials;

pub use crate::engine::Exchanged;
pub use engine::SplitEngine;

use crate::error::{Error, Result, bad_value};
use crate::network::Network;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

/// The collective operations the ranks use. Every rank calls each one, in
/// the same order.
pub trait Comm: Send + Sync + std::fmt::Debug {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// This rank's number among the ranks of its node (which GPU it takes).
    fn local_rank(&self) -> usize;
    /// Every rank's `mine`, in rank order (lengths may differ).
    fn all_gather(&self, mine: &[u32]) -> Vec<Vec<u32>>;
    /// The largest `x` of any rank.
    fn max(&self, x: u64) -> u64;
    /// The MPI library, for summary.json.
    fn library(&self) -> String;
}

/// The ranks of a run, shared by everything that exchanges.
pub type Ranks = Arc<dyn Comm>;

/// The neurons of a population of `size` that rank `r` of `ranks` owns:
/// whole words of 32 neurons where every rank can have at least one (so
/// that spikes are exchanged by the word), else about `size / ranks`.
pub fn slice(size: usize, ranks: usize, r: usize) -> Range<usize> {
    let words = size.div_ceil(32);
    if words >= ranks {
        let (a, b) = (r * words / ranks, (r + 1) * words / ranks);
        (a * 32).min(size)..(b * 32).min(size)
    } else {
        r * size / ranks..(r + 1) * size / ranks
    }
}

/// Every rank must own at least one neuron of every population it
/// computes; and a plastic projection must not feed back (its pre trace
/// would need the spikes of the step before they are exchanged).
pub fn check_partition(net: &Network, ranks: usize) -> Result<()> {
    if ranks < 2 {
        return Ok(());
    }
    if let Some(p) = net
        .populations
        .iter()
        .find(|p| !p.is_poisson() && p.size < ranks)
    {
        return Err(bad_value(
            "mpirun -n",
            ranks,
            format!(
                "more ranks than the {} neurons of population `{}`: every rank owns a slice of every population; run on at most {} ranks (or --trials, which splits trials instead)",
                p.size, p.name, p.size
            ),
        ));
    }
    for p in &net.projections {
        if p.plasticity.is_some() && stage::feeds_back(net, p) {
            return Err(bad_value(
                "mpirun -n",
                ranks,
                format!(
                    "projection `{}` is plastic and feeds back (its pre population comes at or after its post in the update order): its learning needs the pre spikes of the same step, which the ranks exchange only after it; run it on one rank",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// One collective with a status: every rank hands in its payload or its
/// failure; all get every payload, or all get the same error naming the
/// first rank that failed.
pub(crate) fn gather(
    comm: &dyn Comm,
    mine: Result<Vec<u32>>,
    spent: &mut Exchanged,
) -> Result<Vec<Vec<u32>>> {
    // the payload, then a status word: 0, or 1 (2: bad input) after the
    // failure's text
    let msg = match mine {
        Ok(mut words) => {
            words.push(0);
            words
        }
        Err(e) => {
            let mut m = words_of(e.to_string().as_bytes());
            m.push(1 + matches!(e, Error::Input(_)) as u32);
            m
        }
    };
    let t = Instant::now();
    let all = comm.all_gather(&msg);
    spent.time += t.elapsed();
    spent.count += 1;
    spent.bytes += msg.len() as u64 * 4;
    for (r, m) in all.iter().enumerate() {
        if let Some((&status, text)) = m.split_last()
            && status != 0
        {
            let text = String::from_utf8_lossy(&bytes_of(text)).into_owned();
            let why = format!("rank {r} of {} failed: {text}", comm.size());
            return Err(match status {
                2 => Error::Input(why),
                _ => Error::Runtime(why),
            });
        }
    }
    Ok(all
        .into_iter()
        .map(|mut m| {
            m.pop();
            m
        })
        .collect())
}

/// `r`, agreed by every rank of `ranks` (when there are several): when it
/// failed anywhere, every rank fails, with its own error or one naming the
/// first rank that failed.
pub fn agree<T>(ranks: Option<&Ranks>, r: Result<T>) -> Result<T> {
    let Some(c) = ranks.filter(|c| c.size() > 1) else {
        return r;
    };
    let mut spent = Exchanged::default();
    match r {
        Ok(v) => gather(&**c, Ok(Vec::new()), &mut spent).map(|_| v),
        Err(e) => {
            let told = match &e {
                Error::Input(m) => Error::Input(m.clone()),
                other => Error::Runtime(other.to_string()),
            };
            let _ = gather(&**c, Err(told), &mut spent);
            Err(e)
        }
    }
}

/// Bytes as words (zero-padded), for a gather.
pub(crate) fn words_of(bytes: &[u8]) -> Vec<u32> {
    let mut w = vec![bytes.len() as u32];
    w.extend(bytes.chunks(4).map(|c| {
        let mut x = [0u8; 4];
        x[..c.len()].copy_from_slice(c);
        u32::from_le_bytes(x)
    }));
    w
}

/// The bytes of [`words_of`].
pub(crate) fn bytes_of(words: &[u32]) -> Vec<u8> {
    let len = words.first().copied().unwrap_or(0) as usize;
    let mut b: Vec<u8> = words[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
    b.truncate(len);
    b
}

/// Every rank must have been started with the same options (`args`: the
/// command line, less what may differ per rank): an error naming the
/// first rank whose differ, on every rank.
pub fn check_same_options(comm: &dyn Comm, args: &[String]) -> Result<()> {
    let mine = args.join("\u{1f}");
    let all = comm.all_gather(&words_of(mine.as_bytes()));
    let first = String::from_utf8_lossy(&bytes_of(&all[0])).into_owned();
    for (r, w) in all.iter().enumerate().skip(1) {
        let theirs = String::from_utf8_lossy(&bytes_of(w)).into_owned();
        if theirs != first {
            let show = |s: &str| s.replace('\u{1f}', " ");
            return Err(Error::Input(format!(
                "options differ between ranks: rank 0 has `{}`, rank {r} `{}`; every rank must run with the same options (only --backend, NACC_ADAPTER and the test hooks NACC_INJECT_* may differ)",
                show(&first),
                show(&theirs)
            )));
        }
    }
    Ok(())
}

/// The stop a signal asks for, agreed by every rank: the largest signal
/// number any rank received (0: none).
pub fn agreed_signal(comm: &dyn Comm, mine: usize) -> usize {
    comm.max(mine as u64) as usize
}

/// ORs the `len` bits of `src` (bit 0 of word 0 first; bits past `len`
/// zero) into `dst` from bit `at`.
pub(crate) fn place_bits(dst: &mut [u32], at: usize, src: &[u32]) {
    let (first, shift) = (at / 32, at % 32);
    for (w, &word) in src.iter().enumerate() {
        if word == 0 {
            continue;
        }
        dst[first + w] |= word << shift;
        if shift > 0 && first + w + 1 < dst.len() {
            dst[first + w + 1] |= word >> (32 - shift);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `len` bits of `src` from bit `at`, packed from bit 0.
    fn take_bits(src: &[u32], at: usize, len: usize) -> Vec<u32> {
        let mut out = vec![0u32; len.div_ceil(32)];
        for i in 0..len {
            let b = at + i;
            if src[b / 32] >> (b % 32) & 1 == 1 {
                out[i / 32] |= 1 << (i % 32);
            }
        }
        out
    }

    #[test]
    fn slices_cover_every_neuron_once() {
        for size in [1usize, 2, 5, 20, 31, 32, 33, 50, 100, 1000, 4097] {
            for ranks in 1..=size.min(9) {
                let mut next = 0;
                for r in 0..ranks {
                    let s = slice(size, ranks, r);
                    assert_eq!(s.start, next, "size {size} ranks {ranks} rank {r}");
                    assert!(!s.is_empty(), "size {size} ranks {ranks} rank {r}");
                    next = s.end;
                }
                assert_eq!(next, size);
            }
        }
        // word-aligned once every rank can have a word
        assert_eq!(slice(100, 2, 1), 64..100);
        assert_eq!(slice(50, 2, 1), 32..50);
        assert_eq!(slice(50, 3, 1), 16..33);
    }

    #[test]
    fn bits_placed_at_any_offset_come_back() {
        let src = vec![0xdead_beefu32, 0x0000_0005];
        for at in [0usize, 1, 5, 31, 32, 33, 63] {
            let mut dst = vec![0u32; 4];
            place_bits(&mut dst, at, &src);
            assert_eq!(take_bits(&dst, at, 35), src, "at {at}");
            // nothing outside the 35 bits
            let ones: u32 = dst.iter().map(|w| w.count_ones()).sum();
            assert_eq!(ones, 0xdead_beefu32.count_ones() + 2);
        }
    }
}
