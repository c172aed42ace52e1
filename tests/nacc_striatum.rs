//! The NAcc striatum model (issue 20): its documented parameters are the
//! asset's, and `nacc study` measures its signature behaviours at scale 1
//! as the literature describes them (tolerances stated at each assertion).

use nacc::study::{Protocol, StudyOptions, nacc_striatum, study_with};
use std::path::Path;

const DOC: &str = include_str!("../docs/models/nacc-striatum.md");
const ASSET: &str = include_str!("../assets/nacc_striatum.toml");

/// The asset's value at a documented key: `dt_ms`, `population.<name>.<field>`,
/// `projection.<name>.<field>`, `stimulus.<field>`,
/// `stimulus.pattern.<name>.<field>`, `dopamine.<field>`.
fn lookup<'a>(asset: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let named = |array: &'a toml::Value, name: &str| {
        array
            .as_array()?
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
    };
    let parts: Vec<&str> = key.split('.').collect();
    match parts[..] {
        [k] => asset.get(k),
        ["population", name, field] => named(asset.get("population")?, name)?.get(field),
        ["projection", name, field] => named(asset.get("projection")?, name)?.get(field),
        ["stimulus", "pattern", name, field] => {
            named(asset.get("stimulus")?.get("pattern")?, name)?.get(field)
        }
        ["stimulus", field] | ["dopamine", field] => asset.get(parts[0])?.get(field),
        _ => None,
    }
}

/// The documented value as the asset's TOML would hold it.
fn same(value: &toml::Value, doc: &str) -> bool {
    match value {
        toml::Value::String(s) => s == doc,
        toml::Value::Integer(i) => doc.parse::<i64>() == Ok(*i),
        toml::Value::Float(f) => doc.parse::<f64>() == Ok(*f),
        toml::Value::Array(a) => {
            let inner = doc.trim_start_matches('[').trim_end_matches(']');
            let items: Vec<&str> = inner.split(',').map(str::trim).collect();
            items.len() == a.len() && a.iter().zip(items).all(|(v, d)| same(v, d))
        }
        _ => false,
    }
}

/// Every row of the doc's parameter table with a key: (key, value used).
fn documented() -> Vec<(String, String)> {
    DOC.lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let key = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_string(), cells.get(3)?.to_string()))
        })
        .collect()
}

#[test]
fn the_documented_parameters_are_the_assets() {
    let asset: toml::Table = toml::from_str(ASSET).unwrap();
    let rows = documented();
    assert!(rows.len() >= 30, "the table has {} keyed rows", rows.len());
    for (key, value) in &rows {
        let v = lookup(&asset, key).unwrap_or_else(|| panic!("`{key}` is not in the asset"));
        assert!(
            same(v, value),
            "`{key}`: the doc says {value}, the asset {v}"
        );
    }
    // the projections the doc covers by pattern hold the same values as
    // their row's projection
    let projections = asset["projection"].as_array().unwrap();
    let row_of = |name: &str| -> Option<String> {
        let n = name.replace("_d2", "_d1");
        if n.ends_with("_coll") {
            return Some("d1_d1_coll".into());
        }
        let n = n.replace("hip_", "pfc_").replace("amy_", "pfc_");
        Some(n)
    };
    for p in projections {
        let name = p["name"].as_str().unwrap();
        let row = row_of(name).unwrap();
        let row_p = projections
            .iter()
            .find(|q| q["name"].as_str() == Some(row.as_str()))
            .unwrap_or_else(|| panic!("`{name}` has no documented projection `{row}`"));
        for field in ["synapse", "high", "low", "delay_ms"] {
            assert_eq!(
                p.get(field),
                row_p.get(field),
                "`{name}`.{field} differs from `{row}`'s"
            );
        }
        // fan-ins: the projection's own row, or that of the same source
        // onto D1 (AMPA)
        let same_source = name.replace("_d2", "_d1").replace("_nmda", "");
        let same_source = match (name.starts_with("fsi_"), name.ends_with("_coll")) {
            (_, true) => "d1_d1_coll".to_string(),
            (true, false) => same_source,
            (false, false) => same_source.replace("_fsi", "_d1"),
        };
        let fan_in = [name.to_string(), same_source].into_iter().find_map(|n| {
            let k = format!("projection.{n}.fixed_fan_in");
            rows.iter().find(|(key, _)| *key == k)
        });
        let (k, v) = fan_in.unwrap_or_else(|| panic!("no documented fan-in for `{name}`"));
        assert!(
            same(&p["fixed_fan_in"], v),
            "`{name}`'s fan-in differs from `{k}` ({v})"
        );
    }
    // every population has a row
    for p in asset["population"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert!(
            rows.iter()
                .any(|(k, _)| k.starts_with(&format!("population.{name}."))),
            "population `{name}` is not documented"
        );
    }
}

#[test]
fn the_table_check_can_fail() {
    let asset: toml::Table = toml::from_str(ASSET).unwrap();
    assert!(same(lookup(&asset, "population.fsi.size").unwrap(), "28"));
    assert!(!same(lookup(&asset, "population.fsi.size").unwrap(), "29"));
    assert!(!same(
        lookup(&asset, "projection.d1_d1_coll.delay_ms").unwrap(),
        "[1.0, 4.0]"
    ));
    assert!(lookup(&asset, "projection.no_such.high").is_none());
}

/// A protocol a little shorter than `--quick`, for CI.
fn ci_protocol() -> Protocol {
    Protocol {
        activity_steps: 2000,
        volleys: 20,
        doses: vec![0.0, 0.25, 0.5],
        dose_steps: 1000,
        trials: 40,
        learning_seeds: 3,
        ..Protocol::quick()
    }
}

#[test]
fn the_study_shows_the_signature_behaviours() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let opts = StudyOptions {
        out: out.clone(),
        seed: 3,
        ..StudyOptions::default()
    };
    let r = study_with(&opts, &ci_protocol()).unwrap();
    let a = &r.activity;
    // 1. MSNs quiet (a few Hz at most), FSIs at tens of Hz; MSN membranes
    //    with up and down states at least 5 mV apart
    let msn = (a.d1_hz + a.d2_hz) / 2.0;
    assert!(
        msn < 5.0 && msn < a.fsi_hz / 4.0,
        "MSN {msn} Hz, FSI {} Hz",
        a.fsi_hz
    );
    assert!(a.fsi_hz > 10.0, "FSI {} Hz", a.fsi_hz);
    let (up, down) = (a.msn_up_mv.unwrap(), a.msn_down_mv.unwrap());
    assert!(
        up > down + 5.0 && down < -65.0,
        "up {up} mV, down {down} mV"
    );
    // 2. feed-forward inhibition: FSIs answer a volley first; the MSNs'
    //    answer grows by a fifth or more without FSI -> MSN
    let f = &r.feedforward;
    assert!(f.fsi_peak_ms < f.msn_peak_ms, "{f:?}");
    assert!(
        f.msn_response_no_fsi_msn > 1.2 * f.msn_response_intact && f.msn_response_intact > 0.0,
        "{} vs {}",
        f.msn_response_intact,
        f.msn_response_no_fsi_msn
    );
    // 3. dopamine: D1 rises and D2 falls at every step of d
    for w in r.dopamine.windows(2) {
        assert!(w[1].d1_hz > w[0].d1_hz, "{:?}", r.dopamine);
        assert!(w[1].d2_hz < w[0].d2_hz, "{:?}", r.dopamine);
    }
    // 4. reward learning: at least 2 of 3 rewarded seeds come to prefer A,
    //    by 5 Hz more on average than without reward; A's cue weights grow
    //    more than B's; without reward no weight moves
    let l = &r.learning;
    assert!(l.rewarded_prefer_a >= 2, "{l:?}");
    let gain = |rewarded: bool| {
        let v: Vec<f64> = l
            .runs
            .iter()
            .filter(|x| x.rewarded == rewarded)
            .map(|x| x.preference_gain_hz)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        gain(true) > gain(false) + 5.0,
        "{} vs {}",
        gain(true),
        gain(false)
    );
    for x in &l.runs {
        if x.rewarded {
            assert!(x.dw_a_ns > x.dw_b_ns && x.dw_a_ns > 0.0, "{x:?}");
        } else {
            assert_eq!((x.dw_a_ns, x.dw_b_ns), (0.0, 0.0), "{x:?}");
        }
    }
    // the files: figures, study.json, a network file per run
    for f in [
        "study_activity.png",
        "study_feedforward.png",
        "study_dopamine.png",
        "study_learning.png",
        "study.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    assert_eq!(json["seed"], 3);
    assert_eq!(json["command"], "nacc study --seed 3");
    run_file_repeats_the_run(
        &out.join("study_dopamine_0.25.toml"),
        3,
        r.dopamine[1].d1_hz,
    );
}

/// A run's network file, run by `nacc run`, gives the study's numbers.
fn run_file_repeats_the_run(file: &Path, seed: u64, d1_hz: f64) {
    let out = file.parent().unwrap().with_file_name("repeat");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args([
            "run",
            "--backend",
            "cpu",
            "--quiet",
            "--no-weight-files",
            "--seed",
        ])
        .arg(seed.to_string())
        .arg("--config")
        .arg(file)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let spikes = std::fs::read(out.join("spikes_d1.npy")).unwrap();
    // uint8 0/1 after the npy header: the mean rate in Hz at dt = 1 ms
    let header = 10 + u16::from_le_bytes([spikes[8], spikes[9]]) as usize;
    let ones = spikes[header..].iter().filter(|&&b| b == 1).count();
    let hz = ones as f64 * 1000.0 / (spikes.len() - header) as f64;
    assert!((hz - d1_hz).abs() < 1e-9, "{hz} vs {d1_hz}");
}

#[test]
fn a_study_needs_its_populations() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StudyOptions {
        config: Some("assets/nacc.toml".into()),
        out: dir.path().join("s"),
        ..StudyOptions::default()
    };
    let e = nacc::study::study(&opts).unwrap_err().to_string();
    assert!(
        e.contains("--config") && e.contains("assets/nacc.toml") && e.contains("`d1`"),
        "{e}"
    );
    assert!(!dir.path().join("s").exists(), "nothing written");
    let net = nacc_striatum().unwrap();
    assert_eq!(net.total_neurons(), 3172);
}

/// The CPU engine spreads a large population's update over its threads
/// (ranges of whole spike words): the same spikes, membranes and recorded
/// samples on 1, 2 and 3 threads.
#[test]
fn the_model_is_the_same_on_any_number_of_threads() {
    use nacc::engine::cpu::CpuEngine;
    use nacc::engine::{InputSource, simulate};
    use nacc::network::Model;
    // at scale 2 the MSNs' update is twice what spreads it over threads
    let model = Model::build(nacc_striatum().unwrap().scaled(2).unwrap(), 2).unwrap();
    let input = InputSource::generated(&model);
    let run = |threads: usize| {
        let mut e = CpuEngine::with_threads(&model, threads).unwrap();
        let r = simulate(&mut e, &model.net, &input, 400, 150, |_| {}).unwrap();
        let v: Vec<Vec<u32>> = nacc::engine::Engine::membranes(&mut e)
            .unwrap()
            .iter()
            .map(|p| p.iter().map(|x| x.to_bits()).collect())
            .collect();
        (r, v)
    };
    let (one, v1) = run(1);
    assert!(
        one.pops.iter().all(|p| p.total() > 0),
        "every population spikes"
    );
    for t in [2, 3] {
        let (r, v) = run(t);
        assert!(r == one, "{t} threads: spikes or samples differ");
        assert!(v == v1, "{t} threads: membranes differ");
    }
}

/// `nacc bench --network nacc-striatum` names the model's three scales,
/// each the asset scaled with the fan-ins held (synapses grow linearly).
#[test]
fn the_bench_has_the_model_at_three_scales() {
    use nacc::bench::{NACC_STRIATUM, check_names, suite};
    check_names(&[NACC_STRIATUM.to_string()]).unwrap();
    let cases: Vec<_> = suite()
        .into_iter()
        .filter(|c| c.group == Some(NACC_STRIATUM))
        .collect();
    let scales = [4u64, 100, 1000];
    assert_eq!(cases.len(), 3);
    let one = nacc_striatum().unwrap();
    for (c, k) in cases.iter().zip(scales) {
        let net = c.network.as_ref().unwrap();
        assert_eq!(net.total_neurons(), one.total_neurons() * k, "{}", c.name);
        assert_eq!(net.total_synapses(), one.total_synapses() * k, "{}", c.name);
        assert!(net.records.is_empty(), "{}", c.name);
    }
}

/// `nacc study` with a network it cannot study: exit 2, the field, the
/// value and what is needed, and no out dir.
#[test]
fn the_study_command_refuses_a_network_without_its_populations() {
    let dir = tempfile::tempdir().unwrap();
    let asset = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/nacc.toml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nacc"))
        .current_dir(dir.path())
        .args(["study", "--quick", "--config"])
        .arg(&asset)
        .args(["--out", "s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for part in ["--config", "nacc.toml", "a neuron population named `d1`"] {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert!(!dir.path().join("s").exists(), "nothing written");
    // a scale beyond the machine's memory: refused before the first run
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nacc"))
        .current_dir(dir.path())
        .args(["study", "--scale", "100000", "--out", "s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run `activity`") && err.contains("host memory"),
        "{err}"
    );
    assert!(!dir.path().join("s").exists(), "nothing written");
}
