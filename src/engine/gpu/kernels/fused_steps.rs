//! The fused kernel (shaders/fused_steps.wgsl): batched trials of a small
//! network, every step of a chunk in one dispatch of one workgroup a trial,
//! doing the work of every other family (its CPU twins are theirs). Tables
//! of the populations and projections, all weights in one buffer, one bind
//! group.

use super::Env;
use crate::engine::gpu::resources::{bind_group, init_buffer, kernel, reset_code, storage_buffer};
use crate::engine::gpu::wgsl::FUSED_WORKGROUP;
use crate::engine::gpu::wgsl::Family;
use crate::network::Network;
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/fused_steps.wgsl");

/// `shaders/fused_steps.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "fused_steps",
    file: "fused_steps.wgsl",
    source: WGSL,
    pieces: &["step", "exact", "philox"],
    entry_points: &["fused_steps"],
};

/// WGSL `FusedParams` (shaders/fused_steps.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct FusedParams {
    pub n_steps: u32,
    pub row_words: u32,
    pub n_lif: u32,
    /// Always 0: the run-time operand of the WGSL rounding barrier `exact`.
    pub zero: u32,
    pub pop_base: u32,
    pub proj_base: u32,
    pub in_base: u32,
    /// 1: the kernel draws the Poisson input; 0: the host uploaded it.
    pub gen_input: u32,
    pub poisson_base: u32,
    pub n_poisson: u32,
    /// Where the (k0, k1) keys of each trial and Poisson population start.
    pub keys_base: u32,
    /// The absolute step of row 1 of the chunk.
    pub first_step: u32,
    /// Words of one trial's spike rows.
    pub trial_words: u32,
    /// Membranes of one trial.
    pub v_len: u32,
    /// Steps one dispatch runs at most.
    pub slice_steps: u32,
    pub _pad: u32,
}

/// Loop iterations one invocation of the fused kernel may spend in one
/// dispatch. On lavapipe (Mesa 22.3) a fused dispatch stopped doing work,
/// silently, after ~36-56 k such iterations (508 steps of the default
/// network, 54 at --scale 10); dispatches are cut well below that.
const FUSED_DISPATCH_BUDGET: u64 = 8_000;

/// Steps one fused dispatch runs: the budget over an upper bound of one
/// invocation's loop iterations a step (every pre neuron spiking).
fn fused_slice_steps(net: &Network, capacity: usize) -> usize {
    let per_thread = |n: usize| n.div_ceil(FUSED_WORKGROUP) as u64;
    let mut per_step = 1u64;
    for (p, pop) in net.populations.iter().enumerate() {
        if pop.is_poisson() {
            per_step += per_thread(pop.size);
            continue;
        }
        let fan: u64 = net
            .incoming(p)
            .map(|(_, j)| {
                (net.populations[j.pre].words_per_step() + net.populations[j.pre].size) as u64
            })
            .sum();
        per_step += per_thread(pop.size) * (fan + 8);
    }
    ((FUSED_DISPATCH_BUDGET / per_step) as usize).clamp(1, capacity.max(1))
}

/// The fused path's pipeline, bind group, parameters and the step uniforms.
pub(crate) struct Fused {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    /// `FusedParams`, rewritten with the chunk's step count.
    pub params: wgpu::Buffer,
    pub template: FusedParams,
    /// The step uniforms: a slice's first row, by dynamic offset.
    pub step_group: wgpu::BindGroup,
    pub step_stride: u32,
}

pub(crate) fn build(env: &Env, keep: &mut Vec<wgpu::Buffer>) -> Fused {
    let (net, lay, sh, device) = (env.net, env.lay, env.sh, env.device());
    let steps = env.steps;
    let slice_steps = fused_slice_steps(net, steps.capacity);
    let mut w_offset = Vec::new();
    let mut weights: Vec<i32> = Vec::new();
    for q in env.quantized {
        w_offset.push(weights.len());
        weights.extend_from_slice(&q.wq);
    }
    // tables: LIF populations in update order, projections, incoming lists
    let mut tables: Vec<u32> = Vec::new();
    let lif_order: Vec<usize> = net
        .order
        .iter()
        .copied()
        .filter(|&p| !net.populations[p].is_poisson())
        .collect();
    let pop_base = 0u32;
    for &p in &lif_order {
        let pop = &net.populations[p];
        let lif = pop.lif().expect("LIF");
        tables.extend_from_slice(&[
            pop.size as u32,
            lay.word_offset[p] as u32,
            lay.v_offset[p] as u32,
            lay.first_in[p] as u32,
            lay.incoming[p].len() as u32,
            reset_code(lif.reset),
            lif.beta.to_bits(),
            lif.threshold.to_bits(),
            p as u32,
        ]);
    }
    let proj_base = tables.len() as u32;
    for (j, (proj, q)) in net.projections.iter().zip(env.quantized).enumerate() {
        tables.extend_from_slice(&[
            lay.word_offset[proj.pre] as u32,
            net.populations[proj.pre].words_per_step() as u32,
            q.n_post as u32,
            w_offset[j] as u32,
            proj.sign as u32,
            q.scale_hi.to_bits(),
            q.scale_lo.to_bits(),
            lay.acc_offset[j] as u32,
        ]);
    }
    let in_base = tables.len() as u32;
    tables.extend(lay.incoming_flat());
    let poisson_base = tables.len() as u32;
    let mut n_poisson = 0;
    for (p, pop) in net.populations.iter().enumerate() {
        if let Some(thr_offset) = sh.poisson[p] {
            tables.extend_from_slice(&[
                pop.size as u32,
                lay.word_offset[p] as u32,
                thr_offset as u32,
                0,
            ]);
            n_poisson += 1;
        }
    }
    let keys_base = tables.len() as u32;
    tables.extend_from_slice(&sh.trial_keys);
    let template = FusedParams {
        n_steps: 0,
        row_words: lay.row_words as u32,
        n_lif: lif_order.len() as u32,
        zero: 0,
        pop_base,
        proj_base,
        in_base,
        gen_input: sh.poisson.iter().any(|x| x.is_some()) as u32,
        poisson_base,
        n_poisson,
        keys_base,
        first_step: 0,
        trial_words: sh.trial_words as u32,
        v_len: lay.v_len as u32,
        slice_steps: slice_steps as u32,
        _pad: 0,
    };
    let params = init_buffer(
        device,
        "fused params",
        bytemuck::bytes_of(&template),
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    let tables = storage_buffer(device, "fused tables", &tables);
    let wbuf = storage_buffer(device, "fused weights", &weights);
    let flags = [true, true, true, false, false, true, false];
    let src = crate::engine::gpu::wgsl::compose(&FAMILY);
    let (bgl, pipeline) = kernel(device, "fused_steps", &src, &flags, &steps.layout);
    let buffers = [
        &params,
        &tables,
        &wbuf,
        sh.bias,
        sh.v,
        sh.spikes,
        sh.thresholds,
        sh.fault,
    ];
    let bind_group = bind_group(device, "fused_steps", &bgl, &buffers);
    keep.extend([tables, wbuf]);
    Fused {
        pipeline,
        bind_group,
        params,
        template,
        step_group: steps.group.clone(),
        step_stride: steps.stride,
    }
}
