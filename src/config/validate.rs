//! The checks of every population and projection, and their order.

use super::{DelayMs, RawPopulation, RawProjection};
use crate::error::{Error, Result, bad_value};
use crate::network::{
    Connectivity, Delay, Init, LifParams, MAX_DELAY_STEPS, MAX_POPULATION_SIZE, PopKind,
    Population, Projection, Reset,
};

pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(bad_value(
            field,
            format!("{name:?}"),
            "must be 1 to 64 characters from letters, digits, '_' and '-' (it names output files)",
        ))
    }
}

fn check_unit_interval(field: &str, v: f32) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        crate::checks::check_normal(field, v)
    } else {
        Err(bad_value(field, v, "must be within [0, 1]"))
    }
}

/// A weight or bias of an init: finite, within +-MAX_PARAM, not subnormal.
fn check_finite(field: &str, v: f32) -> Result<()> {
    crate::checks::check_param(field, v, -crate::checks::MAX_PARAM)
}

pub(super) fn validate_population(
    i: usize,
    rp: &RawPopulation,
    earlier: &[Population],
    dt_ms: f64,
) -> Result<Population> {
    check_name(&format!("population[{i}].name"), &rp.name)?;
    let f = |field: &str| format!("population `{}` field `{field}`", rp.name);
    if earlier.iter().any(|p| p.name == rp.name) {
        return Err(bad_value(
            f("name"),
            format!("{:?}", rp.name),
            "is used by another population; names must be unique",
        ));
    }
    if rp.size <= 0 || rp.size as u64 > MAX_POPULATION_SIZE {
        return Err(bad_value(
            f("size"),
            rp.size,
            format!("must be a whole number in 1..={MAX_POPULATION_SIZE}"),
        ));
    }
    if let Some(field) = rp.unknown.keys().next() {
        return Err(Error::Input(format!(
            "{}: unknown field (docs/network-file.md lists a population's fields)",
            f(field)
        )));
    }
    let kind = match rp.kind.as_str() {
        "iaf" | "izhikevich" => {
            for (field, present) in [
                ("rate", rp.rate.is_some()),
                ("rate_hz", rp.rate_hz.is_some()),
                ("beta", rp.beta.is_some()),
                ("threshold", rp.threshold.is_some()),
                ("reset", rp.reset.is_some()),
            ] {
                if present {
                    return Err(Error::Input(format!(
                        "{}: a {} population has no `{field}` (its parameters are in mV and ms: docs/network-file.md)",
                        f(field),
                        rp.kind
                    )));
                }
            }
            match rp.kind.as_str() {
                "iaf" => super::neuron::validate_iaf(rp, &f, dt_ms)?,
                _ => super::neuron::validate_izhikevich(rp, &f, dt_ms)?,
            }
        }
        "poisson" => {
            super::neuron::only_fields(rp, &[], &f)?;
            for (field, present) in [
                ("beta", rp.beta.is_some()),
                ("threshold", rp.threshold.is_some()),
                ("reset", rp.reset.is_some()),
                ("dopamine", rp.dopamine.is_some()),
                ("da_gain", rp.da_gain.is_some()),
            ] {
                if present {
                    return Err(Error::Input(format!(
                        "{}: a poisson population has no `{field}` (only lif populations do)",
                        f(field)
                    )));
                }
            }
            let hz = match (&rp.rate, &rp.rate_hz) {
                (Some(_), Some(_)) => {
                    return Err(Error::Input(format!(
                        "{}: give rate (spikes a step) or rate_hz, not both",
                        f("rate_hz")
                    )));
                }
                (None, Some(hz)) => Some(rate_per_step(hz, dt_ms, &f)?),
                _ => None,
            };
            let [lo, hi] = match hz.as_deref().or(rp.rate.as_deref()) {
                None => [0.1, 0.5],
                Some(&[lo, hi]) => [lo, hi],
                Some(other) => {
                    return Err(bad_value(
                        f("rate"),
                        format!("{other:?}"),
                        "must be two numbers [lo, hi]: each neuron's rate is drawn uniformly between them",
                    ));
                }
            };
            check_unit_interval(&f("rate[0]"), lo)?;
            check_unit_interval(&f("rate[1]"), hi)?;
            if lo > hi {
                return Err(bad_value(
                    f("rate"),
                    format!("[{lo}, {hi}]"),
                    "needs lo <= hi",
                ));
            }
            PopKind::Poisson {
                rate_lo: lo,
                rate_hi: hi,
            }
        }
        "lif" => validate_lif(rp, &f)?,
        other => {
            return Err(bad_value(
                f("kind"),
                format!("{other:?}"),
                "must be \"poisson\", \"lif\", \"iaf\" or \"izhikevich\"",
            ));
        }
    };
    let dopamine = match (&rp.dopamine, rp.da_gain) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Error::Input(format!(
                "{}: set only together with `dopamine` (\"d1\" or \"d2\")",
                f("da_gain")
            )));
        }
        (Some(kind), gain) => Some(crate::config::reward::validate_modulation(f, kind, gain)?),
    };
    if let PopKind::Izhikevich(m) = &kind
        && m.da.is_some()
        && rp.da_gain.is_some()
    {
        return Err(Error::Input(format!(
            "{}: not used by a population with Humphries' dopamine effects (its input gains are d1_nmda and d2_ampa; docs/arithmetic.md §7.3)",
            f("da_gain")
        )));
    }
    Ok(Population {
        name: rp.name.clone(),
        size: rp.size as usize,
        kind,
        dopamine,
    })
}

/// `rate_hz = [lo, hi]` as spikes a step of `dt_ms`, each at most one.
fn rate_per_step(hz: &[f64], dt_ms: f64, f: &dyn Fn(&str) -> String) -> Result<Vec<f32>> {
    let most = 1000.0 / dt_ms;
    match hz {
        &[lo, hi]
            if [lo, hi]
                .iter()
                .all(|r| r.is_finite() && (0.0..=most).contains(r)) =>
        {
            Ok(vec![
                (lo * dt_ms / 1000.0) as f32,
                (hi * dt_ms / 1000.0) as f32,
            ])
        }
        other => Err(bad_value(
            f("rate_hz"),
            format!("{other:?}"),
            format!(
                "must be two rates [lo, hi] in Hz within [0, {most}] (one spike a step of dt_ms = {dt_ms})"
            ),
        )),
    }
}

/// A lif population's fields (docs/arithmetic.md §2.3).
fn validate_lif(rp: &RawPopulation, f: &dyn Fn(&str) -> String) -> Result<PopKind> {
    super::neuron::only_fields(rp, &[], &f)?;
    for (field, present) in [
        ("rate", rp.rate.is_some()),
        ("rate_hz", rp.rate_hz.is_some()),
    ] {
        if present {
            return Err(Error::Input(format!(
                "{}: a lif population has no `{field}` (only poisson populations do)",
                f(field)
            )));
        }
    }
    let beta = rp.beta.unwrap_or(0.9);
    check_unit_interval(&f("beta"), beta)?;
    let threshold = rp.threshold.unwrap_or(1.0);
    if threshold.is_nan() || threshold <= 0.0 {
        return Err(bad_value(
            f("threshold"),
            threshold,
            "must be finite and > 0",
        ));
    }
    crate::checks::check_param(&f("threshold"), threshold, 0.0)?;
    let reset = match rp.reset.as_deref().unwrap_or("subtract") {
        "subtract" => Reset::Subtract,
        "zero" => Reset::Zero,
        "none" => Reset::None,
        other => {
            return Err(bad_value(
                f("reset"),
                format!("{other:?}"),
                "must be one of \"subtract\", \"zero\", \"none\"",
            ));
        }
    };
    Ok(PopKind::Lif(LifParams {
        beta,
        threshold,
        reset,
    }))
}

pub(super) fn validate_projection(
    i: usize,
    rp: &RawProjection,
    pops: &[Population],
    dt_ms: f64,
) -> Result<Projection> {
    check_name(&format!("projection[{i}].name"), &rp.name)?;
    let f = |field: &str| format!("projection `{}` field `{field}`", rp.name);
    let names = || {
        pops.iter()
            .map(|p| format!("\"{}\"", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |field: &str, name: &str| {
        pops.iter().position(|p| p.name == name).ok_or_else(|| {
            bad_value(
                f(field),
                format!("{name:?}"),
                format!("is not a population; known: {}", names()),
            )
        })
    };
    let pre = find("pre", &rp.pre)?;
    let post = find("post", &rp.post)?;
    if pops[post].is_poisson() {
        return Err(bad_value(
            f("post"),
            format!("{:?}", rp.post),
            "is a poisson population; only neuron populations (lif, iaf, izhikevich) receive projections",
        ));
    }
    let (synapse, sign) = super::neuron::validate_synapse(rp, &f, &pops[post])?;
    let init = validate_init(rp, &f)?;
    let conn = validate_connectivity(rp, &f, &pops[pre], &pops[post])?;
    if let Some(pl) = &rp.plasticity {
        crate::config::reward::validate_plasticity(f, pl)?;
        if !conn.is_dense() {
            return Err(Error::Input(format!(
                "{}: plasticity needs a dense projection (no fixed_probability, fixed_fan_in, fixed_fan_out or one_to_one)",
                f("plasticity")
            )));
        }
        // the initial weights must lie within [w_min, w_max]
        let (lo, hi) = match init {
            Init::Linear => {
                let k = 1.0 / (pops[pre].size as f32).sqrt();
                (-k, k)
            }
            Init::Uniform { low, high } => (low, high),
            Init::Constant { weight, .. } => (weight, weight),
        };
        if lo < pl.w_min || hi > pl.w_max {
            return Err(bad_value(
                f("init"),
                format!("weights in [{lo}, {hi}]"),
                format!(
                    "a plastic projection's initial weights must lie within [w_min, w_max] = [{}, {}]",
                    pl.w_min, pl.w_max
                ),
            ));
        }
    }
    let delay = validate_delay(rp, &f, dt_ms)?;
    if delay.per_synapse() && conn.is_dense() {
        return Err(Error::Input(format!(
            "{}: a delay range [lo, hi] needs a sparse projection (fixed_probability = 1.0 connects every pair); a dense projection takes one delay_ms",
            f("delay_ms")
        )));
    }
    if delay.per_synapse() && rp.plasticity.is_some() {
        return Err(Error::Input(format!(
            "{}: a plastic projection takes one delay_ms, not a range (its pre trace follows each pre neuron's arriving spikes)",
            f("delay_ms")
        )));
    }
    let autapses = validate_autapses(rp, &f, &pops[pre], pre == post, conn)?;
    Ok(Projection {
        name: rp.name.clone(),
        pre,
        post,
        sign,
        bias: rp.bias.unwrap_or(!synapse.is_conductance()),
        init,
        conn,
        plasticity: rp.plasticity,
        delay,
        autapses,
        synapse,
    })
}

/// A projection's `init` and the fields it takes (`f` names a field).
fn validate_init(rp: &RawProjection, f: &dyn Fn(&str) -> String) -> Result<Init> {
    let unused = |fields: &[(&str, bool)], init: &str| -> Result<()> {
        for (field, present) in fields {
            if *present {
                return Err(Error::Input(format!(
                    "{}: not used by init = \"{init}\"",
                    f(field)
                )));
            }
        }
        Ok(())
    };
    let need = |field: &str, v: Option<f32>, init: &str| -> Result<f32> {
        let v = v.ok_or_else(|| {
            Error::Input(format!("{}: missing; init = \"{init}\" needs it", f(field)))
        })?;
        check_finite(&f(field), v)?;
        Ok(v)
    };
    let init = match rp.init.as_str() {
        "linear" => {
            unused(
                &[
                    ("low", rp.low.is_some()),
                    ("high", rp.high.is_some()),
                    ("weight", rp.weight.is_some()),
                    ("bias_value", rp.bias_value.is_some()),
                ],
                "linear",
            )?;
            Init::Linear
        }
        "uniform" => {
            unused(
                &[
                    ("weight", rp.weight.is_some()),
                    ("bias_value", rp.bias_value.is_some()),
                ],
                "uniform",
            )?;
            let low = need("low", rp.low, "uniform")?;
            let high = need("high", rp.high, "uniform")?;
            if low > high {
                return Err(bad_value(
                    f("low"),
                    low,
                    format!("must be <= high ({high})"),
                ));
            }
            Init::Uniform { low, high }
        }
        "constant" => {
            unused(
                &[("low", rp.low.is_some()), ("high", rp.high.is_some())],
                "constant",
            )?;
            let weight = need("weight", rp.weight, "constant")?;
            let bias = match rp.bias_value {
                Some(b) => {
                    check_finite(&f("bias_value"), b)?;
                    b
                }
                None => 0.0,
            };
            Init::Constant { weight, bias }
        }
        other => {
            return Err(bad_value(
                f("init"),
                format!("{other:?}"),
                "must be one of \"linear\", \"uniform\", \"constant\"",
            ));
        }
    };
    Ok(init)
}

/// `delay_ms`: one value or `[lo, hi]`, each a whole number of steps of
/// `dt_ms` within `0..=MAX_DELAY_STEPS` steps.
fn validate_delay(rp: &RawProjection, f: &dyn Fn(&str) -> String, dt_ms: f64) -> Result<Delay> {
    let steps = |field: &str, ms: f64| -> Result<u32> {
        let max_ms = MAX_DELAY_STEPS as f64 * dt_ms;
        let rule = format!(
            "must be a whole number of steps (dt_ms = {dt_ms}) within [0, {max_ms}] ms ({MAX_DELAY_STEPS} steps)"
        );
        if !ms.is_finite() || ms < 0.0 {
            return Err(bad_value(f(field), ms, rule));
        }
        let x = ms / dt_ms;
        let k = x.round();
        // a delay written from steps * dt reads back as the same steps
        if (x - k).abs() > 1e-6 * k.max(1.0) || k > MAX_DELAY_STEPS as f64 {
            return Err(bad_value(f(field), ms, rule));
        }
        Ok(k as u32)
    };
    Ok(match &rp.delay_ms {
        None => Delay::NONE,
        Some(DelayMs::One(ms)) => {
            let d = steps("delay_ms", *ms)?;
            Delay {
                lo: d,
                hi: d,
                range: false,
            }
        }
        Some(DelayMs::Range(v)) => {
            let &[lo_ms, hi_ms] = &v[..] else {
                return Err(bad_value(
                    f("delay_ms"),
                    format!("{v:?}"),
                    "must be one number or two [lo, hi]: each synapse's delay is drawn uniformly in whole steps between them",
                ));
            };
            let (lo, hi) = (steps("delay_ms[0]", lo_ms)?, steps("delay_ms[1]", hi_ms)?);
            if lo > hi {
                return Err(bad_value(
                    f("delay_ms"),
                    format!("[{lo_ms}, {hi_ms}]"),
                    "needs lo <= hi",
                ));
            }
            Delay {
                lo,
                hi,
                range: true,
            }
        }
    })
}

/// `autapses`: only for a self-projection (pre = post), whose connectivity
/// must leave room for the synapses without them.
fn validate_autapses(
    rp: &RawProjection,
    f: &dyn Fn(&str) -> String,
    pop: &Population,
    recurrent: bool,
    conn: Connectivity,
) -> Result<bool> {
    if !recurrent {
        return match rp.autapses {
            None => Ok(false),
            Some(a) => Err(bad_value(
                f("autapses"),
                a,
                "applies only to a self-projection (pre = post)",
            )),
        };
    }
    let autapses = rp.autapses.unwrap_or(false);
    if autapses {
        return Ok(true);
    }
    let n = pop.size as i64;
    let why = match conn {
        Connectivity::OneToOne => Some((
            "one_to_one",
            "true".to_string(),
            "onto its own population connects each neuron only to itself; give autapses = true"
                .to_string(),
        )),
        Connectivity::FixedFanIn(k) | Connectivity::FixedFanOut(k) if k as i64 > n - 1 => {
            let field = match conn {
                Connectivity::FixedFanIn(_) => "fixed_fan_in",
                _ => "fixed_fan_out",
            };
            Some((
                field,
                k.to_string(),
                format!(
                    "must be within 1..={} in a self-projection without autapses (a neuron does not synapse onto itself; autapses = true allows it)",
                    n - 1
                ),
            ))
        }
        _ => None,
    };
    if let Some((field, v, rule)) = why {
        return Err(bad_value(f(field), v, rule));
    }
    if rp.plasticity.is_some() && conn.is_dense() {
        return Err(Error::Input(format!(
            "{}: a plastic self-projection needs autapses = true (plasticity is dense, and the missing synapses of neurons onto themselves would learn)",
            f("plasticity")
        )));
    }
    Ok(false)
}

/// A projection's connectivity from `pre` to `post`: dense,
/// fixed_probability, fixed_fan_in, fixed_fan_out or one_to_one, at most
/// one of them.
fn validate_connectivity(
    rp: &RawProjection,
    f: &dyn Fn(&str) -> String,
    pre: &Population,
    post: &Population,
) -> Result<Connectivity> {
    let given: Vec<&str> = [
        ("fixed_probability", rp.fixed_probability.is_some()),
        ("fixed_fan_in", rp.fixed_fan_in.is_some()),
        ("fixed_fan_out", rp.fixed_fan_out.is_some()),
        ("one_to_one", rp.one_to_one == Some(true)),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if let [first, second, ..] = given[..] {
        return Err(Error::Input(format!(
            "{}: {first} and {second} are given, not both: give one of fixed_probability, fixed_fan_in, fixed_fan_out and one_to_one",
            f(second)
        )));
    }
    // a number of neurons k within 1..=n of population `pop`
    let count = |field: &str, k: i64, pop: &Population, which: &str| -> Result<u32> {
        let n = pop.size as i64;
        if k < 1 || k > n {
            return Err(bad_value(
                f(field),
                k,
                format!(
                    "must be within 1..={n} (the size of {which} population `{}`)",
                    pop.name
                ),
            ));
        }
        Ok(k as u32)
    };
    let conn = match given.first().copied() {
        None => Connectivity::Dense,
        Some("fixed_probability") => {
            let q = rp.fixed_probability.unwrap_or_default();
            if !(q > 0.0 && q <= 1.0) {
                return Err(bad_value(
                    f("fixed_probability"),
                    q,
                    "must be within (0, 1]",
                ));
            }
            Connectivity::FixedProbability(q)
        }
        Some("fixed_fan_in") => Connectivity::FixedFanIn(count(
            "fixed_fan_in",
            rp.fixed_fan_in.unwrap_or(0),
            pre,
            "pre",
        )?),
        Some("fixed_fan_out") => Connectivity::FixedFanOut(count(
            "fixed_fan_out",
            rp.fixed_fan_out.unwrap_or(0),
            post,
            "post",
        )?),
        _ => {
            if pre.size != post.size {
                return Err(bad_value(
                    f("one_to_one"),
                    true,
                    format!(
                        "needs populations of one size: pre `{}` has {}, post `{}` has {}",
                        pre.name, pre.size, post.name, post.size
                    ),
                ));
            }
            Connectivity::OneToOne
        }
    };
    Ok(conn)
}

/// Kahn's algorithm, ties broken by config order. A projection whose every
/// synapse has a delay of at least one step takes its input from earlier
/// steps, so it need not order its populations: it does where it can (pre
/// before post, so that the GPU's blocks stay long, docs/arithmetic.md
/// §2.4), and is passed over only to break a cycle. A cycle of the others
/// (a delay of 0 on some synapse) is an error that names it.
pub(super) fn dependency_order(pops: &[Population], all: &[Projection]) -> Result<Vec<usize>> {
    let n = pops.len();
    let projs: Vec<Projection> = all.iter().filter(|p| p.delay.lo == 0).cloned().collect();
    let projs = &projs[..];
    // incoming projections not yet satisfied: without delay, and all
    let (mut undelayed, mut every) = (vec![0usize; n], vec![0usize; n]);
    for p in all {
        every[p.post] += 1;
        undelayed[p.post] += (p.delay.lo == 0) as usize;
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let free = |i: usize| !done[i] && undelayed[i] == 0;
        let next = (0..n)
            .find(|&i| free(i) && every[i] == 0)
            .or_else(|| (0..n).find(|&i| free(i)));
        let Some(next) = next else {
            return Err(cycle_error(pops, projs, &done));
        };
        done[next] = true;
        order.push(next);
        for p in all.iter().filter(|p| p.pre == next) {
            every[p.post] -= 1;
            undelayed[p.post] -= (p.delay.lo == 0) as usize;
        }
    }
    Ok(order)
}

fn cycle_error(pops: &[Population], projs: &[Projection], done: &[bool]) -> Error {
    // Every remaining population has an incoming projection from another
    // remaining one: walk backwards until a population repeats.
    let start = (0..pops.len()).find(|&i| !done[i]).unwrap_or(0);
    let mut path: Vec<(usize, usize)> = Vec::new(); // (population, projection into it)
    let mut cur = start;
    loop {
        if let Some(pos) = path.iter().position(|&(p, _)| p == cur) {
            let cycle = &path[pos..];
            // path runs backwards (post <- pre): print it forwards from cycle[0].
            let mut pops_fwd = vec![pops[cycle[0].0].name.as_str()];
            pops_fwd.extend(cycle.iter().rev().map(|&(p, _)| pops[p].name.as_str()));
            let projs_fwd: Vec<&str> = cycle
                .iter()
                .rev()
                .map(|&(_, j)| projs[j].name.as_str())
                .collect();
            return Error::Input(format!(
                "projections form a cycle with no delay: {} (via {}); nacc updates populations in dependency order and cannot order a cycle",
                pops_fwd.join(" -> "),
                projs_fwd.join(", ")
            ));
        }
        let Some((j, proj)) = projs
            .iter()
            .enumerate()
            .find(|(_, p)| p.post == cur && !done[p.pre])
        else {
            return Error::Input("projections form a cycle with no delay".into());
        };
        path.push((cur, j));
        cur = proj.pre;
    }
}
