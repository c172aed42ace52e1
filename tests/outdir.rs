//! Issue 15, items 1 and 2: the out dir as one transaction. After any
//! failure, interruption or concurrent run, --out holds the whole previous
//! run or the whole new one, never files of both; nothing is written through
//! a symlink nacc did not make, nor outside --out.

mod common;

#[cfg(unix)]
use common::kill;
use common::{nacc, spawn};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn ms(n: u64) {
    std::thread::sleep(Duration::from_millis(n));
}

/// Every file of a directory (name -> bytes), but the lock file (which a
/// killed run leaves, empty); subdirectories and symlinks are named with a
/// marker.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != ".nacc.lock")
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let t = e.file_type().unwrap();
            let bytes = if t.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                b"<not a file>".to_vec()
            };
            (name, bytes)
        })
        .collect()
}

/// Two snapshots are equal; else the names of the files that differ.
fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let differ: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    assert!(differ.is_empty(), "{what}: {differ:?} differ");
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// `out` is one whole run: summary.json names `seed`, every population's
/// spikes file holds the steps it says, config.toml and the figures are
/// there, and no file is left of another run (`other`: that run's files).
fn assert_whole_run(out: &Path, seed: u64, other: &BTreeMap<String, Vec<u8>>) {
    let s = summary(out);
    assert_eq!(s["seed"], seed, "{s}");
    let steps = s["steps"].as_u64().unwrap() as usize;
    assert!(steps > 0);
    for (pop, n) in [("input", 2000), ("inter", 1000), ("msn", 400)] {
        let a = common::npy::read(&out.join(format!("spikes_{pop}.npy"))).unwrap();
        assert_eq!(a.shape, [steps, n], "{pop}");
    }
    let now = snapshot(out);
    for f in [
        "config.toml",
        "nacc.png",
        "raster_msn.png",
        "weights_fc1.npy",
    ] {
        assert!(now.contains_key(f), "{f} missing: {:?}", now.keys());
    }
    for name in ["spikes_msn.npy", "spikes_inter.npy", "summary.json"] {
        assert_ne!(now.get(name), other.get(name), "{name} is the other run's");
    }
}

/// A run of the default network at --scale 20 (3 400 neurons): its writing
/// takes a fair part of a second, long enough to be interrupted.
fn run_args<'a>(seed: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--backend",
        "cpu",
        "--scale",
        "20",
        "--steps",
        steps,
        "--chunk",
        "1000",
        "--seed",
        seed,
        "--quiet",
        "--out",
        "out",
    ]
}

/// Only `out` is left in `dir`: no staging directory, no temporary file.
fn nothing_beside_out(dir: &Path) {
    assert_eq!(names(dir), ["out"], "left beside --out");
    let hidden: Vec<_> = names(&dir.join("out"))
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left in --out: {hidden:?}");
}

/// 1(b): a re-run killed at any moment (while it steps, after a first
/// signal while it writes, outright) leaves --out holding the whole previous
/// run or the whole new one; the next run cleans what the killed one left.
#[cfg(unix)]
#[test]
fn an_interrupted_rerun_leaves_one_whole_run_never_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = d.join("out");
    let first = |d: &Path| {
        let o = nacc(d, &run_args("1", "12000"));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        snapshot(&d.join("out"))
    };
    let mut old = first(d);
    assert_whole_run(&out, 1, &BTreeMap::new());

    // a second SIGINT while the outputs are written ends nacc at once:
    // --out keeps the previous run (tried until it lands in the writing)
    let mut cut_while_writing = 0;
    for attempt in 0..6 {
        let child = spawn(d, &run_args("2", "5000000"));
        ms(500);
        kill(&child, "-INT");
        ms(40 + 20 * attempt);
        kill(&child, "-INT");
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{err}");
        if err.contains("stopped by SIGINT") {
            // the writing was done before the second signal: a whole new run
            assert_whole_run(&out, 2, &old);
            assert!(summary(&out)["stopped"]["after_steps"].as_u64().unwrap() > 0);
            nothing_beside_out(d);
            old = first(d);
        } else {
            assert_eq!(
                snapshot(&out),
                old,
                "--out changed by a run killed while writing"
            );
            cut_while_writing += 1;
        }
    }
    assert!(cut_while_writing > 0, "no second signal came while writing");

    // SIGKILL at times across stepping and writing
    for delay in [150, 400, 700, 900, 1100, 1300, 1600] {
        let child = spawn(d, &run_args("3", "12000"));
        ms(delay);
        kill(&child, "-KILL");
        let _ = child.wait_with_output().unwrap();
        if summary(&out)["seed"] == 1 {
            assert_same(&snapshot(&out), &old, &format!("killed after {delay} ms"));
        } else {
            assert_whole_run(&out, 3, &old);
            old = first(d);
        }
    }
    // what the killed runs left beside --out goes with the next run
    first(d);
    nothing_beside_out(d);
}

/// 1(c): a second run into a busy --out is refused, naming the lock; the
/// first one's outputs are its own alone.
#[cfg(unix)]
#[test]
fn a_second_run_into_a_busy_out_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = spawn(d, &run_args("4", "5000000"));
    // wait until the first run holds the lock (it takes it once built)
    let lock = d.join("out/.nacc.lock");
    for _ in 0..200 {
        if lock.exists() {
            break;
        }
        ms(10);
    }
    assert!(lock.exists(), "the first run took no lock");
    ms(100);
    let o = nacc(d, &run_args("5", "2000"));
    common::assert_exit_naming(
        &o,
        2,
        &[
            "--out = out",
            "another nacc run is writing into it",
            ".nacc.lock",
        ],
        "a second run into the same --out",
    );
    kill(&a, "-INT");
    let o = a.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let s = summary(&d.join("out"));
    assert_eq!(s["seed"], 4);
    let steps = s["steps"].as_u64().unwrap() as usize;
    let msn = common::npy::read(&d.join("out/spikes_msn.npy")).unwrap();
    assert_eq!(msn.shape, [steps, 400]);
    nothing_beside_out(d);
    // and once it has ended, the second run goes through
    let o = nacc(d, &run_args("5", "2000"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(summary(&d.join("out"))["seed"], 5);
}

/// A test's own small tmpfs, unmounted when dropped.
#[cfg(target_os = "linux")]
struct Tmpfs {
    dir: tempfile::TempDir,
}

#[cfg(target_os = "linux")]
impl Tmpfs {
    /// None where this user may not mount (not root); CI runs as root and
    /// must mount it.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs (it runs as root)"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (not root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

#[cfg(target_os = "linux")]
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// 1(a): a re-run that fills the disk while it writes fails and leaves the
/// previous run whole; the check before the run counts the previous run's
/// files as taken (old and new are on the disk together until the swap).
#[cfg(target_os = "linux")]
#[test]
fn a_rerun_that_fills_the_disk_leaves_the_previous_run_whole() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let d = fs.path();
    let small = [
        "run",
        "--backend",
        "cpu",
        "--steps",
        "3000",
        "--seed",
        "1",
        "--quiet",
        "--out",
        "out",
    ];
    let o = nacc(&d, &small);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let old = snapshot(&d.join("out"));
    // 20 000 steps of 3 400 neurons: 68 MB of spikes, on a 16 MB disk
    let big = run_args("2", "20000");
    let o = nacc(&d, &big);
    common::assert_exit_naming(
        &o,
        2,
        &["--out = out", "free"],
        "a run the disk cannot hold",
    );
    assert_same(&snapshot(&d.join("out")), &old, "a run refused");
    // past the check: the disk fills while the outputs are written
    let o = Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(&big)
        .current_dir(&d)
        .env("NACC_MEMORY_CHECK", "off")
        .output()
        .unwrap();
    common::assert_exit_naming(
        &o,
        1,
        &["No space left", "out is as it was"],
        "a disk that fills",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains(".nacc-staging"),
        "the message names --out, not the staging directory: {err}"
    );
    assert_eq!(
        snapshot(&d.join("out")),
        old,
        "--out changed by a failed run"
    );
    nothing_beside_out(&d);
}

/// 1: a re-run of another network into the same --out leaves none of the
/// first network's files beside its own.
#[test]
fn a_rerun_of_another_network_leaves_no_stale_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = nacc(d, &["run", "--backend", "cpu", "--steps", "200", "--quiet"]);
    assert!(o.status.success());
    assert!(d.join("out/spikes_msn.npy").is_file());
    std::fs::write(
        d.join("mine.toml"),
        "[[population]]\nname = \"in\"\nsize = 10\nkind = \"poisson\"\n\
         [[population]]\nname = \"cell\"\nsize = 5\nkind = \"lif\"\n\
         [[projection]]\nname = \"p\"\npre = \"in\"\npost = \"cell\"\n",
    )
    .unwrap();
    let o = nacc(
        d,
        &[
            "run",
            "--backend",
            "cpu",
            "--steps",
            "200",
            "--quiet",
            "--config",
            "mine.toml",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        names(&d.join("out")),
        [
            "bias_p.npy",
            "config.toml",
            "heatmap_p.png",
            "nacc.png",
            "raster_cell.png",
            "raster_in.png",
            "spikes_cell.npy",
            "spikes_in.npy",
            "summary.json",
            "weights_p.npy"
        ]
    );
}

/// A run replaces its out dir whole, so one holding anything nacc did not
/// write is refused (and left as it was), not emptied.
#[test]
fn an_out_dir_holding_other_files_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(d.join("out/notes.txt"), "mine").unwrap();
    std::fs::create_dir(d.join("out/sub")).unwrap();
    let o = nacc(d, &["run", "--backend", "cpu", "--steps", "10", "--quiet"]);
    common::assert_exit_naming(
        &o,
        2,
        &["--out = out", "`notes.txt`", "`sub`", "nacc did not write"],
        "an out dir with a user's files",
    );
    assert_eq!(names(&d.join("out")), ["notes.txt", "sub"]);
    assert_eq!(names(d), ["out"]);
    // an error before any step leaves no out dir it made
    let o = nacc(
        d,
        &[
            "run",
            "--backend",
            "cpu",
            "--steps",
            "10",
            "--out",
            "new",
            "--weights",
            "nowhere",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(names(d), ["out"]);
}

/// Item 2: symlinks planted in --out are never written through; temporary
/// files have unpredictable names, so a symlink at a guessable one is inert.
#[cfg(unix)]
#[test]
fn symlinks_planted_in_the_out_dir_are_never_followed() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let victim = d.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let intact = || assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // a streamed run into a dir with a planted spikes file: refused
    std::fs::create_dir(d.join("s")).unwrap();
    symlink(&victim, d.join("s/spikes_msn.npy")).unwrap();
    let o = nacc(
        d,
        &[
            "run",
            "--backend",
            "cpu",
            "--steps",
            "2000",
            "--stream",
            "--quiet",
            "--out",
            "s",
        ],
    );
    common::assert_exit_naming(
        &o,
        2,
        &["--out = s", "`spikes_msn.npy`"],
        "a planted symlink",
    );
    intact();

    // the lock file as a symlink: refused
    std::fs::create_dir(d.join("l")).unwrap();
    symlink(&victim, d.join("l/.nacc.lock")).unwrap();
    let o = nacc(
        d,
        &[
            "run",
            "--backend",
            "cpu",
            "--steps",
            "20",
            "--quiet",
            "--out",
            "l",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    intact();

    // render writes into a dir of the user's: a symlink where a figure goes
    // is replaced by the figure, and one at an earlier version's temporary
    // name is not touched
    let o = nacc(
        d,
        &[
            "run",
            "--backend",
            "cpu",
            "--steps",
            "200",
            "--quiet",
            "--out",
            "r",
        ],
    );
    assert!(o.status.success());
    std::fs::create_dir(d.join("figs")).unwrap();
    symlink(&victim, d.join("figs/raster_msn.png")).unwrap();
    symlink(&victim, d.join("figs/.raster_inter.png.partial")).unwrap();
    let o = nacc(d, &["render", "r", "--out", "figs"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    intact();
    let m = std::fs::symlink_metadata(d.join("figs/raster_msn.png")).unwrap();
    assert!(m.is_file(), "the figure replaced the symlink");
    let png = std::fs::read(d.join("figs/raster_msn.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

/// --out given as a symlink to a directory (made by the user) is that
/// directory: it stays a symlink and the run lands where it points.
#[cfg(unix)]
#[test]
fn an_out_dir_given_as_a_symlink_stays_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("real")).unwrap();
    std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
    for _ in 0..2 {
        let o = nacc(
            d,
            &[
                "run",
                "--backend",
                "cpu",
                "--steps",
                "50",
                "--quiet",
                "--out",
                "link",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(
        std::fs::symlink_metadata(d.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(d.join("real/summary.json").is_file());
    assert_eq!(names(d), ["link", "real"]);
}

/// Item 3: every file a run writes is one that its network declares
/// (`outdir::POPULATION_FILES`, `PROJECTION_FILES`, `RUN_FILES`), which is
/// what the check for colliding names and the check of a re-run's out dir
/// go by.
#[test]
fn every_file_a_run_writes_is_declared_by_its_network() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sparse = common::sparse_net("fixed_fan_in = 10", "");
    std::fs::write(d.join("sparse.toml"), sparse.to_toml()).unwrap();
    let reward = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/reward_learning.toml");
    for (config, extra) in [
        (None, None),
        (Some("sparse.toml"), Some("--packed-spikes")),
        (Some(reward), None),
    ] {
        let mut args = vec!["run", "--backend", "cpu", "--steps", "300", "--quiet"];
        args.extend(config.map(|c| ["--config", c]).into_iter().flatten());
        args.extend(extra);
        let o = nacc(d, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let net = nacc::network::Network::from_file(&d.join("out/config.toml")).unwrap();
        let mut declared: Vec<String> = nacc::outdir::RUN_FILES.map(String::from).to_vec();
        for p in &net.populations {
            declared.extend(nacc::outdir::POPULATION_FILES.map(|(t, _)| t.replace("{}", &p.name)));
        }
        for p in &net.projections {
            declared.extend(nacc::outdir::PROJECTION_FILES.map(|(t, _)| t.replace("{}", &p.name)));
        }
        let written = names(&d.join("out"));
        assert!(written.len() > 8, "{written:?}");
        // every projection from a Poisson population has its heatmap, the
        // sparse fc1 too
        assert!(
            written.contains(&"heatmap_fc1.png".to_string()) || config == Some(reward),
            "{written:?}"
        );
        for f in &written {
            assert!(
                declared.contains(f),
                "{f} is written but not declared ({config:?})"
            );
            assert!(nacc::outdir::is_nacc_file(f), "{f}");
        }
    }
    // a network whose names would collide is a config error naming both
    let clash = nacc::config::DEFAULT_TOML.replacen("name = \"fc3\"", "name = \"fc1_post\"", 1);
    std::fs::write(d.join("clash.toml"), clash).unwrap();
    let o = nacc(d, &["run", "--config", "clash.toml", "--out", "c"]);
    common::assert_exit_naming(
        &o,
        2,
        &[
            "projection `fc1_post`",
            "projection `fc1` (its sparse post indices)",
            "weights_fc1_post.npy",
        ],
        "colliding output names",
    );
    assert!(!d.join("c").exists());
}

/// Issue 15: a signal too late to stop the run (here in its one chunk, or
/// while it writes) lets it complete, and nacc says so and exits 130,
/// instead of exiting 0 as if nothing had come.
#[cfg(unix)]
#[test]
fn a_signal_too_late_to_stop_the_run_is_said_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let args = [
        "run",
        "--backend",
        "cpu",
        "--scale",
        "40",
        "--steps",
        "2000",
        "--chunk",
        "2000",
        "--quiet",
        "--out",
        "out",
    ];
    let mut late = 0;
    for delay in [350, 600, 900] {
        let child = spawn(d, &args);
        ms(delay);
        kill(&child, "-INT");
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "after {delay} ms: {err}");
        if err.contains("too late to stop the run") {
            late += 1;
            let s = summary(&d.join("out"));
            assert_eq!(
                (s["steps"].as_u64(), s["stopped"].is_null()),
                (Some(2000), true),
                "{s}"
            );
        } else {
            // came before the engine was set up: nothing was replaced
            assert!(
                err.contains("before the first step") || err.is_empty(),
                "{err}"
            );
        }
        nothing_beside_out_if_any(d);
    }
    assert!(late > 0, "no signal landed after the engine was set up");
}

/// [`nothing_beside_out`] where `out` exists.
fn nothing_beside_out_if_any(d: &Path) {
    if d.join("out").exists() {
        nothing_beside_out(d);
    } else {
        assert!(names(d).is_empty(), "{:?}", names(d));
    }
}
