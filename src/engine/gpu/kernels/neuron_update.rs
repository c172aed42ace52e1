//! Kernel family `neuron_update` (shaders/neuron_update.wgsl): the
//! populations in physical units (iaf, Izhikevich) with their synapses'
//! kinetics, a step at a time. CPU twin: `engine::cpu::neuron_update`.

use super::{Env, StepBlock};
use crate::engine::gpu::resources::{Launch, grid, storage_buffer, uniform_launch};
use crate::engine::gpu::wgsl::{Family, WORKGROUP};
use crate::network::neuron::{MODEL_IZHIKEVICH, ModelConsts};
use bytemuck::{Pod, Zeroable};

pub const WGSL: &str = include_str!("../../../../shaders/neuron_update.wgsl");

/// `shaders/neuron_update.wgsl` and what it is composed with.
pub const FAMILY: Family = Family {
    name: "neuron_update",
    file: "neuron_update.wgsl",
    source: WGSL,
    pieces: &["step", "fault", "spike_words", "exact"],
    entry_points: &["neuron_update", "neuron_block"],
};

/// WGSL `NeuronParams` (shaders/neuron_update.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct NeuronParams {
    pub n: u32,
    pub v_offset: u32,
    pub word_offset: u32,
    pub row_words: u32,
    pub first_in: u32,
    pub n_in: u32,
    /// 0 iaf, 1 Izhikevich
    pub model: u32,
    pub substeps: u32,
    pub u_offset: u32,
    pub pop: u32,
    pub gain_row: u32,
    /// Where its `[k, v_r, d]` are in a step's row of gains (`u32::MAX`:
    /// not modulated).
    pub mod_offset: u32,
    pub zero: u32,
    pub cubic: u32,
    /// Words of one trial's `state`.
    pub state_stride: u32,
    pub _pad0: u32,
    pub i_ext: f32,
    pub e_l: f32,
    pub decay: f32,
    pub r_gain: f32,
    pub v_reset: f32,
    pub v_th: f32,
    pub t_ref: f32,
    pub k: f32,
    pub v_r: f32,
    pub v_t: f32,
    pub v_peak: f32,
    pub h_over_c: f32,
    pub h_a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub v_b: f32,
    pub _pad2: [u32; 3],
}

impl NeuronParams {
    /// The model's constants, with the population's place left at 0 (a
    /// single population at the start of every buffer, not modulated).
    pub fn of(m: &ModelConsts) -> NeuronParams {
        NeuronParams {
            n: 0,
            v_offset: 0,
            word_offset: 0,
            row_words: 0,
            first_in: 0,
            n_in: 0,
            model: m.model,
            substeps: m.substeps,
            u_offset: 0,
            pop: 0,
            gain_row: 0,
            mod_offset: u32::MAX,
            zero: 0,
            cubic: (m.model == MODEL_IZHIKEVICH && m.cubic) as u32,
            state_stride: 0,
            _pad0: 0,
            i_ext: m.i_ext,
            e_l: m.e_l,
            decay: m.decay,
            r_gain: m.r_gain,
            v_reset: m.v_reset,
            v_th: m.v_th,
            t_ref: m.t_ref,
            k: m.k,
            v_r: m.v_r,
            v_t: m.v_t,
            v_peak: m.v_peak,
            h_over_c: m.h_over_c,
            h_a: m.h_a,
            b: m.b,
            c: m.c,
            d: m.d,
            v_b: m.v_b,
            _pad2: [0; 3],
        }
    }
}

/// WGSL `SynKinetics` (shaders/neuron_update.wgsl), an element of a
/// storage array.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct SynKinetics {
    pub proj: u32,
    pub acc_offset: u32,
    pub bias_offset: u32,
    pub sign: i32,
    pub gained: u32,
    pub kind: u32,
    pub state_offset: u32,
    pub table_offset: u32,
    pub scale_hi: f32,
    pub scale_lo: f32,
    pub decay: f32,
    pub e_rev: f32,
    pub block_stride: u32,
    pub ring_mask: u32,
    pub ring_offset: u32,
    pub _pad0: u32,
}

/// Bindings after the parameters: which are read-only.
const READ_ONLY: [bool; 8] = [true, true, false, false, false, false, true, false];

/// The family's pipelines: its step and block entry points.
pub(crate) type Pipelines = StepBlock;

pub(crate) fn pipelines(env: &Env) -> Pipelines {
    StepBlock::new(env, &FAMILY, &READ_ONLY)
}

/// Per population: its launch (physical populations only), over the
/// projections' table (`blocked[j]`: projection j's sums are in per-step
/// slots); `gained`: the engine has per-step gains (1 where unmodulated).
pub(crate) fn launches(
    env: &Env,
    pipe: &Pipelines,
    blocked: &[bool],
    gained: bool,
    acc: &wgpu::Buffer,
    keep: &mut Vec<wgpu::Buffer>,
) -> crate::Result<Vec<Option<Launch>>> {
    let (net, lay, device) = (env.net, env.lay, env.device());
    let dt = net.dt_ms;
    let mut syn = Vec::new();
    for p in 0..net.populations.len() {
        for &j in &lay.incoming[p] {
            let (pr, q) = (&net.projections[j], &env.quantized[j]);
            let k = pr.synapse.consts(dt);
            syn.push(SynKinetics {
                proj: j as u32,
                acc_offset: lay.acc_offset[j] as u32,
                bias_offset: lay.bias_offset[j] as u32,
                sign: pr.sign,
                gained: gained as u32,
                kind: k.kind,
                state_offset: lay.syn_offset[j] as u32,
                table_offset: lay.table_offset[j] as u32,
                scale_hi: q.scale_hi,
                scale_lo: q.scale_lo,
                decay: k.decay,
                e_rev: k.e_rev,
                block_stride: if blocked[j] { q.n_post as u32 } else { 0 },
                ring_mask: lay.rings[j].saturating_sub(1) as u32,
                ring_offset: lay.ring_offset[j] as u32,
                _pad0: 0,
            });
        }
    }
    if syn.is_empty() {
        // a binding holds at least one element
        syn.push(SynKinetics::zeroed());
    }
    let syn = storage_buffer(device, "synapses", &syn);
    let gain_row = crate::dopamine::gain_row(net);
    let mut out = Vec::new();
    for (p, pop) in net.populations.iter().enumerate() {
        let Some(m) = pop.physical(dt) else {
            out.push(None);
            continue;
        };
        let params = NeuronParams {
            n: pop.size as u32,
            v_offset: lay.v_offset[p] as u32,
            word_offset: lay.word_offset[p] as u32,
            row_words: lay.row_words as u32,
            first_in: lay.first_in[p] as u32,
            n_in: lay.incoming[p].len() as u32,
            u_offset: lay.u_offset[p] as u32,
            state_stride: lay.state_len as u32,
            pop: p as u32,
            gain_row: gain_row as u32,
            mod_offset: match pop.da_effects() {
                Some(_) => (net.projections.len() + 3 * p) as u32,
                None => u32::MAX,
            },
            ..NeuronParams::of(&m)
        };
        let what = format!("population `{}`", pop.name);
        let grid = grid((pop.size as u64).div_ceil(WORKGROUP), env.max_dim, &what)?;
        let sh = env.sh;
        let buffers = [
            &syn, sh.bias, acc, sh.v, sh.spikes, sh.fault, sh.gains, sh.state,
        ];
        let (launch, pbuf) = uniform_launch(
            device,
            "neuron_update",
            &pipe.step.layout,
            &params,
            &buffers,
            grid,
        );
        out.push(Some(launch));
        keep.push(pbuf);
    }
    keep.push(syn);
    Ok(out)
}
