//! The CPU twin of the kernel family `neuron_update`
//! (shaders/neuron_update.wgsl): the models in physical units (iaf,
//! Izhikevich) with their synapses' kinetics, docs/arithmetic.md §7-§8,
//! neuron by neuron in the kernel's order of f32 operations.

use super::ProjectionState;
use crate::fixed::{TRACE_FLOOR, fixed_to_f32, flush_below};
use crate::network::neuron::{
    MODEL_IAF, ModelConsts, SYN_CONDUCTANCE, SYN_EXP_CURRENT, SYN_INSTANT, SYN_NMDA, SynapseConsts,
    mg_block,
};

/// A stored state (membrane, recovery, synaptic current or conductance)
/// below 2^-64 in magnitude becomes +0 (§7): no operand of the next step
/// is then subnormal, so a GPU that flushes subnormals agrees.
#[inline]
pub fn floor_state(x: f32) -> f32 {
    flush_below(x, TRACE_FLOOR)
}

/// One incoming projection of a population as the update reads it, for a
/// range of its post neurons (a thread's share): the integer sums, biases
/// and synaptic states of those neurons, the projection's constants.
pub struct Incoming<'a> {
    pub acc: &'a [i32],
    pub bias: &'a [f32],
    pub syn: &'a mut [f32],
    pub c: IncomingConsts<'a>,
}

/// What every neuron of an incoming projection shares.
#[derive(Clone, Copy)]
pub struct IncomingConsts<'a> {
    /// The projection's index (its gain in a step's row of gains).
    pub j: usize,
    pub scale_hi: f32,
    pub scale_lo: f32,
    pub neg: bool,
    pub kin: SynapseConsts,
    pub table: Option<&'a [f32]>,
}

impl<'a> Incoming<'a> {
    /// Every incoming projection of a population (`incoming`, in config
    /// order) over all its neurons.
    pub fn of(projections: &'a mut [ProjectionState], incoming: &[usize]) -> Vec<Incoming<'a>> {
        debug_assert!(incoming.is_sorted(), "config order");
        projections
            .iter_mut()
            .enumerate()
            .filter(|(j, _)| incoming.contains(j))
            .map(|(j, p)| Incoming {
                acc: &p.acc,
                bias: &p.bias,
                syn: &mut p.syn,
                c: IncomingConsts {
                    j,
                    scale_hi: p.q.scale_hi,
                    scale_lo: p.q.scale_lo,
                    neg: p.sign < 0,
                    kin: p.kin,
                    table: p.table.as_deref().map(|t| &t[..]),
                },
            })
            .collect()
    }

    /// The views of neurons `[0, at)` and `[at, ..)`.
    fn split_at(self, at: usize) -> (Incoming<'a>, Incoming<'a>) {
        let (a0, a1) = self.acc.split_at(at.min(self.acc.len()));
        let (b0, b1) = self.bias.split_at(at.min(self.bias.len()));
        let (s0, s1) = self.syn.split_at_mut(at.min(self.syn.len()));
        let c = self.c;
        (
            Incoming {
                acc: a0,
                bias: b0,
                syn: s0,
                c,
            },
            Incoming {
                acc: a1,
                bias: b1,
                syn: s1,
                c,
            },
        )
    }
}

/// Splits the views of a population's neurons into ranges of `per`
/// neurons (the last may hold fewer).
pub fn split<'a>(mut views: Vec<Incoming<'a>>, size: usize, per: usize) -> Vec<Vec<Incoming<'a>>> {
    let mut parts = Vec::new();
    let mut left = size;
    while left > per {
        let (head, tail): (Vec<_>, Vec<_>) = views.into_iter().map(|v| v.split_at(per)).unzip();
        parts.push(head);
        views = tail;
        left -= per;
    }
    parts.push(views);
    parts
}

/// The step's synaptic input of neuron `n` (§8.1): every incoming
/// projection's arriving weight `x = (nearest(acc 2^-F) + b) * gain`, in
/// config order; a current's term added to `i_ext` left to right, a
/// stateful synapse's state decayed and raised by `x`. Returns the current
/// that does not depend on v.
#[inline]
fn synaptic_input(
    m: &ModelConsts,
    incoming: &mut [Incoming],
    gains: Option<&[f32]>,
    n: usize,
) -> f32 {
    let mut i = m.i_ext;
    for p in incoming.iter_mut() {
        let c = p.c;
        let mut x = fixed_to_f32(p.acc[n], c.scale_hi, c.scale_lo) + p.bias[n];
        if let Some(g) = gains {
            x *= g[c.j];
        }
        let signed = |s: f32| if c.neg { -s } else { s };
        match c.kin.kind {
            SYN_INSTANT => i += signed(x),
            kind => {
                let s = floor_state(p.syn[n] * c.kin.decay + x);
                p.syn[n] = s;
                if kind == SYN_EXP_CURRENT {
                    i += signed(s);
                }
            }
        }
    }
    i
}

/// The current at membrane `v` (§8.2): the step's current, then each
/// conductance's `g (e_rev - v)` (times `B(v)` for NMDA), in config order.
#[inline]
fn current_at(incoming: &[Incoming], n: usize, i0: f32, v: f32) -> f32 {
    let mut i = i0;
    for p in incoming {
        let c = &p.c;
        if c.kin.kind == SYN_CONDUCTANCE || c.kin.kind == SYN_NMDA {
            let mut drive = c.kin.e_rev - v;
            if let Some(t) = c.table {
                drive *= mg_block(t, v);
            }
            i += p.syn[n] * drive;
        }
    }
    i
}

/// Kernel `neuron_update`: for each neuron of a population in physical
/// units, its synaptic input, then `substeps` sub-steps of its model, and
/// its spike bit (set when any sub-step spiked). `u` holds Izhikevich's
/// recovery variable or iaf's refractory counter; `params` the step's
/// `[k, v_r, d]` of a dopamine-modulated Izhikevich population. Returns the
/// first neuron whose membrane is no longer finite.
#[allow(clippy::too_many_arguments)]
pub fn neuron_update(
    m: &ModelConsts,
    params: Option<[f32; 3]>,
    incoming: &mut [Incoming],
    gains: Option<&[f32]>,
    v: &mut [f32],
    u: &mut [f32],
    spikes: &mut [u32],
) -> Option<usize> {
    let [k, v_r, d] = params.unwrap_or([m.k, m.v_r, m.d]);
    spikes.fill(0);
    let mut bad = None;
    for n in 0..v.len() {
        let i0 = synaptic_input(m, incoming, gains, n);
        let (mut x, mut w) = (v[n], u[n]);
        let mut fired = false;
        if m.model == MODEL_IAF {
            // §7.1: held at the reset while the counter runs
            let held = w > 0.0;
            for _ in 0..m.substeps {
                if held || fired {
                    x = m.v_reset;
                    continue;
                }
                let i = current_at(incoming, n, i0, x);
                x = floor_state(((x - m.e_l) * m.decay + m.e_l) + i * m.r_gain);
                if x >= m.v_th {
                    fired = true;
                    x = m.v_reset;
                }
            }
            w = match (fired, held) {
                (true, _) => m.t_ref,
                (false, true) => w - 1.0,
                (false, false) => w,
            };
        } else {
            // §7.2: forward Euler, u from the sub-step's old v
            for _ in 0..m.substeps {
                let i = current_at(incoming, n, i0, x);
                let dv = ((k * (x - v_r)) * (x - m.v_t) - w) + i;
                let target = match m.cubic {
                    false => m.b * (x - v_r),
                    true if x < m.v_b => 0.0,
                    true => {
                        let y = x - m.v_b;
                        m.b * ((y * y) * y)
                    }
                };
                let w_new = w + m.h_a * (target - w);
                x = floor_state(x + dv * m.h_over_c);
                w = floor_state(w_new);
                if x >= m.v_peak {
                    fired = true;
                    x = m.c;
                    w = floor_state(w + d);
                }
            }
        }
        v[n] = x;
        u[n] = w;
        spikes[n / 32] |= (fired as u32) << (n % 32);
        if bad.is_none() && !x.is_finite() {
            bad = Some(n);
        }
    }
    bad
}
