//! The `nacc` binary end to end: reward experiments, packed spikes, runs
//! without weight files, messages for newcomers' mistakes, summary.json.

mod common;

use common::cli::{fails, ok, same_files};
use common::nacc;
use nacc::npy::DType;
use std::path::Path;

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
    let d = common::npy::read(&path).unwrap();
    common::npy::expect(&path, &d, &[DType::F32], &[10000]).unwrap();
    let d = d.to_f32();
    assert!(d[..120].iter().all(|&x| x == 0.0));
    assert_eq!(d[120], 1.0);
    assert!(d[121] < 1.0 && d[121] > 0.98);
    // weights before and after, within their ranges, and changed
    let read = |name: &str| {
        let path = out.join(name);
        let w = common::npy::read(&path).unwrap();
        common::npy::expect(&path, &w, &[DType::F32], &[20, 100]).unwrap();
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
        let dense = common::npy::read(&d.join(format!("dense/spikes_{pop}.npy"))).unwrap();
        let path = d.join(format!("packed/spikes_{pop}_packed.npy"));
        let packed = common::npy::read(&path).unwrap();
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
        let trials = common::npy::read(&d.join(format!("trials/spikes_{pop}_packed.npy"))).unwrap();
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
