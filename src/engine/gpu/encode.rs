//! The per-kernel path: every kernel family's launches for a network, built
//! once from its plan, and the dispatches of a chunk recorded in the order
//! the plan says ([`Dispatch::encode`]).

use super::kernels::plasticity::PlasticLaunch;
use super::kernels::poisson_input::PoissonLaunch;
use super::kernels::synapse_gather::Gather;
use super::kernels::{
    Env, Pipeline, lif_update, neuron_update, plasticity, poisson_input, state_record,
    synapse_accumulate, synapse_delay, synapse_gather, synapse_scatter,
};
use super::layout::PoissonParams;
use super::probe::{Probe, timed};
use super::resources::{Launch, buffer};
use crate::engine::plan::{BLOCK_STEPS, Plan, Schedule, Sums};
use crate::error::Result;
use crate::tuning::GpuOptions;

/// Every launch of the per-kernel path, and the pipelines they run.
pub(crate) struct Dispatch {
    /// Every trial's input keys per Poisson population the GPU draws, and
    /// the synaptic sums: what a restart rewrites and clears.
    pub keys: wgpu::Buffer,
    pub acc: wgpu::Buffer,
    pub schedule: Schedule,
    /// Per projection, how it sums (the plan's).
    pub sums: Vec<Sums>,
    /// Per projection: its sums' launches, one per weights part (dense,
    /// `synapse_accumulate` or `synapse_block`) or one (`synapse_scatter`
    /// or `synapse_scatter_block`); none when gathered.
    pub launches: Vec<Vec<Launch>>,
    /// Per projection gathered by post: `block_masks` and `synapse_gather`.
    pub gathers: Vec<Option<Gather>>,
    /// Per population: its `lif_update` launch (LIF only).
    pub lif_launches: Vec<Option<Launch>>,
    /// Per population in physical units: its `neuron_update` launch.
    pub neuron_launches: Vec<Option<Launch>>,
    /// The `[[record]]` variables' launches and samples.
    pub records: Option<state_record::Records>,
    /// Per population: its `poisson_input` launch (Poisson populations,
    /// when the GPU draws the input).
    pub poisson_launches: Vec<Option<PoissonLaunch>>,
    pub plastic: Vec<PlasticLaunch>,
    /// Per projection: whether its spikes arrive later (its sums are made
    /// after its pre population's update, into its ring), and its
    /// `synapse_delay` (every synapse's delay alike).
    delayed: Vec<bool>,
    pushes: Vec<Option<Launch>>,
    /// Per population: its delayed projections (summed after its update).
    outgoing: Vec<Vec<usize>>,
    /// Steps of a block on the block schedule.
    block_len: usize,
    delay: synapse_delay::Pipelines,
    accumulate: synapse_accumulate::Pipelines,
    scatter: synapse_scatter::Pipelines,
    gather: synapse_gather::Pipelines,
    lif: lif_update::Pipelines,
    neuron: neuron_update::Pipelines,
    poisson: Pipeline,
    plasticity: plasticity::Pipelines,
    step_group: wgpu::BindGroup,
    step_stride: u32,
    /// Workgroups per grid dimension at most.
    max_dim: u32,
    /// Trials side by side: the grid's z (1 on the step schedule).
    trials: u32,
}

impl Dispatch {
    /// Builds every family's launches for `plan`.
    pub fn build(
        env: &Env,
        plan: &Plan,
        opts: &GpuOptions,
        keep: &mut Vec<wgpu::Buffer>,
    ) -> Result<Dispatch> {
        let sh = env.sh;
        // every trial's sums (a trial's start at t * acc_len); cleared by
        // GpuEngine::restart
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let acc_bytes = sh.trials as u64 * env.lay.acc_len as u64 * 4;
        let acc = buffer(env.device(), "acc", acc_bytes, usage);
        let accumulate = synapse_accumulate::pipelines(env);
        let scatter = synapse_scatter::pipelines(env);
        let gather = synapse_gather::Pipelines::new(env);
        let lif = lif_update::pipelines(env);
        let poisson = Pipeline::new(
            env,
            "poisson_input",
            &poisson_input::FAMILY,
            &[true, false, true],
        );
        let plasticity = plasticity::Pipelines::new(env);

        let gathered = plan.gathered();
        let masks = synapse_gather::masks_buffer(env, &gathered)?;
        let gathers = synapse_gather::launches(env, &gather, &gathered, &masks, &acc, keep)?;
        let mut launches = Vec::new();
        let mut plastic = Vec::new();
        for (j, &sums) in plan.sums.iter().enumerate() {
            launches.push(match sums {
                Sums::Gather => vec![],
                Sums::Scatter | Sums::ScatterBlock => {
                    vec![synapse_scatter::launch(env, &scatter, j, &acc, opts, keep)?]
                }
                Sums::Dense | Sums::DenseBlock => {
                    let blocked = sums == Sums::DenseBlock;
                    let (parts, weights) = synapse_accumulate::launches(
                        env,
                        &accumulate,
                        j,
                        blocked,
                        &acc,
                        opts,
                        keep,
                    )?;
                    if let Some(w) = weights {
                        let index = plastic.len();
                        plastic.push(plasticity::launch(env, &plasticity, j, w, index, keep)?);
                    }
                    parts
                }
            });
        }
        let lif_launches = lif_update::launches(env, &lif, &plan.blocked(), &acc, keep)?;
        let neuron = neuron_update::pipelines(env);
        let gained = crate::dopamine::Clock::for_engine(env.net, env.quantized).is_some();
        let neuron_launches =
            neuron_update::launches(env, &neuron, &plan.blocked(), gained, &acc, keep)?;
        let delay = synapse_delay::pipelines(env);
        let pushes = (0..plan.sums.len())
            .map(|j| synapse_delay::launch(env, &delay, j, plan.sums[j].in_slots(), &acc, keep))
            .collect::<Result<Vec<_>>>()?;
        let (keys, poisson_launches) = poisson_input::launches(env, &poisson)?;
        let records = state_record::build(env, plan.capacity, keep)?;
        keep.push(masks);
        Ok(Dispatch {
            keys,
            acc,
            schedule: plan.schedule,
            sums: plan.sums.clone(),
            launches,
            gathers,
            lif_launches,
            neuron_launches,
            records,
            poisson_launches,
            plastic,
            delayed: env
                .net
                .projections
                .iter()
                .map(|p| p.delay.is_delayed())
                .collect(),
            pushes,
            outgoing: (0..env.net.populations.len())
                .map(|p| env.net.delayed_out(p).collect())
                .collect(),
            block_len: plan.block_len,
            delay,
            accumulate,
            scatter,
            gather,
            lif,
            neuron,
            poisson,
            plasticity,
            step_group: env.steps.group.clone(),
            step_stride: env.steps.stride,
            max_dim: env.max_dim,
            trials: sh.trials as u32,
        })
    }

    /// Sets `pipeline` and the launch's bind group, and dispatches its grid
    /// for every trial (z; kernel `name`, timed when profiling).
    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass,
        probe: &mut Option<Probe>,
        pipeline: &wgpu::ComputePipeline,
        l: &Launch,
        name: &'static str,
    ) {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &l.bind_group, &[]);
        timed(pass, probe, name, |pass| {
            pass.dispatch_workgroups(l.grid.0, l.grid.1, self.trials)
        });
    }

    /// The Poisson kernels' parameters for the `n` steps from `first_step`,
    /// and the records' (the row of their first sample).
    pub fn write_params(&self, queue: &wgpu::Queue, first_step: u64, n: usize) {
        for r in self.records.iter().flat_map(|r| &r.launches) {
            let p = state_record::RecordParams {
                first_row: state_record::samples_in(first_step, n, r.params.every as u64).1,
                ..r.params
            };
            queue.write_buffer(&r.params_buffer, 0, bytemuck::bytes_of(&p));
        }
        let first_step = first_step as u32;
        for (_, buf, template) in self.poisson_launches.iter().flatten() {
            let p = PoissonParams {
                first_step,
                n_steps: n as u32,
                ..*template
            };
            queue.write_buffer(buf, 0, bytemuck::bytes_of(&p));
        }
    }

    /// Projection `j`'s sums of a block (`block`) or of one step, by its
    /// plan's [`Sums`]: the kernels whose work this is.
    fn sums(&self, pass: &mut wgpu::ComputePass, probe: &mut Option<Probe>, j: usize, block: bool) {
        let (pipeline, name) = match (self.sums[j], block) {
            (Sums::Dense, false) => (&self.accumulate.step.pipeline, "synapse_accumulate"),
            (Sums::DenseBlock, true) => (&self.accumulate.block, "synapse_block"),
            (Sums::Scatter, false) => (&self.scatter.step.pipeline, "synapse_scatter"),
            (Sums::ScatterBlock, true) => (&self.scatter.block, "synapse_scatter_block"),
            (Sums::Gather, true) => {
                let g = self.gathers[j].as_ref().expect("a gathered projection");
                if let Some(m) = &g.masks {
                    self.dispatch(pass, probe, &self.gather.masks.pipeline, m, "block_masks");
                }
                for l in &g.parts {
                    self.dispatch(
                        pass,
                        probe,
                        &self.gather.gather.pipeline,
                        l,
                        "synapse_gather",
                    );
                }
                return;
            }
            // a step's sums of a projection that sums in blocks: done at
            // its block's first step
            _ => return,
        };
        for l in &self.launches[j] {
            self.dispatch(pass, probe, pipeline, l, name);
        }
    }

    /// Every dispatch of the `n` steps from `first_step`: the input of the
    /// whole chunk first (it does not depend on the network), then the
    /// steps in the order of the schedule, populations in dependency
    /// `order`, each after its `incoming` projections' sums.
    pub fn encode(
        &self,
        pass: &mut wgpu::ComputePass,
        probe: &mut Option<Probe>,
        (first_step, n): (u64, usize),
        order: &[usize],
        incoming: &[Vec<usize>],
    ) {
        // a delayed projection's sums of a step or block, made once its pre
        // population has its spikes, and moved into its ring (before its
        // post's update: a synapse may have a delay of 0)
        let push = |pass: &mut wgpu::ComputePass, probe: &mut Option<Probe>, j: usize, block| {
            self.sums(pass, probe, j, block);
            if let Some(l) = &self.pushes[j] {
                match block {
                    true => self.dispatch(pass, probe, &self.delay.block, l, "synapse_delay_block"),
                    false => {
                        let pipeline = &self.delay.step.pipeline;
                        self.dispatch(pass, probe, pipeline, l, "synapse_delay")
                    }
                }
            }
        };
        let step = |pass: &mut wgpu::ComputePass, s: usize| {
            pass.set_bind_group(1, &self.step_group, &[s as u32 * self.step_stride]);
        };
        for (l, _, _) in self.poisson_launches.iter().flatten() {
            pass.set_pipeline(&self.poisson.pipeline);
            pass.set_bind_group(0, &l.bind_group, &[]);
            // z: the steps, at most max_dim a dispatch
            for base in (0..n).step_by(self.max_dim as usize) {
                step(pass, base);
                let z = (n - base).min(self.max_dim as usize);
                timed(pass, probe, "poisson_input", |pass| {
                    pass.dispatch_workgroups(l.grid.0, l.grid.1, z as u32)
                });
            }
        }
        if self.schedule == Schedule::Block {
            for b in (0..n).step_by(self.block_len) {
                for &p in order {
                    step(pass, b);
                    if let Some(lif) = &self.lif_launches[p] {
                        for &j in incoming[p].iter().filter(|&&j| !self.delayed[j]) {
                            self.sums(pass, probe, j, true);
                        }
                        self.dispatch(pass, probe, &self.lif.block, lif, "lif_block");
                    }
                    if let Some(l) = &self.neuron_launches[p] {
                        for &j in incoming[p].iter().filter(|&&j| !self.delayed[j]) {
                            self.sums(pass, probe, j, true);
                        }
                        self.dispatch(pass, probe, &self.neuron.block, l, "neuron_block");
                    }
                    for &j in &self.outgoing[p] {
                        push(pass, probe, j, true);
                    }
                }
            }
            return;
        }
        for s in 0..n {
            step(pass, s);
            // the sums of the next BLOCK_STEPS steps of blocked projections
            // (their input rows are all there)
            if s % BLOCK_STEPS == 0 {
                for j in 0..self.sums.len() {
                    self.sums(pass, probe, j, true);
                }
            }
            for &p in order {
                if let Some(lif) = &self.lif_launches[p] {
                    for &j in incoming[p].iter().filter(|&&j| !self.delayed[j]) {
                        self.sums(pass, probe, j, false);
                    }
                    self.dispatch(pass, probe, &self.lif.step.pipeline, lif, "lif_update");
                }
                if let Some(l) = &self.neuron_launches[p] {
                    for &j in incoming[p].iter().filter(|&&j| !self.delayed[j]) {
                        self.sums(pass, probe, j, false);
                    }
                    let pipeline = &self.neuron.step.pipeline;
                    self.dispatch(pass, probe, pipeline, l, "neuron_update");
                }
                for &j in &self.outgoing[p] {
                    push(pass, probe, j, false);
                }
            }
            // plasticity, once every population has its spikes of the step
            for pl in &self.plastic {
                let (synapses, traces) = (&self.plasticity.synapses, &self.plasticity.traces);
                self.dispatch(pass, probe, &synapses.pipeline, &pl.synapses, "plasticity");
                self.dispatch(
                    pass,
                    probe,
                    &traces.pipeline,
                    &pl.traces,
                    "plasticity_traces",
                );
            }
            // the variables of the records that sample this step
            for r in self.records.iter() {
                for l in &r.launches {
                    if (first_step + s as u64).is_multiple_of(l.params.every as u64) {
                        self.dispatch(pass, probe, &r.pipeline.pipeline, &l.launch, "state_record");
                    }
                }
            }
        }
    }
}
