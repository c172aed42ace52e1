//! The comparisons every GPU test makes: the GPU engine against the CPU
//! reference with `==`, on every path a network can take.

use super::*;

/// Runs the CPU engine against every GPU path `opts` leaves open: the
/// per-kernel path on both schedules (a block at a time, and step after
/// step; the step one only for plastic networks or `opts.step_schedule`),
/// and the fused one-dispatch kernel where the network is small enough
/// (unless `opts.fused` picks one); the input drawn on the GPU for generated
/// input (and also uploaded from the host, for the small ones), uploaded for
/// given input.
pub fn assert_engines_agree(
    ctx: &Ctx,
    model: &Model,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    opts: GpuOptions,
    what: &str,
) {
    let generated = matches!(input, InputSource::Generated { .. });
    let free = GpuOptions {
        fused: None,
        ..opts
    };
    let fusable = GpuEngine::fusable(ctx, &model.net, &free);
    let fused = match opts.fused {
        Some(f) => vec![f],
        None if fusable => vec![false, true],
        None => vec![false],
    };
    let host_input = if fusable && generated && !opts.host_input {
        vec![false, true]
    } else {
        vec![opts.host_input]
    };
    let schedules: &[bool] = if opts.step_schedule {
        &[true]
    } else {
        &[false, true]
    };
    for &f in &fused {
        for &h in &host_input {
            let fused_schedule = [opts.step_schedule];
            for &st in if f { &fused_schedule[..] } else { schedules } {
                let o = GpuOptions {
                    fused: Some(f),
                    host_input: h,
                    step_schedule: st,
                    ..opts
                };
                assert_path_agrees(
                    ctx,
                    model,
                    input,
                    steps,
                    chunk,
                    o,
                    &format!("{what} [fused {f}, host input {h}, step schedule {st}]"),
                );
            }
        }
    }
}

/// Runs both engines chunk by chunk on the same input; asserts equal spikes
/// (input included) at every step and equal membranes at the end of every
/// chunk (bit patterns), naming the first difference.
/// `trials` trials of `model` (trial t's input from seed + t) on the GPU
/// through `trials::run_gpu`, each equal to the CPU engine's (`==`; else
/// a panic naming `what` and the first trial that differs).
pub fn gpu_trials_equal_cpu(
    ctx: &Ctx,
    model: &Model,
    trials: usize,
    steps: usize,
    chunk: usize,
    opts: GpuOptions,
    what: &str,
) -> nacc::trials::TrialRun {
    let inputs: Vec<InputSource> = (0..trials)
        .map(|t| InputSource::generated_trial(model, t))
        .collect();
    let r = nacc::trials::run_gpu(
        ctx.clone(),
        model,
        &inputs,
        steps,
        chunk,
        opts,
        &mut |_| {},
        &|| None,
    )
    .unwrap();
    let cpu = nacc::trials::run_cpu_all(model, &inputs, steps, chunk).unwrap();
    if let Some(t) = (0..trials).find(|&t| r.records[t] != cpu[t]) {
        panic!("{what}: trial {t} differs from the CPU");
    }
    r
}

pub fn assert_path_agrees(
    ctx: &Ctx,
    model: &Model,
    input: &InputSource,
    steps: usize,
    chunk: usize,
    opts: GpuOptions,
    what: &str,
) {
    let mut cpu = CpuEngine::new(model).unwrap();
    let mut gpu = GpuEngine::new(ctx.clone(), model, input, chunk, opts).unwrap();
    assert_eq!(gpu.is_fused(), opts.fused == Some(true), "{what}");
    let plastic = model.net.projections.iter().any(|p| p.plasticity.is_some());
    let short = nacc::engine::plan::block_len(&model.net) < nacc::engine::plan::MIN_BLOCK_LEN;
    // records sample a step at a time
    let stepwise = !model.net.records.is_empty();
    let schedule = if opts.step_schedule || plastic || short || stepwise {
        Schedule::Step
    } else {
        Schedule::Block
    };
    assert_eq!(
        gpu.schedule(),
        (!gpu.is_fused()).then_some(schedule),
        "{what}"
    );
    let generated = matches!(input, InputSource::Generated { .. });
    // patterns (a stimulus) are drawn on the host
    assert_eq!(
        gpu.generates_input(),
        generated && !opts.host_input && model.net.stimulus.is_none(),
        "{what}"
    );
    let net = &model.net;
    let mut done = 0;
    let mut spikes = 0u64;
    while done < steps {
        let n = chunk.min(steps - done);
        let mut a = ChunkSpikes::new(net, n);
        input.fill(net, done as u64, &mut a);
        let mut b = a.clone();
        cpu.run_chunk(&mut a).unwrap();
        gpu.run_chunk(&mut b).unwrap();
        for s in 0..n {
            for (p, pop) in net.populations.iter().enumerate() {
                for i in 0..pop.size {
                    let x = a.bits[p][s * pop.words_per_step() + i / 32] >> (i % 32) & 1;
                    let y = b.bits[p][s * pop.words_per_step() + i / 32] >> (i % 32) & 1;
                    assert!(
                        x == y,
                        "{what}: spikes differ first at step {}, population `{}`, neuron {i}: cpu {x} gpu {y}",
                        done + s,
                        pop.name
                    );
                    spikes += x as u64;
                }
            }
        }
        assert_state_agrees(net, &a, &b, done, what);
        let (vc, vg) = (cpu.membranes().unwrap(), gpu.membranes().unwrap());
        for (p, pop) in net.populations.iter().enumerate() {
            for i in 0..vc[p].len() {
                assert!(
                    vc[p][i].to_bits() == vg[p][i].to_bits(),
                    "{what}: membranes differ after step {}, population `{}`, neuron {i}: cpu {:e} gpu {:e}",
                    done + n - 1,
                    pop.name,
                    vc[p][i],
                    vg[p][i]
                );
            }
        }
        assert_weights_agree(
            &mut cpu,
            &mut gpu,
            net,
            &format!("{what}, after step {}", done + n - 1),
        );
        done += n;
    }
    assert!(
        spikes > 0,
        "{what}: nothing spiked, the comparison says little"
    );
}

/// The recorded samples of a chunk from step `first` are equal (bit
/// patterns) and as many as the records take, naming the first that
/// differs.
pub fn assert_state_agrees(
    net: &Network,
    a: &ChunkSpikes,
    b: &ChunkSpikes,
    first: usize,
    what: &str,
) {
    for (k, (r, var)) in net.probes().into_iter().enumerate() {
        let rec = &net.records[r];
        let n = rec.neurons.len();
        let file = net.state_file(r, var);
        let samples = (first..first + a.steps)
            .filter(|t| (*t as u64).is_multiple_of(rec.every))
            .count();
        assert_eq!(a.state[k].len(), samples * n, "{what}: {file}: cpu samples");
        assert_eq!(b.state[k].len(), samples * n, "{what}: {file}: gpu samples");
        if let Some(i) =
            (0..a.state[k].len()).find(|&i| a.state[k][i].to_bits() != b.state[k][i].to_bits())
        {
            panic!(
                "{what}: {file} differs first at sample {} of the chunk from step {first}, neuron {}: cpu {:e} gpu {:e}",
                i / n,
                rec.neurons[i % n],
                a.state[k][i],
                b.state[k][i]
            );
        }
    }
}

/// The plastic weights of both engines are equal (==), naming the first
/// that is not.
pub fn assert_weights_agree(cpu: &mut CpuEngine, gpu: &mut GpuEngine, net: &Network, what: &str) {
    let (a, b) = (
        cpu.plastic_weights().unwrap(),
        gpu.plastic_weights().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (j, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x.is_some(), y.is_some(), "{what}: projection {j}");
        let (Some(x), Some(y)) = (x, y) else { continue };
        let n_post = net.populations[net.projections[j].post].size;
        if let Some(k) = (0..x.len()).find(|&k| x[k] != y[k]) {
            panic!(
                "{what}: plastic weights of `{}` differ first at pre {} post {}: cpu {} gpu {}",
                net.projections[j].name,
                k / n_post,
                k % n_post,
                x[k],
                y[k]
            );
        }
    }
}

/// The three ways the GPU runs a network without plasticity.
pub fn gpu_paths() -> [(&'static str, GpuOptions); 3] {
    let path = |fused, step_schedule| GpuOptions {
        fused: Some(fused),
        step_schedule,
        ..Default::default()
    };
    [
        ("block schedule", path(false, false)),
        ("step schedule", path(false, true)),
        ("fused", path(true, false)),
    ]
}

/// Runs `engine` 1000 steps in chunks of 100 and returns what it kept and
/// the failure it reported.
pub fn failure(engine: &mut dyn Engine, model: &Model, input: &InputSource) -> (u64, String) {
    let (rec, stop) =
        nacc::engine::simulate_until(engine, &model.net, input, 1000, 100, |_| {}, &|| None)
            .unwrap();
    let Some(nacc::engine::Stop::Failed(e)) = stop else {
        panic!("no failure reported")
    };
    (rec.steps() as u64, e.to_string())
}
