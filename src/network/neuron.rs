//! Neuron models in physical units and synaptic kinetics
//! (docs/arithmetic.md §7, §8; the parameters and their sources:
//! docs/models.md).
//!
//! Units: mV, ms, pF, pA and nS (pA = nS x mV, pF x mV / ms = pA), the
//! units of Izhikevich (2007). Every parameter is held as the file gives
//! it; [`ModelConsts`] and [`SynapseConsts`] are the f32 constants both
//! engines read, computed once on the host from the time step.

use crate::fixed::{FACTOR_FLOOR, flush_below};

/// A leaky integrate-and-fire neuron in physical units (NEST's `iaf`):
/// `tau_m dv/dt = -(v - e_l) + R I`, `R = tau_m / c_m`; a spike when
/// `v >= v_th`, then `v = v_reset` held for `t_ref`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iaf {
    pub tau_m_ms: f64,
    /// Membrane capacitance (pF); `R = tau_m / c_m`.
    pub c_m_pf: f64,
    pub e_l_mv: f32,
    pub v_reset_mv: f32,
    pub v_th_mv: f32,
    pub t_ref_ms: f64,
    pub v_init_mv: f32,
    /// A constant current injected into every neuron (pA).
    pub i_ext_pa: f32,
    pub substeps: u32,
}

/// Izhikevich's quadratic model in the form of his 2007 book (ch. 8):
/// `C dv/dt = k (v - v_r)(v - v_t) - u + I`, `du/dt = a (U(v) - u)` with
/// `U(v) = b (v - v_r)`, or for the fast-spiking interneuron
/// `U(v) = b (v - v_b)^3` above `v_b` and 0 below; at `v >= v_peak`:
/// `v = c`, `u = u + d`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Izhikevich {
    pub preset: Option<Preset>,
    pub c_pf: f64,
    pub k: f32,
    pub v_r_mv: f32,
    pub v_t_mv: f32,
    pub v_peak_mv: f32,
    pub a: f64,
    pub b: f32,
    pub c_mv: f32,
    pub d: f32,
    /// The fast-spiking interneuron's cubic u-nullcline starts here.
    pub v_b_mv: Option<f32>,
    pub v_init_mv: f32,
    pub u_init: f32,
    pub i_ext_pa: f32,
    pub substeps: u32,
    /// Dopamine's effect on the parameters (Humphries et al. 2009).
    pub da: Option<DaEffects>,
}

/// The dopamine modulation of Humphries, Lepora, Wood and Gurney (2009),
/// with `d(t)` for the receptor activation: D1 `v_r (1 + K d)`,
/// `d (1 - L d)` and NMDA input `x (1 + beta1 d)`; D2 `k (1 - alpha d)` and
/// AMPA input `x max(0, 1 - beta2 d)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DaEffects {
    /// K
    pub d1_v_r: f32,
    /// L
    pub d1_d: f32,
    /// beta1
    pub d1_nmda: f32,
    /// alpha
    pub d2_k: f32,
    /// beta2
    pub d2_ampa: f32,
}

/// The named parameter sets of [`Izhikevich`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The striatal medium spiny neuron (Izhikevich 2007, ch. 8).
    Msn,
    /// The fast-spiking interneuron (Izhikevich 2007, ch. 8, fig. 8.27).
    Fsi,
    /// The regular-spiking cortical pyramidal cell (Izhikevich 2007, ch. 8,
    /// fig. 8.12).
    Rs,
    /// The dopamine-modulated MSN (Humphries, Lepora, Wood, Gurney 2009).
    MsnHumphries,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Msn, Preset::Fsi, Preset::Rs, Preset::MsnHumphries];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Msn => "msn",
            Preset::Fsi => "fsi",
            Preset::Rs => "rs",
            Preset::MsnHumphries => "msn_humphries",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The published parameters (docs/models.md cites each).
    pub fn params(self) -> Izhikevich {
        let base = Izhikevich {
            preset: Some(self),
            c_pf: 50.0,
            k: 1.0,
            v_r_mv: -80.0,
            v_t_mv: -25.0,
            v_peak_mv: 40.0,
            a: 0.01,
            b: -20.0,
            c_mv: -55.0,
            d: 150.0,
            v_b_mv: None,
            v_init_mv: -80.0,
            u_init: 0.0,
            i_ext_pa: 0.0,
            substeps: 0,
            da: None,
        };
        match self {
            Preset::Msn => base,
            Preset::Fsi => Izhikevich {
                c_pf: 20.0,
                k: 1.0,
                v_r_mv: -55.0,
                v_t_mv: -40.0,
                v_peak_mv: 25.0,
                a: 0.2,
                b: 0.025,
                c_mv: -45.0,
                d: 0.0,
                v_b_mv: Some(-55.0),
                v_init_mv: -55.0,
                ..base
            },
            Preset::Rs => Izhikevich {
                c_pf: 100.0,
                k: 0.7,
                v_r_mv: -60.0,
                v_t_mv: -40.0,
                v_peak_mv: 35.0,
                a: 0.03,
                b: -2.0,
                c_mv: -50.0,
                d: 100.0,
                v_init_mv: -60.0,
                ..base
            },
            Preset::MsnHumphries => Izhikevich {
                c_pf: 15.2,
                v_t_mv: -29.7,
                d: 91.0,
                da: Some(DaEffects {
                    d1_v_r: 0.0289,
                    d1_d: 0.331,
                    d1_nmda: 6.3,
                    d2_k: 0.032,
                    d2_ampa: 0.215,
                }),
                ..base
            },
        }
    }
}

/// The longest sub-step of an Izhikevich population unless `substeps`
/// says otherwise: forward Euler at 1 ms makes the MSN and FSI presets fire
/// early or not at all; at 0.1 ms they fire as published (docs/models.md).
pub const IZHIKEVICH_MAX_SUBSTEP_MS: f64 = 0.1;

/// Sub-steps per step at most.
pub const MAX_SUBSTEPS: u32 = 1000;

/// Izhikevich's default sub-steps for a step of `dt_ms`.
pub fn default_substeps(dt_ms: f64) -> u32 {
    ((dt_ms / IZHIKEVICH_MAX_SUBSTEP_MS) - 1e-9).ceil().max(1.0) as u32
}

// ---------------------------------------------------------------------------
// Synapses

/// How a projection's arriving weights act on its post neuron.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynapseKind {
    /// The weight is a current for the step it arrives in (today's).
    Instant,
    /// A current (pA) that jumps by the weight and decays with `tau`.
    ExpCurrent,
    /// A conductance (nS) that jumps by the weight and decays with `tau`;
    /// current `g (e_rev - v)`.
    ExpConductance,
    /// An exponential conductance with Jahr and Stevens' (1990) magnesium
    /// block: current `g (e_rev - v) B(v)`.
    Nmda,
}

/// A projection's synapse: its kind and parameters, and the name it was
/// given (`ampa` and `gaba_a` are exponential conductances with their
/// defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synapse {
    pub name: &'static str,
    pub kind: SynapseKind,
    pub tau_ms: f64,
    pub e_rev_mv: f32,
    /// Extracellular magnesium (mM), NMDA only.
    pub mg_mm: f32,
}

impl Synapse {
    pub const INSTANT: Synapse = Synapse {
        name: "instant",
        kind: SynapseKind::Instant,
        tau_ms: 0.0,
        e_rev_mv: 0.0,
        mg_mm: 0.0,
    };

    /// The names a file may give, with their defaults (Humphries, Wood and
    /// Gurney 2009 for the receptors; docs/models.md).
    pub fn named(name: &str) -> Option<Synapse> {
        let s = |name, kind, tau_ms, e_rev_mv, mg_mm| Synapse {
            name,
            kind,
            tau_ms,
            e_rev_mv,
            mg_mm,
        };
        use SynapseKind::*;
        Some(match name {
            "instant" => Synapse::INSTANT,
            "exp_current" => s("exp_current", ExpCurrent, 5.0, 0.0, 0.0),
            "exp_conductance" => s("exp_conductance", ExpConductance, 5.0, 0.0, 0.0),
            "ampa" => s("ampa", ExpConductance, 6.0, 0.0, 0.0),
            "gaba_a" => s("gaba_a", ExpConductance, 4.0, -60.0, 0.0),
            "nmda" => s("nmda", Nmda, 160.0, 0.0, 1.0),
            _ => return None,
        })
    }

    pub const NAMES: [&'static str; 6] = [
        "instant",
        "exp_current",
        "exp_conductance",
        "ampa",
        "gaba_a",
        "nmda",
    ];

    /// A conductance (nS), not a current.
    pub fn is_conductance(self) -> bool {
        matches!(self.kind, SynapseKind::ExpConductance | SynapseKind::Nmda)
    }

    /// Holds a state per post neuron (a current or a conductance).
    pub fn has_state(self) -> bool {
        self.kind != SynapseKind::Instant
    }

    /// The sign a projection of this synapse has unless the file gives one:
    /// inhibitory where it reverses below -40 mV (GABA_A), else excitatory.
    pub fn default_sign(self) -> i32 {
        match self.is_conductance() && self.e_rev_mv < -40.0 {
            true => -1,
            false => 1,
        }
    }
}

// ---------------------------------------------------------------------------
// The constants both engines read

/// Model codes of the `neuron_update` kernel.
pub const MODEL_IAF: u32 = 0;
pub const MODEL_IZHIKEVICH: u32 = 1;

/// A physical population's f32 constants for a time step (the same numbers
/// for both engines; docs/arithmetic.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModelConsts {
    pub model: u32,
    pub substeps: u32,
    /// Izhikevich: the cubic u-nullcline (v_b given).
    pub cubic: bool,
    pub i_ext: f32,
    // iaf
    pub e_l: f32,
    /// `exp(-h / tau_m)`, h the sub-step
    pub decay: f32,
    /// `R (1 - exp(-h / tau_m))`, mV per pA
    pub r_gain: f32,
    pub v_reset: f32,
    pub v_th: f32,
    /// Steps held at `v_reset` after a spike.
    pub t_ref: f32,
    // Izhikevich
    pub k: f32,
    pub v_r: f32,
    pub v_t: f32,
    pub v_peak: f32,
    /// `h / C`
    pub h_over_c: f32,
    /// `h a`
    pub h_a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub v_b: f32,
}

impl Iaf {
    /// Steps of the refractory period (validated whole).
    pub fn t_ref_steps(&self, dt_ms: f64) -> u32 {
        (self.t_ref_ms / dt_ms).round() as u32
    }

    pub fn consts(&self, dt_ms: f64) -> ModelConsts {
        let h = dt_ms / self.substeps as f64;
        let e = (-h / self.tau_m_ms).exp();
        let r = self.tau_m_ms / self.c_m_pf; // GOhm = mV / pA
        ModelConsts {
            model: MODEL_IAF,
            substeps: self.substeps,
            i_ext: self.i_ext_pa,
            e_l: self.e_l_mv,
            decay: flush_below(e as f32, FACTOR_FLOOR),
            r_gain: (r * (1.0 - e)) as f32,
            v_reset: self.v_reset_mv,
            v_th: self.v_th_mv,
            t_ref: self.t_ref_steps(dt_ms) as f32,
            ..ModelConsts::default()
        }
    }
}

impl Izhikevich {
    pub fn consts(&self, dt_ms: f64) -> ModelConsts {
        let h = dt_ms / self.substeps as f64;
        ModelConsts {
            model: MODEL_IZHIKEVICH,
            substeps: self.substeps,
            cubic: self.v_b_mv.is_some(),
            i_ext: self.i_ext_pa,
            k: self.k,
            v_r: self.v_r_mv,
            v_t: self.v_t_mv,
            v_peak: self.v_peak_mv,
            h_over_c: (h / self.c_pf) as f32,
            h_a: (h * self.a) as f32,
            b: self.b,
            c: self.c_mv,
            d: self.d,
            v_b: self.v_b_mv.unwrap_or(0.0),
            ..ModelConsts::default()
        }
    }
}

/// The per-step parameters of a dopamine-modulated Izhikevich population:
/// `[k, v_r, d]` for `d(t) = level` (docs/arithmetic.md §7.3), f32
/// operations in the order written.
pub fn modulated(
    m: &ModelConsts,
    da: &DaEffects,
    receptor: super::Receptor,
    level: f32,
) -> [f32; 3] {
    match receptor {
        super::Receptor::D1 => [
            m.k,
            m.v_r * (1.0 + da.d1_v_r * level),
            m.d * (1.0 - da.d1_d * level),
        ],
        super::Receptor::D2 => [m.k * (1.0 - da.d2_k * level), m.v_r, m.d],
    }
}

/// Synapse codes of the `neuron_update` kernel.
pub const SYN_INSTANT: u32 = 0;
pub const SYN_EXP_CURRENT: u32 = 1;
pub const SYN_CONDUCTANCE: u32 = 2;
pub const SYN_NMDA: u32 = 3;

/// A projection's synapse constants for a time step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SynapseConsts {
    pub kind: u32,
    /// `exp(-dt / tau)`
    pub decay: f32,
    pub e_rev: f32,
    /// `[Mg] / 3.57` (NMDA)
    pub mg: f32,
}

impl Synapse {
    pub fn consts(&self, dt_ms: f64) -> SynapseConsts {
        SynapseConsts {
            kind: match self.kind {
                SynapseKind::Instant => SYN_INSTANT,
                SynapseKind::ExpCurrent => SYN_EXP_CURRENT,
                SynapseKind::ExpConductance => SYN_CONDUCTANCE,
                SynapseKind::Nmda => SYN_NMDA,
            },
            decay: match self.has_state() {
                true => crate::fixed::decay(dt_ms, self.tau_ms),
                false => 0.0,
            },
            e_rev: self.e_rev_mv,
            mg: self.mg_mm,
        }
    }
}

/// The magnesium block's table (docs/arithmetic.md §8.3):
/// `B(v) = 1 / (1 + [Mg] / 3.57 exp(-0.062 v))` (Jahr and Stevens 1990)
/// at `v = MG_TABLE_V0 + i / MG_TABLE_PER_MV`, computed in f64 and rounded
/// once; between entries both engines interpolate linearly in f32.
pub const MG_TABLE_V0: f32 = -128.0;
pub const MG_TABLE_PER_MV: f32 = 8.0;
/// Entries: -128 mV to +64 mV.
pub const MG_TABLE_LEN: usize = 192 * 8 + 1;

pub fn mg_table(mg_mm: f32) -> Vec<f32> {
    (0..MG_TABLE_LEN)
        .map(|i| {
            let v = MG_TABLE_V0 as f64 + i as f64 / MG_TABLE_PER_MV as f64;
            (1.0 / (1.0 + mg_mm as f64 / 3.57 * (-0.062 * v).exp())) as f32
        })
        .collect()
}

/// `B(v)` from the table, as both engines compute it: `x = (v - v0) * 8`
/// clamped to the table, `i = floor(x)` (at most the second-last entry),
/// `B = t[i] + (t[i + 1] - t[i]) * (x - i)`.
#[inline]
pub fn mg_block(table: &[f32], v: f32) -> f32 {
    let last = (MG_TABLE_LEN - 1) as f32;
    let x = ((v - MG_TABLE_V0) * MG_TABLE_PER_MV).clamp(0.0, last);
    // x >= 0 (or NaN): truncation is floor, without floorf's call
    let i = (x as usize).min(MG_TABLE_LEN - 2);
    let f = x - i as f32;
    table[i] + (table[i + 1] - table[i]) * f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magnesium_table_interpolates_within_1e5_of_jahr_stevens() {
        let t = mg_table(1.0);
        let mut worst = 0f64;
        for i in 0..19_200 {
            let v = -128.0 + i as f64 * 0.01;
            let exact = 1.0 / (1.0 + 1.0 / 3.57 * (-0.062 * v).exp());
            worst = worst.max((mg_block(&t, v as f32) as f64 - exact).abs());
        }
        assert!(worst < 1e-5, "{worst}");
        // clamped beyond the table
        assert_eq!(mg_block(&t, -500.0), t[0]);
        assert_eq!(mg_block(&t, 500.0), t[MG_TABLE_LEN - 1]);
    }

    #[test]
    fn default_substeps_keep_the_substep_at_most_a_tenth_of_a_ms() {
        assert_eq!(default_substeps(1.0), 10);
        assert_eq!(default_substeps(0.1), 1);
        assert_eq!(default_substeps(0.05), 1);
        assert_eq!(default_substeps(0.25), 3);
    }
}
