//! `nacc compare`: the same network, seed, input and steps on the CPU
//! reference and on the GPU, compared with `==` on spikes and membranes.

use crate::engine::gpu::{GpuContext, GpuEngine};
use crate::engine::{Engine, InputSource, cpu::CpuEngine};
use crate::error::Result;
use crate::network::Model;
use crate::record::{ChunkSpikes, SpikeRecord};
use crate::threads::Threads;
use crate::tuning::Tuning;
use std::sync::Arc;

/// The first place where the engines disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub step: usize,
    pub population: String,
    pub neuron: usize,
    pub spike_cpu: bool,
    pub spike_gpu: bool,
    pub v_cpu: f32,
    pub v_gpu: f32,
}

/// The first plastic weight on which the engines disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightDifference {
    /// The step whose plasticity update made them differ.
    pub step: usize,
    pub projection: String,
    pub pre: usize,
    pub post: usize,
    pub wq_cpu: i32,
    pub wq_gpu: i32,
}

/// The first recorded state sample on which the engines disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDifference {
    /// The step the sample was taken after.
    pub step: u64,
    /// Its file, `state_<pop>_<var>.npy`.
    pub file: String,
    pub neuron: u32,
    pub cpu: f32,
    pub gpu: f32,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub adapter: String,
    pub steps: usize,
    /// Per population: (name, spikes on the CPU, spikes on the GPU).
    pub counts: Vec<(String, u64, u64)>,
    pub first_difference: Option<Difference>,
    pub first_weight_difference: Option<WeightDifference>,
    pub first_state_difference: Option<StateDifference>,
}

impl Report {
    pub fn identical(&self) -> bool {
        self.first_difference.is_none()
            && self.first_weight_difference.is_none()
            && self.first_state_difference.is_none()
    }

    pub fn render(&self) -> String {
        let mut s = format!("GPU: {}\n{} steps\n", self.adapter, self.steps);
        s += &format!(
            "{:<12} {:>14} {:>14}\n",
            "population", "spikes (cpu)", "spikes (gpu)"
        );
        for (name, c, g) in &self.counts {
            s += &format!("{name:<12} {c:>14} {g:>14}\n");
        }
        if let Some(d) = &self.first_weight_difference {
            s += &format!(
                "DIFFERENT WEIGHTS: first after step {}, projection `{}`, pre {} post {}: fixed-point weight cpu {} gpu {}\n",
                d.step, d.projection, d.pre, d.post, d.wq_cpu, d.wq_gpu
            );
        }
        if let Some(d) = &self.first_state_difference {
            s += &format!(
                "DIFFERENT STATE: first after step {}, {} neuron {}: cpu {:e} ({:#010x}) gpu {:e} ({:#010x})\n",
                d.step,
                d.file,
                d.neuron,
                d.cpu,
                d.cpu.to_bits(),
                d.gpu,
                d.gpu.to_bits()
            );
        }
        match &self.first_difference {
            None if self.first_weight_difference.is_none()
                && self.first_state_difference.is_none() =>
            {
                s += "identical: the spikes of every step, the recorded state of every sample and the membranes (and plastic weights) at the end of every chunk are equal (==)\n"
            }
            None => {}
            Some(d) => {
                s += &format!(
                    "DIFFERENT: first at step {}, population `{}`, neuron {}: spike cpu {} gpu {}, membrane cpu {:e} ({:#010x}) gpu {:e} ({:#010x})\n",
                    d.step,
                    d.population,
                    d.neuron,
                    d.spike_cpu as u8,
                    d.spike_gpu as u8,
                    d.v_cpu,
                    d.v_cpu.to_bits(),
                    d.v_gpu,
                    d.v_gpu.to_bits()
                )
            }
        }
        s
    }
}

/// Builds one side of a comparison: the CPU engine (false) or the GPU's
/// (true), each maybe split across ranks.
pub type MakeSide<'a> = dyn Fn(bool) -> Result<Box<dyn Engine>> + 'a;

struct Pair {
    cpu: Box<dyn Engine>,
    gpu: Box<dyn Engine>,
}

impl Pair {
    fn new(make: &MakeSide) -> Result<Pair> {
        Ok(Pair {
            cpu: make(false)?,
            gpu: make(true)?,
        })
    }

    /// Runs one chunk on both; returns the two spike buffers.
    fn step(
        &mut self,
        model: &Model,
        input: &InputSource,
        first: usize,
        n: usize,
    ) -> Result<(ChunkSpikes, ChunkSpikes)> {
        let mut a = ChunkSpikes::new(&model.net, n);
        input.fill(&model.net, first as u64, &mut a);
        let mut b = a.clone();
        self.cpu.run_chunk(&mut a)?;
        self.gpu.run_chunk(&mut b)?;
        Ok((a, b))
    }
}

/// First (step, population, neuron) where the spikes of two chunks differ.
fn first_spike_difference(
    model: &Model,
    a: &ChunkSpikes,
    b: &ChunkSpikes,
) -> Option<(usize, usize, usize)> {
    for s in 0..a.steps {
        for &p in &model.net.order {
            let wps = model.net.populations[p].words_per_step();
            let (x, y) = (&a.bits[p][s * wps..][..wps], &b.bits[p][s * wps..][..wps]);
            if let Some(w) = (0..wps).find(|&w| x[w] != y[w]) {
                return Some((s, p, w * 32 + (x[w] ^ y[w]).trailing_zeros() as usize));
            }
        }
    }
    None
}

/// The first recorded sample (bit patterns) on which two chunks of the
/// steps from `first` differ.
fn first_state_difference(
    model: &Model,
    first: u64,
    a: &ChunkSpikes,
    b: &ChunkSpikes,
) -> Option<StateDifference> {
    let net = &model.net;
    let mut found: Option<StateDifference> = None;
    for (k, (r, var)) in net.probes().into_iter().enumerate() {
        let rec = &net.records[r];
        let n = rec.neurons.len();
        let (x, y) = (&a.state[k], &b.state[k]);
        let at = (0..x.len().max(y.len()))
            .find(|&i| x.get(i).map(|v| v.to_bits()) != y.get(i).map(|v| v.to_bits()));
        if let Some(i) = at {
            let step = first.div_ceil(rec.every) * rec.every + (i / n) as u64 * rec.every;
            if found.as_ref().is_none_or(|f| step < f.step) {
                found = Some(StateDifference {
                    step,
                    file: net.state_file(r, var),
                    neuron: rec.neurons[i % n],
                    cpu: x.get(i).copied().unwrap_or(f32::NAN),
                    gpu: y.get(i).copied().unwrap_or(f32::NAN),
                });
            }
        }
    }
    found
}

/// First (population, neuron) whose membranes differ (bit patterns, so that
/// -0 and +0 or two NaNs are told apart).
fn first_membrane_difference(vc: &[Vec<f32>], vg: &[Vec<f32>]) -> Option<(usize, usize)> {
    for (p, (a, b)) in vc.iter().zip(vg).enumerate() {
        if let Some(n) = (0..a.len()).find(|&n| a[n].to_bits() != b[n].to_bits()) {
            return Some((p, n));
        }
    }
    None
}

/// The first plastic weight on which the engines differ now (its `step`
/// left 0 for the caller).
fn first_weight_difference(model: &Model, pair: &mut Pair) -> Result<Option<WeightDifference>> {
    let (a, b) = (pair.cpu.plastic_weights()?, pair.gpu.plastic_weights()?);
    for (j, (x, y)) in a.iter().zip(&b).enumerate() {
        let (Some(x), Some(y)) = (x, y) else { continue };
        if let Some(k) = (0..x.len()).find(|&k| x[k] != y[k]) {
            let proj = &model.net.projections[j];
            let n_post = model.net.populations[proj.post].size;
            return Ok(Some(WeightDifference {
                step: 0,
                projection: proj.name.clone(),
                pre: k / n_post,
                post: k % n_post,
                wq_cpu: x[k],
                wq_gpu: y[k],
            }));
        }
    }
    Ok(None)
}

/// Runs both engines over `steps` steps in chunks of `chunk`, comparing
/// spikes every step, and membranes and plastic weights at the end of
/// every chunk. On a difference, replays the chunk step by step to find the
/// first differing step and report both values there.
pub fn compare(
    ctx: Arc<GpuContext>,
    model: &Model,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    tuning: &Tuning,
) -> Result<Report> {
    let make = |gpu: bool| -> Result<Box<dyn Engine>> {
        Ok(match gpu {
            false => Box::new(CpuEngine::with_options(
                model,
                &tuning.cpu,
                Threads::global(),
            )?),
            true => Box::new(GpuEngine::new(
                ctx.clone(),
                model,
                input,
                chunk,
                tuning.gpu,
            )?),
        })
    };
    compare_with(&ctx, model, input, steps, chunk, &make)
}

/// [`compare`] of the engines `make` builds (a run split across ranks
/// compares its split engines; every rank gets the same report).
pub fn compare_with(
    ctx: &Arc<GpuContext>,
    model: &Model,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    make: &MakeSide,
) -> Result<Report> {
    let mut pair = Pair::new(make)?;
    let mut counts_cpu = SpikeRecord::with_capacity(&model.net, 0)?;
    let mut counts_gpu = SpikeRecord::with_capacity(&model.net, 0)?;
    let mut bad_chunk: Option<usize> = None;
    let mut bad_weights: Option<usize> = None;
    let mut first_state: Option<StateDifference> = None;
    let mut done = 0;
    while done < steps {
        let n = chunk.min(steps - done);
        let (a, b) = pair.step(model, input, done, n)?;
        counts_cpu.count(&a);
        counts_gpu.count(&b);
        if first_state.is_none() {
            first_state = first_state_difference(model, done as u64, &a, &b);
        }
        if bad_chunk.is_none()
            && (first_spike_difference(model, &a, &b).is_some()
                || first_membrane_difference(&pair.cpu.membranes()?, &pair.gpu.membranes()?)
                    .is_some())
        {
            bad_chunk = Some(done);
        }
        if bad_weights.is_none() && first_weight_difference(model, &mut pair)?.is_some() {
            bad_weights = Some(done);
        }
        done += n;
    }
    let first_difference = match bad_chunk {
        None => None,
        Some(start) => Some(replay(model, input, start, chunk, make, |m, p, a, b| {
            let (vc, vg) = (p.cpu.membranes()?, p.gpu.membranes()?);
            let spot = first_spike_difference(m, a, b)
                .map(|(_, p, n)| (p, n))
                .or_else(|| first_membrane_difference(&vc, &vg));
            Ok(spot.map(|(p, n)| {
                let bit = |c: &ChunkSpikes| c.bits[p][n / 32] >> (n % 32) & 1 == 1;
                let v = |x: &[Vec<f32>]| x[p].get(n).copied().unwrap_or(f32::NAN);
                Difference {
                    step: 0,
                    population: m.net.populations[p].name.clone(),
                    neuron: n,
                    spike_cpu: bit(a),
                    spike_gpu: bit(b),
                    v_cpu: v(&vc),
                    v_gpu: v(&vg),
                }
            }))
        })?)
        .map(|(step, d)| Difference { step, ..d }),
    };
    let first_weight_difference = match bad_weights {
        None => None,
        Some(start) => Some(replay(model, input, start, chunk, make, |m, p, _, _| {
            first_weight_difference(m, p)
        })?)
        .map(|(step, d)| WeightDifference { step, ..d }),
    };
    Ok(Report {
        adapter: ctx.describe(),
        steps,
        counts: model
            .net
            .populations
            .iter()
            .enumerate()
            .map(|(p, pop)| {
                (
                    pop.name.clone(),
                    counts_cpu.pops[p].total(),
                    counts_gpu.pops[p].total(),
                )
            })
            .collect(),
        first_difference,
        first_weight_difference,
        first_state_difference: first_state,
    })
}

/// Re-runs both engines to step `start` (identical so far), then one step at
/// a time until `differs` finds a difference; returns the step and it.
fn replay<T>(
    model: &Model,
    input: &InputSource,
    start: usize,
    chunk: usize,
    make: &MakeSide,
    differs: impl Fn(&Model, &mut Pair, &ChunkSpikes, &ChunkSpikes) -> Result<Option<T>>,
) -> Result<(usize, T)> {
    let mut pair = Pair::new(make)?;
    let mut done = 0;
    while done < start {
        let n = chunk.min(start - done);
        pair.step(model, input, done, n)?;
        done += n;
    }
    loop {
        let (a, b) = pair.step(model, input, done, 1)?;
        if let Some(d) = differs(model, &mut pair, &a, &b)? {
            return Ok((done, d));
        }
        done += 1;
        if done > start + chunk {
            return Err(crate::Error::Runtime(
                "the engines differed in a chunk but not when replayed step by step (nondeterminism)".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    /// Two records (every 2 steps, neurons 3 and 1; every step, neuron 0):
    /// the earliest differing sample is found, with its step, file and
    /// neuron; a -0 against a +0 counts.
    #[test]
    fn the_first_differing_sample_is_named_by_step_file_and_neuron() {
        let text = "dt_ms = 1.0\n[[population]]\nname = \"n\"\nsize = 4\nkind = \"iaf\"\n\
            [[record]]\npopulation = \"n\"\nneurons = [3, 1]\nevery_ms = 2.0\n\
            [[record]]\npopulation = \"n\"\nneurons = [0]\nvariables = [\"refractory\"]\n";
        let net = Network::from_toml_str(text, "t").unwrap();
        let model = Model::build(net.clone(), 0).unwrap();
        // a chunk of the 6 steps from step 5: samples of v at 6, 8, 10
        let mut a = ChunkSpikes::new(&net, 6);
        a.state[0] = vec![1.0; 6];
        a.state[1] = vec![0.0; 6];
        let mut b = a.clone();
        assert_eq!(first_state_difference(&model, 5, &a, &b), None);
        b.state[0][3] = 2.0; // step 8, neuron 1
        b.state[1][4] = -0.0; // step 9
        let d = first_state_difference(&model, 5, &a, &b).unwrap();
        assert_eq!(
            (d.step, d.file.as_str(), d.neuron, d.cpu, d.gpu),
            (8, "state_n_v.npy", 1, 1.0, 2.0)
        );
        b.state[0][3] = 1.0;
        let d = first_state_difference(&model, 5, &a, &b).unwrap();
        assert_eq!(
            (d.step, d.file.as_str(), d.neuron),
            (9, "state_n_refractory.npy", 0)
        );
        // a missing sample counts too
        b.state[1].pop();
        b.state[1][4] = 0.0;
        let d = first_state_difference(&model, 5, &a, &b).unwrap();
        assert_eq!((d.step, d.neuron), (10, 0));
        assert!(d.gpu.is_nan());
    }
}
