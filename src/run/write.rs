//! The outputs of a run: spikes, weights, figures, learning, summary.json.

use super::*;

/// [`export::Learned`] from the fixed-point weights the engine holds at
/// the end (`learned`).
pub(super) fn learned_weights(
    model: &Model,
    learned: &[Option<Vec<i32>>],
) -> Result<Vec<export::Learned>> {
    if learned.iter().all(Option::is_none) {
        return Ok(vec![None; model.net.projections.len()]);
    }
    // the initial weights of the learning projections only
    learned
        .iter()
        .enumerate()
        .map(|(j, wq)| {
            let Some(wq) = wq else { return Ok(None) };
            let q = model.quantize_projection(j, false)?;
            Ok(Some((q.to_linear(&q.wq), q.to_linear(wq))))
        })
        .collect()
}

/// The data files of reward learning besides the weight files (which
/// `export::write_weights` writes): `dopamine.npy`, and with a stimulus
/// `responses.csv` from `rows`.
pub(super) fn write_learning(
    dir: &std::path::Path,
    net: &Network,
    rows: &[crate::responses::Presentation],
    steps: usize,
) -> Result<()> {
    if net.dopamine.is_some() {
        let d = crate::dopamine::dopamine_trace(net, steps);
        crate::outdir::write_atomic(&dir.join("dopamine.npy"), |f| {
            crate::npy::write_f32(f, &[steps], &d)
        })?;
    }
    if net.stimulus.is_none() {
        return Ok(());
    }
    crate::outdir::write_atomic(&dir.join("responses.csv"), |f| {
        std::io::Write::write_all(f, crate::responses::responses_csv(net, rows).as_bytes())
    })
}

/// The figures of a run (see [`figures`]): every population's raster and a
/// heatmap for every projection (dense or sparse) whose pre population is
/// Poisson
/// (with a plastic projection's learned weights, as `nacc render` draws it
/// from `weights_<proj>.npy`).
pub(super) fn draw_figures(
    dir: figures::Dest,
    model: &Model,
    record: &SpikeRecord,
    view: &figures::View,
    learned: &[export::Learned],
) -> Result<Vec<String>> {
    let net = &model.net;
    let pops: Vec<figures::PopData> = net
        .populations
        .iter()
        .zip(&record.pops)
        .map(|(p, rec)| figures::PopData { name: &p.name, rec })
        .collect();
    let projs: Vec<figures::ProjData> = net
        .projections
        .iter()
        .enumerate()
        .filter(|(_, p)| net.populations[p.pre].is_poisson())
        .map(|(j, _)| {
            let w = learned[j].as_ref().map_or(&model.weights[j].w, |l| &l.1);
            let synapses = match &model.weights[j].sparse {
                Some(rows) => figures::heatmap::Synapses::Sparse(rows, w),
                None => figures::heatmap::Synapses::Dense(w),
            };
            figures::ProjData::of(net, j, synapses)
        })
        .collect();
    let dopamine = net
        .dopamine
        .as_ref()
        .map(|_| crate::dopamine::dopamine_trace(net, view.steps.end));
    figures::write_all(dir, net.dt_ms, &pops, &projs, dopamine.as_deref(), view)
}

/// The outcome of a run's steps, nothing written yet: the learned
/// weights, the responses to the stimulus and the D1 preferences.
/// `times`: the network's build time and when the run started.
pub(super) fn finish(
    prepared: Prepared,
    stepped: Stepped,
    stream: bool,
    stopped: Option<(usize, String)>,
    (build_time, started): (Duration, Instant),
) -> Result<Outcome> {
    let (model, steps) = (prepared.model, stepped.steps);
    let net = &model.net;
    let learned = learned_weights(&model, &stepped.learned)?;
    let mut records = stepped.records.into_iter();
    let record = records.next().expect("at least one trial");
    let presentations = match stream {
        true => stepped.responses.presentations(net),
        false => crate::responses::responses(net, &record.pops),
    };
    Ok(Outcome {
        preferences: crate::responses::preferences(net, &presentations),
        presentations,
        learned,
        adapter: stepped.adapter,
        engine: stepped.engine,
        model,
        record,
        other_trials: records.collect(),
        steps,
        streamed: stream,
        build_time,
        setup_time: stepped.setup_time,
        sim_time: stepped.sim_time,
        run_time: started.elapsed(),
        stopped,
        late_signal: None,
        steps_requested: prepared.steps,
        exchanged: stepped.exchanged,
    })
}

/// Every output file of a run into `dir` (a staging directory): data
/// first, summary.json last (`total`: the run's time, in it). A streamed
/// run's spikes and state are already there.
pub fn write_files(
    opts: &RunOptions,
    dir: &std::path::Path,
    o: &Outcome,
    total: Duration,
) -> Result<()> {
    let (model, steps) = (&o.model, o.steps);
    let net = &model.net;
    let records: Vec<&SpikeRecord> = std::iter::once(&o.record).chain(&o.other_trials).collect();
    let trial_axis = opts.trials > 1;
    if !o.streamed {
        for (p, pop) in net.populations.iter().enumerate() {
            let recs: Vec<_> = records.iter().map(|r| &r.pops[p]).collect();
            export::write_spikes(dir, &pop.name, &recs, trial_axis, opts.packed_spikes)?;
        }
        export::write_state(dir, net, &records, trial_axis)?;
    }
    export::write_weights(dir, model, &o.learned, opts.no_weight_files)?;
    export::write_config(dir, net, model.seed)?;
    write_learning(dir, net, &o.presentations, steps)?;
    write_figures(opts, dir.into(), o)?;
    let summary = summary_json(opts, o, total);
    export::write_json(&dir.join("summary.json"), &summary)
}

/// Every figure of a run, as `nacc run` draws it, into `dest`: nacc.png,
/// the rasters, heatmaps and membrane traces (not of a streamed run, whose
/// spikes are on disk only), and with plasticity `weights_change_<proj>.png`
/// and, with a stimulus, `learning.png`.
pub fn write_figures(opts: &RunOptions, dest: figures::Dest, o: &Outcome) -> Result<()> {
    let (model, steps) = (&o.model, o.steps);
    let net = &model.net;
    if steps > 0 && !o.streamed {
        let view = View {
            steps: 0..steps,
            neurons: None,
            width: figures::DEFAULT_WIDTH,
            height: None,
            title: network_title(opts),
        };
        draw_figures(dest, model, &o.record, &view, &o.learned)?;
        let state: Vec<&[f32]> = o.record.state.iter().map(|s| &s[..]).collect();
        let spikes: Vec<_> = o.record.pops.iter().collect();
        figures::traces::write_traces(dest, net, &state, &spikes, 0..steps)?;
    }
    for (j, w) in o.learned.iter().enumerate() {
        if let Some((before, after)) = w {
            figures::learning::write_weight_change(dest, net, j, before, after, steps)?;
        }
    }
    if net.stimulus.is_some() && !o.presentations.is_empty() {
        figures::learning::write_learning_curve(dest, net, &o.presentations)?;
    }
    Ok(())
}
