//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod delays;
pub mod models;
pub mod npy;

use nacc::engine::{Engine, InputSource};
use nacc::network::Model;
use nacc::network::Network;
use nacc::record::{ChunkSpikes, SpikeRecord};
use rand::{RngExt, rngs::StdRng};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// `text` with the first `from` replaced by `to` must be refused as bad
/// input (exit code 2); its message (the file called `test.toml`).
pub fn config_error(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the network");
    let e = Network::from_toml_str(&text.replacen(from, to, 1), "test.toml")
        .expect_err("must be rejected");
    assert_eq!(e.exit_code(), 2);
    e.to_string()
}

/// The message names every part.
pub fn assert_names(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} does not name {p:?}");
    }
}

/// Runs the nacc binary in `dir` and waits for it.
pub fn nacc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("nacc runs")
}

/// Starts the nacc binary in `dir`, its stderr piped (stdout dropped).
pub fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nacc"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nacc starts")
}

/// Sends `sig` ("-INT", "-TERM", "-KILL") to a child.
#[cfg(unix)]
pub fn kill(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig}");
}

/// The default network with `fc1` (e.g. "fixed_fan_in = 7") and `fc3`
/// (e.g. "fixed_probability = 0.3") added to its two input projections.
pub fn sparse_net(fc1: &str, fc3: &str) -> Network {
    let text = nacc::config::DEFAULT_TOML
        .replacen("init = \"linear\"", &format!("init = \"linear\"\n{fc1}"), 1)
        .replacen("name = \"fc3\"", &format!("name = \"fc3\"\n{fc3}"), 1);
    Network::from_toml_str(&text, "sparse").unwrap()
}

/// The default network with `inter` as large as `input` (100), fc1
/// `one_to_one`, and the other two projections given `fc2` and `fc3`.
pub fn one_to_one_net(fc2: &str, fc3: &str) -> Network {
    let text = nacc::config::DEFAULT_TOML
        .replacen("size = 50", "size = 100", 1)
        .replacen(
            "init = \"linear\"",
            "init = \"linear\"\none_to_one = true",
            1,
        )
        .replacen("name = \"fc2\"", &format!("name = \"fc2\"\n{fc2}"), 1)
        .replacen("name = \"fc3\"", &format!("name = \"fc3\"\n{fc3}"), 1);
    Network::from_toml_str(&text, "one to one").unwrap()
}

/// Given input spikes: `x[p][t][n]` in {0, 1} for every Poisson population `p`.
pub fn given_input(net: &Network, x: &[Vec<Vec<u8>>]) -> InputSource {
    let mut spikes = Vec::new();
    let mut steps = 0;
    for (p, pop) in net.populations.iter().enumerate() {
        if !pop.is_poisson() {
            continue;
        }
        let wps = pop.words_per_step();
        steps = x[p].len();
        let mut bits = vec![0u32; steps * wps];
        for (t, row) in x[p].iter().enumerate() {
            assert_eq!(row.len(), pop.size);
            for (i, &s) in row.iter().enumerate() {
                bits[t * wps + i / 32] |= (s as u32) << (i % 32);
            }
        }
        spikes.push((p, bits));
    }
    InputSource::Given { steps, spikes }
}

/// Per step: spikes `[pop][neuron]` and membranes `[pop][neuron]`.
pub type Trace = (Vec<Vec<Vec<u8>>>, Vec<Vec<Vec<f32>>>);

/// Runs an engine one step per chunk and returns, per step, the spikes
/// `[pop][neuron]` and the membranes `[pop][neuron]` after that step.
pub fn run_stepwise(
    engine: &mut dyn Engine,
    model: &Model,
    input: &InputSource,
    steps: usize,
) -> Trace {
    let net = &model.net;
    let mut spikes = Vec::new();
    let mut membranes = Vec::new();
    let mut buf = ChunkSpikes::new(net, 1);
    for t in 0..steps {
        input.fill(net, t as u64, &mut buf);
        engine.run_chunk(&mut buf).unwrap();
        spikes.push(
            net.populations
                .iter()
                .enumerate()
                .map(|(p, pop)| {
                    let mut row = vec![0; pop.size];
                    nacc::record::unpack_row(&buf.bits[p], &mut row);
                    row
                })
                .collect(),
        );
        membranes.push(engine.membranes().unwrap());
    }
    (spikes, membranes)
}

/// The spikes of `pop` as `[t][n]` bytes from a record.
pub fn unpack(rec: &nacc::record::PopRecord) -> Vec<Vec<u8>> {
    (0..rec.steps())
        .map(|t| (0..rec.size).map(|n| rec.spiked(t, n) as u8).collect())
        .collect()
}

/// A random network: 1-2 Poisson and 1-4 LIF populations of 1..=max_size
/// neurons, each LIF population fed by 1-3 projections from earlier ones
/// (a DAG), every reset mode, beta 0, 1 or between, several thresholds,
/// excitatory and inhibitory, bias on and off, dense and sparse.
pub fn random_network(rng: &mut StdRng, max_size: usize) -> String {
    let n_poisson = rng.random_range(1..=2);
    let n_lif = rng.random_range(1..=4);
    let mut text = String::new();
    let mut names = Vec::new();
    for i in 0..n_poisson {
        let (pop, size) = random_poisson(rng, i, 0.6, 1.0, max_size);
        text += &pop;
        names.push((format!("in{i}"), size));
    }
    let mut projs = String::new();
    for i in 0..n_lif {
        let beta = match rng.random_range(0..4) {
            0 => 0.0,
            1 => 1.0,
            _ => rng.random_range(0.0f32..1.0),
        };
        let threshold = [0.25f32, 1.0, 3.0][rng.random_range(0..3)];
        let reset = ["subtract", "zero", "none"][rng.random_range(0..3)];
        let name = format!("lif{i}");
        let size = rng.random_range(1..=max_size);
        text += &format!(
            "[[population]]\nname = \"{name}\"\nsize = {size}\nkind = \"lif\"\nbeta = {beta}\nthreshold = {threshold}\nreset = \"{reset}\"\n"
        );
        // 1..3 incoming projections from earlier populations: a DAG.
        for k in 0..rng.random_range(1..=3) {
            let (pre, pre_size) = &names[rng.random_range(0..names.len())];
            let sign = if rng.random_bool(0.3) { -1 } else { 1 };
            let bias = rng.random_bool(0.5);
            // dense, or sparse by probability or fixed fan-in
            let conn = match rng.random_range(0..4) {
                0 => format!("fixed_probability = {}\n", rng.random_range(0.05f64..1.0)),
                1 => format!("fixed_fan_in = {}\n", rng.random_range(1..=*pre_size)),
                _ => String::new(),
            };
            projs += &format!(
                "[[projection]]\nname = \"p{i}_{k}\"\npre = \"{pre}\"\npost = \"{name}\"\nsign = {sign}\nbias = {bias}\n{conn}"
            );
        }
        names.push((name, size));
    }
    text + &projs
}

/// Poisson population `in<i>` of 1..=max_size neurons with rates in a
/// random range within [0, hi_max] starting below lo_max: its TOML and size.
pub fn random_poisson(
    rng: &mut StdRng,
    i: usize,
    lo_max: f32,
    hi_max: f32,
    max_size: usize,
) -> (String, usize) {
    let lo: f32 = rng.random_range(0.0..lo_max);
    let hi: f32 = rng.random_range(lo..=hi_max);
    let size = rng.random_range(1..=max_size);
    let text = format!(
        "[[population]]\nname = \"in{i}\"\nsize = {size}\nkind = \"poisson\"\nrate = [{lo}, {hi}]\n"
    );
    (text, size)
}

/// Random weights with random scales, so that F varies from 0 to 30.
pub fn randomise_weights(rng: &mut StdRng, model: &mut Model) {
    for w in &mut model.weights {
        let scale = 2f32.powi(rng.random_range(-12..8));
        let n = w.b.len();
        for x in &mut w.w {
            *x = rng.random_range(-1.0f32..1.0) * scale;
        }
        if w.b.iter().any(|&b| b != 0.0) {
            for x in &mut w.b {
                *x = rng.random_range(-1.0f32..1.0) * scale;
            }
        }
        assert_eq!(w.b.len(), n);
    }
}

/// A network of LIF populations `(name, bias)` of `size` neurons each (beta
/// 1, no reset, threshold 1) fed only their bias (the input is silent), in
/// that order, so that their membranes climb by the bias each step until
/// they overflow; and per population the step at which they first do, found
/// by repeating the f32 operations of the membrane update. The network file
/// gives every bias as 1 (a network file allows at most 1e6); the biases
/// that overflow go in through [`overflowing_model`] or a bias file.
pub fn overflowing_populations(size: usize, biases: &[(&str, f32)]) -> (String, Vec<u64>) {
    let mut text = String::from(
        "[[population]]\nname = \"in\"\nsize = 4\nkind = \"poisson\"\nrate = [0.0, 0.0]\n",
    );
    for (name, _) in biases {
        text += &format!(
            "[[population]]\nname = \"{name}\"\nsize = {size}\nkind = \"lif\"\nbeta = 1.0\nthreshold = 1.0\nreset = \"none\"\n"
        );
    }
    let mut steps = Vec::new();
    for (name, bias) in biases {
        text += &format!(
            "[[projection]]\nname = \"to_{name}\"\npre = \"in\"\npost = \"{name}\"\ninit = \"constant\"\nweight = 0.0\nbias_value = 1.0\n"
        );
        let (mut v, mut t) = (0f32, 0u64);
        loop {
            v = 1.0 * v + bias;
            if !v.is_finite() {
                break;
            }
            t += 1;
        }
        steps.push(t);
    }
    (text, steps)
}

/// The model of [`overflowing_populations`], with its biases set.
pub fn overflowing_model(size: usize, biases: &[(&str, f32)]) -> (Model, Vec<u64>) {
    let (text, steps) = overflowing_populations(size, biases);
    let mut model = Model::build(Network::from_toml_str(&text, "overflowing").unwrap(), 0).unwrap();
    for (w, (_, bias)) in model.weights.iter_mut().zip(biases) {
        w.b.fill(*bias);
    }
    (model, steps)
}

/// The `grow` population of [`overflowing_populations`] (3 neurons, bias
/// 1e36) and the step at which its membranes overflow.
pub fn overflowing_network() -> (String, u64) {
    let (text, steps) = overflowing_populations(3, &[("grow", 1e36)]);
    (text, steps[0])
}

/// The model of [`overflowing_network`], with its bias set.
pub fn overflowing_network_model() -> (Model, u64) {
    let (model, steps) = overflowing_model(3, &[("grow", 1e36)]);
    (model, steps[0])
}

/// A random network with reward: a stimulus on `input`, dopamine from
/// explicit rewards and a rule, D1 and D2 gains, and plastic projections
/// from a Poisson and from a LIF population, excitatory and inhibitory,
/// with learning rates of both signs and up to ones that drive weights to
/// their bounds within a few steps.
pub fn random_reward_network(rng: &mut StdRng) -> String {
    let n_in = rng.random_range(8..120);
    let n_inter = rng.random_range(4..60);
    let n_d1 = rng.random_range(1..50);
    let n_d2 = rng.random_range(1..50);
    let a = rng.random_range(1..n_in);
    let lr = |rng: &mut StdRng| {
        let sign = if rng.random_bool(0.3) { -1.0 } else { 1.0 };
        sign * 10f64.powf(rng.random_range(-6.0..-1.0))
    };
    let tau = |rng: &mut StdRng| 10f64.powf(rng.random_range(-0.5..2.7));
    let plastic = |rng: &mut StdRng, w_max: f64| {
        format!(
            "[projection.plasticity]\ntau_pre_ms = {}\ntau_post_ms = {}\ntau_c_ms = {}\na_plus = {}\na_minus = {}\nlearning_rate = {:e}\nw_min = 0.0\nw_max = {w_max}\n",
            tau(rng),
            tau(rng),
            tau(rng),
            rng.random_range(0.0..2.0f32),
            rng.random_range(0.0..2.0f32),
            lr(rng),
        )
    };
    let p1 = plastic(rng, 0.3);
    let p2 = plastic(rng, 0.25);
    let p3 = plastic(rng, 0.2);
    format!(
        r#"
dt_ms = 1.0
[[population]]
name = "input"
size = {n_in}
kind = "poisson"
rate = [0.02, {rate_hi}]
[[population]]
name = "inter"
size = {n_inter}
kind = "lif"
beta = {b1}
[[population]]
name = "d1"
size = {n_d1}
kind = "lif"
beta = {b2}
dopamine = "d1"
da_gain = {g1}
[[population]]
name = "d2"
size = {n_d2}
kind = "lif"
beta = {b3}
reset = "zero"
dopamine = "d2"
da_gain = {g2}
[[projection]]
name = "in_inter"
pre = "input"
post = "inter"
bias = false
init = "uniform"
low = 0.0
high = {h1}
[[projection]]
name = "in_d1"
pre = "input"
post = "d1"
bias = true
init = "uniform"
low = 0.0
high = 0.3
{p1}
[[projection]]
name = "inter_d1"
pre = "inter"
post = "d1"
sign = -1
bias = false
init = "uniform"
low = 0.0
high = 0.2
{p2}
[[projection]]
name = "in_d2"
pre = "input"
post = "d2"
bias = false
init = "constant"
weight = 0.1
{p3}
[[projection]]
name = "inter_d2"
pre = "inter"
post = "d2"
sign = -1
bias = false
init = "constant"
weight = 0.05
[stimulus]
population = "input"
trial_ms = {trial}
present_ms = {present}
sequence = ["A", "B", "B"]
[[stimulus.pattern]]
name = "A"
neurons = [0, {a}]
rate = {ra}
[[stimulus.pattern]]
name = "B"
neurons = [{a}, {n_in}]
rate = {rb}
[dopamine]
tau_ms = {tau_d}
rewards = [[{r1}, {amt1}], [{r2}, -0.5]]
[[dopamine.rule]]
pattern = "A"
delay_ms = {delay}
amount = {amt2}
"#,
        rate_hi = rng.random_range(0.05..0.4),
        b1 = rng.random_range(0.5..0.95),
        b2 = rng.random_range(0.5..0.95),
        b3 = rng.random_range(0.5..0.95),
        g1 = rng.random_range(0.0..2.0),
        g2 = rng.random_range(0.0..2.0),
        h1 = rng.random_range(0.05..0.4),
        trial = rng.random_range(20..150),
        present = rng.random_range(5..20),
        ra = rng.random_range(0.1..0.8),
        rb = rng.random_range(0.1..0.8),
        tau_d = tau(rng),
        r1 = rng.random_range(0..300),
        amt1 = rng.random_range(0.1..3.0),
        r2 = rng.random_range(0..300),
        delay = rng.random_range(0..40),
        amt2 = rng.random_range(0.1..3.0),
    )
}

/// The projections of `model` with every sparse one by post (the form the
/// engines gather), shared as the engines take them.
pub fn all_by_post(model: &Model) -> Vec<std::sync::Arc<nacc::network::Quantized>> {
    model
        .quantize_for(&vec![true; model.net.projections.len()])
        .unwrap()
        .into_iter()
        .map(std::sync::Arc::new)
        .collect()
}

/// A CPU engine on `threads` threads that gathers every sparse projection
/// by post (from a Poisson population a block at a time, else step by
/// step), dense projections from Poisson populations of at least
/// `block_min` synapses summing in blocks (None: the default).
pub fn gathering_engine(
    model: &Model,
    block_min: Option<usize>,
    threads: usize,
) -> nacc::engine::cpu::CpuEngine {
    use nacc::engine::plan::{Plan, Sums};
    let opts = nacc::tuning::CpuOptions {
        sparse: None,
        block_min_synapses: block_min,
    };
    let mut plan = Plan::cpu(&model.net, &opts);
    for (j, p) in model.net.projections.iter().enumerate() {
        if !p.conn.is_dense() {
            plan.sums[j] = Sums::Gather;
        }
    }
    let threads = nacc::threads::Threads::new(threads).unwrap();
    nacc::engine::cpu::CpuEngine::with_quantized(model, &all_by_post(model), &plan, threads)
}

/// Where two traces differ first (`names`: what produced each): step,
/// population, neuron and both values. Membranes are equal as bit patterns
/// or as numbers (+0 and -0 alike).
pub fn first_trace_difference(
    model: &Model,
    (s1, v1): &Trace,
    (s2, v2): &Trace,
    names: [&str; 2],
) -> Option<String> {
    let [a, b] = names;
    if s1.len() != s2.len() {
        return Some(format!("{a} has {} steps, {b} {}", s1.len(), s2.len()));
    }
    for t in 0..s1.len() {
        for (p, pop) in model.net.populations.iter().enumerate() {
            for n in 0..pop.size {
                let (x, y) = (s1[t][p][n], s2[t][p][n]);
                if x != y {
                    return Some(format!(
                        "spikes differ first at step {t}, population `{}`, neuron {n}: {a} {x} vs {b} {y}",
                        pop.name
                    ));
                }
                if pop.is_poisson() {
                    continue;
                }
                let (x, y) = (v1[t][p][n], v2[t][p][n]);
                if x.to_bits() != y.to_bits() && x != y {
                    return Some(format!(
                        "membranes differ first at step {t}, population `{}`, neuron {n}: {a} {x:e} vs {b} {y:e}",
                        pop.name
                    ));
                }
            }
        }
    }
    None
}

/// Where two runs, each a record and its final membranes, differ first
/// (`names`: what produced each): the earliest step whose spikes differ
/// (population, neuron), else the final membranes (bit patterns).
pub fn first_run_difference(
    model: &Model,
    (r1, v1): (&SpikeRecord, &[Vec<f32>]),
    (r2, v2): (&SpikeRecord, &[Vec<f32>]),
    names: [&str; 2],
) -> Option<String> {
    let [a, b] = names;
    let pops = &model.net.populations;
    if let Some(p) = (0..pops.len()).find(|&p| r1.pops[p].steps() != r2.pops[p].steps()) {
        let (x, y) = (r1.pops[p].steps(), r2.pops[p].steps());
        return Some(format!("`{}`: {a} has {x} steps, {b} {y}", pops[p].name));
    }
    for t in 0..r1.pops.first().map_or(0, |r| r.steps()) {
        for (p, pop) in pops.iter().enumerate() {
            let (x, y) = (&r1.pops[p], &r2.pops[p]);
            if let Some(n) = (0..pop.size).find(|&n| x.spiked(t, n) != y.spiked(t, n)) {
                return Some(format!(
                    "spikes differ first at step {t}, population `{}`, neuron {n}",
                    pop.name
                ));
            }
        }
    }
    for (p, pop) in pops.iter().enumerate() {
        if let Some(n) = (0..v1[p].len()).find(|&n| v1[p][n].to_bits() != v2[p][n].to_bits()) {
            return Some(format!(
                "final membranes differ first at population `{}`, neuron {n}: {a} {:e} vs {b} {:e}",
                pop.name, v1[p][n], v2[p][n]
            ));
        }
    }
    None
}

/// Asserts that the process behind `o` exited with `code` and that its
/// stderr names every one of `parts` (`what` says which run, in the
/// message); returns the stderr.
pub fn assert_exit_naming<S: AsRef<str>>(
    o: &std::process::Output,
    code: i32,
    parts: &[S],
    what: &str,
) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    for part in parts {
        let part = part.as_ref();
        assert!(err.contains(part), "{what}: {err:?} lacks {part:?}");
    }
    err
}
