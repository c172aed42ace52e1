//! How long the figures of a 100 000-neuron x 10 000-step population take.
//! `cargo run --release --example figure_timing` (prints seconds).

use nacc::figures::{PopData, View, write_all};
use nacc::input::{draw_pair, rate_threshold};
use nacc::record::PopRecord;
use std::time::Instant;

fn main() {
    let (n, steps) = (100_000usize, 10_000usize);
    let wps = n.div_ceil(32);
    let out = std::env::temp_dir().join("nacc-figure-timing");
    std::fs::create_dir_all(&out).unwrap();
    for rate in [0.05f32, 0.3] {
        let thr = rate_threshold(rate);
        let mut bits = vec![0u32; steps * wps];
        for t in 0..steps {
            for i in 0..n {
                if draw_pair(1, 7, t as u32, i as u32) >> 8 < thr {
                    bits[t * wps + i / 32] |= 1 << (i % 32);
                }
            }
        }
        let rec = PopRecord::from_bits(n, bits);
        let view = View {
            steps: 0..steps,
            neurons: None,
            width: 1200,
            height: None,
            title: nacc::figures::DEFAULT_TITLE.into(),
        };
        let t0 = Instant::now();
        write_all(
            (&out).into(),
            1.0,
            &[PopData {
                name: "big",
                rec: &rec,
            }],
            &[],
            None,
            &view,
        )
        .unwrap();
        println!(
            "{n} neurons x {steps} steps, rate {rate} ({} spikes): figures in {:.3} s -> {}",
            rec.total(),
            t0.elapsed().as_secs_f64(),
            out.display()
        );
    }
}
