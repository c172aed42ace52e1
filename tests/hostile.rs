//! Hostile input: random and mutated `.npy` files and TOML networks never
//! panic and never allocate what a header merely claims (issue 6). Bounded
//! in time so that it runs in CI; `fuzz/` has the open-ended cargo-fuzz
//! targets for the same two parsers.

use nacc::config::DEFAULT_TOML;

use nacc::network::Network;
use nacc::npy::{self, DType};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("panicked on {what}"))
}

fn valid_npy() -> Vec<u8> {
    let mut v = npy::header(DType::U8, &[3, 5]);
    v.extend([0u8, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1]);
    v
}

#[test]
fn random_and_mutated_npy_files_are_errors_not_panics() {
    let mut rng = StdRng::seed_from_u64(6);
    let good = valid_npy();
    assert!(npy::parse(&good, Path::new("good.npy")).is_ok());
    for case in 0..20_000 {
        let bytes: Vec<u8> = match case % 4 {
            // random bytes, sometimes behind a valid magic string
            0 => (0..rng.random_range(0..200))
                .map(|_| rng.random::<u8>())
                .collect(),
            1 => {
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend((0..rng.random_range(0..200)).map(|_| rng.random::<u8>()));
                b
            }
            // a valid file with bytes flipped, cut or appended
            2 => {
                let mut b = good.clone();
                for _ in 0..rng.random_range(1..6) {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                }
                b
            }
            _ => {
                let mut b = good.clone();
                b.truncate(rng.random_range(0..b.len()));
                b
            }
        };
        let _ = no_panic(&format!("npy case {case}: {bytes:?}"), || {
            npy::parse(&bytes, Path::new("x.npy"))
        });
    }
}

#[test]
fn a_header_claiming_a_huge_array_is_rejected_before_allocating() {
    for shape in [
        "(1000000000000,)",
        "(1000000, 1000000)",
        "(18446744073709551615, 2)",
        "(4294967296, 4294967296, 4294967296)",
    ] {
        let dict = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((dict.len() as u16).to_le_bytes());
        b.extend(dict.as_bytes());
        b.extend([0u8; 64]);
        let e = npy::parse(&b, Path::new("huge.npy"))
            .expect_err(shape)
            .to_string();
        assert!(
            e.contains("huge.npy") && (e.contains("too large") || e.contains("needs")),
            "{shape}: {e}"
        );
    }
    // a header length beyond the file, and an absurd one
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend(u32::MAX.to_le_bytes());
    assert!(npy::parse(&b, Path::new("h.npy")).is_err());
}

#[test]
fn random_and_mutated_network_files_are_errors_not_panics() {
    let mut rng = StdRng::seed_from_u64(7);
    let good = DEFAULT_TOML.as_bytes();
    let pieces = [
        "[[population]]",
        "[[projection]]",
        "size = 0",
        "size = -1",
        "beta = nan",
        "rate = [",
        "]",
        "{",
        "}",
        "\"",
        "=",
        "\n",
        "fixed_fan_in = 99999999999",
        "sign = 9223372036854775807",
    ];
    let mut errors = 0;
    for case in 0..3_000 {
        let text: String = match case % 3 {
            0 => (0..rng.random_range(0..300))
                .map(|_| rng.random_range(9u8..127) as char)
                .collect(),
            1 => {
                let mut b = good.to_vec();
                for _ in 0..rng.random_range(1..8) {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random_range(9u8..127);
                }
                String::from_utf8_lossy(&b).into_owned()
            }
            _ => {
                let mut t = DEFAULT_TOML.to_string();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..t.len());
                    if t.is_char_boundary(at) {
                        t.insert_str(at, pieces[rng.random_range(0..pieces.len())]);
                    }
                }
                t
            }
        };
        let r = no_panic(&format!("toml case {case}: {text:?}"), || {
            Network::from_toml_str(&text, "fuzz.toml")
        });
        if let Err(e) = r {
            errors += 1;
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.to_string().len() < 4000,
                "message too long: {}",
                e.to_string().len()
            );
        }
    }
    assert!(
        errors > 2_000,
        "the mutations should mostly be invalid ({errors})"
    );
}

#[test]
fn deeply_nested_toml_is_an_error() {
    for text in [
        format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a = {}1{}", "{a=".repeat(50_000), "}".repeat(50_000)),
    ] {
        let e = no_panic("deep toml", || Network::from_toml_str(&text, "deep.toml"))
            .expect_err("deep nesting");
        assert!(e.to_string().contains("deep.toml") && e.to_string().len() < 4000);
    }
}

/// The reward experiment with its numbers mutated (digits replaced, signs
/// and exponents inserted): every file is an error with a short message or
/// a network that builds and runs a few hundred steps without a panic, on
/// the CPU engine, with its weights inside their bounds.
#[test]
fn mutated_reward_networks_are_errors_or_run() {
    const REWARD: &str = include_str!("../assets/reward_learning.toml");
    let mut rng = StdRng::seed_from_u64(8);
    let pieces = [
        "-", "e9", "e-40", "e30", "0", "1", ".5", "nan", "inf", "000",
    ];
    let digits: Vec<usize> = REWARD
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let (mut ran, mut errors) = (0, 0);
    for case in 0..600 {
        let mut t = REWARD.as_bytes().to_vec();
        for _ in 0..rng.random_range(1..4) {
            let at = digits[rng.random_range(0..digits.len())];
            if rng.random_bool(0.5) {
                t[at] = b'0' + rng.random_range(0..10u8);
            } else {
                let p = pieces[rng.random_range(0..pieces.len())].as_bytes();
                t.splice(at..at, p.iter().copied());
            }
        }
        let text = String::from_utf8(t).unwrap();
        let what = format!("reward case {case}:\n{text}");
        let net = match no_panic(&what, || Network::from_toml_str(&text, "fuzz.toml")) {
            Ok(n) => n,
            Err(e) => {
                errors += 1;
                assert_eq!(e.exit_code(), 2, "{what}");
                assert!(e.to_string().len() < 4000);
                continue;
            }
        };
        if net.total_neurons() > 5_000 || net.total_synapses() > 2_000_000 {
            continue;
        }
        no_panic(&what, || {
            let Ok(model) = nacc::network::Model::build(net, case) else {
                return;
            };
            let Ok(mut e) = nacc::engine::cpu::CpuEngine::new(&model) else {
                return;
            };
            let input = nacc::engine::InputSource::generated(&model);
            // a membrane may turn infinite under absurd numbers: an error, fine
            let _ = nacc::engine::simulate(&mut e, &model.net, &input, 300, 100, |_| {});
            use nacc::engine::Engine;
            let q = model.quantize().unwrap();
            for (j, w) in e.plastic_weights().unwrap().iter().enumerate() {
                if let (Some(w), Some([lo, hi])) = (w, q[j].bounds) {
                    assert!(w.iter().all(|x| (lo..=hi).contains(x)), "{what}");
                }
            }
        });
        ran += 1;
    }
    // both outcomes are common: the test reaches the engine, not only the parser
    assert!(ran > 100 && errors > 100, "ran {ran}, errors {errors}");
}

/// Issue 15: any number of the default network replaced by an extreme value
/// (subnormal, huge, the smallest double, non-finite) is an error naming
/// its field, or a network that builds, runs on the CPU engine with finite
/// membranes (every parameter is bounded), and draws its figures, without
/// a panic.
#[test]
fn extreme_numbers_are_named_errors_or_run_and_draw() {
    let extremes = [
        "5e-324", "1e-40", "-1e-40", "3e38", "-3e38", "1e30", "1e7", "1e6", "-1e6", "0.001",
        "1000", "nan", "inf", "0", "-0.0",
    ];
    // every number of the file (tokens after '=' or in a list)
    let mut spans = Vec::new();
    let bytes = DEFAULT_TOML.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b'.'));
        if starts {
            let j = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_digit() || bytes[j] == b'.'))
                .unwrap_or(bytes.len());
            // skip numbers inside comments and names
            let line_start = DEFAULT_TOML[..i].rfind('\n').map_or(0, |k| k + 1);
            if !DEFAULT_TOML[line_start..i].contains('#')
                && !DEFAULT_TOML[line_start..i].contains('"')
            {
                spans.push(i..j);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    assert!(spans.len() >= 10, "{spans:?}");
    let tmp = tempfile::tempdir().unwrap();
    let (mut ran, mut errors) = (0, 0);
    for span in &spans {
        for x in extremes {
            let text = format!(
                "{}{x}{}",
                &DEFAULT_TOML[..span.start],
                &DEFAULT_TOML[span.end..]
            );
            let what = format!("{:?} -> {x}", &DEFAULT_TOML[span.clone()]);
            let net = match no_panic(&what, || Network::from_toml_str(&text, "x.toml")) {
                Ok(n) => n,
                Err(e) => {
                    errors += 1;
                    let m = e.to_string();
                    assert_eq!(e.exit_code(), 2, "{what}: {m}");
                    assert!(
                        m.contains("field")
                            || m.contains("dt_ms")
                            || m.contains("line")
                            || m.contains("steps"),
                        "{what}: {m}"
                    );
                    continue;
                }
            };
            if net.total_neurons() > 20_000 || net.total_synapses() > 5_000_000 {
                continue;
            }
            no_panic(&what, || {
                let model = match nacc::network::Model::build(net, 1) {
                    Ok(m) => m,
                    Err(e) => return assert_eq!(e.exit_code(), 2, "{what}: {e}"),
                };
                let mut engine = match nacc::engine::cpu::CpuEngine::new(&model) {
                    Ok(e) => e,
                    Err(e) => return assert_eq!(e.exit_code(), 2, "{what}: {e}"),
                };
                let input = nacc::engine::InputSource::generated(&model);
                let rec = nacc::engine::simulate(&mut engine, &model.net, &input, 60, 30, |_| {})
                    .unwrap_or_else(|e| panic!("{what}: bounded parameters, yet {e}"));
                let pops: Vec<nacc::figures::PopData> = model
                    .net
                    .populations
                    .iter()
                    .zip(&rec.pops)
                    .map(|(p, rec)| nacc::figures::PopData { name: &p.name, rec })
                    .collect();
                let view = nacc::figures::View {
                    steps: 0..60,
                    neurons: None,
                    width: 600,
                    height: None,
                    title: what.clone(),
                };
                nacc::figures::write_all(
                    tmp.path().into(),
                    model.net.dt_ms,
                    &pops,
                    &[],
                    None,
                    &view,
                )
                .unwrap_or_else(|e| panic!("{what}: figures: {e}"));
            });
            ran += 1;
        }
    }
    assert!(ran > 20 && errors > 20, "ran {ran}, errors {errors}");
}
