//! `--dry-run` estimates memory from the network alone; these tests hold the
//! host estimate to what a run really allocates (the GPU part is checked in
//! gpu_vs_cpu.rs, on a device).

mod common;

use nacc::config::Network;
use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
use nacc::memory::{estimate, model_bytes, quantized_bytes, record_bytes};
use nacc::network::Model;

fn within_10_percent(what: &str, estimate: u64, actual: u64) {
    let ratio = estimate as f64 / actual as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{what}: estimate {estimate} vs actual {actual} bytes (ratio {ratio:.3})"
    );
}

fn check(net: Network, steps: usize) {
    let e = estimate(&net, steps, 100, None, 1);
    let model = Model::build(net, 1).unwrap();
    // the form the CPU engine holds
    let q = nacc::engine::cpu::quantize(&model).unwrap();
    let mut engine = CpuEngine::new(&model).unwrap();
    let rec = simulate(
        &mut engine,
        &model.net,
        &InputSource::generated(&model),
        steps,
        100,
        |_| {},
    )
    .unwrap();
    let actual = model_bytes(&model) + quantized_bytes(&q) + record_bytes(&rec);
    within_10_percent("host", e.host_bytes(), actual);
}

#[test]
fn host_estimate_of_a_dense_network_is_within_10_percent() {
    check(Network::default_nacc().scaled(20).unwrap(), 300);
}

#[test]
fn host_estimate_of_a_sparse_network_is_within_10_percent() {
    check(
        common::sparse_net("fixed_fan_in = 40", "fixed_probability = 0.3")
            .scaled(20)
            .unwrap(),
        300,
    );
    // fc3 (6 000 -> 1 200, 2.2 M synapses) is gathered by post on the CPU
    let net = common::sparse_net("fixed_fan_in = 40", "fixed_probability = 0.3")
        .scaled(60)
        .unwrap();
    assert!(nacc::engine::cpu::gathers(&net, 2) && !nacc::engine::cpu::gathers(&net, 0));
    check(net, 50);
}

#[test]
fn host_estimate_counts_the_spike_record() {
    // few synapses, many steps: the record dominates
    check(Network::default_nacc().scaled(5).unwrap(), 20_000);
}

#[test]
fn dry_run_prints_the_estimate_and_builds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args([
            "run",
            "--dry-run",
            "--backend",
            "cpu",
            "--scale",
            "100000",
            "--out",
            "o",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    // 10 M inputs x 5 M inter dense would need 400 TB: estimated, not built
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("host memory") && text.contains("TiB"),
        "{text}"
    );
    assert!(!tmp.path().join("o").exists());
}
