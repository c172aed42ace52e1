//! docs/arithmetic.md §2.2: F is the largest integer in 0..=30 for which the worst-case
//! post sum of |wq| stays below 2^31; projections that fail at F = 0 are
//! rejected.

use nacc::engine::cpu::CpuEngine;
use nacc::network::Network;
use nacc::network::{Model, Quantized, choose_frac_bits};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// The worst case at F, computed independently in f64 (exact for these sizes).
fn worst(w: &[f32], n_pre: usize, f: u32) -> f64 {
    w.chunks(n_pre)
        .map(|row| {
            row.iter()
                .map(|&x| (x as f64 * 2f64.powi(f as i32)).round().abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

#[test]
fn f_is_the_largest_that_cannot_overflow() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let n_pre = rng.random_range(1..200);
        let n_post = rng.random_range(1..20);
        let scale = 2f32.powi(rng.random_range(-40..32));
        let w: Vec<f32> = (0..n_pre * n_post)
            .map(|_| rng.random_range(-1.0f32..1.0) * scale)
            .collect();
        let limit = 2147483648.0;
        match choose_frac_bits(&w, n_pre) {
            Some(f) => {
                seen.insert(f);
                assert!(f <= 30);
                assert!(worst(&w, n_pre, f) < limit, "F = {f} overflows");
                if f < 30 {
                    assert!(
                        worst(&w, n_pre, f + 1) >= limit,
                        "F = {} would also fit",
                        f + 1
                    );
                }
                // and the quantised matrix really stays within bounds
                let q = Quantized::new(&w, n_post, n_pre).unwrap();
                assert_eq!(q.frac_bits, f);
                for post in 0..n_post {
                    let s: i64 = (0..n_pre)
                        .map(|pre| (q.wq[pre * n_post + post] as i64).abs())
                        .sum();
                    assert!(s < 1 << 31);
                }
            }
            None => assert!(worst(&w, n_pre, 0) >= limit),
        }
    }
    // the cases covered the whole range, 0 and 30 included
    assert!(seen.contains(&0) && seen.contains(&30), "{seen:?}");
}

#[test]
fn f_for_the_default_network_is_about_27() {
    let model = Model::build(Network::default_nacc(), 0).unwrap();
    for q in model.quantize().unwrap() {
        assert!((26..=29).contains(&q.frac_bits), "F = {}", q.frac_bits);
    }
}

#[test]
fn quantisation_is_round_half_away_from_zero() {
    // 2.5 at F = 0 -> 3, -2.5 -> -3 (Rust f32::round); sums 5 < 2^31 so F
    // is high: check the quantised values directly against w * 2^F.
    let w = [2.5f32, -2.5, 0.75];
    let q = Quantized::new(&w, 1, 3).unwrap();
    let f = q.frac_bits;
    for (pre, &x) in w.iter().enumerate() {
        assert_eq!(q.wq[pre] as f64, (x as f64 * 2f64.powi(f as i32)).round());
    }
    // at F = 0 (forced by a large third weight) the halves round away from zero
    let w = [2.5f32, -2.5, 2f32.powi(30)];
    let q = Quantized::new(&w, 1, 3).unwrap();
    assert_eq!(q.frac_bits, 0);
    assert_eq!(&q.wq[..2], &[3, -3]);
}

#[test]
fn impossible_projection_is_rejected() {
    // Two weights of 2^30 into one post neuron: the sum reaches 2^31 at F = 0.
    let w = [2f32.powi(30), -(2f32.powi(30))];
    assert_eq!(choose_frac_bits(&w, 2), None);
    let e = Quantized::new(&w, 1, 2).unwrap_err().to_string();
    assert!(e.contains("2^31"), "{e}");

    // Through a network: the error names the projection.
    let text = r#"
        [[population]]
        name = "a"
        size = 3000
        kind = "poisson"
        [[population]]
        name = "b"
        size = 2
        kind = "lif"
        [[projection]]
        name = "huge"
        pre = "a"
        post = "b"
        init = "constant"
        weight = 1e6
    "#;
    // (1e6, the largest weight a network file allows, times 3 000 pre
    // neurons reaches 2^31)
    let model = Model::build(Network::from_toml_str(text, "t").unwrap(), 0).unwrap();
    let e = CpuEngine::new(&model)
        .err()
        .expect("must be rejected")
        .to_string();
    assert!(e.contains("huge") && e.contains("2^31"), "{e}");
}
