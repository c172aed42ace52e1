//! Runs split across processes (issue 22): `mpirun --oversubscribe -n R
//! nacc run` on this machine writes every output file of the same run in
//! one process, byte for byte (summary.json but its timings and rank
//! fields), for R = 1 to 4; signals, failing and killed ranks, and bad
//! input.
//!
//! They need nacc built with `--features mpi` (the README's test command
//! does) and Open MPI's `mpirun`: without them each test says SKIPPED and
//! why; with `CI=true` it fails instead.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nacc");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One test at a time: each starts up to four ranks on this machine's
/// cores, and the signal tests time their runs.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds [`ONE_AT_A_TIME`] for the test (a test that failed still let go).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether these tests can run here: else SKIPPED (false), or a failure
/// under CI.
fn have_mpi() -> bool {
    let why = if !cfg!(feature = "mpi") {
        Some("nacc was built without `--features mpi`".to_string())
    } else {
        match Command::new("mpirun").arg("--version").output() {
            Ok(o) if o.status.success() => None,
            _ => Some(
                "mpirun not found: install Open MPI (apt-get install openmpi-bin libopenmpi-dev)"
                    .into(),
            ),
        }
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("{why}"),
        Some(why) => {
            eprintln!("SKIPPED: {why}");
            false
        }
    }
}

/// `mpirun -n ranks nacc ARGS`, in `dir` (a root user allowed, as in CI).
fn mpirun(ranks: usize, dir: &Path) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-n", &ranks.to_string(), BIN])
        .current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

/// Two ranks with their own command lines (and rank 1 with the variable
/// `env`, `NAME=value`): `mpirun -n 1 nacc A : -n 1 [-x env] nacc B`.
fn mpmd(dir: &Path, a: &[&str], env: Option<&str>, b: &[&str]) -> Output {
    let mut c = mpirun(1, dir);
    c.args(a).args([":", "-n", "1"]);
    if let Some(env) = env {
        c.args(["-x", env]);
    }
    c.arg(BIN).args(b).output().unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "{}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output, what: &str) -> Output {
    assert!(o.status.success(), "{what}: {}", show(&o));
    o
}

/// Every file of `a` and `b`, byte for byte; summary.json without what
/// differs by nature (times, the engine's and the ranks' description).
fn assert_same_outputs(a: &Path, b: &Path, what: &str) {
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{what}: {}: {e}", d.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (na, nb) = (names(a), names(b));
    assert_eq!(na, nb, "{what}: the files differ");
    for n in &na {
        let (x, y) = (
            std::fs::read(a.join(n)).unwrap(),
            std::fs::read(b.join(n)).unwrap(),
        );
        if n == "summary.json" {
            let strip = |bytes: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                for k in [
                    "wall_time_s",
                    "steps_per_s",
                    "neuron_steps_per_s",
                    "engine",
                    "ranks",
                ] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v
            };
            assert_eq!(strip(&x), strip(&y), "{what}: summary.json");
        } else {
            assert!(x == y, "{what}: {n} differs");
        }
    }
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// A network file of the test's, written into `dir`.
fn write_config(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

/// Sparse projections of every kind, no delay: input -> a -> b.
const SPARSE: &str = r#"
dt_ms = 1.0
[[population]]
name = "input"
size = 300
kind = "poisson"
rate = [0.05, 0.3]
[[population]]
name = "a"
size = 200
kind = "lif"
beta = 0.9
threshold = 1.0
[[population]]
name = "b"
size = 70
kind = "lif"
beta = 0.8
threshold = 1.0
reset = "zero"
[[projection]]
name = "in_a"
pre = "input"
post = "a"
fixed_probability = 0.1
bias = false
init = "uniform"
low = -0.2
high = 0.6
[[projection]]
name = "in_b"
pre = "input"
post = "b"
fixed_fan_in = 30
bias = false
init = "uniform"
low = -0.1
high = 0.5
[[projection]]
name = "a_b"
pre = "a"
post = "b"
sign = -1
fixed_fan_out = 10
bias = false
init = "uniform"
low = 0.0
high = 0.3
"#;

/// Delays forward, back (b onto a) and onto itself, one per projection
/// and drawn per synapse: sub-chunks of 3 steps, the least delay back.
const RECURRENT: &str = r#"
dt_ms = 1.0
[[population]]
name = "input"
size = 200
kind = "poisson"
rate = [0.1, 0.4]
[[population]]
name = "a"
size = 120
kind = "lif"
beta = 0.9
threshold = 1.0
[[population]]
name = "b"
size = 60
kind = "lif"
beta = 0.9
threshold = 1.0
[[projection]]
name = "in_a"
pre = "input"
post = "a"
fixed_fan_in = 40
bias = false
init = "uniform"
low = -0.05
high = 0.15
[[projection]]
name = "a_b"
pre = "a"
post = "b"
bias = true
init = "linear"
delay_ms = 2.0
[[projection]]
name = "b_a"
pre = "b"
post = "a"
sign = -1
fixed_probability = 0.2
bias = false
init = "uniform"
low = 0.0
high = 0.2
delay_ms = [3.0, 6.0]
[[projection]]
name = "a_a"
pre = "a"
post = "a"
sign = -1
fixed_probability = 0.05
bias = false
init = "uniform"
low = 0.0
high = 0.1
delay_ms = 4.0
"#;

/// The striatum's own records, and records whose neurons lie on every
/// rank, out of order, with a synapse's conductance, every third step.
fn recorded(dir: &Path) -> String {
    let base = std::fs::read_to_string(Path::new(ROOT).join("assets/nacc_striatum.toml")).unwrap();
    let extra = r#"
[[record]]
population = "d1"
neurons = [1300, 2, 700, 1371, 33, 690]
variables = ["u", "pfc_d1_nmda"]
every_ms = 3.0

[[record]]
population = "fsi"
neurons = [27, 0, 13, 8]
variables = ["u"]
"#;
    write_config(dir, "recorded.toml", &format!("{base}\n{extra}"))
}

/// The one-process run of `args` into `one`, then `mpirun -n R` for every
/// R of `ranks` into `r<R>`: the same files.
fn same_for_ranks(dir: &Path, what: &str, args: &[&str], ranks: &[usize]) {
    let one = dir.join(format!("{what}-one"));
    let mut single = Command::new(BIN);
    single
        .args(["run", "--quiet", "--out"])
        .arg(&one)
        .args(args)
        .current_dir(dir);
    ok(single.output().unwrap(), &format!("{what}: one process"));
    for &r in ranks {
        let out = dir.join(format!("{what}-r{r}"));
        let o = mpirun(r, dir)
            .args(["run", "--quiet", "--out"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        ok(o, &format!("{what}: {r} ranks"));
        assert_same_outputs(&one, &out, &format!("{what} on {r} ranks"));
        let s = summary(&out);
        assert_eq!(s["ranks"]["count"], r, "{what}: {s}");
        assert!(
            s["ranks"]["exchange_s"].as_f64().unwrap() >= 0.0,
            "{what}: {s}"
        );
    }
}

#[test]
fn every_output_is_the_one_process_runs_on_1_to_4_ranks() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cpu = ["--backend", "cpu"];
    let all = [1, 2, 3, 4];
    // the default network: fc2 reaches the MSNs in the same step
    same_for_ranks(
        d,
        "default",
        &[&cpu[..], &["--steps", "400", "--chunk", "150"]].concat(),
        &all,
    );
    let sparse = write_config(d, "sparse.toml", SPARSE);
    same_for_ranks(
        d,
        "sparse",
        &[
            &cpu[..],
            &["--config", &sparse, "--steps", "300", "--packed-spikes"],
        ]
        .concat(),
        &all,
    );
    let rec = write_config(d, "recurrent.toml", RECURRENT);
    // chunks of 64 steps in sub-chunks of 3: the history crosses chunks
    same_for_ranks(
        d,
        "recurrent",
        &[
            &cpu[..],
            &["--config", &rec, "--steps", "300", "--chunk", "64"],
        ]
        .concat(),
        &all,
    );
    let learning = Path::new(ROOT).join("assets/reward_learning.toml");
    let learning = learning.to_str().unwrap();
    same_for_ranks(
        d,
        "plasticity",
        &[
            &cpu[..],
            &["--config", learning, "--steps", "600", "--chunk", "250"],
        ]
        .concat(),
        &all,
    );
    // recorded state, streamed chunk by chunk
    let striatum = recorded(d);
    same_for_ranks(
        d,
        "state",
        &[
            &cpu[..],
            &[
                "--config", &striatum, "--steps", "120", "--chunk", "50", "--stream",
            ],
        ]
        .concat(),
        &all,
    );
    let s = summary(&d.join("state-r4"));
    assert_eq!(s["ranks"]["split"], "neurons", "{s}");
    // trials: split over the ranks (5 over 4: one rank runs two)
    same_for_ranks(
        d,
        "trials",
        &[&cpu[..], &["--steps", "300", "--trials", "5"]].concat(),
        &all,
    );
    assert_eq!(summary(&d.join("trials-r3"))["ranks"]["split"], "trials");
}

/// The GPU (lavapipe here) split over two ranks, and shared by them:
/// the files of the GPU in one process, and of the CPU engine.
#[test]
fn two_ranks_on_one_gpu_give_the_one_process_outputs() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    if !have_gpu(d) {
        return;
    }
    let rec = write_config(d, "recurrent.toml", RECURRENT);
    let args = ["--config", &rec, "--steps", "200", "--chunk", "50"];
    same_for_ranks(d, "gpu", &[&["--backend", "gpu"][..], &args].concat(), &[2]);
    // and the CPU engine's in one process (the backend fields aside)
    let cpu = d.join("cpu-one");
    let mut single = Command::new(BIN);
    single
        .args(["run", "--quiet", "--backend", "cpu", "--out"])
        .arg(&cpu)
        .args(args)
        .current_dir(d);
    ok(single.output().unwrap(), "cpu");
    for f in ["spikes_a.npy", "spikes_b.npy", "weights_b_a_value.npy"] {
        assert!(
            std::fs::read(cpu.join(f)).unwrap() == std::fs::read(d.join("gpu-r2").join(f)).unwrap(),
            "{f}: GPU on 2 ranks != CPU"
        );
    }
    // nacc compare, split: every rank's engines the same
    let o = mpirun(2, d)
        .args([
            "compare", "--config", &rec, "--steps", "100", "--chunk", "30",
        ])
        .output()
        .unwrap();
    let o = ok(o, "compare on 2 ranks");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("identical"),
        "{}",
        show(&o)
    );
}

/// Whether a GPU adapter (lavapipe in CI) is here: else SKIPPED (false),
/// or a failure under CI.
fn have_gpu(d: &Path) -> bool {
    let o = common::nacc(
        d,
        &["run", "--backend", "gpu", "--dry-run", "--steps", "10"],
    );
    if o.status.success() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no GPU adapter under CI: {}",
        show(&o)
    );
    eprintln!("SKIPPED: no GPU adapter");
    false
}

/// The pid of rank `r` among the processes mpirun started.
fn rank_pid(mpirun: &Child, r: usize) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // the parent pid: the 4th field, after the ")" of the name
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().nth(1));
        if ppid != Some(&mpirun.id().to_string()) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let want = format!("OMPI_COMM_WORLD_RANK={r}");
        if env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A streamed run's files hold `k` complete steps equal to the start of a
/// fresh run of `k` steps (`args`: the run's network and backend).
fn assert_prefix_of_fresh_run(dir: &Path, out: &Path, args: &[&str], pops: &[&str]) -> usize {
    let k = summary(out)["steps"].as_u64().unwrap() as usize;
    assert!(k > 0, "no step kept");
    let fresh = dir.join("fresh");
    let mut c = Command::new(BIN);
    c.args(["run", "--quiet", "--steps", &k.to_string(), "--out"])
        .arg(&fresh)
        .args(args)
        .current_dir(dir);
    ok(c.output().unwrap(), "fresh run");
    for p in pops {
        let f = format!("spikes_{p}.npy");
        let a = common::npy::read(&out.join(&f)).unwrap();
        let b = common::npy::read(&fresh.join(&f)).unwrap();
        let row = b.shape[1];
        assert!(a.shape[0] >= k, "{f}: {:?}", a.shape);
        assert!(
            a.data[..k * row] == b.data[..],
            "{f}: not the fresh run's first {k} steps"
        );
    }
    k
}

/// Ctrl-C to mpirun: every rank stops at the end of a chunk and rank 0
/// keeps the completed steps, equal to a run of that length. Open MPI's
/// mpirun sends SIGTERM `odls_base_sigkill_timeout` seconds after Ctrl-C
/// and SIGKILL as long again after it (docs/mpi.md): 5 s here.
#[test]
fn a_signal_to_mpirun_stops_every_rank_and_keeps_the_completed_steps() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = d.join("sig");
    let rec = write_config(d, "recurrent.toml", RECURRENT);
    let args = ["--backend", "cpu", "--chunk", "1000", "--config", &rec];
    let child = mpirun(3, d)
        .args(["run", "--steps", "50000000", "--stream", "--out"])
        .arg(&out)
        .args(args)
        .env("OMPI_MCA_odls_base_sigkill_timeout", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stepping =
        || out.join("summary.json").exists() && summary(&out)["steps"].as_u64() >= Some(2000);
    wait_for(stepping, "some chunks");
    common::kill(&child, "-INT");
    let t = Instant::now();
    let o = child.wait_with_output().unwrap();
    let stopped_in = t.elapsed();
    assert!(
        stopped_in < Duration::from_secs(30),
        "the ranks took {stopped_in:?} to stop"
    );
    let text = show(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("stopped by SIGTERM"), "{text}");
    let s = summary(&out);
    assert_eq!(s["stopped"]["reason"], "SIGTERM", "{s}");
    let k = assert_prefix_of_fresh_run(d, &out, &args, &["input", "a", "b"]);
    assert!(k.is_multiple_of(1000) && k < 50_000_000, "{k}");
}

/// A rank that fails (its GPU lost after 300 steps) stops every rank at
/// that chunk: rank 0 names it and writes the 300 steps before.
#[test]
fn a_failing_rank_stops_the_others_naming_it() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    if !have_gpu(d) {
        return;
    }
    let out = d.join("lost");
    // rank 1 alone has the hook: MPMD, the same options
    let run = [
        "run",
        "--steps",
        "1000",
        "--chunk",
        "100",
        "--backend",
        "gpu",
        "--out",
        "lost",
    ];
    let o = mpmd(d, &run, Some("NACC_INJECT_DEVICE_LOSS=300"), &run);
    let text = show(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("rank 1 of 2 failed"), "{text}");
    let s = summary(&out);
    assert_eq!(s["steps"], 300, "{s}");
    assert_prefix_of_fresh_run(
        d,
        &out,
        &["--backend", "cpu", "--chunk", "100"],
        &["inter", "msn"],
    );
}

/// A rank killed outright: mpirun ends the others and names it; the
/// streamed files hold the completed chunks.
#[test]
fn a_killed_rank_stops_the_others_and_the_streamed_chunks_stay_valid() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = d.join("killed");
    let args = ["--backend", "cpu", "--chunk", "2000"];
    let child = mpirun(3, d)
        .args(["run", "--stream", "--quiet", "--steps", "50000000", "--out"])
        .arg(&out)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        || {
            out.join("summary.json").exists()
                && summary(&out)["steps"].as_u64().unwrap_or(0) >= 4000
        },
        "some chunks",
    );
    let pid = rank_pid(&child, 1).expect("rank 1's process");
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    let text = show(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("rank 1"), "mpirun names the rank: {text}");
    assert_prefix_of_fresh_run(d, &out, &args, &["input", "inter", "msn"]);
}

/// Bad input is refused before anything is written, exit 2.
#[test]
fn options_differing_between_ranks_and_too_many_ranks_are_refused() {
    let _one = serial();
    if !have_mpi() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // --seed differs between the two ranks
    let o = mpmd(
        d,
        &["run", "--seed", "1", "--out", "o"],
        None,
        &["run", "--seed", "2", "--out", "o"],
    );
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains("options differ between ranks") && text.contains("--seed 2"),
        "{text}"
    );
    assert!(!d.join("o").exists());
    // b has 3 neurons: 4 ranks is one too many (and the out dir stays)
    let tiny = SPARSE
        .replace("size = 70", "size = 3")
        .replace("fixed_fan_out = 10", "fixed_fan_out = 2");
    let tiny = write_config(d, "tiny.toml", &tiny);
    let o = mpirun(4, d)
        .args(["run", "--steps", "10", "--out", "o", "--config", &tiny])
        .output()
        .unwrap();
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    common::assert_names(&text, &["mpirun -n", "4", "population `b`", "at most 3"]);
    assert!(!d.join("o").exists());
    // the message is rank 0's alone
    assert_eq!(text.matches("more ranks than").count(), 1, "{text}");
    // one rank's failure before the first step (its GPU cannot be found):
    // every rank stops, rank 0 names it, nothing is written
    let o = mpmd(
        d,
        &["run", "--backend", "cpu", "--out", "o"],
        Some("NACC_ADAPTER=no-such-gpu"),
        &["run", "--backend", "gpu", "--out", "o"],
    );
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    common::assert_names(&text, &["rank 1 of 2 failed", "no-such-gpu"]);
    assert!(!d.join("o").exists());
    // trials split instead: 4 ranks, 2 trials each
    let o = mpirun(4, d)
        .args([
            "run", "--steps", "10", "--out", "o", "--trials", "8", "--quiet", "--config", &tiny,
        ])
        .output()
        .unwrap();
    ok(o, "trials on more ranks than neurons");
}

/// A nacc built without the `mpi` feature, started by a launcher (its
/// variables set), says how to build it, exit 2, and writes nothing. (Run
/// by `cargo test` without `--features mpi`; CI builds with it.)
#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_started_by_a_launcher_says_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"] {
        let o = Command::new(BIN)
            .args(["run", "--out", "o"])
            .env(var, "2")
            .current_dir(d)
            .output()
            .unwrap();
        let text = show(&o);
        assert_eq!(o.status.code(), Some(2), "{var}: {text}");
        common::assert_names(&text, &[var, "built without MPI", "--features mpi"]);
        assert!(!d.join("o").exists());
    }
}
