//! A run held in memory (the Python package): the network and inputs
//! handed over as values, the results kept as values, and written on
//! request as exactly the files of `nacc run`.

use super::*;

/// A run's network and inputs handed over in memory instead of files (the
/// Python package): each replaces its option's file when set, and is
/// checked as the file would be, with errors naming it by its label.
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    /// Replaces `--config`.
    pub network: Option<Network>,
    /// The network's name in figures and summary.json.
    pub title: Option<String>,
    /// Replaces `--weights DIR`, for the projections it gives.
    pub weights: Option<Arc<import::Arrays>>,
    /// Replaces `--input-spikes`: per Poisson population (by name; "" for
    /// the network's only one), its label in errors and its T x N spikes;
    /// every Poisson population is given.
    pub input_spikes: Option<Arc<Vec<(String, String, crate::npy::Array)>>>,
}

/// The input of in-memory arrays ([`InMemory::input_spikes`]): one for
/// every Poisson population, by name.
pub(super) fn input_arrays(
    net: &Network,
    arrays: &[(String, String, crate::npy::Array)],
) -> Result<(InputSource, usize)> {
    let mut given = Vec::with_capacity(arrays.len());
    for (name, label, a) in arrays {
        if name.is_empty() {
            given.push((import::only_poisson(net)?, PathBuf::from(label), a.clone()));
            continue;
        }
        let pop = net
            .population_index(name)
            .filter(|&p| net.populations[p].is_poisson());
        let Some(pop) = pop else {
            let poisson: Vec<_> = net
                .populations
                .iter()
                .filter(|p| p.is_poisson())
                .map(|p| p.name.as_str())
                .collect();
            return Err(bad_value(
                label,
                name,
                format!(
                    "names no poisson population of the network; it has {}",
                    poisson.join(", ")
                ),
            ));
        };
        given.push((pop, PathBuf::from(label), a.clone()));
    }
    let given_pop =
        |p: &crate::network::Population| given.iter().any(|g| net.populations[g.0].name == p.name);
    if let Some(p) = net
        .populations
        .iter()
        .find(|p| p.is_poisson() && !given_pop(p))
    {
        return Err(bad_value(
            "input_spikes",
            format!(
                "arrays for {}",
                arrays
                    .iter()
                    .map(|a| a.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "poisson population `{}` is not given; give every poisson population's spikes",
                p.name
            ),
        ));
    }
    import::given_input(net, &given)
}

/// A run done in memory: its outcome, and the failure that ended it early
/// (the outcome then holds the steps completed before it).
pub struct Simulated {
    pub outcome: Outcome,
    pub failure: Option<crate::Error>,
}

/// `nacc run` without its out dir: every check (the memory's included), the
/// steps, and the results kept in memory, never streamed. A signal (`stop`)
/// ends it at the end of a chunk with the completed steps
/// (`outcome.stopped`); a failure after a completed step returns those
/// steps with the failure.
pub fn simulate(opts: &RunOptions) -> Result<Simulated> {
    let started = Instant::now();
    let planned = plan(opts)?;
    if planned.stream {
        return Err(bad_value(
            "--steps",
            planned.steps,
            "the spikes of this run would take more than half of this machine's memory: run fewer steps, or use `nacc run --stream`, which writes them to disk chunk by chunk",
        ));
    }
    planned.check_memory(&opts.tuning)?;
    let Planned {
        net,
        given,
        steps,
        gpu,
        ..
    } = planned;
    let gpu = gpu.map(Arc::new);
    let t_build = Instant::now();
    let prepared = build(opts, net, given, steps)?;
    let build_time = t_build.elapsed();
    let mut stepped = step(opts, gpu.as_ref(), &prepared, false, None)?;
    let (stopped, failure) = stepped.ended();
    if stepped.steps == 0 {
        if let Some(e) = failure {
            return Err(e.context("stopped before the first step was complete"));
        }
        if let Some((_, why)) = &stopped {
            return Err(not_started(why, None));
        }
    }
    let outcome = write::finish(prepared, stepped, false, stopped, (build_time, started))?;
    Ok(Simulated { outcome, failure })
}

/// Writes a run held in memory into `dir` as `nacc run --out dir` would
/// have: the same files, `dir` replaced whole in one step (see [`OutDir`]),
/// summary.json with the run's time from its start to its last step.
pub fn save(opts: &RunOptions, o: &Outcome, dir: &std::path::Path) -> Result<()> {
    OutDir::precheck(dir)?;
    if opts.tuning.memory_check() {
        let bytes = export::output_bytes(
            &o.model.net,
            o.steps,
            opts.trials.max(1),
            opts.packed_spikes,
            !opts.no_weight_files,
        );
        export::check_disk(dir, bytes)?;
    }
    let mut out = OutDir::open(dir)?;
    write::write_files(opts, out.dir(), o, o.run_time).map_err(|e| out.explain(e))?;
    out.publish()
}
