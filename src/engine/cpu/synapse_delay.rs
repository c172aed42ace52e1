//! The CPU twin of the kernel family `synapse_delay`
//! (shaders/synapse_delay.wgsl): the ring of a delayed projection's sums
//! (docs/arithmetic.md §2.4). A projection whose spikes arrive `d >= 1`
//! steps after they are emitted adds the sums of step `t` to its post
//! neurons' slot `(t + d) mod R`; at step `t` the post population takes slot
//! `t mod R` and clears it. Integer sums: the order of the additions does not
//! matter, so neither does which engine or thread makes them.

use crate::simd::avx2_twin;
use crate::threads::Threads;

/// A delayed projection's future sums: `R` slots of one integer per post
/// neuron, `R` a power of two (so that the slot of a step survives the
/// 32-bit wrap of the GPU's step counter); slot `s` at `sums[s * n_post..]`,
/// as on the GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    pub sums: Vec<i32>,
    pub n_post: usize,
    /// R - 1.
    pub mask: u64,
}

impl Ring {
    pub fn new(slots: usize, n_post: usize) -> Ring {
        debug_assert!(slots.is_power_of_two());
        Ring {
            sums: vec![0; slots * n_post],
            n_post,
            mask: slots as u64 - 1,
        }
    }

    fn slot(&mut self, step: u64) -> &mut [i32] {
        let s = (step & self.mask) as usize;
        &mut self.sums[s * self.n_post..(s + 1) * self.n_post]
    }

    /// What `lif_update` reads of a delayed projection on the GPU: the sums
    /// arriving at `step` into `acc`, their slot cleared.
    pub fn take(&mut self, step: u64, acc: &mut [i32]) {
        let slot = self.slot(step);
        acc.copy_from_slice(slot);
        slot.fill(0);
    }

    /// Kernel `synapse_delay`: the sums of the spikes of `step` (`acc`), all
    /// arriving `delay` steps later, added to their slot.
    pub fn push(&mut self, step: u64, delay: u32, acc: &[i32]) {
        add(self.slot(step + delay as u64), acc);
    }
}

avx2_twin! {
    fn add(slot: &mut [i32], acc: &[i32]) {
        for (s, &a) in slot.iter_mut().zip(acc) {
            *s = s.wrapping_add(a);
        }
    }
}

/// A sparse projection's synapses, pre-major, with their delays: pre `i`
/// projects to `post[pre_ptr[i]..pre_ptr[i + 1]]`, sorted by delay (then
/// post), as [`crate::network::Quantized::with_delays`] holds them.
pub type Delayed<'a> = (&'a [usize], &'a [u32], &'a [i32], &'a [u8]);

/// Kernel `synapse_scatter` with per-synapse delays: each synapse of a pre
/// neuron spiking at `step` (a bit of `pre_spikes`) adds its weight to its
/// post's sum in the slot of `step + delays[k]`, the delays within
/// `lo..=hi`. A pre neuron's synapses of one delay are a run that goes to
/// one slot; `threads` each take a range of delays, so they add to slots
/// of their own.
pub fn scatter_delayed(
    ring: &mut Ring,
    (pre_ptr, post, wq, delays): Delayed,
    pre_spikes: &[u32],
    step: u64,
    (lo, hi): (u32, u32),
    threads: &Threads,
) {
    let n_post = ring.n_post.max(1);
    let span = (hi - lo + 1) as usize;
    let parts = threads.count().min(span);
    // each slot once, to the thread whose delays reach it (delays differ
    // by less than R, so their slots differ)
    let mut slots: Vec<Option<&mut [i32]>> = ring.sums.chunks_mut(n_post).map(Some).collect();
    let slot_of = |d: u32| ((step + d as u64) & ring.mask) as usize;
    let mut work: Vec<(u32, Vec<&mut [i32]>)> = (0..parts)
        .map(|k| {
            let (a, b) = (
                lo + (k * span / parts) as u32,
                lo + ((k + 1) * span / parts) as u32,
            );
            let mine = (a..b)
                .map(|d| slots[slot_of(d)].take().expect("one owner"))
                .collect();
            (a, mine)
        })
        .collect();
    let scatter = |first: u32, mine: &mut [&mut [i32]]| {
        let last = first + mine.len() as u32 - 1;
        for (w, &word) in pre_spikes.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let pre = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (start, end) = (pre_ptr[pre], pre_ptr[pre + 1]);
                let mut k = start + delays[start..end].partition_point(|&d| (d as u32) < first);
                while k < end && delays[k] as u32 <= last {
                    let d = delays[k];
                    let run = k + delays[k..end].partition_point(|&x| x == d);
                    let slot = &mut *mine[(d as u32 - first) as usize];
                    for (&p, &x) in post[k..run].iter().zip(&wq[k..run]) {
                        let a = &mut slot[p as usize];
                        *a = a.wrapping_add(x);
                    }
                    k = run;
                }
            }
        }
    };
    if let [(first, mine)] = &mut work[..] {
        return scatter(*first, mine);
    }
    let scatter = &scatter;
    threads.scope(|sc| {
        for (first, mine) in work.iter_mut() {
            let first = *first;
            sc.spawn(move |_| scatter(first, mine));
        }
    });
}

/// The spikes of a plastic projection's pre population as they arrive: a
/// ring of `R` rows of spike words, row `t mod R` written at step `t`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeRing {
    rows: Vec<u32>,
    words: usize,
    mask: u64,
}

impl SpikeRing {
    pub fn new(slots: usize, words: usize) -> SpikeRing {
        SpikeRing {
            rows: vec![0; slots * words],
            words,
            mask: slots as u64 - 1,
        }
    }

    /// Stores the spikes of `step`, and returns those of `step - delay`
    /// (none before the run began).
    pub fn arrived(&mut self, step: u64, delay: u32, spikes: &[u32]) -> &[u32] {
        let w = self.words;
        let s = (step & self.mask) as usize;
        self.rows[s * w..(s + 1) * w].copy_from_slice(spikes);
        let a = (step.wrapping_sub(delay as u64) & self.mask) as usize;
        &self.rows[a * w..(a + 1) * w]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On any number of threads, each synapse of a spiking pre neuron adds
    /// its weight to slot `step + delay` of its post (written out here
    /// synapse by synapse), and nothing else changes.
    #[test]
    fn scatter_delayed_adds_each_weight_at_its_delay_on_any_thread_count() {
        let (n_pre, n_post, slots) = (70usize, 50usize, 16usize);
        let mut x = 0x2545F491u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        // each pre neuron's synapses sorted by delay, then post
        let (mut ptr, mut post, mut wq, mut delays) = (vec![0], vec![], vec![], vec![]);
        for _ in 0..n_pre {
            let mut row: Vec<(u8, u32, i32)> = Vec::new();
            for p in 0..n_post as u32 {
                if next() % 3 == 0 {
                    row.push(((2 + next() % 9) as u8, p, (next() % 2001) as i32 - 1000));
                }
            }
            row.sort_unstable();
            for (d, p, w) in row {
                delays.push(d);
                post.push(p);
                wq.push(w);
            }
            ptr.push(post.len());
        }
        let mut spikes: Vec<u32> = (0..n_pre.div_ceil(32)).map(|_| next()).collect();
        // bits past the population clear, as an engine's are
        spikes[n_pre / 32] &= (1 << (n_pre % 32)) - 1;
        let step = u32::MAX as u64 - 3; // its slots wrap
        let mut want = vec![7i32; slots * n_post];
        for i in 0..n_pre {
            if spikes[i / 32] >> (i % 32) & 1 == 1 {
                for k in ptr[i]..ptr[i + 1] {
                    let s = ((step + delays[k] as u64) % slots as u64) as usize;
                    want[s * n_post + post[k] as usize] += wq[k];
                }
            }
        }
        for threads in [1, 2, 3, 9, 20] {
            let mut ring = Ring::new(slots, n_post);
            ring.sums.fill(7);
            let synapses = (&ptr[..], &post[..], &wq[..], &delays[..]);
            let pool = Threads::new(threads).unwrap();
            scatter_delayed(&mut ring, synapses, &spikes, step, (2, 10), &pool);
            assert_eq!(ring.sums, want, "{threads} threads");
        }
    }
}
