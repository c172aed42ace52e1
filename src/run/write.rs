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

/// The outputs of reward learning besides the weight files (which
/// `export::write_weights` writes): `dopamine.npy`, `weights_change_<proj>.png`
/// of every plastic projection, and with a stimulus `responses.csv` and
/// `learning.png` from `rows`. Returns the D1 preferences.
pub(super) fn write_learning(
    dir: &std::path::Path,
    net: &Network,
    learned: &[export::Learned],
    rows: &[crate::responses::Presentation],
    steps: usize,
) -> Result<Vec<crate::responses::Preference>> {
    use crate::figures::learning;
    if net.dopamine.is_some() {
        let d = crate::dopamine::dopamine_trace(net, steps);
        crate::outdir::write_atomic(&dir.join("dopamine.npy"), |f| {
            crate::npy::write_f32(f, &[steps], &d)
        })?;
    }
    for (j, w) in learned.iter().enumerate() {
        if let Some((before, after)) = w {
            learning::write_weight_change(dir, net, j, before, after, steps)?;
        }
    }
    if net.stimulus.is_none() {
        return Ok(Vec::new());
    }
    crate::outdir::write_atomic(&dir.join("responses.csv"), |f| {
        std::io::Write::write_all(f, crate::responses::responses_csv(net, rows).as_bytes())
    })?;
    if !rows.is_empty() {
        learning::write_learning_curve(dir, net, rows)?;
    }
    Ok(crate::responses::preferences(net, rows))
}

/// The figures of a run (see [`figures`]): every population's raster and a
/// heatmap for every projection (dense or sparse) whose pre population is
/// Poisson
/// (with a plastic projection's learned weights, as `nacc render` draws it
/// from `weights_<proj>.npy`).
pub(super) fn draw_figures(
    dir: &std::path::Path,
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

/// Every output of a run into `dir` (the staging directory): data first,
/// summary.json last. `times`: the network's build time and when the run
/// started.
pub(super) fn outputs(
    opts: &RunOptions,
    dir: &std::path::Path,
    prepared: Prepared,
    stepped: Stepped,
    stream: bool,
    stopped: Option<(usize, String)>,
    (build_time, started): (Duration, Instant),
) -> Result<Outcome> {
    let (model, steps) = (prepared.model, stepped.steps);
    let net = &model.net;
    let records = stepped.records;
    if !stream {
        for (p, pop) in net.populations.iter().enumerate() {
            let recs: Vec<_> = records.iter().map(|r| &r.pops[p]).collect();
            export::write_spikes(dir, &pop.name, &recs, opts.trials > 1, opts.packed_spikes)?;
        }
        let recs: Vec<_> = records.iter().collect();
        export::write_state(dir, net, &recs, opts.trials > 1)?;
    }
    let learned = learned_weights(&model, &stepped.learned)?;
    export::write_weights(dir, &model, &learned, opts.no_weight_files)?;
    export::write_config(dir, net, model.seed)?;
    let mut records = records.into_iter();
    let record = records.next().expect("at least one trial");
    if steps > 0 && !stream {
        let view = View {
            steps: 0..steps,
            neurons: None,
            width: figures::DEFAULT_WIDTH,
            height: None,
            title: network_title(opts),
        };
        draw_figures(dir, &model, &record, &view, &learned)?;
        let state: Vec<&[f32]> = record.state.iter().map(|s| &s[..]).collect();
        let spikes: Vec<_> = record.pops.iter().collect();
        figures::traces::write_traces(dir, net, &state, &spikes, 0..steps)?;
    }
    let presentations = match stream {
        true => stepped.responses.presentations(net),
        false => crate::responses::responses(net, &record.pops),
    };
    let preferences = write_learning(dir, net, &learned, &presentations, steps)?;
    let outcome = Outcome {
        preferences,
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
        stopped,
        late_signal: None,
        steps_requested: prepared.steps,
    };
    let summary = summary_json(opts, &outcome, started.elapsed());
    export::write_json(&dir.join("summary.json"), &summary)?;
    Ok(outcome)
}
