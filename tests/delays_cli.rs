//! Delays and recurrence through the binary and the network file: every
//! bad delay is exit 2 naming the field, the value and the rule, before any
//! work; a zero-delay cycle names itself; delay files are read, checked and
//! written; config.toml and summary.json carry the delays; trials, streams,
//! `nacc compare` and `--dry-run` take recurrent networks.

mod common;

use common::assert_names;

use common::cli::{fails, ok, same_files};
use nacc::network::Network;
use nacc::npy::{self, DType};
use std::io::Write;
use std::path::Path;

/// A recurrent network: input -> a (delay 2 ms), a -> a through sparse
/// collaterals with delays drawn in [1, 5] ms, a -> b and b -> a (a cycle
/// through two populations, broken by the delay of b -> a).
const RECURRENT: &str = r#"
dt_ms = 1.0
steps = 150
[[population]]
name = "input"
size = 60
kind = "poisson"
rate = [0.05, 0.3]
[[population]]
name = "a"
size = 80
kind = "lif"
[[population]]
name = "b"
size = 30
kind = "lif"
reset = "zero"
[[projection]]
name = "in_a"
pre = "input"
post = "a"
delay_ms = 2.0
[[projection]]
name = "coll"
pre = "a"
post = "a"
sign = -1
fixed_probability = 0.1
delay_ms = [1.0, 5.0]
[[projection]]
name = "a_b"
pre = "a"
post = "b"
[[projection]]
name = "b_a"
pre = "b"
post = "a"
sign = -1
fixed_fan_out = 20
delay_ms = 3.0
"#;

/// `RECURRENT` with `from` replaced by `to`: the message of its error.
fn error_with(from: &str, to: &str) -> String {
    common::config_error(RECURRENT, from, to)
}

#[test]
fn recurrent_network_is_valid_and_ordered_by_its_zero_delay_projections() {
    let net = Network::from_toml_str(RECURRENT, "t").unwrap();
    let names: Vec<&str> = net
        .order
        .iter()
        .map(|&p| net.populations[p].name.as_str())
        .collect();
    assert_eq!(names, ["input", "a", "b"]);
}

#[test]
fn bad_delays_name_the_field_the_value_and_the_rule() {
    let rule = "whole number of steps";
    for (to, value) in [
        ("delay_ms = -1.0", "-1"),
        ("delay_ms = nan", "NaN"),
        ("delay_ms = 2.5", "2.5"),
        ("delay_ms = 256.0", "256"),
        ("delay_ms = inf", "inf"),
    ] {
        let m = error_with("delay_ms = 2.0", to);
        assert_names(&m, &["in_a", "delay_ms", value, rule, "255 steps"]);
    }
    // with dt = 0.1 ms, 0.25 ms is not whole; 25.5 ms is 255 steps
    let fine = RECURRENT.replacen("dt_ms = 1.0", "dt_ms = 0.1", 1);
    let e = Network::from_toml_str(&fine.replacen("delay_ms = 2.0", "delay_ms = 0.25", 1), "t")
        .unwrap_err();
    assert_names(&e.to_string(), &["delay_ms", "0.25", "dt_ms = 0.1"]);
    Network::from_toml_str(&fine.replacen("delay_ms = 2.0", "delay_ms = 25.5", 1), "t").unwrap();
    let m = error_with("delay_ms = [1.0, 5.0]", "delay_ms = [5.0, 1.0]");
    assert_names(&m, &["coll", "delay_ms", "[5, 1]", "lo <= hi"]);
    let m = error_with("delay_ms = [1.0, 5.0]", "delay_ms = [1.0, 2.0, 3.0]");
    assert_names(&m, &["coll", "delay_ms", "one number or two"]);
    let m = error_with("delay_ms = [1.0, 5.0]", "delay_ms = [1.0, 300.0]");
    assert_names(&m, &["coll", "delay_ms[1]", "300"]);
    let m = error_with("delay_ms = 2.0", "delay_ms = \"2\"");
    assert_names(&m, &["delay_ms", "\"2\"", "a number of ms", "[lo, hi]"]);
    let m = error_with("delay_ms = 2.0", "delay_ms = [1.0, 2.0]");
    assert_names(&m, &["in_a", "delay_ms", "needs a sparse projection"]);
}

#[test]
fn a_zero_delay_cycle_is_named_and_one_delay_breaks_it() {
    let m = error_with("delay_ms = 3.0", "delay_ms = 0.0");
    assert_names(&m, &["cycle with no delay", "a -> b -> a", "a_b", "b_a"]);
    // a self-projection without delay is a cycle of one
    let m = error_with("delay_ms = [1.0, 5.0]", "delay_ms = [0.0, 5.0]");
    assert_names(&m, &["cycle with no delay", "a -> a", "coll"]);
}

#[test]
fn autapses_apply_to_self_projections_only_and_leave_room() {
    let m = error_with("name = \"a_b\"", "name = \"a_b\"\nautapses = true");
    assert_names(&m, &["a_b", "autapses", "self-projection"]);
    let m = error_with("fixed_probability = 0.1", "fixed_fan_in = 80");
    assert_names(&m, &["coll", "fixed_fan_in", "80", "1..=79", "autapses"]);
    let m = error_with("fixed_probability = 0.1", "one_to_one = true");
    assert_names(&m, &["coll", "one_to_one", "autapses = true"]);
    let ok = RECURRENT.replacen(
        "fixed_probability = 0.1",
        "fixed_fan_in = 80\nautapses = true",
        1,
    );
    Network::from_toml_str(&ok, "t").unwrap();
}

#[test]
fn plastic_projections_take_one_delay() {
    let reward = include_str!("../assets/reward_learning.toml");
    let text = reward.replacen(
        "name = \"in_d1\"",
        "name = \"in_d1\"\ndelay_ms = [1.0, 3.0]",
        1,
    );
    let e = Network::from_toml_str(&text, "t").unwrap_err();
    assert_names(&e.to_string(), &["in_d1", "delay_ms"]);
    let text = reward.replacen("name = \"in_d1\"", "name = \"in_d1\"\ndelay_ms = 3.0", 1);
    Network::from_toml_str(&text, "t").unwrap();
    // a plastic self-projection (dense) keeps its autapses
    let own = |autapses: &str| {
        format!(
            "{reward}\n[[projection]]\nname = \"d1_d1\"\npre = \"d1\"\npost = \"d1\"\nsign = -1\nbias = false\n\
             init = \"uniform\"\nlow = 0.0\nhigh = 0.1\ndelay_ms = 1.0\n{autapses}\
             [projection.plasticity]\ntau_pre_ms = 20.0\ntau_post_ms = 20.0\ntau_c_ms = 200.0\n\
             a_plus = 1.0\na_minus = 1.0\nlearning_rate = 1e-6\nw_min = 0.0\nw_max = 0.15\n"
        )
    };
    let e = Network::from_toml_str(&own(""), "t").unwrap_err();
    assert_names(&e.to_string(), &["d1_d1", "plasticity", "autapses = true"]);
    Network::from_toml_str(&own("autapses = true\n"), "t").unwrap();
}

/// Writes `values` as a 1-D .npy of `dtype` (uint8, uint16 or float32).
fn write_npy(path: &Path, dtype: DType, values: &[u32]) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&npy::header(dtype, &[values.len()])).unwrap();
    for &v in values {
        match dtype {
            DType::U8 => f.write_all(&[v as u8]).unwrap(),
            DType::U16 => f.write_all(&(v as u16).to_le_bytes()).unwrap(),
            _ => f.write_all(&(v as f32).to_le_bytes()).unwrap(),
        }
    }
}

fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        "--config",
        "rec.toml",
        "--backend",
        "cpu",
        "--out",
        out,
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn delay_files_are_written_read_back_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rec.toml"), RECURRENT).unwrap();
    ok(d, &run_args("first", &[]));
    let first = d.join("first");
    let delays = npy::read(&first.join("weights_coll_delay.npy")).unwrap();
    assert_eq!(delays.dtype, DType::U16);
    let n = npy::read(&first.join("weights_coll_pre.npy"))
        .unwrap()
        .shape[0];
    assert_eq!(delays.shape, vec![n]);
    let values = delays.to_unsigned();
    assert!(values.iter().all(|&x| (1..=5).contains(&x)));
    assert!(
        !first.join("weights_in_a_delay.npy").exists(),
        "one delay: no file"
    );
    // read back: the same run
    ok(d, &run_args("again", &["--weights", "first"]));
    same_files(
        &first,
        &d.join("again"),
        &["spikes_a.npy", "spikes_b.npy", "weights_coll_delay.npy"],
    );
    // other delays from a file (uint8) change the run, and are exported
    write_npy(
        &first.join("weights_coll_delay.npy"),
        DType::U8,
        &vec![5; n],
    );
    ok(d, &run_args("fives", &["--weights", "first"]));
    let fives = npy::read(&d.join("fives/weights_coll_delay.npy")).unwrap();
    assert!(fives.to_unsigned().iter().all(|&x| x == 5));
    let a = std::fs::read(d.join("again/spikes_a.npy")).unwrap();
    assert_ne!(a, std::fs::read(d.join("fives/spikes_a.npy")).unwrap());
    // bad files: shape, dtype, values; exit 2 before any output
    let bad = |dtype: DType, values: Vec<u32>, parts: &[&str]| {
        write_npy(&first.join("weights_coll_delay.npy"), dtype, &values);
        fails(d, &run_args("bad", &["--weights", "first"]), parts);
        assert!(!d.join("bad").exists(), "nothing written");
    };
    let shape = format!("[{n}]");
    bad(
        DType::U8,
        vec![3; n + 1],
        &["weights_coll_delay.npy", &shape],
    );
    bad(
        DType::F32,
        vec![3; n],
        &["weights_coll_delay.npy", "float32"],
    );
    let mut v = vec![3; n];
    v[7] = 9;
    bad(
        DType::U16,
        v,
        &["weights_coll_delay.npy", "synapse 7", "9 steps", "1..=5"],
    );
    v = vec![3; n];
    v[0] = 0;
    bad(
        DType::U8,
        v,
        &["weights_coll_delay.npy", "synapse 0", "0 steps"],
    );
    // a file for a projection with one delay
    write_npy(
        &first.join("weights_coll_delay.npy"),
        DType::U8,
        &vec![3; n],
    );
    let k = npy::read(&first.join("weights_b_a_pre.npy")).unwrap().shape[0];
    write_npy(&first.join("weights_b_a_delay.npy"), DType::U8, &vec![3; k]);
    fails(
        d,
        &run_args("bad", &["--weights", "first"]),
        &["weights_b_a_delay.npy", "one delay", "delay_ms = [lo, hi]"],
    );
}

#[test]
fn config_and_summary_carry_the_delays_and_repeat_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rec.toml"), RECURRENT).unwrap();
    ok(d, &run_args("one", &["--seed", "4"]));
    let config = std::fs::read_to_string(d.join("one/config.toml")).unwrap();
    assert!(config.contains("delay_ms = 2.0"), "{config}");
    assert!(config.contains("delay_ms = [1.0, 5.0]"), "{config}");
    assert!(config.contains("autapses = false"), "{config}");
    let args = [
        "run",
        "--config",
        "one/config.toml",
        "--seed",
        "4",
        "--backend",
        "cpu",
        "--out",
        "two",
    ];
    ok(d, &args);
    same_files(
        &d.join("one"),
        &d.join("two"),
        &["spikes_a.npy", "spikes_b.npy", "weights_coll_delay.npy"],
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("one/summary.json")).unwrap())
            .unwrap();
    let projs = s["projections"].as_array().unwrap();
    let delay = |name: &str| &projs.iter().find(|p| p["name"] == name).unwrap()["delay"];
    assert_eq!(delay("in_a")["steps"], serde_json::json!([2, 2]));
    assert_eq!(delay("in_a")["per_synapse"], false);
    assert_eq!(delay("coll")["steps"], serde_json::json!([1, 5]));
    assert_eq!(delay("coll")["ms"], serde_json::json!([1.0, 5.0]));
    assert_eq!(delay("a_b")["steps"], serde_json::json!([0, 0]));
    assert_eq!(
        projs.iter().find(|p| p["name"] == "coll").unwrap()["autapses"],
        false
    );
}

#[test]
fn trials_streams_and_dry_runs_take_recurrent_networks() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rec.toml"), RECURRENT).unwrap();
    ok(d, &run_args("plain", &[]));
    // a stream in chunks that do not divide the delays: the same files
    ok(d, &run_args("stream", &["--stream", "--chunk", "7"]));
    same_files(
        &d.join("plain"),
        &d.join("stream"),
        &["spikes_input.npy", "spikes_a.npy", "spikes_b.npy"],
    );
    // trial 0 of three is the plain run; trials differ from each other
    ok(d, &run_args("trials", &["--trials", "3", "--chunk", "13"]));
    let t = npy::read(&d.join("trials/spikes_a.npy")).unwrap();
    let p = npy::read(&d.join("plain/spikes_a.npy")).unwrap();
    assert_eq!(t.shape[0], 3);
    let row = p.data.len();
    assert_eq!(&t.data[..row], &p.data[..]);
    assert_ne!(&t.data[row..2 * row], &p.data[..]);
    let o = ok(d, &run_args("dry", &["--dry-run"]));
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("rings of delayed sums"), "{text}");
    assert!(!d.join("dry").exists());
}

#[test]
fn weights_files_of_a_self_projection_without_autapses_keep_its_diagonal_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = RECURRENT
        .replacen("fixed_probability = 0.1\n", "", 1)
        .replacen("delay_ms = [1.0, 5.0]", "delay_ms = 1.0", 1);
    std::fs::write(d.join("rec.toml"), text).unwrap();
    ok(d, &run_args("w", &["--steps", "20"]));
    let path = d.join("w/weights_coll.npy");
    let mut w = npy::read(&path).unwrap().to_f32();
    assert!((0..80).all(|k| w[k * 80 + k] == 0.0), "no autapse drawn");
    // read back as it is: fine; a weight onto itself: named
    ok(d, &run_args("again", &["--steps", "20", "--weights", "w"]));
    w[3 * 80 + 3] = 0.5;
    let mut f = std::fs::File::create(&path).unwrap();
    npy::write_f32(&mut f, &[80, 80], &w).unwrap();
    drop(f);
    fails(
        d,
        &run_args("bad", &["--steps", "20", "--weights", "w"]),
        &["weights_coll.npy", "[3, 3]", "0.5", "autapses = true"],
    );
}
