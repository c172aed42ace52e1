//! What a run tells the user: the table, the progress bar, `nacc compare`
//! and `nacc devices`, signals.

use super::*;

/// The table printed after a run.
pub fn table(o: &Outcome) -> String {
    let net = &o.model.net;
    let mut s = format!(
        "{:<12} {:>8} {:>10} {:>12} {:>10} {:>8}\n",
        "population", "kind", "size", "spikes", "rate (Hz)", "active"
    );
    for (p, r) in net.populations.iter().zip(&o.record.pops) {
        s += &format!(
            "{:<12} {:>8} {:>10} {:>12} {:>10.2} {:>7.1}%\n",
            p.name,
            p.kind_name(),
            p.size,
            r.total(),
            r.rate_over(o.steps, net.dt_ms),
            100.0 * r.active_fraction()
        );
    }
    if let (Some(st), Some(d)) = (&net.stimulus, &net.dopamine) {
        let mut rewarded: Vec<&str> = Vec::new();
        for r in &d.rules {
            let name = st.patterns[r.pattern].name.as_str();
            if !rewarded.contains(&name) {
                rewarded.push(name);
            }
        }
        let rewarded = rewarded.join(", ");
        for p in &o.preferences {
            s += &format!(
                "{}: response to {rewarded} {:.1} Hz vs the others {:.1} Hz over the last quarter of presentations (first quarter: {:.1} vs {:.1}): {}\n",
                p.population,
                p.late_rewarded_hz,
                p.late_other_hz,
                p.early_rewarded_hz,
                p.early_other_hz,
                if p.prefers_rewarded {
                    format!("{} came to prefer {rewarded}", p.population)
                } else {
                    format!("{} did not come to prefer {rewarded}", p.population)
                }
            );
        }
    }
    s
}

/// A progress bar on stderr that appears only once a run has taken about a
/// second, and never when stderr is not a terminal or with `--quiet`.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Where the steps done are told (see [`RunOptions::done`]).
    done: Option<Arc<AtomicUsize>>,
    start: Instant,
}

impl Progress {
    pub(super) fn new(total: u64, quiet: bool, done: Option<Arc<AtomicUsize>>) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps  {rate}  eta {eta}",
            ) {
                // steps a second as a whole number ("666284 steps/s")
                let style = style.with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} steps/s", s.per_sec());
                    },
                );
                b.set_style(style);
            }
            b
        });
        Progress {
            bar,
            done,
            start: Instant::now(),
        }
    }

    pub(super) fn update(&self, done: u64) {
        if let Some(d) = &self.done {
            d.store(done as usize, Ordering::SeqCst);
        }
        if let Some(b) = &self.bar {
            if b.is_hidden() && self.start.elapsed() > Duration::from_secs(1) {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            b.set_position(done);
        }
    }

    pub(super) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `nacc compare --dry-run`: the memory both engines would need, and
/// whether this machine and its GPU have it.
pub fn compare_dry_run(opts: &RunOptions) -> Result<String> {
    let (net, given, steps) = resolve(opts)?;
    let ctx = GpuContext::named(opts.tuning.adapter.as_deref())
        .map_err(|e| e.context("nacc compare needs a GPU"))?;
    let chunk = chunk_of(opts, steps);
    let plan = GpuEngine::plan(&ctx, &net, given.is_none(), chunk, 1, opts.tuning.gpu);
    let e = crate::memory::estimate_both(&net, chunk, &plan);
    let mut s = format!(
        "{} neurons, {} synapses, {steps} steps, on the CPU engine and {}\n{}",
        net.total_neurons(),
        net.total_synapses(),
        ctx.describe(),
        e.render()
    );
    if let Some(available) = host_available() {
        let needed = crate::memory::host_needed(&e, ctx.is_software());
        s += &format!(
            "host memory: {} needed, {} available on this machine: {}\n",
            crate::files::human(needed),
            crate::files::human(available),
            crate::memory::verdict(needed <= available, opts.tuning.memory_check()),
        );
    }
    Ok(s)
}

/// `nacc compare`: both engines on the same model and input.
pub fn compare(opts: &RunOptions) -> Result<crate::compare::Report> {
    if opts.trials != 1 {
        return Err(bad_value(
            "--trials",
            opts.trials,
            "nacc compare compares one trial; run it without --trials (the tests compare batched trials)",
        ));
    }
    // every rank must get this far, or none goes on
    let ready = (|| {
        let (net, given, steps) = resolve(opts)?;
        crate::ranks::check_partition(&net, opts.ranks.as_ref().map_or(1, |c| c.size()))?;
        // a node's rank r takes its r-th GPU
        let local = opts.ranks.as_ref().map_or(0, |c| c.local_rank());
        let ctx = GpuContext::named_nth(opts.tuning.adapter.as_deref(), local)
            .map_err(|e| e.context("nacc compare needs a GPU"))?;
        let chunk = chunk_of(opts, steps);
        let plan = GpuEngine::plan(&ctx, &net, given.is_none(), chunk, 1, opts.tuning.gpu);
        if opts.tuning.memory_check() {
            crate::memory::check_fits(
                &crate::memory::estimate_both(&net, chunk, &plan),
                ctx.is_software(),
                host_available(),
                ctx.hardware_memory(),
            )?;
        }
        Ok((ctx, chunk, build(opts, net, given, steps)?))
    })();
    let (ctx, chunk, prepared) = super::split::together(opts, ready)?;
    let (model, input) = (&prepared.model, &prepared.input);
    let ctx = Arc::new(ctx);
    // each side split across the ranks when there are several
    let make = |gpu: bool| {
        super::split::engine(opts, gpu.then_some(&ctx), model, input, chunk).map(|e| e.0)
    };
    crate::compare::compare_with(&ctx, model, input, prepared.steps, chunk, &make)
}

/// "the GPU has X available ..." for a GPU's memory: its budget now where
/// the driver says, else its heap, and which.
pub(super) fn describe_device_memory(m: crate::engine::gpu::context::DeviceMemory) -> String {
    let usable = crate::files::human(m.usable());
    match m.budget {
        Some(_) => format!(
            "the GPU has {usable} available now (its driver's budget: the {} heap less what other programs hold)",
            crate::files::human(m.heap)
        ),
        None => format!(
            "the GPU has {usable} available (its heap: the driver reports no budget, so other programs' use is not counted)"
        ),
    }
}

/// `nacc devices`: every adapter wgpu sees, and the one nacc would use
/// (with `adapter`, `NACC_ADAPTER`, the first whose name contains it).
pub fn devices(adapter: Option<&str>) -> String {
    let adapters = crate::engine::gpu::context::list_adapters();
    if adapters.is_empty() {
        return format!("{}\n", crate::engine::gpu::context::NO_ADAPTER_HELP);
    }
    let chosen = GpuContext::named(adapter).ok().map(|c| c.info);
    let mut s = String::new();
    for a in &adapters {
        let i = &a.info;
        let l = &a.limits;
        let mark = match &chosen {
            Some(c) if c.name == i.name && c.backend == i.backend => "  <- used by --backend gpu",
            _ if !a.primary => "  (not used: nacc computes on Vulkan, Metal or DX12)",
            _ => "",
        };
        let timestamps = if a
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            "yes (nacc bench --profile)"
        } else {
            "no"
        };
        let memory = a.memory.map_or("not reported by the backend".into(), |m| {
            format!(
                "{} ({} bytes); {}",
                crate::files::human(m.heap),
                m.heap,
                describe_device_memory(m)
            )
        });
        s += &format!(
            "{} ({:?}, {:?}){mark}\n    driver: {} {}\n    memory: {memory}\n    max storage binding: {} bytes, max buffer: {} bytes, workgroups per dimension: {}, storage buffers per stage: {}\n    timestamps inside compute passes: {timestamps}\n",
            i.name,
            i.backend,
            i.device_type,
            i.driver,
            i.driver_info,
            l.max_storage_buffer_binding_size,
            l.max_buffer_size,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage,
        );
    }
    s
}

/// `nacc devices` as data (the Python package): one object per adapter,
/// with `used` true for the one `--backend gpu` would take.
pub fn devices_json(adapter: Option<&str>) -> serde_json::Value {
    let chosen = GpuContext::named(adapter).ok().map(|c| c.info);
    let list: Vec<_> = crate::engine::gpu::context::list_adapters()
        .iter()
        .map(|a| {
            let (i, l) = (&a.info, &a.limits);
            serde_json::json!({
                "name": i.name,
                "backend": format!("{:?}", i.backend),
                "device_type": format!("{:?}", i.device_type),
                "driver": i.driver,
                "driver_info": i.driver_info,
                "memory_bytes": a.memory.map(|m| m.heap),
                "used": chosen.as_ref().is_some_and(|c| c.name == i.name && c.backend == i.backend),
                "max_buffer_size": l.max_buffer_size,
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// "SIGINT", "SIGTERM" or the number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// The error of a run that a signal (`why`) stopped before it completed a
/// step: `--out` was left as it was.
/// (A run in memory has no `--out`: nothing was computed.)
pub(super) fn not_started(why: &str, out: Option<&OutDir>) -> crate::error::Error {
    let kept = match out {
        Some(out) => format!("{} is unchanged", out.target().display()),
        None => "nothing was computed".into(),
    };
    crate::error::Error::Signal(
        format!("stopped by {why} before the first step was complete; {kept}"),
        signal_number(why),
    )
}

/// The number of a signal named by [`signal_name`].
pub fn signal_number(name: &str) -> i32 {
    match name {
        "SIGINT" => 2,
        "SIGTERM" => 15,
        n => n
            .strip_prefix("signal ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(2),
    }
}

/// The exit code of a run stopped by the signal `why` names: 128 + its
/// number (130 for SIGINT, 143 for SIGTERM).
pub fn signal_exit_code(why: &str) -> u8 {
    (128 + signal_number(why)) as u8
}
