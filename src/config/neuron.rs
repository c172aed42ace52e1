//! The TOML fields of the physical neuron models, the synapse kinds and
//! the `[[record]]` sections (docs/network-file.md), and their checks.

use super::{RawPopulation, RawProjection};
use crate::error::{Error, Result, bad_value};
use crate::network::neuron::{MAX_SUBSTEPS, default_substeps};
use crate::network::{
    DaEffects, Iaf, Izhikevich, PopKind, Population, Preset, Projection, Record, StateVar, Synapse,
};
use serde::{Deserialize, Serialize};

/// The fields of the physical models, flattened into `[[population]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// izhikevich: "msn", "fsi", "rs" or "msn_humphries"; fields given
    /// beside it override the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_pf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_m_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r_m_mohm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_l_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_reset_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_th_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_ref_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_r_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_t_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_peak_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_b_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u_init: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_init_mv: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i_ext_pa: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substeps: Option<i64>,
    /// Humphries et al. (2009): K, L, beta1, alpha, beta2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d1_v_r: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d1_d: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d1_nmda: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d2_k: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d2_ampa: Option<f32>,
}

const IAF_FIELDS: &[&str] = &[
    "c_pf",
    "tau_m_ms",
    "r_m_mohm",
    "e_l_mv",
    "v_reset_mv",
    "v_th_mv",
    "t_ref_ms",
    "v_init_mv",
    "i_ext_pa",
    "substeps",
];
const IZH_FIELDS: &[&str] = &[
    "preset",
    "c_pf",
    "k",
    "v_r_mv",
    "v_t_mv",
    "v_peak_mv",
    "a",
    "b",
    "c_mv",
    "d",
    "v_b_mv",
    "u_init",
    "v_init_mv",
    "i_ext_pa",
    "substeps",
    "d1_v_r",
    "d1_d",
    "d1_nmda",
    "d2_k",
    "d2_ampa",
];

impl RawModel {
    /// The names of the fields given.
    fn given(&self) -> Vec<&'static str> {
        let v = serde_json::to_value(self).expect("RawModel serialises");
        let names: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        IAF_FIELDS
            .iter()
            .chain(IZH_FIELDS)
            .copied()
            .filter(|f| names.iter().any(|n| n == f))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// Refuses a field the population's kind does not take.
pub(super) fn only_fields(
    rp: &RawPopulation,
    allowed: &[&str],
    f: &dyn Fn(&str) -> String,
) -> Result<()> {
    if let Some(field) = rp.model.given().into_iter().find(|g| !allowed.contains(g)) {
        return Err(Error::Input(format!(
            "{}: a {} population has no `{field}`{}",
            f(field),
            rp.kind,
            match rp.kind.as_str() {
                "iaf" | "izhikevich" => String::new(),
                _ => " (only iaf and izhikevich populations have physical parameters)".into(),
            }
        )));
    }
    Ok(())
}

fn finite(field: &str, v: f64, min_exclusive: Option<f64>, rule: &str) -> Result<f64> {
    let ok = v.is_finite() && min_exclusive.is_none_or(|m| v > m) && v.abs() <= 1e6;
    match ok {
        true => Ok(v),
        false => Err(bad_value(field, format!("{v:?}"), rule)),
    }
}

fn potential(field: &str, v: f32) -> Result<f32> {
    let ok = v.is_finite() && v.abs() <= 1000.0;
    crate::checks::check_normal(field, v)?;
    match ok {
        true => Ok(v),
        false => Err(bad_value(
            field,
            format!("{v:?}"),
            "must be a finite potential in mV within [-1000, 1000]",
        )),
    }
}

fn param(field: &str, v: f32) -> Result<f32> {
    crate::checks::check_param(field, v, -crate::checks::MAX_PARAM)?;
    Ok(v)
}

fn substeps(raw: Option<i64>, default: u32, f: &dyn Fn(&str) -> String) -> Result<u32> {
    match raw {
        None => Ok(default),
        Some(s) if (1..=MAX_SUBSTEPS as i64).contains(&s) => Ok(s as u32),
        Some(s) => Err(bad_value(
            f("substeps"),
            s,
            format!("must be a whole number in 1..={MAX_SUBSTEPS}"),
        )),
    }
}

pub(super) fn validate_iaf(
    rp: &RawPopulation,
    f: &dyn Fn(&str) -> String,
    dt_ms: f64,
) -> Result<PopKind> {
    only_fields(rp, IAF_FIELDS, f)?;
    let m = &rp.model;
    let tau = finite(
        &f("tau_m_ms"),
        m.tau_m_ms.unwrap_or(10.0),
        Some(0.0),
        "must be a finite time in ms, > 0",
    )?;
    let c_m_pf = match (m.c_pf, m.r_m_mohm) {
        (Some(_), Some(_)) => {
            return Err(Error::Input(format!(
                "{}: give the capacitance c_pf or the resistance r_m_mohm, not both (R = tau_m / C)",
                f("r_m_mohm")
            )));
        }
        (Some(c), None) => finite(
            &f("c_pf"),
            c,
            Some(0.0),
            "must be a finite capacitance in pF, > 0",
        )?,
        (None, Some(r)) => {
            // R in MOhm = mV / nA: C (pF) = tau (ms) / R (GOhm)
            let r = finite(
                &f("r_m_mohm"),
                r,
                Some(0.0),
                "must be a finite resistance in MOhm, > 0",
            )?;
            tau / (r * 1e-3)
        }
        (None, None) => 250.0,
    };
    let e_l = potential(&f("e_l_mv"), m.e_l_mv.unwrap_or(-70.0))?;
    let v_reset = potential(&f("v_reset_mv"), m.v_reset_mv.unwrap_or(e_l))?;
    let v_th = potential(&f("v_th_mv"), m.v_th_mv.unwrap_or(-55.0))?;
    if v_th <= v_reset {
        return Err(bad_value(
            f("v_th_mv"),
            v_th,
            format!("must be above v_reset_mv ({v_reset})"),
        ));
    }
    let t_ref = finite(
        &f("t_ref_ms"),
        m.t_ref_ms.unwrap_or(2.0),
        Some(-1e-300),
        "must be a finite time in ms, >= 0",
    )?;
    let steps = t_ref / dt_ms;
    if (steps - steps.round()).abs() > 1e-9 * steps.max(1.0) || steps.round() > u16::MAX as f64 {
        return Err(bad_value(
            f("t_ref_ms"),
            t_ref,
            format!(
                "must be a whole number of steps of dt_ms = {dt_ms} (at most {} steps)",
                u16::MAX
            ),
        ));
    }
    Ok(PopKind::Iaf(Iaf {
        tau_m_ms: tau,
        c_m_pf,
        e_l_mv: e_l,
        v_reset_mv: v_reset,
        v_th_mv: v_th,
        t_ref_ms: t_ref,
        v_init_mv: potential(&f("v_init_mv"), m.v_init_mv.unwrap_or(e_l))?,
        i_ext_pa: param(&f("i_ext_pa"), m.i_ext_pa.unwrap_or(0.0))?,
        substeps: substeps(m.substeps, 1, f)?,
    }))
}

pub(super) fn validate_izhikevich(
    rp: &RawPopulation,
    f: &dyn Fn(&str) -> String,
    dt_ms: f64,
) -> Result<PopKind> {
    only_fields(rp, IZH_FIELDS, f)?;
    let m = &rp.model;
    let base = match m.preset.as_deref() {
        Some(name) => Preset::from_name(name)
            .ok_or_else(|| {
                bad_value(
                    f("preset"),
                    format!("{name:?}"),
                    format!(
                        "must be one of {}",
                        Preset::ALL.map(|p| format!("\"{}\"", p.name())).join(", ")
                    ),
                )
            })?
            .params(),
        // without a preset every parameter is the MSN's unless given
        None => Izhikevich {
            preset: None,
            ..Preset::Msn.params()
        },
    };
    let v_r = potential(&f("v_r_mv"), m.v_r_mv.unwrap_or(base.v_r_mv))?;
    let v_t = potential(&f("v_t_mv"), m.v_t_mv.unwrap_or(base.v_t_mv))?;
    let v_peak = potential(&f("v_peak_mv"), m.v_peak_mv.unwrap_or(base.v_peak_mv))?;
    if v_peak <= v_t {
        return Err(bad_value(
            f("v_peak_mv"),
            v_peak,
            format!("must be above v_t_mv ({v_t})"),
        ));
    }
    let c = potential(&f("c_mv"), m.c_mv.unwrap_or(base.c_mv))?;
    if c >= v_peak {
        return Err(bad_value(
            f("c_mv"),
            c,
            format!("must be below v_peak_mv ({v_peak}): the reset"),
        ));
    }
    let da_given = [m.d1_v_r, m.d1_d, m.d1_nmda, m.d2_k, m.d2_ampa]
        .iter()
        .any(Option::is_some);
    let da = match (base.da, da_given) {
        (None, false) => None,
        (b, _) => {
            let b = b.unwrap_or(DaEffects {
                d1_v_r: 0.0,
                d1_d: 0.0,
                d1_nmda: 0.0,
                d2_k: 0.0,
                d2_ampa: 0.0,
            });
            let g = |name: &str, v: Option<f32>, d: f32| -> Result<f32> {
                let v = v.unwrap_or(d);
                crate::checks::check_param(&f(name), v, 0.0)?;
                Ok(v)
            };
            Some(DaEffects {
                d1_v_r: g("d1_v_r", m.d1_v_r, b.d1_v_r)?,
                d1_d: g("d1_d", m.d1_d, b.d1_d)?,
                d1_nmda: g("d1_nmda", m.d1_nmda, b.d1_nmda)?,
                d2_k: g("d2_k", m.d2_k, b.d2_k)?,
                d2_ampa: g("d2_ampa", m.d2_ampa, b.d2_ampa)?,
            })
        }
    };
    Ok(PopKind::Izhikevich(Izhikevich {
        preset: base.preset,
        c_pf: finite(
            &f("c_pf"),
            m.c_pf.unwrap_or(base.c_pf),
            Some(0.0),
            "must be a finite capacitance in pF, > 0",
        )?,
        k: param(&f("k"), m.k.unwrap_or(base.k))?,
        v_r_mv: v_r,
        v_t_mv: v_t,
        v_peak_mv: v_peak,
        a: finite(
            &f("a"),
            m.a.unwrap_or(base.a),
            Some(0.0),
            "must be a finite rate in 1/ms, > 0",
        )?,
        b: param(&f("b"), m.b.unwrap_or(base.b))?,
        c_mv: c,
        d: param(&f("d"), m.d.unwrap_or(base.d))?,
        v_b_mv: match m.v_b_mv.or(base.v_b_mv) {
            Some(v) => Some(potential(&f("v_b_mv"), v)?),
            None => None,
        },
        v_init_mv: potential(&f("v_init_mv"), m.v_init_mv.unwrap_or(v_r))?,
        u_init: param(&f("u_init"), m.u_init.unwrap_or(base.u_init))?,
        i_ext_pa: param(&f("i_ext_pa"), m.i_ext_pa.unwrap_or(0.0))?,
        substeps: substeps(m.substeps, default_substeps(dt_ms), f)?,
        da,
    }))
}

/// The raw fields of a resolved physical population (config.toml).
pub(super) fn raw_model(kind: &PopKind) -> RawModel {
    match kind {
        PopKind::Iaf(m) => RawModel {
            c_pf: Some(m.c_m_pf),
            tau_m_ms: Some(m.tau_m_ms),
            e_l_mv: Some(m.e_l_mv),
            v_reset_mv: Some(m.v_reset_mv),
            v_th_mv: Some(m.v_th_mv),
            t_ref_ms: Some(m.t_ref_ms),
            v_init_mv: Some(m.v_init_mv),
            i_ext_pa: Some(m.i_ext_pa),
            substeps: Some(m.substeps as i64),
            ..RawModel::default()
        },
        PopKind::Izhikevich(m) => RawModel {
            preset: m.preset.map(|p| p.name().to_string()),
            c_pf: Some(m.c_pf),
            k: Some(m.k),
            v_r_mv: Some(m.v_r_mv),
            v_t_mv: Some(m.v_t_mv),
            v_peak_mv: Some(m.v_peak_mv),
            a: Some(m.a),
            b: Some(m.b),
            c_mv: Some(m.c_mv),
            d: Some(m.d),
            v_b_mv: m.v_b_mv,
            u_init: Some(m.u_init),
            v_init_mv: Some(m.v_init_mv),
            i_ext_pa: Some(m.i_ext_pa),
            substeps: Some(m.substeps as i64),
            d1_v_r: m.da.map(|d| d.d1_v_r),
            d1_d: m.da.map(|d| d.d1_d),
            d1_nmda: m.da.map(|d| d.d1_nmda),
            d2_k: m.da.map(|d| d.d2_k),
            d2_ampa: m.da.map(|d| d.d2_ampa),
            ..RawModel::default()
        },
        _ => RawModel::default(),
    }
}

// ---------------------------------------------------------------------------
// Synapses

/// A projection's `synapse` and its fields, checked against its post
/// population; and the sign it takes.
pub(super) fn validate_synapse(
    rp: &RawProjection,
    f: &dyn Fn(&str) -> String,
    post: &Population,
) -> Result<(Synapse, i32)> {
    let name = rp.synapse.as_deref().unwrap_or("instant");
    let mut syn = Synapse::named(name).ok_or_else(|| {
        bad_value(
            f("synapse"),
            format!("{name:?}"),
            format!(
                "must be one of {}",
                Synapse::NAMES.map(|n| format!("\"{n}\"")).join(", ")
            ),
        )
    })?;
    let unused = |field: &str, present: bool, why: &str| -> Result<()> {
        match present {
            true => Err(Error::Input(format!(
                "{}: not used by synapse = \"{name}\" ({why})",
                f(field)
            ))),
            false => Ok(()),
        }
    };
    if syn.has_state() && !post.is_physical() {
        return Err(bad_value(
            f("synapse"),
            format!("{name:?}"),
            format!(
                "needs a post population in physical units (kind \"iaf\" or \"izhikevich\"); `{}` is {}, which takes \"instant\"",
                post.name,
                post.kind_name()
            ),
        ));
    }
    unused(
        "tau_ms",
        rp.tau_ms.is_some() && !syn.has_state(),
        "it has no time constant",
    )?;
    unused(
        "e_rev_mv",
        rp.e_rev_mv.is_some() && !syn.is_conductance(),
        "a current has no reversal potential",
    )?;
    unused(
        "mg_mm",
        rp.mg_mm.is_some() && name != "nmda",
        "only nmda has a magnesium block",
    )?;
    if let Some(t) = rp.tau_ms {
        syn.tau_ms = finite(
            &f("tau_ms"),
            t,
            Some(0.0),
            "must be a finite time in ms, > 0",
        )?;
    }
    if let Some(e) = rp.e_rev_mv {
        syn.e_rev_mv = potential(&f("e_rev_mv"), e)?;
    }
    if let Some(mg) = rp.mg_mm {
        crate::checks::check_param(&f("mg_mm"), mg, 0.0)?;
        syn.mg_mm = mg;
    }
    let sign = match rp.sign {
        None => syn.default_sign() as i64,
        Some(s) => s,
    };
    if sign != 1 && sign != -1 {
        return Err(bad_value(
            f("sign"),
            sign,
            "must be 1 (excitatory) or -1 (inhibitory)",
        ));
    }
    if syn.is_conductance() {
        if rp.bias == Some(true) {
            return Err(Error::Input(format!(
                "{}: a conductance synapse has no bias (use the post population's i_ext_pa for a constant current)",
                f("bias")
            )));
        }
        // a conductance is >= 0: the reversal potential gives the direction
        let (lo, what) = match rp.init.as_str() {
            "uniform" => (rp.low.unwrap_or(0.0), "low"),
            "constant" => (rp.weight.unwrap_or(0.0), "weight"),
            _ => (-1.0, "init"),
        };
        if lo < 0.0 {
            return Err(bad_value(
                f(what),
                match what {
                    "init" => format!("{:?}", rp.init),
                    _ => lo.to_string(),
                },
                "a conductance (nS) must not be negative: init = \"uniform\" with low >= 0 or \"constant\" with weight >= 0",
            ));
        }
        if let Some(pl) = &rp.plasticity
            && pl.w_min < 0.0
        {
            return Err(bad_value(
                f("plasticity.w_min"),
                pl.w_min,
                "a conductance (nS) must not be negative: w_min >= 0",
            ));
        }
    }
    Ok((syn, sign as i32))
}

// ---------------------------------------------------------------------------
// [[record]]

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRecord {
    pub population: String,
    /// Neuron indices, or `neuron_range = [lo, hi)`; neither: every neuron.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neuron_range: Option<Vec<i64>>,
    /// "v", "u", "refractory", or a projection onto the population (its
    /// current or conductance); default ["v"].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<String>>,
    /// Sampling period, a whole number of steps (default dt_ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<f64>,
}

/// Most neurons × variables a network records (a row of samples).
pub const MAX_RECORDED: usize = 1 << 24;

pub(super) fn validate_records(
    raws: &[RawRecord],
    pops: &[Population],
    projs: &[Projection],
    dt_ms: f64,
) -> Result<Vec<Record>> {
    let mut out: Vec<Record> = Vec::new();
    let mut total = 0usize;
    for (i, r) in raws.iter().enumerate() {
        let f = |field: &str| format!("record[{i}] field `{field}`");
        let p = pops
            .iter()
            .position(|p| p.name == r.population)
            .ok_or_else(|| {
                bad_value(
                    f("population"),
                    format!("{:?}", r.population),
                    "is not a population",
                )
            })?;
        let pop = &pops[p];
        if pop.is_poisson() {
            return Err(bad_value(
                f("population"),
                format!("{:?}", r.population),
                "is a poisson population, which has no state (its spikes are in spikes_<pop>.npy)",
            ));
        }
        let (neurons, range) = record_neurons(r, pop, &f)?;
        let names = r.variables.clone().unwrap_or_else(|| vec!["v".into()]);
        let mut variables = Vec::new();
        for name in &names {
            let var = record_var(name, p, pops, projs, &f)?;
            if variables.contains(&var)
                || out
                    .iter()
                    .any(|o| o.population == p && o.variables.contains(&var))
            {
                return Err(bad_value(
                    f("variables"),
                    format!("{name:?}"),
                    format!("is recorded twice for `{}`", pop.name),
                ));
            }
            variables.push(var);
        }
        if variables.is_empty() {
            return Err(bad_value(
                f("variables"),
                "[]",
                "must name at least one variable",
            ));
        }
        let every_ms = r.every_ms.unwrap_or(dt_ms);
        let every = every_ms / dt_ms;
        if !(every_ms.is_finite()
            && every >= 1.0 - 1e-9
            && (every - every.round()).abs() <= 1e-9 * every
            && every <= u32::MAX as f64)
        {
            return Err(bad_value(
                f("every_ms"),
                every_ms,
                format!("must be a whole number (>= 1) of steps of dt_ms = {dt_ms}"),
            ));
        }
        total = total.saturating_add(neurons.len() * variables.len());
        if total > MAX_RECORDED {
            return Err(bad_value(
                f("neurons"),
                neurons.len(),
                format!(
                    "the records hold more than {MAX_RECORDED} neurons x variables; record fewer"
                ),
            ));
        }
        out.push(Record {
            population: p,
            neurons,
            range,
            variables,
            every: every.round() as u64,
        });
    }
    Ok(out)
}

/// A record's neurons, and the range they were given as.
#[allow(clippy::type_complexity)]
fn record_neurons(
    r: &RawRecord,
    pop: &Population,
    f: &dyn Fn(&str) -> String,
) -> Result<(Vec<u32>, Option<(u32, u32)>)> {
    let n = pop.size as i64;
    let check = |field: &str, x: i64| -> Result<u32> {
        match (0..n).contains(&x) {
            true => Ok(x as u32),
            false => Err(bad_value(
                f(field),
                x,
                format!("is not a neuron of `{}` (0..{n})", pop.name),
            )),
        }
    };
    Ok(match (&r.neurons, &r.neuron_range) {
        (Some(_), Some(_)) => {
            return Err(Error::Input(format!(
                "{}: give neurons or neuron_range, not both",
                f("neuron_range")
            )));
        }
        (Some(list), None) => {
            if list.is_empty() {
                return Err(bad_value(
                    f("neurons"),
                    "[]",
                    "must name at least one neuron",
                ));
            }
            let v = list
                .iter()
                .map(|&x| check("neurons", x))
                .collect::<Result<Vec<_>>>()?;
            (v, None)
        }
        (None, Some(range)) => {
            let &[lo, hi] = &range[..] else {
                return Err(bad_value(
                    f("neuron_range"),
                    format!("{range:?}"),
                    "must be [lo, hi): neurons lo to hi - 1",
                ));
            };
            if !(0 <= lo && lo < hi && hi <= n) {
                return Err(bad_value(
                    f("neuron_range"),
                    format!("[{lo}, {hi}]"),
                    format!(
                        "must be [lo, hi) with 0 <= lo < hi <= {n} (the size of `{}`)",
                        pop.name
                    ),
                ));
            }
            (
                (lo as u32..hi as u32).collect(),
                Some((lo as u32, hi as u32)),
            )
        }
        (None, None) => ((0..n as u32).collect(), Some((0, n as u32))),
    })
}

/// A recorded variable's name as a [`StateVar`] of population `p`.
fn record_var(
    name: &str,
    p: usize,
    pops: &[Population],
    projs: &[Projection],
    f: &dyn Fn(&str) -> String,
) -> Result<StateVar> {
    let pop = &pops[p];
    Ok(match (name, &pop.kind) {
        ("v", _) => StateVar::V,
        ("u", PopKind::Izhikevich(_)) => StateVar::U,
        ("refractory", PopKind::Iaf(_)) => StateVar::Refractory,
        (other, _) => match projs.iter().position(|q| q.name == other && q.post == p) {
            Some(j) if projs[j].synapse.has_state() => StateVar::Syn(j),
            _ => {
                let mut known = vec!["\"v\"".to_string()];
                match pop.kind {
                    PopKind::Izhikevich(_) => known.push("\"u\"".into()),
                    PopKind::Iaf(_) => known.push("\"refractory\"".into()),
                    _ => {}
                }
                known.extend(
                    projs
                        .iter()
                        .filter(|q| q.post == p && q.synapse.has_state())
                        .map(|q| format!("\"{}\"", q.name)),
                );
                return Err(bad_value(
                    f("variables"),
                    format!("{other:?}"),
                    format!(
                        "is not a variable of `{}` ({}); it has {}",
                        pop.name,
                        pop.kind_name(),
                        known.join(", ")
                    ),
                ));
            }
        },
    })
}

/// The resolved `[[record]]` sections (config.toml).
pub(super) fn raw_records(net: &crate::network::Network) -> Vec<RawRecord> {
    net.records
        .iter()
        .map(|r| RawRecord {
            population: net.populations[r.population].name.clone(),
            neurons: r
                .range
                .is_none()
                .then(|| r.neurons.iter().map(|&n| n as i64).collect()),
            neuron_range: r.range.map(|(lo, hi)| vec![lo as i64, hi as i64]),
            variables: Some(
                r.variables
                    .iter()
                    .map(|&v| match v {
                        StateVar::Syn(j) => net.projections[j].name.clone(),
                        v => Record::var_name(net, v),
                    })
                    .collect(),
            ),
            every_ms: Some(r.every as f64 * net.dt_ms),
        })
        .collect()
}
