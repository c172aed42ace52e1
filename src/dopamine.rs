//! Reward: stimulus patterns, dopamine, D1/D2 gain and three-factor
//! plasticity. docs/reward.md and docs/arithmetic.md §4 have the
//! equations; this module holds their validated parameters, the host side
//! of every step (the schedule, d(t), gains and learning factors, which are
//! the same numbers for every engine), the CPU twin of `plasticity.wgsl`,
//! and the analysis of a run (responses per presentation, preference).
//!
//! Discrete time, step t = 0, 1, ...; every f32 operation rounds once, in
//! the order written (no fused multiply-add, as in docs/arithmetic.md §2):
//!
//! - dopamine: the phasic level `p(t) = p(t-1) * decay_d + R(t)`,
//!   `p(-1) = 0`, `decay_d = f32(exp(-dt / tau_d))`, `R(t)` the rewards of
//!   step t summed in config order (explicit rewards, then rules); then
//!   `d(t) = p(t) + tonic` (`d(t) = p(t)` when `tonic` is 0).
//! - gain of the excitatory projections onto a D1 population:
//!   `g(t) = 1 + k * d(t)`; onto D2: `g(t) = max(0, 1 - k * d(t))`; the
//!   projection's current is `cur = (nearest(acc 2^-F) + b) * g(t)`.
//! - plasticity of a projection pre -> post (after every population of
//!   step t is updated; x, y, c as stored after step t-1):
//!   `c = c * decay_c`; if post j spiked at t: `c = c + a_plus * x_i`;
//!   if pre i spiked at t: `c = c - a_minus * y_j`;
//!   `dw = clamp(eta(t) * c, -2^30, 2^30)` with
//!   `eta(t) = (learning_rate * d(t)) * 2^F`;
//!   `wq = clamp(wq + trunc(dw), wq_min, wq_max)`; then the traces
//!   `x_i = x_i * decay_pre + s_i(t)`, `y_j = y_j * decay_post + s_j(t)`.
//!   Stored traces and eligibilities below 2^-64 in magnitude become +0,
//!   and so do the per-step factors (gains, eta) and the decays below
//!   2^-40: then no operand is subnormal and no product either, so a GPU
//!   that flushes subnormals computes the same numbers as the CPU.

use crate::fixed::{FACTOR_FLOOR, decay, flush_below, pow2};
use crate::network::neuron::{ModelConsts, modulated};
use crate::network::{
    DaEffects, Dopamine, Modulation, Network, Projection, Quantized, Receptor, Stimulus,
    SynapseKind,
};

// ---------------------------------------------------------------------------
// The host side of every step

/// The per-step values both engines read, computed step after step on the
/// host: d(t), and per projection its gain (1 where unmodulated) and its
/// learning factor eta(t) (0 where not plastic).
#[derive(Debug, Clone)]
pub struct Clock {
    stimulus: Option<Stimulus>,
    dopamine: Option<Dopamine>,
    decay_d: f32,
    /// Per projection: how d(t) scales it (`g = 1 + k d` for D1,
    /// `max(0, 1 - k d)` for D2), when it is.
    gain_of: Vec<Option<Modulation>>,
    /// Per population with Humphries' parameter modulation: its constants
    /// and effects (the per-step `[k, v_r, d]` after the projections' gains).
    mods: Vec<Option<(ModelConsts, Receptor, DaEffects)>>,
    /// Per projection: (learning rate, F) when plastic.
    eta_of: Vec<Option<(f32, u32)>>,
    d: f32,
    step: u64,
}

impl Clock {
    /// `frac_bits`: F of every projection, in config order.
    pub fn new(net: &Network, frac_bits: &[u32]) -> Clock {
        let gain_of = net.projections.iter().map(|p| gain_of(net, p)).collect();
        let mods = match gain_row(net) > net.projections.len() {
            true => net
                .populations
                .iter()
                .map(|p| {
                    let (r, e) = p.da_effects()?;
                    Some((p.physical(net.dt_ms)?, r, e))
                })
                .collect(),
            false => Vec::new(),
        };
        let eta_of = net
            .projections
            .iter()
            .zip(frac_bits)
            .map(|(p, &f)| p.plasticity.map(|pl| (pl.learning_rate, f)))
            .collect();
        Clock {
            stimulus: net.stimulus.clone(),
            decay_d: net
                .dopamine
                .as_ref()
                .map_or(0.0, |d| decay(net.dt_ms, d.tau_ms)),
            dopamine: net.dopamine.clone(),
            gain_of,
            mods,
            eta_of,
            d: 0.0,
            step: 0,
        }
    }

    /// The clock of an engine: None when no projection's gain or weights
    /// depend on d(t) (then the engines skip the per-step values).
    pub fn for_engine(net: &Network, quantized: &[impl AsRef<Quantized>]) -> Option<Clock> {
        let frac_bits: Vec<u32> = quantized.iter().map(|q| q.as_ref().frac_bits).collect();
        let c = Clock::new(net, &frac_bits);
        (c.gain_of.iter().any(Option::is_some)
            || c.eta_of.iter().any(Option::is_some)
            || !c.mods.is_empty())
        .then_some(c)
    }

    /// Back to step 0, d = 0.
    pub fn restart(&mut self) {
        self.d = 0.0;
        self.step = 0;
    }

    /// The plastic projections, in config order.
    pub fn plastic(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.eta_of.len()).filter(|&j| self.eta_of[j].is_some())
    }

    /// Advances one step: d(t), and each projection's gain and eta into
    /// `gains` and `etas` (one per projection; `gains` then holds
    /// [`gain_row`] values: after the projections', `[k, v_r, d]` per
    /// population, set for those with parameter modulation).
    pub fn next(&mut self, gains: &mut [f32], etas: &mut [f32]) -> f32 {
        let r = self
            .dopamine
            .as_ref()
            .map_or(0.0, |d| d.reward_at(self.step, self.stimulus.as_ref()));
        self.d = self.d * self.decay_d + r;
        self.step += 1;
        // the tonic level on top; 0 adds nothing (not even -0 + 0 = +0)
        let d = match self.dopamine.as_ref().map_or(0.0, |d| d.tonic) {
            0.0 => self.d,
            tonic => self.d + tonic,
        };
        for (g, m) in gains.iter_mut().zip(&self.gain_of) {
            *g = match m {
                None => 1.0,
                Some(Modulation {
                    receptor: Receptor::D1,
                    gain,
                }) => flush_below(1.0 + gain * d, FACTOR_FLOOR),
                Some(Modulation {
                    receptor: Receptor::D2,
                    gain,
                }) => flush_below((1.0 - gain * d).max(0.0), FACTOR_FLOOR),
            };
        }
        let n_proj = self.gain_of.len();
        for (p, m) in self.mods.iter().enumerate() {
            if let Some((consts, receptor, effects)) = m {
                gains[n_proj + 3 * p..][..3]
                    .copy_from_slice(&modulated(consts, effects, *receptor, d));
            }
        }
        for (e, p) in etas.iter_mut().zip(&self.eta_of) {
            *e = match p {
                None => 0.0,
                Some((rate, f)) => flush_below((rate * d) * pow2(*f as i32), FACTOR_FLOOR),
            };
        }
        d
    }
}

/// How d(t) scales projection `p`'s arriving weights, if it does: the
/// gain of its post population's excitatory input (`da_gain`), or for an
/// Izhikevich population with Humphries' effects the D1 gain of its NMDA
/// input (`d1_nmda`) and the D2 gain of its other excitatory input
/// (`d2_ampa`).
fn gain_of(net: &Network, p: &Projection) -> Option<Modulation> {
    let post = &net.populations[p.post];
    let m = post.dopamine.filter(|_| p.sign > 0)?;
    let Some((receptor, e)) = post.da_effects() else {
        return Some(m);
    };
    let nmda = p.synapse.kind == SynapseKind::Nmda;
    let gain = match (receptor, nmda) {
        (Receptor::D1, true) => e.d1_nmda,
        (Receptor::D2, false) => e.d2_ampa,
        _ => return None,
    };
    Some(Modulation { receptor, gain })
}

/// Values in a step's row of gains: one per projection, then, when a
/// population's parameters are modulated, `[k, v_r, d]` per population.
pub fn gain_row(net: &Network) -> usize {
    let n_proj = net.projections.len();
    match net.populations.iter().any(|p| p.da_effects().is_some()) {
        true => n_proj + 3 * net.populations.len(),
        false => n_proj,
    }
}

/// d(t) for steps `0..steps` (dopamine.npy).
pub fn dopamine_trace(net: &Network, steps: usize) -> Vec<f32> {
    let mut clock = Clock::new(net, &vec![0; net.projections.len()]);
    let n = net.projections.len();
    let (mut g, mut e) = (vec![0.0; gain_row(net)], vec![0.0; n]);
    (0..steps).map(|_| clock.next(&mut g, &mut e)).collect()
}

// ---------------------------------------------------------------------------
// Plasticity: the CPU twin of shaders/plasticity.wgsl
