//! Bit-packed spike recording: one bit per neuron per step, `ceil(N/32)`
//! words a step (GeNN's layout), plus per-neuron counts for rates.
//! 1 M neurons x 10 k steps take 1.25 GB.

use crate::error::Result;
use crate::network::Network;

/// The spikes of one population over the recorded steps.
#[derive(Debug, Clone, PartialEq)]
pub struct PopRecord {
    pub size: usize,
    pub words_per_step: usize,
    /// `bits[t * words_per_step + n / 32] >> (n % 32) & 1`
    pub bits: Vec<u32>,
    /// Spikes per neuron.
    pub counts: Vec<u32>,
}

/// Adds the spikes of packed steps (`wps` words each) to per-neuron counts.
fn add_counts(counts: &mut [u32], bits: &[u32], wps: usize) {
    for step in bits.chunks_exact(wps.max(1)) {
        for (w, &word) in step.iter().enumerate() {
            let mut x = word;
            while x != 0 {
                counts[w * 32 + x.trailing_zeros() as usize] += 1;
                x &= x - 1;
            }
        }
    }
}

/// Packs rows of 0/1 bytes (`data[t * n + i]`) into words, 32 neurons a word.
pub fn pack_rows(data: &[u8], n: usize) -> Vec<u32> {
    let wps = n.div_ceil(32);
    let steps = data.len().checked_div(n).unwrap_or(0);
    let mut bits = vec![0u32; steps * wps];
    for (t, row) in data.chunks_exact(n.max(1)).enumerate() {
        for (i, &x) in row.iter().enumerate() {
            bits[t * wps + i / 32] |= ((x != 0) as u32) << (i % 32);
        }
    }
    bits
}

/// One step's packed spikes as 0/1 bytes: `out[n]` is bit `n` of `words`.
pub fn unpack_row(words: &[u32], out: &mut [u8]) {
    for (n, o) in out.iter_mut().enumerate() {
        *o = (words[n / 32] >> (n % 32) & 1) as u8;
    }
}

/// One step's packed spikes (`words`, `size` neurons) as bytes of 8
/// neurons: bit `n % 8` of byte `n / 8` for neuron `n`, NumPy's
/// `packbits(..., bitorder="little")`. These are the words' little-endian
/// bytes, cut to `ceil(size / 8)` (bits past the last neuron are 0).
pub fn packed_row(words: &[u32], size: usize, out: &mut [u8]) {
    let n_bytes = size.div_ceil(8);
    for (k, o) in out[..n_bytes].iter_mut().enumerate() {
        *o = (words[k / 4] >> (8 * (k % 4))) as u8;
    }
    if !size.is_multiple_of(8) {
        out[n_bytes - 1] &= (1u8 << (size % 8)) - 1;
    }
}

/// The words of rows of packed bytes (`ceil(size / 8)` a row, as
/// [`packed_row`] writes them), 32 neurons a word; bits past the last
/// neuron are dropped.
pub fn words_from_packed(data: &[u8], size: usize) -> Vec<u32> {
    let (n_bytes, wps) = (size.div_ceil(8), size.div_ceil(32));
    let steps = data.len().checked_div(n_bytes).unwrap_or(0);
    let mut bits = vec![0u32; steps * wps];
    for (t, row) in data.chunks_exact(n_bytes.max(1)).enumerate() {
        for (k, &b) in row.iter().enumerate() {
            bits[t * wps + k / 4] |= (b as u32) << (8 * (k % 4));
        }
        if !size.is_multiple_of(32) {
            bits[t * wps + wps - 1] &= (1u32 << (size % 32)) - 1;
        }
    }
    bits
}

impl PopRecord {
    /// A record from packed bits, counting every neuron's spikes.
    pub fn from_bits(size: usize, bits: Vec<u32>) -> PopRecord {
        let wps = size.div_ceil(32);
        let mut counts = vec![0u32; size];
        add_counts(&mut counts, &bits, wps);
        PopRecord {
            size,
            words_per_step: wps,
            bits,
            counts,
        }
    }

    pub fn spiked(&self, step: usize, neuron: usize) -> bool {
        self.bits[step * self.words_per_step + neuron / 32] >> (neuron % 32) & 1 == 1
    }

    pub fn steps(&self) -> usize {
        self.bits
            .len()
            .checked_div(self.words_per_step)
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| c as u64).sum()
    }

    /// Every step as rows of a spikes file (`spikes_<pop>.npy`, see
    /// `export::spikes_file`): 0/1 bytes, one per neuron, or with
    /// `packed` 8 neurons a byte; `out` holds `steps * row` bytes. Rows are
    /// filled on every thread.
    pub fn write_rows(&self, packed: bool, out: &mut [u8]) {
        use rayon::prelude::*;
        let row = if packed {
            self.size.div_ceil(8)
        } else {
            self.size
        };
        let wps = self.words_per_step;
        out.par_chunks_mut(row.max(1))
            .zip(self.bits.par_chunks(wps.max(1)))
            .for_each(|(o, words)| match packed {
                true => packed_row(words, self.size, o),
                false => unpack_row(words, o),
            });
    }

    /// Step `t` as 0/1 bytes, one per neuron.
    pub fn row_u8(&self, t: usize, out: &mut [u8]) {
        let words = &self.bits[t * self.words_per_step..][..self.words_per_step];
        unpack_row(words, &mut out[..self.size]);
    }

    /// Fraction of neurons that spiked at least once.
    pub fn active_fraction(&self) -> f64 {
        self.counts.iter().filter(|&&c| c > 0).count() as f64 / self.size as f64
    }

    /// Mean rate in Hz: spikes / (neurons x steps x dt).
    pub fn mean_rate_hz(&self, dt_ms: f64) -> f64 {
        self.rate_over(self.steps(), dt_ms)
    }

    /// Mean rate in Hz over `steps` steps (a streamed record keeps counts only).
    pub fn rate_over(&self, steps: usize, dt_ms: f64) -> f64 {
        if steps == 0 {
            return 0.0;
        }
        self.total() as f64 / (self.size as f64 * steps as f64 * dt_ms * 1e-3)
    }
}

/// The spikes of every population, in config order.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeRecord {
    pub pops: Vec<PopRecord>,
    /// Per recorded variable ([`Network::probes`]): its samples, each the
    /// record's neurons in order (samples x neurons).
    pub state: Vec<Vec<f32>>,
}

/// Spikes of one chunk of steps, in the layout of [`PopRecord::bits`]: the
/// buffer the host fills with input and an engine fills with the rest.
#[derive(Debug, Clone)]
pub struct ChunkSpikes {
    pub steps: usize,
    pub bits: Vec<Vec<u32>>,
    /// Per recorded variable ([`Network::probes`]): the samples of the
    /// chunk's steps, appended by the engine (samples x neurons).
    pub state: Vec<Vec<f32>>,
}

impl ChunkSpikes {
    pub fn new(net: &Network, steps: usize) -> ChunkSpikes {
        ChunkSpikes {
            steps,
            bits: net
                .populations
                .iter()
                .map(|p| vec![0; p.words_per_step() * steps])
                .collect(),
            state: vec![Vec::new(); net.probes().len()],
        }
    }

    /// Shrinks (or grows) to `steps` steps, keeping the allocation; no
    /// sample yet.
    pub fn resize(&mut self, net: &Network, steps: usize) {
        self.steps = steps;
        for (b, p) in self.bits.iter_mut().zip(&net.populations) {
            b.resize(p.words_per_step() * steps, 0);
        }
        for s in &mut self.state {
            s.clear();
        }
    }
}

impl SpikeRecord {
    /// An empty record with room for `steps` steps (an error, not an abort,
    /// when that much memory cannot be had).
    pub fn with_capacity(net: &Network, steps: usize) -> Result<SpikeRecord> {
        let mut pops = Vec::new();
        for p in &net.populations {
            let wps = p.words_per_step();
            let bits = crate::error::try_with_capacity(
                wps * steps,
                &format!("recording population `{}` for {steps} steps", p.name),
            )?;
            pops.push(PopRecord {
                size: p.size,
                words_per_step: wps,
                bits,
                counts: vec![0; p.size],
            });
        }
        let mut state = Vec::new();
        for (r, var) in net.probes() {
            let rec = &net.records[r];
            state.push(crate::error::try_with_capacity(
                rec.samples(steps as u64) as usize * rec.neurons.len(),
                &format!("recording {} for {steps} steps", net.state_file(r, var)),
            )?);
        }
        Ok(SpikeRecord { pops, state })
    }

    pub fn steps(&self) -> usize {
        self.pops.first().map_or(0, |p| p.steps())
    }

    /// Bytes the spike bits of `steps` steps take (counts excluded: 4 bytes
    /// a neuron).
    pub fn bytes_needed(net: &Network, steps: usize) -> u128 {
        net.populations
            .iter()
            .map(|p| p.words_per_step() as u128 * 4 * steps as u128)
            .sum()
    }

    /// Keeps the first `steps` steps (counts recomputed).
    pub fn truncate(&mut self, net: &Network, steps: usize) {
        for ((r, _), s) in net.probes().into_iter().zip(&mut self.state) {
            let rec = &net.records[r];
            s.truncate(rec.samples(steps as u64) as usize * rec.neurons.len());
        }
        for rec in &mut self.pops {
            rec.bits.truncate(steps * rec.words_per_step);
            rec.counts.fill(0);
            add_counts(&mut rec.counts, &rec.bits, rec.words_per_step);
        }
    }

    /// Counts a chunk's spikes without keeping them (streamed runs).
    pub fn count(&mut self, chunk: &ChunkSpikes) {
        for (rec, bits) in self.pops.iter_mut().zip(&chunk.bits) {
            add_counts(
                &mut rec.counts,
                &bits[..rec.words_per_step * chunk.steps],
                rec.words_per_step,
            );
        }
    }

    pub fn append(&mut self, chunk: &ChunkSpikes) {
        for (s, c) in self.state.iter_mut().zip(&chunk.state) {
            s.extend_from_slice(c);
        }
        for (rec, bits) in self.pops.iter_mut().zip(&chunk.bits) {
            let bits = &bits[..rec.words_per_step * chunk.steps];
            add_counts(&mut rec.counts, bits, rec.words_per_step);
            rec.bits.extend_from_slice(bits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rows_hold_neuron_n_at_bit_n_mod_8_of_byte_n_div_8() {
        for size in [1usize, 7, 8, 9, 31, 32, 33, 100] {
            let wps = size.div_ceil(32);
            // every neuron spiking at step 0, the odd ones at step 1, and
            // bits past the last neuron set (which neither form keeps)
            let mut words = vec![u32::MAX; wps];
            words.extend(vec![0xAAAA_AAAAu32; wps]);
            let nb = size.div_ceil(8);
            let mut bytes = vec![0u8; 2 * nb];
            for t in 0..2 {
                packed_row(&words[t * wps..][..wps], size, &mut bytes[t * nb..][..nb]);
            }
            for t in 0..2 {
                for k in 0..nb * 8 {
                    let bit = bytes[t * nb + k / 8] >> (k % 8) & 1 == 1;
                    let want = k < size && (t == 0 || k % 2 == 1);
                    assert_eq!(bit, want, "size {size} step {t} neuron {k}");
                }
            }
            // back to words: the neurons' bits, nothing past the last
            let back = words_from_packed(&bytes, size);
            let rec = PopRecord::from_bits(size, back);
            for t in 0..2 {
                for n in 0..size {
                    assert_eq!(rec.spiked(t, n), t == 0 || n % 2 == 1, "size {size}");
                }
            }
            assert_eq!(rec.total() as usize, size + size / 2);
        }
    }

    #[test]
    fn a_million_neurons_for_ten_thousand_steps_take_1_25_gb() {
        // the default network's proportions, 100/50/20 x 5882 + 60 = 1 000 000
        let text = crate::config::DEFAULT_TOML
            .replace("size = 100", "size = 588200")
            .replace("size = 50", "size = 294100")
            .replace("size = 20", "size = 117700");
        let net = Network::from_toml_str(&text, "t").unwrap();
        assert_eq!(net.total_neurons(), 1_000_000);
        let bytes = SpikeRecord::bytes_needed(&net, 10_000);
        // one bit per neuron per step, rounded up to words per population
        assert!((1_250_000_000..1_250_200_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn append_counts_and_unpacks_every_bit() {
        let text = crate::config::DEFAULT_TOML.replace("size = 100", "size = 37");
        let net = Network::from_toml_str(&text, "t").unwrap();
        let mut rec = SpikeRecord::with_capacity(&net, 3).unwrap();
        let mut chunk = ChunkSpikes::new(&net, 3);
        chunk.bits[0] = vec![0b101, 1 << 4, 0, 0, 0x8000_0000, 0b1]; // 2 words a step
        rec.append(&chunk);
        let r = &rec.pops[0];
        assert_eq!(r.steps(), 3);
        assert_eq!(r.total(), 5);
        assert!(r.spiked(0, 0) && r.spiked(0, 2) && !r.spiked(0, 1) && r.spiked(0, 36));
        assert!(r.spiked(2, 31) && r.spiked(2, 32) && !r.spiked(1, 0));
        let mut row = vec![0u8; 37];
        r.row_u8(0, &mut row);
        assert_eq!(row.iter().map(|&x| x as u32).sum::<u32>(), 3);
        assert_eq!(
            (
                r.counts[0],
                r.counts[2],
                r.counts[36],
                r.counts[31],
                r.counts[32]
            ),
            (1, 1, 1, 1, 1)
        );
    }
}
