//! Streams nacc's random draws to stdout as little-endian 32-bit words, in
//! the orders in which nacc consumes them, for a statistical battery
//! (`benches/rng_battery.sh` pipes it into PractRand's `RNG_test stdin32`).
//!
//! ```text
//! cargo run --release --example rng_stream -- ORDER [SEED]
//! ```
//!
//! ORDER is one of
//! - `neurons`: the Poisson draws of 1 000 neurons of a step, step after step;
//! - `steps`: one neuron's draws, step after step;
//! - `seeds`: neuron 0 under seeds S, S + 1, ..., S + 999 in turn, step after
//!   step (a user sweeping neighbouring seeds);
//! - `trials`: neuron 0 in trials 1..=1000 of seed S (`--trials`), step after
//!   step;
//! - `synapses`: the connection draws of 1 000 pre neurons of a post neuron,
//!   post after post (a `fixed_probability` projection).
//!
//! It runs until stdout is closed.

use nacc::input::{draw_at, draw_pair, purpose, stream_id};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let order = args.first().map(String::as_str).unwrap_or("neurons");
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let spike = stream_id("input", purpose::SPIKE);
    let connect = stream_id("fc1", purpose::CONNECT);
    let trial_seeds: Vec<u64> = (1..=1000)
        .map(|t| nacc::engine::trial_seed(seed, t))
        .collect();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut words = Vec::with_capacity(1000);
    for t in 0u32.. {
        words.clear();
        match order {
            "neurons" => words.extend((0..1000).map(|n| draw_at(seed, spike, n, t))),
            "steps" => words.extend((0..1000).map(|k| draw_at(seed, spike, 7, t * 1000 + k))),
            "seeds" => words.extend((0..1000).map(|s| draw_at(seed + s, spike, 0, t))),
            "trials" => words.extend(trial_seeds.iter().map(|&s| draw_at(s, spike, 0, t))),
            "synapses" => words.extend((0..1000).map(|i| draw_pair(seed, connect, t, i))),
            other => {
                eprintln!(
                    "rng_stream: ORDER = {other:?}: must be neurons, steps, seeds, trials or synapses"
                );
                std::process::exit(2);
            }
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        if out.write_all(&bytes).is_err() {
            return; // the battery has read what it wanted
        }
    }
}
