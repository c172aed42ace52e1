//! The `nacc` binary end to end: files written, shapes, repeatability from
//! config.toml, imports, and exit code 2 with a clear message on bad input.

mod common;

use common::nacc;
use nacc::npy::{self, DType};
use std::path::Path;
use std::process::{Command, Output};

/// Starts nacc in `dir`, sends it `sig` (e.g. "-INT") after `ms`
/// milliseconds, and waits for it.
#[cfg(unix)]
fn signalled(dir: &Path, args: &[&str], ms: u64, sig: &str) -> Output {
    let child = common::spawn(dir, args);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    common::kill(&child, sig);
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = nacc(dir, args);
    assert!(
        o.status.success(),
        "nacc {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs nacc expecting exit code 2, a message naming every part, no panic,
/// and returns stderr.
fn fails(dir: &Path, args: &[&str], parts: &[&str]) -> String {
    let o = nacc(dir, args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "nacc {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for p in parts {
        assert!(
            err.contains(p),
            "nacc {args:?}: message {err:?} does not name {p:?}"
        );
    }
    err
}

const FILES: [&str; 14] = [
    "spikes_input.npy",
    "spikes_inter.npy",
    "spikes_msn.npy",
    "weights_fc1.npy",
    "weights_fc2.npy",
    "weights_fc3.npy",
    "bias_fc1.npy",
    "bias_fc2.npy",
    "bias_fc3.npy",
    "raster_input.png",
    "raster_inter.png",
    "raster_msn.png",
    "summary.json",
    "config.toml",
];

#[test]
fn default_run_writes_every_file_with_the_documented_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let o = ok(tmp.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    for name in ["input", "inter", "msn", "rate (Hz)"] {
        assert!(stdout.contains(name), "table lacks {name}: {stdout}");
    }
    let out = tmp.path().join("out");
    for f in FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // nothing beside --out either (its staging directory became --out)
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["out"], "left beside --out");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 0);
    assert_eq!(summary["steps"], 1000);
    assert_eq!(summary["backend"], "cpu");
    assert!(summary["config"]["population"].is_array());
    // the wall time in parts: building the network, the engine, the steps
    let t = &summary["wall_time_s"];
    let parts: Vec<f64> = ["network", "engine_setup", "simulation"]
        .iter()
        .map(|k| {
            t[k].as_f64()
                .unwrap_or_else(|| panic!("wall_time_s.{k}: {t}"))
        })
        .collect();
    assert!(parts.iter().all(|&x| x >= 0.0), "{t}");
    assert!(
        parts.iter().sum::<f64>() <= t["total"].as_f64().unwrap(),
        "{t}"
    );

    for (i, (pop, n)) in [("input", 100), ("inter", 50), ("msn", 20)]
        .into_iter()
        .enumerate()
    {
        let path = out.join(format!("spikes_{pop}.npy"));
        let a = npy::read(&path).unwrap();
        npy::expect(&path, &a, &[DType::U8], &[1000, n]).unwrap();
        assert!(a.data.iter().all(|&x| x <= 1));
        let total: u64 = a.data.iter().map(|&x| x as u64).sum();
        assert_eq!(summary["populations"][i]["name"], pop);
        assert_eq!(summary["populations"][i]["spikes"], total, "{pop}");
        assert!(total > 0, "{pop} silent");
        let hz = summary["populations"][i]["mean_rate_hz"].as_f64().unwrap();
        assert!((hz - total as f64 / (n as f64 * 1000.0 * 1e-3)).abs() < 1e-9);
    }
    for (proj, post, pre) in [("fc1", 50, 100), ("fc2", 20, 50), ("fc3", 20, 100)] {
        let path = out.join(format!("weights_{proj}.npy"));
        let w = npy::read(&path).unwrap();
        npy::expect(&path, &w, &[DType::F32], &[post, pre]).unwrap();
        let bound = 1.0 / (pre as f32).sqrt();
        assert!(w.to_f32().iter().all(|x| x.abs() <= bound));
        let path = out.join(format!("bias_{proj}.npy"));
        npy::expect(&path, &npy::read(&path).unwrap(), &[DType::F32], &[post]).unwrap();
    }
    let png = image::open(out.join("raster_msn.png")).unwrap();
    assert!(png.width() >= 1000 && png.height() >= 20);
}

fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for f in names {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn run_repeated_from_config_toml_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "run", "--seed", "5", "--steps", "300", "--scale", "2", "--out", "a", "--quiet",
        ],
    );
    ok(
        d,
        &[
            "run",
            "--config",
            "a/config.toml",
            "--seed",
            "5",
            "--steps",
            "300",
            "--out",
            "b",
            "--quiet",
        ],
    );
    ok(
        d,
        &[
            "run",
            "--config",
            "a/config.toml",
            "--seed",
            "6",
            "--steps",
            "300",
            "--out",
            "c",
            "--quiet",
        ],
    );
    let spikes = [
        "spikes_input.npy",
        "spikes_inter.npy",
        "spikes_msn.npy",
        "weights_fc1.npy",
    ];
    same_files(&d.join("a"), &d.join("b"), &spikes);
    same_files(&d.join("a"), &d.join("b"), &["config.toml"]);
    // a different seed really changes the run (the check above can fail)
    assert_ne!(
        std::fs::read(d.join("a/spikes_input.npy")).unwrap(),
        std::fs::read(d.join("c/spikes_input.npy")).unwrap()
    );
    let a = npy::read(&d.join("a/spikes_inter.npy")).unwrap();
    assert_eq!(a.shape, [300, 100]);
}

#[test]
fn imported_weights_and_input_reproduce_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "run", "--seed", "1", "--steps", "400", "--out", "a", "--quiet",
        ],
    );
    // Another seed, but the weights and input of run a: the same spikes.
    let o = ok(
        d,
        &[
            "run",
            "--seed",
            "2",
            "--weights",
            "a",
            "--input-spikes",
            "a/spikes_input.npy",
            "--out",
            "b",
        ],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("400 steps"),
        "--steps defaults to T"
    );
    same_files(
        &d.join("a"),
        &d.join("b"),
        &[
            "spikes_input.npy",
            "spikes_inter.npy",
            "spikes_msn.npy",
            "weights_fc2.npy",
        ],
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("b/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"], 400);
    // fewer steps than the file holds is fine
    ok(
        d,
        &[
            "run",
            "--input-spikes",
            "a/spikes_input.npy",
            "--steps",
            "10",
            "--out",
            "c",
            "--quiet",
        ],
    );
    assert_eq!(
        npy::read(&d.join("c/spikes_msn.npy")).unwrap().shape,
        [10, 20]
    );
}

#[test]
fn quiet_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let o = ok(tmp.path(), &["run", "--steps", "50", "--quiet"]);
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
}

/// No output file that looks complete after a failed run.
fn no_outputs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        let names: Vec<_> = entries.map(|e| e.unwrap().file_name()).collect();
        assert!(
            names.is_empty(),
            "files left in {}: {names:?}",
            dir.display()
        );
    }
}

#[test]
fn bad_cli_values_exit_2_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fails(d, &["run", "--steps", "0"], &["--steps", "0", ">= 1"]);
    fails(d, &["run", "--scale", "0"], &["--scale", "0", ">= 1"]);
    fails(d, &["run", "--chunk", "0"], &["--chunk", "0"]);
    fails(d, &["run", "--steps", "-5"], &["--steps"]);
    fails(d, &["run", "--backend", "tpu"], &["--backend", "tpu"]);
    fails(
        d,
        &["run", "--config", "nope.toml"],
        &["--config", "nope.toml", "cannot open"],
    );
    no_outputs(&d.join("out"));
}

/// With every Vulkan driver hidden, `--backend gpu` is an error that says
/// how to get an adapter, and `auto` falls back to the CPU.
#[cfg(target_os = "linux")]
#[test]
fn missing_gpu_is_explained_and_auto_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let no_gpu = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args(args)
            .current_dir(d)
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .env("VK_DRIVER_FILES", "/nonexistent.json")
            .output()
            .unwrap()
    };
    let o = no_gpu(&["run", "--backend", "gpu", "--steps", "10"]);
    let parts = [
        "--backend gpu",
        "no GPU adapter",
        "mesa-vulkan-drivers",
        "--backend cpu",
    ];
    common::assert_exit_naming(&o, 2, &parts, "--backend gpu without an adapter");
    no_outputs(&d.join("out"));
    let o = no_gpu(&["run", "--steps", "10", "--quiet"]);
    assert!(o.status.success());
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(s["backend"], "cpu");
    assert_eq!(s["adapter"], serde_json::Value::Null);
    let o = no_gpu(&["compare", "--steps", "10"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_config_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = nacc::config::DEFAULT_TOML.replace("beta = 0.9", "beta = 2.0");
    std::fs::write(d.join("bad.toml"), text).unwrap();
    fails(
        d,
        &["run", "--config", "bad.toml"],
        &["bad.toml", "beta", "2", "[0, 1]"],
    );
    std::fs::write(d.join("broken.toml"), "[[population]]\nname = \n").unwrap();
    fails(d, &["run", "--config", "broken.toml"], &["broken.toml"]);
    no_outputs(&d.join("out"));
}

#[test]
fn unwritable_out_dir_exits_2_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("file"), "x").unwrap();
    fails(
        d,
        &["run", "--out", "file/sub"],
        &["--out", "file/sub", "cannot create"],
    );
    fails(d, &["run", "--out", "file"], &["--out", "file"]);
}

#[test]
fn bad_input_files_exit_2_naming_file_expected_and_found() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["run", "--steps", "100", "--out", "good", "--quiet"]);

    // missing
    fails(
        d,
        &["run", "--input-spikes", "missing.npy", "--out", "o"],
        &["missing.npy", "cannot open"],
    );
    // truncated
    let full = std::fs::read(d.join("good/spikes_input.npy")).unwrap();
    std::fs::write(d.join("trunc.npy"), &full[..full.len() - 10]).unwrap();
    fails(
        d,
        &["run", "--input-spikes", "trunc.npy", "--out", "o"],
        &["trunc.npy", "truncated"],
    );
    // not npy at all
    std::fs::write(d.join("junk.npy"), b"hello world, not numpy").unwrap();
    fails(
        d,
        &["run", "--input-spikes", "junk.npy", "--out", "o"],
        &["junk.npy", "magic"],
    );
    // wrong shape: the msn spikes (100 x 20) as input (needs 100 neurons)
    fails(
        d,
        &["run", "--input-spikes", "good/spikes_msn.npy", "--out", "o"],
        &["spikes_msn.npy", "[100, 20]", "(T, 100)"],
    );
    // wrong dtype: weights as input spikes
    let mut f = std::fs::File::create(d.join("f32.npy")).unwrap();
    npy::write_f32(&mut f, &[5, 100], &[0.0; 500]).unwrap();
    drop(f);
    fails(
        d,
        &["run", "--input-spikes", "f32.npy", "--out", "o"],
        &["f32.npy", "float32", "uint8"],
    );
    // values other than 0/1
    let mut bytes = npy::header(DType::U8, &[3, 100]);
    bytes.extend(std::iter::repeat_n(0u8, 300));
    let last = bytes.len() - 1;
    bytes[last] = 7;
    std::fs::write(d.join("seven.npy"), bytes).unwrap();
    fails(
        d,
        &["run", "--input-spikes", "seven.npy", "--out", "o"],
        &["seven.npy", "[2, 99]", "7", "0 or 1"],
    );
    // more steps than the file holds
    fails(
        d,
        &[
            "run",
            "--input-spikes",
            "good/spikes_input.npy",
            "--steps",
            "101",
            "--out",
            "o",
        ],
        &["--steps", "101", "100 steps"],
    );
    no_outputs(&d.join("o"));
}

#[test]
fn bad_weight_files_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["run", "--steps", "10", "--out", "w", "--quiet"]);
    // NaN in a weight
    let mut w = npy::read(&d.join("w/weights_fc2.npy")).unwrap().to_f32();
    w[3 * 50 + 7] = f32::NAN;
    let mut f = std::fs::File::create(d.join("w/weights_fc2.npy")).unwrap();
    npy::write_f32(&mut f, &[20, 50], &w).unwrap();
    drop(f);
    fails(
        d,
        &["run", "--weights", "w", "--out", "o"],
        &["weights_fc2.npy", "[3, 7]", "NaN", "finite"],
    );
    // issue 15: a weight of 3e38 is named with its file, not failed on later
    w[3 * 50 + 7] = 3e38;
    let mut f = std::fs::File::create(d.join("w/weights_fc2.npy")).unwrap();
    npy::write_f32(&mut f, &[20, 50], &w).unwrap();
    drop(f);
    fails(
        d,
        &["run", "--weights", "w", "--out", "o"],
        &[
            "weights_fc2.npy",
            "[3, 7]",
            "3e38",
            "within [-1000000.0, 1000000.0]",
        ],
    );
    // transposed weights
    let mut f = std::fs::File::create(d.join("w/weights_fc2.npy")).unwrap();
    npy::write_f32(&mut f, &[50, 20], &vec![0.0; 1000]).unwrap();
    drop(f);
    fails(
        d,
        &["run", "--weights", "w", "--out", "o"],
        &["weights_fc2.npy", "[50, 20]", "[20, 50]"],
    );
    // a missing bias
    std::fs::remove_file(d.join("w/bias_fc1.npy")).unwrap();
    fails(
        d,
        &["run", "--weights", "w", "--out", "o"],
        &["bias_fc1.npy", "cannot open"],
    );
    fails(
        d,
        &["run", "--weights", "nodir", "--out", "o"],
        &["--weights", "nodir", "not a directory"],
    );
    no_outputs(&d.join("o"));
}

#[test]
fn bench_json_lines_have_the_documented_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let o = nacc(
        tmp.path(),
        &["bench", "--backend", "cpu", "--json", "--budget", "0.05"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<_> = lines
        .iter()
        .map(|v| v["network"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["seed", "large", "sparse-1m", "trials"]);
    // seed and trials run on the CPU engine whatever the budget: their keys
    // are checked below, not skipped
    for i in [0, 3] {
        assert!(lines[i].get("skipped").is_none(), "{}", lines[i]);
    }
    for v in &lines {
        if v.get("skipped").is_some() {
            assert!(!v["skipped"].as_str().unwrap().is_empty());
            continue;
        }
        for k in [
            "neurons",
            "synapses",
            "steps",
            "steps_per_s",
            "events_per_s",
        ] {
            assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
        }
    }
    assert_eq!(lines[0]["neurons"], 170);
    assert_eq!(lines[0]["synapses"], 8000);
    // the untimed setup is reported beside the timed loop
    for k in ["build_s", "setup_s"] {
        assert!(
            lines[0][k].as_f64().is_some_and(|x| x >= 0.0),
            "{k} in {}",
            lines[0]
        );
    }
    fails(tmp.path(), &["bench", "--budget", "0"], &["--budget", "0"]);

    // --network picks networks of the suite, in suite order; --profile
    // times GPU kernels only (tests/gpu_vs_cpu.rs), so nothing here
    let args = "bench --backend cpu --json --budget 0.05 --network trials --network seed --profile";
    let o = nacc(tmp.path(), &args.split(' ').collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|v| v["network"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["seed", "trials"]);
    assert!(lines.iter().all(|v| v["profile"].is_null()), "{lines:?}");
    fails(
        tmp.path(),
        &["bench", "--network", "huge"],
        &["--network = huge", "seed, large, sparse-1m, trials"],
    );
}

#[test]
fn closed_stdout_is_not_a_panic() {
    // `nacc bench | head -1`: the reader goes away; nacc stops quietly.
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["bench", "--backend", "cpu", "--budget", "0.05"][..],
        &["run", "--steps", "20", "--backend", "cpu"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args(args)
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(o.status.success(), "{args:?}: {err}");
    }
}

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
    let post = npy::read(&d.join("a/weights_fc1_post.npy")).unwrap();
    let pre = npy::read(&d.join("a/weights_fc1_pre.npy")).unwrap();
    let value = npy::read(&d.join("a/weights_fc1_value.npy")).unwrap();
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
    let all = npy::read(&d.join("t/spikes_msn.npy")).unwrap();
    assert_eq!(all.shape, [4, 150, 20]);
    let one = npy::read(&d.join("one/spikes_msn.npy")).unwrap();
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
            let a = npy::read(&out.join(format!("spikes_{pop}.npy"))).unwrap();
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
    let a = npy::read(&out.join("spikes_msn.npy")).unwrap();
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
        npy::read(&d.join("o/spikes_grow.npy")).unwrap().shape,
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
    let a = npy::read(&d.join("s/spikes_msn.npy")).unwrap();
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
        let t = npy::read(&d.join(format!("s/spikes_{pop}.npy")))
            .unwrap()
            .shape[0];
        assert!(
            t == complete || t == complete + 1000,
            "{pop}: {t} rows, {complete} complete"
        );
    }
    let k = complete;
    let a = npy::read(&d.join("s/spikes_msn.npy")).unwrap();
    let a = nacc::npy::Array {
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
    let full = npy::read(&d.join("full/spikes_msn.npy")).unwrap();
    assert!(
        a.data == full.data,
        "the streamed rows differ from the run's"
    );
}

#[test]
fn reward_experiment_writes_dopamine_weights_responses_and_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/reward_learning.toml");
    let config = config.to_str().unwrap();
    let o = ok(
        tmp.path(),
        &[
            "run",
            "--config",
            config,
            "--steps",
            "10000",
            "--backend",
            "cpu",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("d1: response to A"), "{stdout}");
    // whether it did after 20 trials is the statistical test's business
    // (tests/reward.rs); here: it says so either way, as summary.json does
    let prefers = summary_prefers(&tmp.path().join("out"));
    let verdict = if prefers {
        "d1 came to prefer A"
    } else {
        "d1 did not come to prefer A"
    };
    assert!(stdout.contains(verdict), "{stdout}");
    let out = tmp.path().join("out");
    for f in [
        "learning.png",
        "weights_change_in_d1.png",
        "dopamine.png",
        "nacc.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // d(t): 0 until the first reward, 120 ms after A's first onset, then 1
    let path = out.join("dopamine.npy");
    let d = npy::read(&path).unwrap();
    npy::expect(&path, &d, &[DType::F32], &[10000]).unwrap();
    let d = d.to_f32();
    assert!(d[..120].iter().all(|&x| x == 0.0));
    assert_eq!(d[120], 1.0);
    assert!(d[121] < 1.0 && d[121] > 0.98);
    // weights before and after, within their ranges, and changed
    let read = |name: &str| {
        let path = out.join(name);
        let w = npy::read(&path).unwrap();
        npy::expect(&path, &w, &[DType::F32], &[20, 100]).unwrap();
        w.to_f32()
    };
    let (before, after) = (read("weights_in_d1_initial.npy"), read("weights_in_d1.npy"));
    assert!(before.iter().all(|&w| (0.01..=0.05).contains(&w)));
    assert!(after.iter().all(|&w| (0.0..=0.15).contains(&w)));
    assert_ne!(before, after);
    // responses: 20 presentations, A (rewarded) and B in turn
    let csv = std::fs::read_to_string(out.join("responses.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "presentation,pattern,onset_step,rewarded,input_hz,inter_hz,d1_hz,d2_hz"
    );
    assert_eq!(lines.len(), 21);
    for (k, line) in lines[1..].iter().enumerate() {
        let (pat, rew) = if k % 2 == 0 { ("A", 1) } else { ("B", 0) };
        assert!(
            line.starts_with(&format!("{k},{pat},{},{rew},", k * 500)),
            "{line}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["learning"][0]["population"], "d1");
    // nacc render redraws the same figures from the files
    ok(tmp.path(), &["render", "out", "--out", "again"]);
    same_files(
        &out,
        &tmp.path().join("again"),
        &[
            "nacc.png",
            "learning.png",
            "weights_change_in_d1.png",
            "dopamine.png",
        ],
    );
    // a streamed run (no record kept) counts the same responses
    ok(
        tmp.path(),
        &[
            "run",
            "--config",
            config,
            "--steps",
            "10000",
            "--backend",
            "cpu",
            "--stream",
            "--chunk",
            "777",
            "--out",
            "streamed",
        ],
    );
    same_files(
        &out,
        &tmp.path().join("streamed"),
        &[
            "responses.csv",
            "learning.png",
            "dopamine.npy",
            "weights_in_d1.npy",
        ],
    );
    // plasticity and --trials do not mix (and --dry-run says so too)
    for dry in [false, true] {
        let mut args = vec![
            "run", "--config", config, "--steps", "100", "--trials", "2", "--out", "t",
        ];
        if dry {
            args.push("--dry-run");
        }
        fails(tmp.path(), &args, &["--trials", "plasticity"]);
    }
}

fn summary_prefers(out: &Path) -> bool {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    summary["learning"][0]["prefers_rewarded"]
        .as_bool()
        .unwrap()
}

#[test]
fn packed_spikes_are_the_spikes_eight_neurons_a_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // 100/50/20 neurons: none a multiple of 8, so every last byte is padded
    let base = [
        "run",
        "--backend",
        "cpu",
        "--steps",
        "300",
        "--quiet",
        "--seed",
        "4",
    ];
    let run = |out: &str, extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--out", out]);
        args.extend_from_slice(extra);
        ok(d, &args);
    };
    run("dense", &[]);
    run("packed", &["--packed-spikes"]);
    run(
        "streamed",
        &["--packed-spikes", "--stream", "--chunk", "70"],
    );
    run("trials", &["--packed-spikes", "--trials", "2"]);
    for (pop, n) in [("input", 100usize), ("inter", 50), ("msn", 20)] {
        let dense = npy::read(&d.join(format!("dense/spikes_{pop}.npy"))).unwrap();
        let path = d.join(format!("packed/spikes_{pop}_packed.npy"));
        let packed = npy::read(&path).unwrap();
        let nb = n.div_ceil(8);
        assert_eq!(
            (packed.dtype, packed.shape.clone()),
            (DType::U8, vec![300, nb])
        );
        assert!(!d.join(format!("packed/spikes_{pop}.npy")).exists());
        // bit n % 8 of byte n / 8 is neuron n (NumPy's bitorder="little"),
        // and the bits past the last neuron are 0
        for t in 0..300 {
            for k in 0..nb * 8 {
                let bit = packed.data[t * nb + k / 8] >> (k % 8) & 1;
                let want = if k < n { dense.data[t * n + k] } else { 0 };
                assert_eq!(bit, want, "{pop}: step {t}, neuron {k}");
            }
        }
        // streamed chunk by chunk: the same bytes; trials: a leading axis,
        // trial 0 the plain run
        let streamed = std::fs::read(d.join(format!("streamed/spikes_{pop}_packed.npy"))).unwrap();
        assert_eq!(streamed, std::fs::read(&path).unwrap(), "{pop}");
        let trials = npy::read(&d.join(format!("trials/spikes_{pop}_packed.npy"))).unwrap();
        assert_eq!(trials.shape, vec![2, 300, nb]);
        assert_eq!(&trials.data[..300 * nb], &packed.data[..], "{pop}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("packed/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["spikes_packed"], true);
    // nacc render reads either form: the same figures
    ok(d, &["render", "dense", "--out", "dense_fig"]);
    ok(d, &["render", "packed", "--out", "packed_fig"]);
    for f in ["nacc.png", "raster_msn.png"] {
        assert!(
            std::fs::read(d.join("dense_fig").join(f)).unwrap()
                == std::fs::read(d.join("packed_fig").join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn no_weight_files_writes_only_learned_weights_and_render_still_draws() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let files = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                (n.starts_with("weights_") || n.starts_with("bias_")) && n.ends_with(".npy")
            })
            .collect();
        v.sort();
        v
    };
    let args = ["run", "--backend", "cpu", "--steps", "200", "--quiet"];
    ok(d, &[&args[..], &["--out", "with"]].concat());
    ok(
        d,
        &[&args[..], &["--out", "without", "--no-weight-files"]].concat(),
    );
    assert!(!files("with").is_empty());
    assert_eq!(files("without"), Vec::<String>::new());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("without/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["weight_files"], false);
    // the same spikes; render draws the rasters and says why no heatmap
    assert_eq!(
        std::fs::read(d.join("with/spikes_msn.npy")).unwrap(),
        std::fs::read(d.join("without/spikes_msn.npy")).unwrap()
    );
    let o = ok(d, &["render", "without", "--out", "fig"]);
    assert!(d.join("fig/raster_msn.png").is_file() && !d.join("fig/heatmap_fc1.png").exists());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no heatmap for `fc1`") && err.contains("--no-weight-files"),
        "{err}"
    );
    // a plastic projection's learned weights are results: still written
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/reward_learning.toml");
    ok(
        d,
        &[
            &args[..],
            &[
                "--config",
                config.to_str().unwrap(),
                "--out",
                "reward",
                "--no-weight-files",
            ],
        ]
        .concat(),
    );
    assert_eq!(
        files("reward"),
        ["weights_in_d1.npy", "weights_in_d1_initial.npy"]
    );
}

/// Issue 15: what a newcomer typed gets an answer that helps: negative
/// counts, run options without `run`, compare's options that have nothing
/// to act on, input spikes for a network whose stimulus shapes its input,
/// and a streamed run's missing figures.
#[test]
fn newcomer_mistakes_get_messages_that_help() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fails(
        d,
        &["run", "--steps", "-5"],
        &["--steps", "-5", "whole number >= 1"],
    );
    fails(
        d,
        &["run", "--seed", "-1"],
        &["--seed", "whole number >= 0"],
    );
    fails(
        d,
        &["--config", "x.toml"],
        &["hint", "nacc run --config x.toml"],
    );
    for flag in [
        &["--out", "o"][..],
        &["--stream"],
        &["--packed-spikes"],
        &["--no-weight-files"],
        &["--backend", "cpu"],
    ] {
        let mut args = vec!["compare"];
        args.extend_from_slice(flag);
        fails(d, &args, &[flag[0], "nacc compare", "nacc run"]);
    }
    // compare --dry-run estimates, and runs nothing
    let o = nacc(d, &["compare", "--dry-run", "--steps", "100000000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    if o.status.success() {
        assert!(
            text.contains("needed") && text.contains("CPU engine"),
            "{text}"
        );
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI has lavapipe");
        assert!(String::from_utf8_lossy(&o.stderr).contains("needs a GPU"));
    }
    ok(d, &["run", "--steps", "30", "--quiet", "--out", "in"]);
    let reward = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/reward_learning.toml");
    fails(
        d,
        &[
            "run",
            "--config",
            reward,
            "--input-spikes",
            "in/spikes_input.npy",
            "--out",
            "x",
        ],
        &["--input-spikes", "[stimulus]"],
    );
    let o = ok(
        d,
        &[
            "run",
            "--steps",
            "30",
            "--stream",
            "--backend",
            "cpu",
            "--out",
            "s",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no figures were drawn") && err.contains("nacc render s"),
        "{err}"
    );
}

/// Issue 15: summary.json names connectivity as the network file does and
/// writes every f32 of the config as its shortest decimal.
#[test]
fn summary_json_uses_stable_names_and_shortest_decimals() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let net = nacc::config::DEFAULT_TOML.replacen(
        "init = \"linear\"",
        "init = \"linear\"\nfixed_fan_in = 50",
        1,
    );
    std::fs::write(d.join("s.toml"), net).unwrap();
    ok(
        d,
        &[
            "run", "--config", "s.toml", "--steps", "20", "--quiet", "--out", "o",
        ],
    );
    let text = std::fs::read_to_string(d.join("o/summary.json")).unwrap();
    assert!(
        !text.contains("FixedFanIn") && !text.contains("0.89999"),
        "{text}"
    );
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        s["projections"][0]["connectivity"],
        serde_json::json!({"kind": "fixed_fan_in", "fixed_fan_in": 50})
    );
    assert_eq!(s["projections"][1]["connectivity"]["kind"], "dense");
    assert_eq!(s["config"]["population"][1]["beta"].to_string(), "0.9");
    assert_eq!(s["network"], "s");
}
