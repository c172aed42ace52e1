//! A run held in memory (`run::simulate`, `run::save`: what the Python
//! package calls), against `nacc run`'s own path: the same records and the
//! same files; weights and input given as arrays, with errors naming them.

use nacc::import::Arrays;
use nacc::network::Network;
use nacc::npy::{Array, DType};
use nacc::run::{self, InMemory, RunOptions};
use std::path::Path;
use std::sync::Arc;

fn options(net: Network, steps: u64, seed: u64) -> RunOptions {
    RunOptions {
        steps: Some(steps),
        seed,
        backend: run::Backend::Cpu,
        quiet: true,
        memory: InMemory {
            network: Some(net),
            title: Some("nacc".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn f32_array(shape: &[usize], v: &[f32]) -> Array {
    Array {
        dtype: DType::F32,
        shape: shape.to_vec(),
        data: bytemuck::cast_slice(v).to_vec(),
    }
}

/// Every file of two out dirs byte for byte, summary.json but its times.
fn same_files(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(a), names(b));
    for name in names(a) {
        let (x, y) = (
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
        );
        if name == "summary.json" {
            let strip = |bytes: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                for k in ["wall_time_s", "steps_per_s", "neuron_steps_per_s"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v
            };
            assert_eq!(strip(&x), strip(&y));
        } else {
            assert!(x == y, "{name:?} differs");
        }
    }
}

#[test]
fn a_run_in_memory_saves_the_files_of_nacc_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/reward_learning.toml");
    let net = Network::from_file(&file).unwrap();
    let mut opts = options(net, 1200, 3);
    // the figures' title: the file's stem, as for --config
    opts.memory.title = Some("reward_learning".into());
    let sim = run::simulate(&opts).unwrap();
    assert!(sim.failure.is_none() && sim.outcome.stopped.is_none());
    assert!(sim.outcome.learned.iter().any(Option::is_some), "it learns");
    run::save(&opts, &sim.outcome, &tmp.path().join("saved")).unwrap();
    // nacc run's own path, from the file
    opts.memory = InMemory::default();
    opts.config = Some(file);
    opts.out = tmp.path().join("run");
    let outcome = run::run(&opts).unwrap();
    assert_eq!(outcome.record, sim.outcome.record);
    same_files(&tmp.path().join("saved"), &tmp.path().join("run"));
    // figures drawn into memory are the files' bytes
    let kept = std::sync::Mutex::new(Vec::new());
    run::write_figures(&opts, nacc::figures::Dest::Memory(&kept), &sim.outcome).unwrap();
    let kept = kept.into_inner().unwrap();
    assert!(kept.iter().any(|(n, _)| n == "learning.png"));
    for (name, bytes) in kept {
        assert_eq!(
            bytes,
            std::fs::read(tmp.path().join("run").join(&name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn weight_arrays_replace_the_seeds_and_are_checked_by_their_labels() {
    let net = Network::default_nacc();
    let seeded = run::simulate(&options(net.clone(), 50, 1)).unwrap().outcome;
    let w2: Vec<f32> = (0..20 * 50).map(|i| (i % 7) as f32 * 0.01).collect();
    let mut arrays = Arrays::default();
    arrays.insert("weights_fc2", "weights['fc2']", f32_array(&[20, 50], &w2));
    let mut opts = options(net.clone(), 50, 1);
    opts.memory.weights = Some(Arc::new(arrays));
    let given = run::simulate(&opts).unwrap().outcome;
    assert_eq!(given.model.weights[1].w, w2);
    // fc1 and every bias not given: the seed's
    assert_eq!(given.model.weights[0].w, seeded.model.weights[0].w);
    assert_eq!(given.model.weights[1].b, seeded.model.weights[1].b);
    assert_eq!(given.record.pops[1], seeded.record.pops[1]);

    let mut bad = Arrays::default();
    bad.insert(
        "weights_fc1",
        "weights['fc1']",
        f32_array(&[50, 99], &[0.0; 50 * 99]),
    );
    opts.memory.weights = Some(Arc::new(bad));
    let e = run::simulate(&opts).err().unwrap().to_string();
    assert_eq!(
        e,
        "weights['fc1']: shape [50, 99] found, expected [50, 100]"
    );
}

#[test]
fn input_arrays_name_their_population_and_follow_the_command_lines_rules() {
    let x = Array {
        dtype: DType::U8,
        shape: vec![30, 100],
        data: (0..3000).map(|i| (i % 3 == 0) as u8).collect(),
    };
    let mut opts = options(Network::default_nacc(), 30, 0);
    opts.steps = None;
    opts.memory.input_spikes = Some(Arc::new(vec![(
        "".into(),
        "input_spikes".into(),
        x.clone(),
    )]));
    let o = run::simulate(&opts).unwrap().outcome;
    assert_eq!(o.steps, 30, "the input's length");
    assert!(
        (0..30)
            .all(|t| (0..100).all(|n| o.record.pops[0].spiked(t, n) == ((t * 100 + n) % 3 == 0)))
    );
    // by name, and a name that is not a Poisson population
    opts.memory.input_spikes = Some(Arc::new(vec![("input".into(), "x".into(), x.clone())]));
    assert_eq!(run::simulate(&opts).unwrap().outcome.record, o.record);
    opts.memory.input_spikes = Some(Arc::new(vec![("msn".into(), "x".into(), x.clone())]));
    let e = run::simulate(&opts).err().unwrap().to_string();
    assert_eq!(
        e,
        "x = msn: names no poisson population of the network; it has input"
    );
    let mut bad = x;
    bad.data[205] = 2;
    opts.memory.input_spikes = Some(Arc::new(vec![("".into(), "input_spikes".into(), bad)]));
    let e = run::simulate(&opts).err().unwrap().to_string();
    assert_eq!(
        e,
        "input_spikes: value at [2, 5] is 2; spikes must be 0 or 1"
    );
}

#[test]
fn a_signal_before_the_first_step_keeps_nothing_and_says_so() {
    let mut opts = options(Network::default_nacc(), 100, 0);
    opts.stop = Some(Arc::new(std::sync::atomic::AtomicUsize::new(2)));
    let e = run::simulate(&opts).err().unwrap();
    assert_eq!(e.exit_code(), 130);
    assert_eq!(
        e.to_string(),
        "stopped by SIGINT before the first step was complete; nothing was computed"
    );
}
