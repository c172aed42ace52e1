//! The physical models through the command line: their files' errors (exit
//! 2 naming the field, the value and the rule, before any work), the
//! recorded state's files (whole, streamed, kept on Ctrl-C), its traces
//! figure drawn by `nacc run` and `nacc render`, and config.toml repeating
//! the run.

mod common;

use common::assert_names;

use common::cli::ok;
use nacc::network::Network;

/// A network of every model and synapse kind, recording three variables.
const NET: &str = r#"
dt_ms = 0.5
[[population]]
name = "ctx"
size = 60
kind = "poisson"
rate = [0.01, 0.05]
[[population]]
name = "msn"
size = 8
kind = "izhikevich"
preset = "msn_humphries"
dopamine = "d1"
[[population]]
name = "fsi"
size = 4
kind = "izhikevich"
preset = "fsi"
[[population]]
name = "cell"
size = 5
kind = "iaf"
t_ref_ms = 2.0
[[projection]]
name = "ampa"
pre = "ctx"
post = "msn"
synapse = "ampa"
init = "uniform"
low = 0.0
high = 1.5
[[projection]]
name = "nmda"
pre = "ctx"
post = "msn"
synapse = "nmda"
init = "uniform"
low = 0.0
high = 0.3
[[projection]]
name = "ff"
pre = "ctx"
post = "fsi"
synapse = "exp_current"
tau_ms = 2.0
init = "uniform"
low = 0.0
high = 80.0
bias = false
[[projection]]
name = "inh"
pre = "fsi"
post = "msn"
synapse = "gaba_a"
init = "constant"
weight = 2.0
delay_ms = 1.0
[[projection]]
name = "drive"
pre = "ctx"
post = "cell"
init = "uniform"
low = 0.0
high = 400.0
[dopamine]
tau_ms = 100.0
rewards = [[20.0, 0.5]]
[[record]]
population = "msn"
neurons = [0, 5]
variables = ["v", "u", "nmda"]
[[record]]
population = "cell"
neuron_range = [1, 4]
variables = ["refractory"]
every_ms = 1.0
"#;

/// `NET` with `from` replaced by `to`: the message of its error.
fn error_with(from: &str, to: &str) -> String {
    common::config_error(NET, from, to)
}

#[test]
fn bad_models_name_the_field_the_value_and_the_rule() {
    let m = error_with("preset = \"fsi\"", "preset = \"purkinje\"");
    assert_names(
        &m,
        &["fsi", "preset", "purkinje", "msn", "rs", "msn_humphries"],
    );
    let m = error_with("preset = \"fsi\"", "preset = \"fsi\"\nc_pf = -20.0");
    assert_names(&m, &["fsi", "c_pf", "-20", "> 0"]);
    let m = error_with("preset = \"fsi\"", "preset = \"fsi\"\nv_peak_mv = -50.0");
    assert_names(&m, &["v_peak_mv", "-50", "above v_t_mv"]);
    let m = error_with("preset = \"fsi\"", "preset = \"fsi\"\nk = nan");
    assert_names(&m, &["`k`", "NaN", "finite"]);
    let m = error_with("preset = \"fsi\"", "preset = \"fsi\"\na = inf");
    assert_names(&m, &["`a`", "inf", "finite"]);
    let m = error_with("preset = \"fsi\"", "preset = \"fsi\"\nsubsteps = 0");
    assert_names(&m, &["substeps", "0", "1..="]);
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 1.2");
    assert_names(
        &m,
        &["cell", "t_ref_ms", "1.2", "whole number of steps", "0.5"],
    );
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 2.0\ntau_m_ms = -3.0");
    assert_names(&m, &["tau_m_ms", "-3", "> 0"]);
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 2.0\nv_th_mv = -80.0");
    assert_names(&m, &["v_th_mv", "-80", "above v_reset_mv"]);
    let m = error_with(
        "t_ref_ms = 2.0",
        "t_ref_ms = 2.0\nc_pf = 100.0\nr_m_mohm = 40.0",
    );
    assert_names(&m, &["r_m_mohm", "not both"]);
    let m = error_with("dopamine = \"d1\"", "dopamine = \"d1\"\nda_gain = 2.0");
    assert_names(&m, &["msn", "da_gain", "d1_nmda", "d2_ampa"]);
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 2.0\nk = 1.0");
    assert_names(&m, &["cell", "`k`", "iaf"]);
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 2.0\nbeta = 0.9");
    assert_names(&m, &["cell", "beta", "iaf"]);
    let m = error_with("t_ref_ms = 2.0", "t_ref_ms = 2.0\nv_treshold = 1.0");
    assert_names(&m, &["cell", "v_treshold", "unknown field"]);
    let m = error_with(
        "rate = [0.01, 0.05]",
        "rate = [0.01, 0.05]\npreset = \"msn\"",
    );
    assert_names(&m, &["ctx", "preset", "poisson"]);
}

/// Rates in Hz stay rates in Hz whatever dt is: 20 Hz is 0.02 spikes a
/// step at 1 ms and 0.01 at 0.5 ms.
#[test]
fn poisson_rates_in_hz_are_converted_by_dt() {
    for (dt, per_step) in [(1.0, 0.02f32), (0.5, 0.01)] {
        let text = NET
            .replacen("dt_ms = 0.5", &format!("dt_ms = {dt}"), 1)
            .replacen("rate = [0.01, 0.05]", "rate_hz = [20.0, 20.0]", 1)
            .replace("t_ref_ms = 2.0", "t_ref_ms = 4.0")
            .replace("every_ms = 1.0", &format!("every_ms = {}", 2.0 * dt));
        let net = Network::from_toml_str(&text, "hz").unwrap_or_else(|e| panic!("{e}"));
        let want = nacc::network::PopKind::Poisson {
            rate_lo: per_step,
            rate_hi: per_step,
        };
        assert_eq!(net.populations[0].kind, want, "dt {dt}");
    }
    let m = error_with("rate = [0.01, 0.05]", "rate_hz = [10.0, 3000.0]");
    assert_names(&m, &["ctx", "rate_hz", "3000", "[0, 2000]", "0.5"]);
    let m = error_with(
        "rate = [0.01, 0.05]",
        "rate = [0.01, 0.05]\nrate_hz = [1.0, 2.0]",
    );
    assert_names(&m, &["rate_hz", "not both"]);
    // a stimulus pattern's rate in Hz
    let stim = "[stimulus]\npopulation = \"ctx\"\ntrial_ms = 50.0\npresent_ms = 10.0\nsequence = [\"A\"]\n\
        [[stimulus.pattern]]\nname = \"A\"\nneurons = [0, 10]\n";
    let with = |rate: &str| format!("{NET}{stim}{rate}\n");
    let net = Network::from_toml_str(&with("rate_hz = 100.0"), "hz").unwrap();
    assert_eq!(net.stimulus.unwrap().patterns[0].rate, 0.05);
    for (rate, parts) in [
        ("rate_hz = 2500.0", &["rate_hz", "2500", "[0, 2000]"][..]),
        ("rate = 0.1\nrate_hz = 10.0", &["rate", "give one"][..]),
        ("", &["rate", "give one"][..]),
    ] {
        let e = Network::from_toml_str(&with(rate), "hz")
            .unwrap_err()
            .to_string();
        assert_names(&e, parts);
    }
}

#[test]
fn bad_synapses_name_the_field_the_value_and_the_rule() {
    let m = error_with("synapse = \"ampa\"", "synapse = \"kainate\"");
    assert_names(
        &m,
        &[
            "ampa",
            "synapse",
            "kainate",
            "gaba_a",
            "nmda",
            "exp_current",
        ],
    );
    let m = error_with("synapse = \"ampa\"", "synapse = \"ampa\"\ntau_ms = 0.0");
    assert_names(&m, &["tau_ms", "0", "> 0"]);
    let m = error_with("synapse = \"ampa\"", "synapse = \"ampa\"\nmg_mm = 1.0");
    assert_names(&m, &["mg_mm", "only nmda"]);
    let m = error_with(
        "synapse = \"exp_current\"",
        "synapse = \"exp_current\"\ne_rev_mv = 0.0",
    );
    assert_names(&m, &["e_rev_mv", "no reversal"]);
    // a conductance is not negative, and has no bias
    let m = error_with("low = 0.0\nhigh = 1.5", "low = -1.0\nhigh = 1.5");
    assert_names(&m, &["ampa", "low", "-1", "must not be negative"]);
    let m = error_with(
        "synapse = \"ampa\"\ninit = \"uniform\"",
        "synapse = \"ampa\"\ninit = \"linear\"",
    );
    assert_names(&m, &["init", "linear", "must not be negative"]);
    let m = error_with("synapse = \"ampa\"", "synapse = \"ampa\"\nbias = true");
    assert_names(&m, &["bias", "conductance", "i_ext_pa"]);
    // kinetics need a membrane in mV
    let text = common::sparse_net("", "").to_toml().replacen(
        "synapse = \"instant\"",
        "synapse = \"exp_current\"",
        1,
    );
    let e = Network::from_toml_str(&text, "t").unwrap_err().to_string();
    assert_names(
        &e,
        &["fc1", "exp_current", "physical units", "inter", "lif"],
    );
}

#[test]
fn bad_records_name_the_field_the_value_and_the_rule() {
    let m = error_with("variables = [\"refractory\"]", "variables = [\"u\"]");
    assert_names(
        &m,
        &[
            "record[1]",
            "variables",
            "\"u\"",
            "cell",
            "\"v\"",
            "\"refractory\"",
        ],
    );
    let m = error_with(
        "variables = [\"v\", \"u\", \"nmda\"]",
        "variables = [\"v\", \"inh\", \"drive\"]",
    );
    assert_names(&m, &["\"drive\"", "msn", "\"nmda\"", "\"inh\""]);
    let m = error_with("neurons = [0, 5]", "neurons = [0, 8]");
    assert_names(&m, &["record[0]", "neurons", "8", "msn", "0..8"]);
    let m = error_with("neuron_range = [1, 4]", "neuron_range = [3, 9]");
    assert_names(&m, &["neuron_range", "[3, 9]", "cell", "<= 5"]);
    let m = error_with("every_ms = 1.0", "every_ms = 0.75");
    assert_names(&m, &["every_ms", "0.75", "whole number", "0.5"]);
    let m = error_with(
        "population = \"cell\"\nneuron_range",
        "population = \"ctx\"\nneuron_range",
    );
    assert_names(&m, &["record[1]", "ctx", "poisson"]);
    let m = error_with(
        "variables = [\"refractory\"]",
        "variables = [\"refractory\", \"refractory\"]",
    );
    assert_names(&m, &["refractory", "twice"]);
}

/// The state files, whole and streamed in chunks that do not divide the
/// sampling, alike; its figure; and config.toml repeating the run.
#[test]
fn state_files_whole_and_streamed_with_their_traces_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("net.toml"), NET).unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--config",
            "net.toml",
            "--steps",
            "301",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        ok(d, &args);
    };
    run("whole", &[]);
    run("streamed", &["--stream", "--chunk", "7"]);
    let files = [
        ("state_msn_v.npy", [301, 2]),
        ("state_msn_u.npy", [301, 2]),
        ("state_msn_g_nmda.npy", [301, 2]),
        ("state_cell_refractory.npy", [151, 3]),
    ];
    for (f, shape) in files {
        let a = common::npy::read(&d.join("whole").join(f)).unwrap();
        assert_eq!(a.shape, shape, "{f}");
        assert_eq!(a.dtype, nacc::npy::DType::F32, "{f}");
        let b = std::fs::read(d.join("streamed").join(f)).unwrap();
        assert_eq!(std::fs::read(d.join("whole").join(f)).unwrap(), b, "{f}");
    }
    // the Humphries MSN starts at v_r, the counter counts down from 4 steps
    let v = common::npy::read(&d.join("whole/state_msn_v.npy")).unwrap();
    assert!(
        v.to_f32()[0] >= -80.0 && v.to_f32()[0] < -60.0,
        "{}",
        v.to_f32()[0]
    );
    assert!(v.to_f32().iter().all(|x| (-100.0..40.0).contains(x)));
    let r = common::npy::read(&d.join("whole/state_cell_refractory.npy")).unwrap();
    assert!(
        r.to_f32()
            .iter()
            .all(|&x| (0.0..=4.0).contains(&x) && x.fract() == 0.0)
    );
    assert!(r.to_f32().contains(&4.0) || r.to_f32().contains(&3.0));
    for f in ["traces_msn.png", "traces_cell.png"] {
        assert!(d.join("whole").join(f).is_file(), "{f}");
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("whole/summary.json")).unwrap()).unwrap();
    assert_eq!(s["records"][2]["file"], "state_msn_g_nmda.npy");
    assert_eq!(s["records"][3]["every_steps"], 2);
    assert_eq!(s["projections"][1]["weight_unit"], "nS");
    assert_eq!(s["projections"][2]["weight_unit"], "pA");
    assert_eq!(s["populations"][1]["substeps"], 5);
    // config.toml resolves every parameter and repeats the run
    let config = std::fs::read_to_string(d.join("whole/config.toml")).unwrap();
    for field in [
        "c_pf = 15.2",
        "d1_nmda = 6.3",
        "mg_mm = 1",
        "tau_ms = 160",
        "e_rev_mv = -60",
    ] {
        assert!(config.contains(field), "{field} not in\n{config}");
    }
    ok(
        d,
        &[
            "run",
            "--config",
            "whole/config.toml",
            "--steps",
            "301",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "again",
        ],
    );
    for (f, _) in files {
        let a = std::fs::read(d.join("whole").join(f)).unwrap();
        assert_eq!(a, std::fs::read(d.join("again").join(f)).unwrap(), "{f}");
    }
    // nacc render draws the traces again from the files
    std::fs::remove_file(d.join("streamed/traces_msn.png")).ok();
    ok(d, &["render", "streamed"]);
    assert!(d.join("streamed/traces_msn.png").is_file());
}

/// Ctrl-C keeps the completed chunks' samples, as many as their steps
/// take; --trials gives every state file a trial axis.
#[cfg(unix)]
#[test]
fn ctrl_c_keeps_the_samples_of_the_completed_chunks_and_trials_add_an_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("net.toml"), NET).unwrap();
    let args = [
        "run",
        "--config",
        "net.toml",
        "--steps",
        "50000000",
        "--chunk",
        "1000",
        "--stream",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        "stopped",
    ];
    let o = common::cli::signalled(d, &args, 1500, "-INT");
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("stopped/summary.json")).unwrap()).unwrap();
    let done = s["steps"].as_u64().unwrap() as usize;
    assert!(done > 0 && done.is_multiple_of(1000), "{done}");
    let v = common::npy::read(&d.join("stopped/state_msn_v.npy")).unwrap();
    assert_eq!(v.shape, [done, 2]);
    let r = common::npy::read(&d.join("stopped/state_cell_refractory.npy")).unwrap();
    assert_eq!(r.shape, [done / 2, 3]);
    ok(
        d,
        &[
            "run",
            "--config",
            "net.toml",
            "--steps",
            "40",
            "--trials",
            "3",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            "trials",
        ],
    );
    let v = common::npy::read(&d.join("trials/state_msn_v.npy")).unwrap();
    assert_eq!(v.shape, [3, 40, 2]);
    ok(d, &["render", "trials", "--trial", "2"]);
}

/// `--weights` refuses a negative conductance, naming the file and the
/// value; `--dry-run` counts the models' state and the records.
#[test]
fn imported_conductances_are_checked_and_dry_runs_count_the_models() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("net.toml"), NET).unwrap();
    let run = [
        "run",
        "--config",
        "net.toml",
        "--steps",
        "20",
        "--backend",
        "cpu",
        "--quiet",
    ];
    ok(d, &[&run[..], &["--out", "first"]].concat());
    // the AMPA weights (dense, nS) with one negative value
    let path = d.join("first/weights_ampa.npy");
    let bytes = std::fs::read(&path).unwrap();
    let header = bytes.len() - 8 * 60 * 4;
    let mut w = bytes.clone();
    w[header + 4 * 61..header + 4 * 62].copy_from_slice(&(-0.5f32).to_le_bytes());
    std::fs::write(&path, w).unwrap();
    common::cli::fails(
        d,
        &[&run[..], &["--weights", "first", "--out", "second"]].concat(),
        &[
            "weights_ampa.npy",
            "-0.5",
            "ampa",
            "conductance",
            "must not be negative",
        ],
    );
    assert!(!d.join("second").exists(), "nothing written");
    let o = ok(
        d,
        &[
            "run",
            "--config",
            "net.toml",
            "--steps",
            "1000",
            "--dry-run",
            "--backend",
            "cpu",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("recorded state ([[record]], float32 samples)"),
        "{text}"
    );
    // 2 neurons x 3 variables x 1000 samples, 3 neurons x 500 samples
    assert!(
        text.contains("recorded state ([[record]], float32 samples)       29.3 KiB"),
        "{text}"
    );
}
