//! Random networks of the physical models (docs/arithmetic.md §7-§8):
//! every neuron model and preset, every synapse kind, the lif's resets,
//! dopamine modulation, delays, recurrence and records, for the engines to
//! agree on.

use rand::{RngExt, rngs::StdRng};

/// A random population of a neuron model, named `n{i}`: iaf, Izhikevich
/// (a preset or not, the cubic u-nullcline or not) or the lif; with
/// dopamine modulation or not.
fn neuron_population(rng: &mut StdRng, i: usize, size: usize, dt: f64) -> (String, &'static str) {
    let mut text = format!("[[population]]\nname = \"n{i}\"\nsize = {size}\n");
    let kind = ["iaf", "izhikevich", "izhikevich", "lif"][rng.random_range(0..4)];
    text += &format!("kind = \"{kind}\"\n");
    match kind {
        "iaf" => {
            text += &format!(
                "tau_m_ms = {}\nt_ref_ms = {}\ni_ext_pa = {}\nsubsteps = {}\n",
                rng.random_range(2.0f64..30.0),
                dt * rng.random_range(0..5) as f64,
                rng.random_range(0.0f32..500.0),
                rng.random_range(1..=3)
            );
        }
        "izhikevich" => {
            let preset = ["msn", "fsi", "rs", "msn_humphries", ""][rng.random_range(0..5)];
            if !preset.is_empty() {
                text += &format!("preset = \"{preset}\"\n");
            }
            if preset.is_empty() && rng.random_bool(0.5) {
                text += "v_b_mv = -60.0\nb = 0.05\n";
            }
            text += &format!(
                "i_ext_pa = {}\nsubsteps = {}\n",
                rng.random_range(0.0f32..400.0),
                rng.random_range(1..=4)
            );
        }
        _ => {
            let reset = ["subtract", "zero", "none"][rng.random_range(0..3)];
            text += &format!(
                "beta = {}\nthreshold = {}\nreset = \"{reset}\"\n",
                rng.random_range(0.0f32..1.0),
                [0.25f32, 1.0][rng.random_range(0..2)]
            );
        }
    }
    if rng.random_bool(0.5) {
        text += &format!("dopamine = \"{}\"\n", ["d1", "d2"][rng.random_range(0..2)]);
    }
    (text, kind)
}

/// A random network: 1-2 Poisson populations, 2-4 neuron populations, a
/// dt of 0.25 to 1 ms, projections of every synapse kind the post takes
/// (backwards and onto themselves with a delay), a dopamine schedule, and
/// records of random neurons, variables and periods.
pub fn random_model_network(rng: &mut StdRng, max_size: usize) -> String {
    random_network_of(rng, max_size, false)
}

/// A random network the GPU's block schedule runs: no plasticity, no
/// records, and every projection that feeds back delayed by at least 3
/// steps (`plan::MIN_BLOCK_LEN`).
pub fn random_block_network(rng: &mut StdRng, max_size: usize) -> String {
    random_network_of(rng, max_size, true)
}

fn random_network_of(rng: &mut StdRng, max_size: usize, blockable: bool) -> String {
    let dt = [0.25, 0.5, 1.0][rng.random_range(0..3)];
    let mut text = format!("dt_ms = {dt}\n");
    let n_poisson = rng.random_range(1..=2);
    let mut pops: Vec<(String, usize, &str)> = Vec::new();
    for i in 0..n_poisson {
        let (pop, size) = super::random_poisson(rng, i, 0.05, 0.3, max_size);
        text += &pop;
        pops.push((format!("in{i}"), size, "poisson"));
    }
    let n = rng.random_range(2..=4);
    for i in 0..n {
        let size = rng.random_range(2..=max_size);
        let (pop, kind) = neuron_population(rng, i, size, dt);
        text += &pop;
        pops.push((format!("n{i}"), size, kind));
    }
    // (projection, post) of the stateful synapses, for the records
    let mut stateful: Vec<(String, usize)> = Vec::new();
    let mut k = 0;
    for post in n_poisson..pops.len() {
        let (post_name, _, post_kind) = pops[post].clone();
        for _ in 0..rng.random_range(1..=3) {
            let pre = rng.random_range(0..pops.len());
            let back = pre >= post;
            let physical = post_kind != "lif";
            let synapse = match physical {
                true => [
                    "instant",
                    "exp_current",
                    "exp_conductance",
                    "ampa",
                    "gaba_a",
                    "nmda",
                ][rng.random_range(0..6)],
                false => "instant",
            };
            let conductance = !matches!(synapse, "instant" | "exp_current");
            // (low, high) of the weights
            let (low, high) = match (conductance, physical) {
                (true, _) => (0.0, rng.random_range(0.1f32..4.0)),
                (false, true) => (
                    rng.random_range(-100.0f32..0.0),
                    rng.random_range(0.0f32..300.0),
                ),
                (false, false) => (-1.0, 1.0),
            };
            let weights = match (conductance, physical) {
                (true, _) => format!("init = \"uniform\"\nlow = 0.0\nhigh = {high}\n"),
                (false, true) => format!(
                    "init = \"uniform\"\nlow = {low}\nhigh = {high}\nbias = {}\nsign = {}\n",
                    rng.random_bool(0.3),
                    [1, -1][rng.random_range(0..2)]
                ),
                (false, false) => format!("sign = {}\n", [1, -1][rng.random_range(0..2)]),
            };
            let mut extra = String::new();
            if synapse != "instant" && rng.random_bool(0.5) {
                extra += &format!("tau_ms = {}\n", rng.random_range(1.0f64..50.0));
            }
            if synapse == "exp_conductance" {
                extra += &format!("e_rev_mv = {}\n", rng.random_range(-80.0f32..0.0));
            }
            if synapse == "nmda" && rng.random_bool(0.5) {
                extra += &format!("mg_mm = {}\n", rng.random_range(0.5f32..2.0));
            }
            let conn = match rng.random_range(0..3) {
                0 => format!("fixed_probability = {}\n", rng.random_range(0.1f64..1.0)),
                _ => String::new(),
            };
            let least = match (back, blockable) {
                (true, true) => 3,
                (back, _) => back as u32,
            };
            let steps = rng.random_range(least..=4);
            let delay = match steps {
                0 => String::new(),
                s => format!("delay_ms = {}\n", s as f64 * dt),
            };
            let autapses = match pre == post {
                true => "autapses = true\n",
                false => "",
            };
            let name = format!("p{k}");
            // three-factor plasticity on a dense projection, through its
            // synapse kind
            let plastic = match conn.is_empty() && !blockable && rng.random_bool(0.3) {
                true => format!(
                    "[projection.plasticity]\ntau_pre_ms = 10.0\ntau_post_ms = 15.0\ntau_c_ms = 50.0\na_plus = 1.0\na_minus = 0.8\nlearning_rate = {}\nw_min = {low}\nw_max = {}\n",
                    rng.random_range(0.001f32..0.05) * high,
                    high * 1.5
                ),
                false => String::new(),
            };
            text += &format!(
                "[[projection]]\nname = \"{name}\"\npre = \"{}\"\npost = \"{post_name}\"\nsynapse = \"{synapse}\"\n{weights}{extra}{conn}{delay}{autapses}{plastic}",
                pops[pre].0
            );
            if synapse != "instant" {
                stateful.push((name, post));
            }
            k += 1;
        }
    }
    text += &format!(
        "[dopamine]\ntau_ms = {}\nrewards = [[{}, 1.5], [{}, 4.0]]\n",
        rng.random_range(5.0f64..80.0),
        dt * 3.0,
        dt * 20.0
    );
    for (post, (name, size, kind)) in pops.iter().enumerate().skip(n_poisson) {
        if blockable || rng.random_bool(0.4) {
            continue;
        }
        let mut vars = vec!["\"v\"".to_string()];
        match *kind {
            "iaf" => vars.push("\"refractory\"".into()),
            "izhikevich" => vars.push("\"u\"".into()),
            _ => {}
        }
        vars.extend(
            stateful
                .iter()
                .filter(|s| s.1 == post)
                .map(|s| format!("\"{}\"", s.0)),
        );
        let neurons: Vec<String> = (0..rng.random_range(1..=3))
            .map(|_| rng.random_range(0..*size).to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        text += &format!(
            "[[record]]\npopulation = \"{name}\"\nneurons = [{}]\nvariables = [{}]\nevery_ms = {}\n",
            neurons.join(", "),
            vars.join(", "),
            dt * rng.random_range(1..=3) as f64
        );
    }
    text
}
