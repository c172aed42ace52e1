//! Issue 15, item 4: inputs that would block (FIFOs, devices) are clear
//! errors, and a signal before the first step ends nacc at once.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs nacc in `dir`, killing it (and failing) if it takes over 20 s.
fn nacc_bounded(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("nacc {args:?} still running after 20 s: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success());
}

#[test]
fn fifos_and_devices_given_as_inputs_are_errors_not_hangs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mkfifo(&d.join("fifo"));
    let o = nacc_bounded(
        d,
        &[
            "run",
            "--steps",
            "20",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "r",
        ],
    );
    assert!(o.status.success());
    // a weights dir whose file is a FIFO; a run dir whose spikes file is one
    std::fs::create_dir(d.join("w")).unwrap();
    for f in [
        "weights_fc1.npy",
        "weights_fc2.npy",
        "weights_fc3.npy",
        "bias_fc2.npy",
        "bias_fc3.npy",
    ] {
        std::fs::copy(d.join("r").join(f), d.join("w").join(f)).unwrap();
    }
    mkfifo(&d.join("w/bias_fc1.npy"));
    std::fs::remove_file(d.join("r/spikes_msn.npy")).unwrap();
    mkfifo(&d.join("r/spikes_msn.npy"));
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["run", "--config", "fifo", "--out", "o"],
            &["--config", "fifo", "not a regular file"],
        ),
        (
            &["run", "--config", "/dev/zero", "--out", "o"],
            &["--config", "/dev/zero", "not a regular file"],
        ),
        (
            &["run", "--input-spikes", "fifo", "--out", "o"],
            &["--input-spikes", "fifo", "not a regular file"],
        ),
        (
            &["run", "--input-spikes", ".", "--out", "o"],
            &["--input-spikes", "is a directory"],
        ),
        (
            &["run", "--weights", "w", "--out", "o"],
            &["bias_fc1.npy", "not a regular file"],
        ),
        (&["render", "r"], &["spikes_msn.npy", "not a regular file"]),
    ];
    for (args, parts) in cases {
        let o = nacc_bounded(d, args);
        common::assert_exit_naming(&o, 2, parts, &format!("{args:?}"));
    }
    assert!(!d.join("o").exists());
    // a network file over 64 MiB is refused before it is read
    let big = std::fs::File::create(d.join("big.toml")).unwrap();
    big.set_len(65 << 20).unwrap();
    let o = nacc_bounded(d, &["run", "--config", "big.toml", "--out", "o"]);
    common::assert_exit_naming(
        &o,
        2,
        &["--config", "big.toml", "at most 64.0 MiB"],
        "a huge config",
    );
}

/// A signal while the network is being built ends nacc at once (130, 143),
/// and one before the first step is complete leaves --out as it was.
#[test]
fn a_signal_before_the_first_step_ends_nacc_and_leaves_out_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = nacc_bounded(d, &["run", "--steps", "20", "--backend", "cpu", "--quiet"]);
    assert!(o.status.success());
    let before = std::fs::read(d.join("out/summary.json")).unwrap();
    // --scale 100: 15 000 neurons, 75 M synapses; building and setting up
    // take about a second, the steps far longer
    let args = [
        "run",
        "--backend",
        "cpu",
        "--scale",
        "100",
        "--steps",
        "1000000",
        "--no-weight-files",
        "--quiet",
    ];
    for (delay, sig, code) in [(60, "-INT", 130), (120, "-TERM", 143), (250, "-INT", 130)] {
        let child = Command::new(env!("CARGO_BIN_EXE_nacc"))
            .args(args)
            .current_dir(d)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let sent = Instant::now();
        let ok = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let o = child.wait_with_output().unwrap();
        let waited = sent.elapsed();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{sig} after {delay} ms: {err}");
        assert!(
            !err.contains("stopped by SIG") || err.contains("before the first step"),
            "{err}"
        );
        assert!(waited < Duration::from_secs(5), "took {waited:?} to end");
        assert_eq!(
            std::fs::read(d.join("out/summary.json")).unwrap(),
            before,
            "--out changed by a run stopped before its first step"
        );
    }
}
