//! The `nacc` binary end to end: files written, shapes, repeatability from
//! config.toml, imports, and exit code 2 with a clear message on bad input.

mod common;

use common::cli::{fails, ok, same_files};
use common::nacc;
use nacc::npy::{self, DType};
use std::path::Path;
use std::process::Command;

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
        let a = common::npy::read(&path).unwrap();
        common::npy::expect(&path, &a, &[DType::U8], &[1000, n]).unwrap();
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
        let w = common::npy::read(&path).unwrap();
        common::npy::expect(&path, &w, &[DType::F32], &[post, pre]).unwrap();
        let bound = 1.0 / (pre as f32).sqrt();
        assert!(w.to_f32().iter().all(|x| x.abs() <= bound));
        let path = out.join(format!("bias_{proj}.npy"));
        common::npy::expect(
            &path,
            &common::npy::read(&path).unwrap(),
            &[DType::F32],
            &[post],
        )
        .unwrap();
    }
    let png = image::open(out.join("raster_msn.png")).unwrap();
    assert!(png.width() >= 1000 && png.height() >= 20);
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
    let a = common::npy::read(&d.join("a/spikes_inter.npy")).unwrap();
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
        common::npy::read(&d.join("c/spikes_msn.npy"))
            .unwrap()
            .shape,
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
    let mut w = common::npy::read(&d.join("w/weights_fc2.npy"))
        .unwrap()
        .to_f32();
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
    assert_eq!(
        names,
        [
            "seed",
            "large",
            "msn-fsi",
            "sparse-1m",
            "trials",
            "recurrent",
            "recurrent-open",
            "recurrent-open-3",
            "recurrent-open-0",
            "nacc-striatum-10k",
            "nacc-striatum-300k",
            "nacc-striatum-2.8m"
        ]
    );
    // the larger scales are skipped (unless named) without a hardware GPU
    for i in [10, 11] {
        assert!(
            lines[i]["skipped"].as_str().unwrap().contains("synapses"),
            "{}",
            lines[i]
        );
    }
    // seed and trials run on the CPU engine whatever the budget: their keys
    // are checked below, not skipped
    for i in [0, 4] {
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
    // times GPU kernels only (tests/gpu/), so nothing here
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
        &[
            "--network = huge",
            "seed, large, msn-fsi, sparse-1m, trials",
        ],
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
fn knobs_are_read_once_recorded_by_bench_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args(args)
            .envs(vars.iter().copied())
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let bench = [
        "bench",
        "--backend",
        "cpu",
        "--network",
        "seed",
        "--budget",
        "0.2",
    ];
    let o = run(
        &[("NACC_THREADS", "2")],
        &[&bench[..], &["--json"]].concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["tuning"], serde_json::json!({"NACC_THREADS": "2"}));
    assert!(
        line["engine"].as_str().unwrap().contains("2 threads"),
        "{line}"
    );
    let o = run(&[], &[&bench[..], &["--json"]].concat());
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["tuning"], serde_json::json!({}));
    // a value not allowed: exit 2, naming variable, value and what is allowed
    for (var, value, allowed) in [
        ("NACC_THREADS", "0", "1 to 4096"),
        ("NACC_CPU_SPARSE", "both", "gather, scatter"),
        ("NACC_MEMORY_CHECK", "of", "off, on"),
    ] {
        let o = run(&[(var, value)], &["run", "--quiet", "--steps", "5"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{var}={value}: {err}");
        assert!(
            err.contains(var) && err.contains(value) && err.contains(allowed),
            "{err}"
        );
        assert!(
            !tmp.path().join("out").exists(),
            "{var}={value}: nothing written"
        );
    }
}
