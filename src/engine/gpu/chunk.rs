//! One part of a chunk on the GPU: the uploads (input the host drew, the
//! dopamine factors, the kernels' per-chunk parameters), the compute pass,
//! the copies, and the readback of the spikes and of the fault report.

use super::kernels::state_record::samples_in;
use super::layout::{Chunk, FusedParams};
use super::probe::timed;
use super::{GpuEngine, Path};
use crate::engine::plan::BLOCK_MAX_NEURONS;
use crate::error::{Error, Result};
use crate::record::ChunkSpikes;

impl GpuEngine {
    /// Runs `n <= capacity` steps whose input starts at step `offset` of
    /// the chunks, one chunk per trial.
    pub(super) fn run_part(
        &mut self,
        chunks: &mut [ChunkSpikes],
        offset: usize,
        n: usize,
    ) -> Result<()> {
        assert_eq!(chunks.len(), self.trials, "one chunk per trial");
        if let Some(k) = self.inject_loss_at
            && self.steps_done >= k
        {
            return Err(Error::Runtime(format!(
                "GPU {}: device lost (injected by NACC_INJECT_DEVICE_LOSS={k})",
                self.ctx.info.name
            )));
        }
        self.upload(&chunks[0], offset, n);
        let (rows_bytes, queries) = self.submit(n);
        let fault = self.read_back(chunks, offset, n, rows_bytes)?;
        if fault[0] == 0 {
            self.read_samples(&mut chunks[0], n)?;
        }
        if let Some(p) = &mut self.probe
            && queries > 0
        {
            let period = self.ctx.queue.get_timestamp_period() as f64;
            let read = self
                .ctx
                .with_mapped(&p.read, queries as u64 * 8, |t: &[u64]| t.to_vec());
            p.add(&read?, period, n);
        }
        if fault[0] != 0 {
            // the dispatch path reports the row (1 + step in the chunk), the
            // fused kernel step + 1: the same number
            let step = self.steps_done + fault[0] as u64 - 1;
            let (pop, neuron) = (fault[1] as usize, fault[2] as usize);
            let e = crate::engine::not_finite(&self.net, pop, neuron, step, None);
            return Err(match self.trials > 1 {
                true => e.context(format!("trial {}", fault[3])),
                false => e,
            });
        }
        self.steps_done += n as u64;
        Ok(())
    }

    /// Writes what the part needs before it runs: the chunk uniform, the
    /// input the host drew (one upload of every Poisson population's words,
    /// zeros elsewhere), d(t)'s factors, the kernels' first step.
    fn upload(&mut self, chunk: &ChunkSpikes, offset: usize, n: usize) {
        let rw = self.lay.row_words;
        let queue = &self.ctx.queue;
        let c = Chunk {
            n_steps: n as u32,
            first_step: self.steps_done as u32,
            ..self.chunk_template
        };
        queue.write_buffer(&self.chunk_uniform, 0, bytemuck::bytes_of(&c));
        if !self.gen_input {
            let upload = &mut self.upload[..n * rw];
            upload.fill(0);
            for (p, pop) in self.net.populations.iter().enumerate() {
                if !pop.is_poisson() {
                    continue;
                }
                let wps = pop.words_per_step();
                for s in 0..n {
                    upload[s * rw + self.lay.word_offset[p]..][..wps]
                        .copy_from_slice(&chunk.bits[p][(offset + s) * wps..][..wps]);
                }
            }
            let row_bytes = rw as u64 * 4;
            queue.write_buffer(&self.b.spikes, row_bytes, bytemuck::cast_slice(upload));
        }
        if let Some(clock) = &mut self.clock {
            // this part's d(t) factors, a row per step
            let n_proj = self.net.projections.len();
            let row = crate::dopamine::gain_row(&self.net);
            let (mut g, mut e) = (vec![0f32; row], vec![0f32; n_proj]);
            let mut gains = Vec::with_capacity(n * row);
            let mut etas = Vec::new();
            for _ in 0..n {
                clock.next(&mut g, &mut e);
                gains.extend_from_slice(&g);
                // only the plastic projections' columns, in config order
                etas.extend(clock.plastic().map(|j| e[j]));
            }
            queue.write_buffer(&self.b.gains, 0, bytemuck::cast_slice(&gains));
            if !etas.is_empty() {
                queue.write_buffer(&self.b.etas, 0, bytemuck::cast_slice(&etas));
            }
        }
        let first_step = self.steps_done as u32;
        match &self.path {
            Path::Fused(f) => {
                let p = FusedParams {
                    n_steps: n as u32,
                    first_step,
                    ..f.template
                };
                queue.write_buffer(&f.params, 0, bytemuck::bytes_of(&p));
            }
            Path::Dispatch(d) => d.write_params(queue, self.steps_done, n),
        }
    }

    /// Records and submits the part: row 0 from the carry, the compute
    /// pass, the carry of the last row, the copies of the spike rows and of
    /// the fault report into the staging buffer (and the timestamps).
    /// Returns the bytes of spike rows copied and the timestamp queries.
    fn submit(&mut self, n: usize) -> (u64, u32) {
        let ctx = &self.ctx;
        let row_bytes = self.lay.row_words as u64 * 4;
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("chunk"),
            });
        enc.clear_buffer(&self.b.fault, 0, None);
        let fused = matches!(self.path, Path::Fused(_));
        let trial_bytes = (self.capacity as u64 + 1) * row_bytes;
        if !fused {
            // row 0 of every trial: the last row of its previous chunk (the
            // fused kernel keeps row 0 itself)
            for t in 0..self.trials as u64 {
                let (from, to) = (t * row_bytes, t * trial_bytes);
                enc.copy_buffer_to_buffer(&self.b.carry, from, &self.b.spikes, to, row_bytes);
            }
        }
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steps"),
                timestamp_writes: None,
            });
            match &self.path {
                Path::Fused(f) => {
                    pass.set_pipeline(&f.pipeline);
                    pass.set_bind_group(0, &f.bind_group, &[]);
                    // the chunk in slices; each dispatch sees the previous one's rows
                    for first in (0..n).step_by(f.template.slice_steps as usize) {
                        pass.set_bind_group(1, &f.step_group, &[first as u32 * f.step_stride]);
                        timed(&mut pass, &mut self.probe, "fused_steps", |pass| {
                            pass.dispatch_workgroups(self.trials as u32, 1, 1)
                        });
                    }
                }
                Path::Dispatch(d) => {
                    let (order, incoming) = (&self.net.order, &self.lay.incoming);
                    let steps = (self.steps_done, n);
                    d.encode(&mut pass, &mut self.probe, steps, order, incoming)
                }
            }
        }
        if !fused {
            for t in 0..self.trials as u64 {
                let (from, to) = (t * trial_bytes + n as u64 * row_bytes, t * row_bytes);
                enc.copy_buffer_to_buffer(&self.b.spikes, from, &self.b.carry, to, row_bytes);
            }
        }
        // rows 1..=n of every trial (trial t's rows start at t * (capacity + 1))
        let (from, bytes) = match self.trials {
            1 => (row_bytes, n as u64 * row_bytes),
            t => (0, t as u64 * trial_bytes),
        };
        enc.copy_buffer_to_buffer(&self.b.spikes, from, &self.b.staging, 0, bytes);
        let fault_bytes = self.b.fault.size();
        enc.copy_buffer_to_buffer(&self.b.fault, 0, &self.b.staging, bytes, fault_bytes);
        if let Path::Dispatch(d) = &self.path
            && let Some(r) = &d.records
        {
            enc.copy_buffer_to_buffer(&r.out, 0, &r.staging, 0, r.out.size());
        }
        let queries = self.probe.as_ref().map_or(0, |p| p.names.len() as u32 * 2);
        if let Some(p) = &self.probe
            && queries > 0
        {
            enc.resolve_query_set(&p.set, 0..queries, &p.resolve, 0);
            enc.copy_buffer_to_buffer(&p.resolve, 0, &p.read, 0, queries as u64 * 8);
        }
        ctx.queue.submit([enc.finish()]);
        (bytes, queries)
    }

    /// The part's samples of every recorded variable, appended to the
    /// chunk's (one trial: a network with records runs the step schedule).
    fn read_samples(&self, chunk: &mut ChunkSpikes, n: usize) -> Result<()> {
        let Path::Dispatch(d) = &self.path else {
            return Ok(());
        };
        let Some(r) = &d.records else {
            return Ok(());
        };
        self.ctx
            .with_mapped(&r.staging, r.out.size(), |out: &[f32]| {
                for (k, l) in r.launches.iter().enumerate() {
                    let every = l.params.every as u64;
                    let (samples, _) = samples_in(self.steps_done, n, every);
                    let at = l.params.out_offset as usize;
                    chunk.state[k].extend_from_slice(&out[at..][..samples * l.params.n as usize]);
                }
            })
    }

    /// The spikes from the staging buffer's mapping straight into the
    /// chunks, unless a membrane failed (then the chunk is not kept); the
    /// first fault.
    fn read_back(
        &self,
        chunks: &mut [ChunkSpikes],
        offset: usize,
        n: usize,
        bytes: u64,
    ) -> Result<[u32; 4]> {
        let (net, lay, gen_input, trials) = (&self.net, &self.lay, self.gen_input, self.trials);
        let rw = lay.row_words;
        let trial_rows = self.capacity + 1;
        let fault_bytes = self.b.fault.size();
        self.ctx
            .with_mapped(&self.b.staging, bytes + fault_bytes, |rows: &[u32]| {
                let words = &rows[bytes as usize / 4..];
                let fault = first_fault(words, &net.order, trials);
                if fault[0] != 0 {
                    return fault;
                }
                for (t, chunk) in chunks.iter_mut().enumerate() {
                    let base = match trials {
                        1 => 0,
                        _ => (t * trial_rows + 1) * rw,
                    };
                    for (p, pop) in net.populations.iter().enumerate() {
                        if pop.is_poisson() && !gen_input {
                            continue;
                        }
                        let wps = pop.words_per_step();
                        for s in 0..n {
                            chunk.bits[p][(offset + s) * wps..][..wps].copy_from_slice(
                                &rows[base + s * rw + lay.word_offset[p]..][..wps],
                            );
                        }
                    }
                }
                fault
            })
    }
}

/// (row, population, neuron, trial) of the first non-finite membrane of a
/// chunk from the fault buffer's `words` (row 0: none): the first 4 words
/// when `fused_steps` wrote them; else the earliest (row, population in
/// update `order`, trial) of the membrane kernels' reports per population
/// and trial, `trials` of them (`lif_update` and `lif_block` report alike:
/// see `report_block_fault` in lif_update.wgsl).
fn first_fault(words: &[u32], order: &[usize], trials: usize) -> [u32; 4] {
    if words[0] != 0 {
        return words[..4].try_into().expect("4 words");
    }
    let mut first = [0; 4];
    for &p in order {
        for t in 0..trials {
            let a = 4 + 2 * (p * trials + t);
            let (block_row, key) = (words[a], !words[a + 1]);
            let row = block_row + (key >> 27);
            if block_row != 0 && (first[0] == 0 || row < first[0]) {
                let neuron = key & (BLOCK_MAX_NEURONS as u32 - 1);
                first = [row, p as u32, neuron, t as u32];
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::first_fault;

    /// `lif_block`'s words for (population, trial) reports of (row, neuron)
    /// in blocks starting at `block_row`, as the kernel packs them.
    fn words(pops: usize, trials: usize, reports: &[(usize, usize, u32, u32, u32)]) -> Vec<u32> {
        let mut w = vec![0u32; 4 + 2 * pops * trials];
        for &(p, t, block_row, row, n) in reports {
            let a = 4 + 2 * (p * trials + t);
            w[a] = block_row;
            w[a + 1] = !(((row - block_row) << 27) | n);
        }
        w
    }

    #[test]
    fn first_fault_takes_the_earliest_row_then_update_order_then_trial() {
        let order = [0, 2, 1];
        // none
        assert_eq!(first_fault(&words(3, 2, &[]), &order, 2)[0], 0);
        // the earliest row, whatever the trial
        let w = words(
            3,
            4,
            &[(1, 0, 17, 20, 5), (2, 3, 17, 18, 9), (1, 2, 1, 7, 3)],
        );
        assert_eq!(first_fault(&w, &order, 4), [7, 1, 3, 2]);
        // the same row: population 2 updates before 1; then the lower trial
        let w = words(3, 4, &[(1, 0, 1, 7, 5), (2, 3, 1, 7, 9), (2, 1, 1, 7, 4)]);
        assert_eq!(first_fault(&w, &order, 4), [7, 2, 4, 1]);
        // fused_steps' 4 words come first
        let mut w = words(3, 1, &[(1, 0, 1, 2, 0)]);
        w[..4].copy_from_slice(&[9, 1, 6, 0]);
        assert_eq!(first_fault(&w, &order, 1), [9, 1, 6, 0]);
    }
}
