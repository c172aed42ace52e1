//! The `nacc` binary end to end: sparse weights, trials, signals, failures
//! mid-run, streamed runs.

mod common;

use common::cli::{fails, ok, same_files, signalled};
use common::nacc;
use nacc::npy::{self, DType};
use std::process::Command;

#[test]
fn sparse_weights_are_written_as_coo_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = nacc::config::DEFAULT_TOML.replacen(
        "init = \"linear\"",
        "init = \"linear\"\nfixed_fan_in = 30",
        1,
    );
    std::fs::write(d.join("sparse.toml"), text).unwrap();
    ok(
        d,
        &[
            "run",
            "--config",
            "sparse.toml",
            "--steps",
            "200",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "a",
        ],
    );
    let post = common::npy::read(&d.join("a/weights_fc1_post.npy")).unwrap();
    let pre = common::npy::read(&d.join("a/weights_fc1_pre.npy")).unwrap();
    let value = common::npy::read(&d.join("a/weights_fc1_value.npy")).unwrap();
    assert_eq!(
        (post.dtype, pre.dtype, value.dtype),
        (DType::U32, DType::U32, DType::F32)
    );
    assert_eq!(
        (post.shape.clone(), pre.shape.clone(), value.shape.clone()),
        (vec![1500], vec![1500], vec![1500])
    );
    assert!(!d.join("a/weights_fc1.npy").exists());
    // other seed, same weights and input: same spikes
    ok(
        d,
        &[
            "run",
            "--config",
            "a/config.toml",
            "--seed",
            "8",
            "--weights",
            "a",
            "--input-spikes",
            "a/spikes_input.npy",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "b",
        ],
    );
    same_files(
        &d.join("a"),
        &d.join("b"),
        &["spikes_inter.npy", "spikes_msn.npy"],
    );
    // a pre index out of range is named
    let mut pre_v = pre.to_u32();
    pre_v[10] = 100;
    let mut f = std::fs::File::create(d.join("a/weights_fc1_pre.npy")).unwrap();
    npy::write_u32(&mut f, &[1500], &pre_v).unwrap();
    drop(f);
    fails(
        d,
        &[
            "run",
            "--config",
            "a/config.toml",
            "--weights",
            "a",
            "--out",
            "c",
        ],
        &["weights_fc1_post.npy", "synapse 10", "pre 100"],
    );
    std::fs::remove_file(d.join("a/weights_fc1_value.npy")).unwrap();
    fails(
        d,
        &[
            "run",
            "--config",
            "a/config.toml",
            "--weights",
            "a",
            "--out",
            "c",
        ],
        &["weights_fc1_value.npy", "cannot open"],
    );
}

#[test]
fn trials_add_a_leading_axis_and_trial_0_is_the_plain_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "run",
            "--trials",
            "4",
            "--steps",
            "150",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "t",
        ],
    );
    ok(
        d,
        &[
            "run",
            "--steps",
            "150",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "one",
        ],
    );
    let all = common::npy::read(&d.join("t/spikes_msn.npy")).unwrap();
    assert_eq!(all.shape, [4, 150, 20]);
    let one = common::npy::read(&d.join("one/spikes_msn.npy")).unwrap();
    assert_eq!(&all.data[..150 * 20], &one.data[..]);
    assert_ne!(&all.data[..150 * 20], &all.data[150 * 20..2 * 150 * 20]);
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("t/summary.json")).unwrap()).unwrap();
    assert_eq!(s["trials"], 4);
    assert_eq!(s["spikes_per_trial"].as_array().unwrap().len(), 4);
    let msn0: u64 = one.data.iter().map(|&x| x as u64).sum();
    assert_eq!(s["spikes_per_trial"][0][2], msn0);
    // issue 15: nacc render draws trial 0 of a --trials run, or the one named
    ok(d, &["render", "t", "--out", "t0"]);
    ok(d, &["render", "one", "--out", "one0"]);
    same_files(
        &d.join("t0"),
        &d.join("one0"),
        &["raster_msn.png", "nacc.png"],
    );
    ok(d, &["render", "t", "--trial", "3", "--out", "t3"]);
    let differ = std::fs::read(d.join("t3/raster_msn.png")).unwrap()
        != std::fs::read(d.join("t0/raster_msn.png")).unwrap();
    assert!(differ, "trial 3 drawn as trial 0");
    fails(
        d,
        &["render", "t", "--trial", "4"],
        &["--trial = 4", "4 trials"],
    );
    fails(
        d,
        &["render", "one", "--trial", "1"],
        &["--trial = 1", "one trial"],
    );
    fails(
        d,
        &["run", "--trials", "0", "--out", "x"],
        &["--trials", "0"],
    );
    ok(d, &["run", "--steps", "20", "--quiet", "--out", "in"]);
    fails(
        d,
        &[
            "run",
            "--trials",
            "2",
            "--input-spikes",
            "in/spikes_input.npy",
            "--out",
            "x",
        ],
        &["--trials", "--input-spikes"],
    );
    fails(d, &["compare", "--trials", "2"], &["--trials", "one trial"]);
}

/// Issue 6: SIGINT or SIGTERM stops a run at the end of the current chunk,
/// writes valid outputs of the steps done and a summary saying so, and
/// exits 130 or 143.
#[cfg(unix)]
#[test]
fn a_signal_stops_the_run_at_a_chunk_and_keeps_what_was_computed() {
    let tmp = tempfile::tempdir().unwrap();
    for (sig, code) in [("-INT", 130), ("-TERM", 143)] {
        let out = tmp.path().join(&sig[1..]);
        let o = signalled(
            tmp.path(),
            &[
                "run",
                "--steps",
                "5000000",
                "--chunk",
                "1000",
                "--backend",
                "cpu",
                "--quiet",
                "--out",
                &sig[1..],
            ],
            700,
            sig,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{sig}: {err}");
        assert!(err.contains("stopped by SIG"), "{err}");
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        let done = s["stopped"]["after_steps"].as_u64().unwrap() as usize;
        assert_eq!(s["stopped"]["reason"], format!("SIG{}", &sig[1..]));
        assert!(
            done > 0 && done < 5_000_000 && done.is_multiple_of(1000),
            "{done}"
        );
        assert_eq!(s["steps"], done);
        for (pop, n) in [("input", 100), ("inter", 50), ("msn", 20)] {
            let a = common::npy::read(&out.join(format!("spikes_{pop}.npy"))).unwrap();
            assert_eq!(a.shape, [done, n], "{pop}");
        }
        assert!(out.join("nacc.png").is_file());
    }
    // trials stop together: every trial holds the same steps
    let out = tmp.path().join("trials");
    let o = signalled(
        tmp.path(),
        &[
            "run",
            "--trials",
            "8",
            "--steps",
            "3000000",
            "--chunk",
            "1000",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "trials",
        ],
        700,
        "-INT",
    );
    assert_eq!(o.status.code(), Some(130));
    let a = common::npy::read(&out.join("spikes_msn.npy")).unwrap();
    assert!(
        a.shape[0] == 8
            && a.shape[1] > 0
            && a.shape[1] < 3_000_000
            && a.shape[1].is_multiple_of(1000),
        "{:?}",
        a.shape
    );
}

/// Issue 6: a membrane turning non-finite stops the run with the
/// population, neuron and step, keeps the chunks before it, exit 1.
#[test]
fn a_non_finite_membrane_stops_the_run_keeping_earlier_chunks() {
    let (text, step) = common::overflowing_network();
    assert!(step > 100 && step < 1000, "{step}");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("grow.toml"), text).unwrap();
    // the network file allows biases up to 1e6; a bias file of 1e36 (any
    // finite value) overflows the membranes
    ok(
        d,
        &[
            "run",
            "--config",
            "grow.toml",
            "--steps",
            "1",
            "--quiet",
            "--out",
            "w",
        ],
    );
    let mut bias = npy::header(DType::F32, &[3]);
    for _ in 0..3 {
        bias.extend(1e36f32.to_le_bytes());
    }
    std::fs::write(d.join("w/bias_to_grow.npy"), bias).unwrap();
    let o = nacc(
        d,
        &[
            "run",
            "--config",
            "grow.toml",
            "--weights",
            "w",
            "--steps",
            "1000",
            "--chunk",
            "100",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "o",
        ],
    );
    let kept = (step / 100 * 100) as usize;
    let parts = [
        format!("population `grow` neuron 0 became inf at step {step}"),
        format!("stopped after {kept} steps"),
    ];
    common::assert_exit_naming(&o, 1, &parts, "an overflowing run");
    assert_eq!(
        common::npy::read(&d.join("o/spikes_grow.npy"))
            .unwrap()
            .shape,
        [kept, 3]
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("o/summary.json")).unwrap()).unwrap();
    assert_eq!(s["stopped"]["after_steps"], kept);
    assert!(
        s["stopped"]["reason"]
            .as_str()
            .unwrap()
            .contains("became inf")
    );
}

/// Issue 6: `--stream` writes the same bytes as a kept record, whatever the
/// chunk size; the thread count changes nothing either.
#[test]
fn streamed_and_kept_runs_write_identical_spike_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "run",
            "--steps",
            "2500",
            "--chunk",
            "1000",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "kept",
        ],
    );
    ok(
        d,
        &[
            "run",
            "--steps",
            "2500",
            "--chunk",
            "333",
            "--stream",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "streamed",
        ],
    );
    same_files(
        &d.join("kept"),
        &d.join("streamed"),
        &["spikes_input.npy", "spikes_inter.npy", "spikes_msn.npy"],
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("streamed/summary.json")).unwrap()).unwrap();
    let k: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("kept/summary.json")).unwrap()).unwrap();
    assert_eq!(s["streamed"], true);
    assert_eq!(
        s["populations"], k["populations"],
        "counts and rates of a streamed run"
    );
    assert!(
        !d.join("streamed/nacc.png").exists(),
        "figures are left to nacc render"
    );
    // nacc render draws them from the streamed files
    ok(d, &["render", "streamed"]);
    assert!(d.join("streamed/nacc.png").is_file());
    // thread counts, on a network large enough to split its sums
    for (threads, out) in [("1", "t1"), ("2", "t2")] {
        let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args([
                "run",
                "--scale",
                "15",
                "--steps",
                "40",
                "--backend",
                "cpu",
                "--quiet",
                "--out",
                out,
            ])
            .current_dir(d)
            .env("NACC_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    same_files(
        &d.join("t1"),
        &d.join("t2"),
        &["spikes_inter.npy", "spikes_msn.npy"],
    );
}

/// Issue 6: a streamed run killed outright leaves spike files that are valid
/// arrays of the completed chunks, equal to the start of a full run.
#[cfg(unix)]
#[test]
fn a_killed_streamed_run_leaves_valid_files_of_the_completed_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = signalled(
        d,
        &[
            "run",
            "--steps",
            "5000000",
            "--chunk",
            "1000",
            "--stream",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "s",
        ],
        600,
        "-KILL",
    );
    assert_ne!(o.status.code(), Some(0));
    let a = common::npy::read(&d.join("s/spikes_msn.npy")).unwrap();
    let k = a.shape[0];
    assert!(
        k > 0 && k < 5_000_000 && k.is_multiple_of(1000),
        "{:?}",
        a.shape
    );
    assert_eq!(a.shape[1], 20);
    // issue 15: summary.json says the steps every file holds
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("s/summary.json")).unwrap()).unwrap();
    let complete = s["steps"].as_u64().unwrap() as usize;
    assert!(
        s["stopped"]["reason"]
            .as_str()
            .unwrap()
            .contains("not finished"),
        "{s}"
    );
    for pop in ["input", "inter", "msn"] {
        let t = common::npy::read(&d.join(format!("s/spikes_{pop}.npy")))
            .unwrap()
            .shape[0];
        assert!(
            t == complete || t == complete + 1000,
            "{pop}: {t} rows, {complete} complete"
        );
    }
    let k = complete;
    let a = common::npy::read(&d.join("s/spikes_msn.npy")).unwrap();
    let a = common::npy::Array {
        data: a.data[..k * 20].to_vec(),
        shape: vec![k, 20],
        dtype: a.dtype,
    };
    ok(d, &["render", "s"]);
    ok(
        d,
        &[
            "run",
            "--steps",
            &k.to_string(),
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "full",
        ],
    );
    let full = common::npy::read(&d.join("full/spikes_msn.npy")).unwrap();
    assert!(
        a.data == full.data,
        "the streamed rows differ from the run's"
    );
}

#[test]
fn fan_out_and_one_to_one_weights_round_trip_and_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let net = common::one_to_one_net("fixed_fan_out = 9", "fixed_fan_out = 4");
    std::fs::write(d.join("net.toml"), net.to_toml()).unwrap();
    let run = |out: &str, more: &[&str]| {
        let args = [
            &[
                "run",
                "--steps",
                "120",
                "--backend",
                "cpu",
                "--quiet",
                "--out",
                out,
            ][..],
            more,
        ]
        .concat();
        ok(d, &args);
    };
    run("a", &["--config", "net.toml"]);
    // COO files: one synapse a neuron (fc1), k a pre neuron (fc2)
    for (proj, n) in [("fc1", 100usize), ("fc2", 900), ("fc3", 400)] {
        let value = common::npy::read(&d.join(format!("a/weights_{proj}_value.npy"))).unwrap();
        assert_eq!(value.shape, vec![n], "{proj}");
    }
    let pre = common::npy::read(&d.join("a/weights_fc1_pre.npy")).unwrap();
    let post = common::npy::read(&d.join("a/weights_fc1_post.npy")).unwrap();
    assert_eq!(pre.to_u32(), post.to_u32(), "one to one");
    // other seed, same weights and input: same spikes
    let more = ["--config", "a/config.toml", "--seed", "8", "--weights", "a"];
    run(
        "b",
        &[&more[..], &["--input-spikes", "a/spikes_input.npy"]].concat(),
    );
    same_files(
        &d.join("a"),
        &d.join("b"),
        &["spikes_inter.npy", "spikes_msn.npy"],
    );
    // config.toml and summary.json say how each projection connects
    let config = std::fs::read_to_string(d.join("a/config.toml")).unwrap();
    assert!(config.contains("one_to_one = true") && config.contains("fixed_fan_out = 9"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("a/summary.json")).unwrap()).unwrap();
    let text = summary.to_string();
    assert!(
        text.contains(r#""kind":"one_to_one""#) && text.contains(r#""fixed_fan_out":9"#),
        "{text}"
    );
}
