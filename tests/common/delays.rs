//! Networks with delays and recurrence, for the CPU tests (tests/delays.rs)
//! and the GPU ones (tests/gpu/delays.rs), and the expectations worked out
//! by hand that both engines must meet.

use super::given_input;
use nacc::engine::{Engine, InputSource};
use nacc::network::{Model, Network};
use nacc::record::ChunkSpikes;
use rand::{RngExt, rngs::StdRng};

/// Delays (steps, dt = 1 ms) the hand-worked networks use: a slot of the
/// ring, several, a block's length and one more, the largest.
pub const DELAYS: [u32; 8] = [0, 1, 2, 5, 16, 17, 100, 255];

/// One input neuron that spikes at `INPUT_STEPS`, and per delay `d` of
/// [`DELAYS`] a population `d<d>` of one neuron that fires exactly when a
/// spike arrives (weight 1, threshold 0.5, beta 0, reset to zero): it
/// fires at t + d for every input spike t. With 255 the ring (512 slots)
/// wraps twice within [`STEPS`].
pub fn one_spike_network() -> Network {
    let mut text = String::from(
        "dt_ms = 1.0\n[[population]]\nname = \"in\"\nsize = 1\nkind = \"poisson\"\nrate = [0.0, 0.0]\n",
    );
    for d in DELAYS {
        text += &format!(
            "[[population]]\nname = \"d{d}\"\nsize = 1\nkind = \"lif\"\nbeta = 0.0\nthreshold = 0.5\nreset = \"zero\"\n"
        );
    }
    for d in DELAYS {
        text += &format!(
            "[[projection]]\nname = \"to{d}\"\npre = \"in\"\npost = \"d{d}\"\nbias = false\ninit = \"constant\"\nweight = 1.0\ndelay_ms = {d}.0\n"
        );
    }
    Network::from_toml_str(&text, "one spike").unwrap()
}

/// Steps the hand-worked networks run.
pub const STEPS: usize = 1300;
/// When the input neuron of [`one_spike_network`] spikes.
pub const INPUT_STEPS: [usize; 5] = [0, 3, 300, 700, 1040];

/// The given input: the one neuron spiking at `INPUT_STEPS`.
pub fn one_spike_input(net: &Network) -> InputSource {
    let x: Vec<Vec<Vec<u8>>> = net
        .populations
        .iter()
        .map(|p| match p.is_poisson() {
            true => (0..STEPS)
                .map(|t| vec![INPUT_STEPS.contains(&t) as u8])
                .collect(),
            false => Vec::new(),
        })
        .collect();
    given_input(net, &x)
}

/// Runs `engine` for `steps` in chunks of `chunk`; per population and
/// neuron, the steps it spiked at.
pub fn spike_times(
    engine: &mut dyn Engine,
    model: &Model,
    input: &InputSource,
    steps: usize,
    chunk: usize,
) -> Vec<Vec<Vec<usize>>> {
    let net = &model.net;
    let mut times: Vec<Vec<Vec<usize>>> = net
        .populations
        .iter()
        .map(|p| vec![Vec::new(); p.size])
        .collect();
    let mut done = 0;
    while done < steps {
        let n = chunk.min(steps - done);
        let mut buf = ChunkSpikes::new(net, n);
        input.fill(net, done as u64, &mut buf);
        engine.run_chunk(&mut buf).unwrap();
        for (p, pop) in net.populations.iter().enumerate() {
            let wps = pop.words_per_step();
            for s in 0..n {
                for (i, t) in times[p].iter_mut().enumerate() {
                    if buf.bits[p][s * wps + i / 32] >> (i % 32) & 1 == 1 {
                        t.push(done + s);
                    }
                }
            }
        }
        done += n;
    }
    times
}

/// What [`one_spike_network`] must give: population `d<d>` spikes at t + d.
pub fn assert_arrivals(times: &[Vec<Vec<usize>>], what: &str) {
    for (k, d) in DELAYS.iter().enumerate() {
        let want: Vec<usize> = INPUT_STEPS
            .iter()
            .map(|t| t + *d as usize)
            .filter(|&t| t < STEPS)
            .collect();
        assert_eq!(times[k + 1][0], want, "{what}: delay {d}");
    }
}

/// One input neuron spiking at step 10 to `n` posts through a sparse
/// projection with a delay drawn per synapse in [0, 40] steps (0: in the
/// step of the spike), posts firing when a spike arrives: post j fires
/// exactly at 10 + its synapse's delay.
pub fn per_synapse_network(n: usize) -> Network {
    let text = format!(
        "dt_ms = 0.5\n[[population]]\nname = \"in\"\nsize = 1\nkind = \"poisson\"\nrate = [0.0, 0.0]\n\
         [[population]]\nname = \"post\"\nsize = {n}\nkind = \"lif\"\nbeta = 0.0\nthreshold = 0.5\nreset = \"zero\"\n\
         [[projection]]\nname = \"p\"\npre = \"in\"\npost = \"post\"\nbias = false\ninit = \"constant\"\nweight = 1.0\n\
         fixed_probability = 1.0\ndelay_ms = [0.0, 20.0]\n"
    );
    Network::from_toml_str(&text, "per synapse").unwrap()
}

/// Input for [`per_synapse_network`]: one spike at step 10.
pub fn spike_at_10(net: &Network, steps: usize) -> InputSource {
    let x: Vec<Vec<Vec<u8>>> = net
        .populations
        .iter()
        .map(|p| match p.is_poisson() {
            true => (0..steps).map(|t| vec![(t == 10) as u8]).collect(),
            false => Vec::new(),
        })
        .collect();
    given_input(net, &x)
}

/// A random recurrent network: 1-2 Poisson and 2-4 LIF populations of
/// 1..=max_size neurons; each LIF population fed by 1-4 projections from
/// any population, itself and later ones included (cycles through several
/// populations, self-projections with and without autapses); a projection
/// from a population not before its post has a delay of at least one step
/// (else any, 0 included); one delay or a range per synapse (sparse),
/// every reset mode, excitatory and inhibitory, with and without bias,
/// dense, fixed_probability, fixed_fan_in, fixed_fan_out and one_to_one.
pub fn random_recurrent_network(rng: &mut StdRng, max_size: usize) -> String {
    let n_poisson = rng.random_range(1..=2);
    let n_lif = rng.random_range(2..=4);
    let mut text = String::from("dt_ms = 1.0\n");
    let mut pops = Vec::new();
    for i in 0..n_poisson {
        let (pop, size) = super::random_poisson(rng, i, 0.5, 0.8, max_size);
        text += &pop;
        pops.push((format!("in{i}"), size, true));
    }
    let sizes: Vec<usize> = (0..n_lif).map(|_| rng.random_range(2..=max_size)).collect();
    for (i, &size) in sizes.iter().enumerate() {
        let beta = match rng.random_range(0..3) {
            0 => 0.0,
            _ => rng.random_range(0.0f32..1.0),
        };
        let threshold = [0.25f32, 1.0, 3.0][rng.random_range(0..3)];
        let reset = ["subtract", "zero", "none"][rng.random_range(0..3)];
        text += &format!(
            "[[population]]\nname = \"lif{i}\"\nsize = {size}\nkind = \"lif\"\nbeta = {beta}\nthreshold = {threshold}\nreset = \"{reset}\"\n"
        );
        pops.push((format!("lif{i}"), size, false));
    }
    let mut k = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let post = n_poisson + i;
        for _ in 0..rng.random_range(1..=4) {
            // any population; one not before the post needs a delay
            let pre = rng.random_range(0..pops.len());
            let (pre_name, pre_size, _) = &pops[pre];
            let back = pre >= post;
            let own = pre == post;
            let sign = if rng.random_bool(0.5) { -1 } else { 1 };
            let bias = rng.random_bool(0.5);
            let conn = match rng.random_range(0..6) {
                0 => format!("fixed_probability = {}\n", rng.random_range(0.05f64..1.0)),
                1 => format!(
                    "fixed_fan_in = {}\n",
                    rng.random_range(1..=(*pre_size - 1).max(1))
                ),
                2 => format!("fixed_fan_out = {}\n", rng.random_range(1..size)),
                3 if *pre_size == size && !own => "one_to_one = true\n".to_string(),
                _ => String::new(),
            };
            let lo = rng.random_range(back as u32..=6);
            let delay = match (conn.is_empty(), rng.random_range(0..3)) {
                (false, 0) => format!("delay_ms = [{lo}.0, {}.0]\n", lo + rng.random_range(0..=20)),
                (_, 1) if !back => String::new(),
                _ => format!("delay_ms = {lo}.0\n"),
            };
            let autapses = match own {
                true => format!("autapses = {}\n", rng.random_bool(0.5)),
                false => String::new(),
            };
            text += &format!(
                "[[projection]]\nname = \"p{k}\"\npre = \"{pre_name}\"\npost = \"lif{i}\"\nsign = {sign}\nbias = {bias}\n{conn}{delay}{autapses}"
            );
            k += 1;
        }
    }
    text
}
