//! Sparse connectivity: `fixed_fan_in = k`, `fixed_fan_out = k`,
//! `one_to_one` and `fixed_probability = p`, built from the seed without a
//! dense matrix.

use nacc::config::DEFAULT_TOML;

use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
use nacc::network::Model;
use nacc::network::Network;

mod common;
use common::{one_to_one_net, sparse_net};

#[test]
fn fixed_fan_in_gives_each_post_exactly_k_distinct_pres() {
    let net = sparse_net("fixed_fan_in = 7", "fixed_fan_in = 100")
        .scaled(3)
        .unwrap(); // 300/150/60
    let m = Model::build(net, 5).unwrap();
    for (j, k) in [(0usize, 7usize), (2, 100)] {
        let rows = m.weights[j].sparse.as_ref().expect("sparse");
        let n_post = m.net.populations[m.net.projections[j].post].size;
        assert_eq!(rows.ptr.len(), n_post + 1);
        let mut used = vec![0u32; 300];
        for post in 0..n_post {
            let pres = &rows.pre[rows.ptr[post]..rows.ptr[post + 1]];
            assert_eq!(pres.len(), k, "post {post}");
            assert!(
                pres.windows(2).all(|w| w[0] < w[1]),
                "pres of post {post} not distinct and ascending"
            );
            assert!(pres.iter().all(|&i| i < 300));
            for &i in pres {
                used[i as usize] += 1;
            }
        }
        if k == 7 {
            // 150 posts x 7 = 1050 draws over 300 pres: each pre's count is
            // binomial(1050, 1/300), mean 3.5; none may be wildly off
            assert!(used.iter().all(|&c| c <= 16), "{used:?}");
            assert!(used.iter().filter(|&&c| c == 0).count() < 30);
        }
    }
    // full fan-in is every pre
    let full = Model::build(sparse_net("fixed_fan_in = 100", ""), 1).unwrap();
    let rows = full.weights[0].sparse.as_ref().unwrap();
    assert!(
        rows.pre[..100]
            .iter()
            .enumerate()
            .all(|(i, &p)| p == i as u32)
    );
}

#[test]
fn fixed_probability_counts_are_binomial() {
    let p = 0.2f64;
    let net = sparse_net(&format!("fixed_probability = {p}"), "")
        .scaled(10)
        .unwrap(); // 1000 -> 500
    let m = Model::build(net, 2).unwrap();
    let rows = m.weights[0].sparse.as_ref().unwrap();
    let total = rows.pre.len() as f64;
    let n = 1000.0 * 500.0;
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (total - n * p).abs() < 5.0 * sd,
        "{total} synapses, expected {} +- {sd}",
        n * p
    );
    // per post: binomial(1000, 0.2), sd 12.6
    for post in 0..500 {
        let c = (rows.ptr[post + 1] - rows.ptr[post]) as f64;
        assert!((c - 200.0).abs() < 6.0 * 12.65, "post {post}: {c}");
    }
}

#[test]
fn a_sparse_network_built_twice_is_identical_and_weights_match_the_dense_draws() {
    let a = Model::build(
        sparse_net("fixed_fan_in = 13", "fixed_probability = 0.3"),
        9,
    )
    .unwrap();
    let b = Model::build(
        sparse_net("fixed_fan_in = 13", "fixed_probability = 0.3"),
        9,
    )
    .unwrap();
    assert_eq!(a.weights, b.weights);
    let c = Model::build(
        sparse_net("fixed_fan_in = 13", "fixed_probability = 0.3"),
        10,
    )
    .unwrap();
    assert_ne!(a.weights[0].sparse, c.weights[0].sparse);
    // a synapse's weight is drawn as the dense weight at its place, with the
    // nn.Linear bound of its fan-in
    let dense = Model::build(Network::default_nacc(), 9).unwrap();
    let (w, rows) = (&a.weights[0], a.weights[0].sparse.as_ref().unwrap());
    let (bound_sparse, bound_dense) = (1.0 / 13f32.sqrt(), 1.0 / 100f32.sqrt());
    for post in 0..50 {
        for k in rows.ptr[post]..rows.ptr[post + 1] {
            let pre = rows.pre[k] as usize;
            let d = dense.weights[0].w[post * 100 + pre];
            // same uniform draw u: w = -b + 2b u for both bounds
            let u_dense = (d + bound_dense) / (2.0 * bound_dense);
            let u_sparse = (w.w[k] + bound_sparse) / (2.0 * bound_sparse);
            assert!((u_dense - u_sparse).abs() < 1e-4, "post {post} pre {pre}");
        }
    }
}

#[test]
fn sparse_cpu_runs_are_identical_across_thread_counts() {
    // fc1 1500 -> 750 with p = 0.95 is 1.07 M synapses: scattered by threads
    let net = sparse_net("fixed_probability = 0.95", "fixed_fan_in = 90")
        .scaled(15)
        .unwrap();
    assert!(net.synapses(0) >= nacc::engine::plan::PARALLEL_MIN_SYNAPSES as u64);
    let model = Model::build(net, 4).unwrap();
    let input = InputSource::generated(&model);
    let run = |threads| {
        let mut e = CpuEngine::with_threads(&model, threads).unwrap();
        simulate(&mut e, &model.net, &input, 20, 6, |_| {}).unwrap()
    };
    let one = run(1);
    assert!(one.pops[1].total() > 0 && one.pops[2].total() > 0);
    assert!(run(2) == one && run(3) == one);
}

#[test]
fn sparse_config_errors_name_the_field() {
    for (line, parts) in [
        (
            "fixed_fan_in = 0",
            &["fc1", "fixed_fan_in", "0", "1..=100"][..],
        ),
        (
            "fixed_fan_in = 101",
            &["fixed_fan_in", "101", "`input`"][..],
        ),
        (
            "fixed_probability = 0.0",
            &["fixed_probability", "(0, 1]"][..],
        ),
        ("fixed_probability = 1.5", &["fixed_probability", "1.5"][..]),
        (
            "fixed_probability = 0.5\nfixed_fan_in = 3",
            &["not both"][..],
        ),
    ] {
        let text = DEFAULT_TOML.replacen(
            "init = \"linear\"",
            &format!("init = \"linear\"\n{line}"),
            1,
        );
        let e = Network::from_toml_str(&text, "t").unwrap_err().to_string();
        for p in parts {
            assert!(e.contains(p), "{line}: {e:?} lacks {p:?}");
        }
    }
}

#[test]
fn sparse_network_round_trips_through_config_toml() {
    let net = sparse_net("fixed_fan_in = 13", "fixed_probability = 0.3");
    let again = Network::from_toml_str(&net.to_toml(), "round trip").unwrap();
    assert_eq!(net, again);
}

#[test]
fn the_sparse_1m_asset_is_the_network_of_the_benchmark() {
    // the file users run and `nacc bench` reads: issue 5's sizes and fan-ins
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sparse_1m.toml");
    let net = Network::from_file(&path).unwrap();
    let sizes: Vec<(&str, usize)> = net
        .populations
        .iter()
        .map(|p| (p.name.as_str(), p.size))
        .collect();
    assert_eq!(
        sizes,
        [("input", 500_000), ("inter", 300_000), ("msn", 200_000)]
    );
    let conns: Vec<(&str, &str, &str, nacc::network::Connectivity)> = net
        .projections
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                net.populations[p.pre].name.as_str(),
                net.populations[p.post].name.as_str(),
                p.conn,
            )
        })
        .collect();
    use nacc::network::Connectivity::FixedFanIn;
    assert_eq!(
        conns,
        [
            ("fc1", "input", "inter", FixedFanIn(1000)),
            ("fc2", "inter", "msn", FixedFanIn(100)),
            ("fc3", "input", "msn", FixedFanIn(1000)),
        ]
    );
    assert_eq!(
        net.total_synapses(),
        300_000 * 1000 + 200_000 * 100 + 200_000 * 1000
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        nacc::bench::SPARSE_1M_TOML
    );
}

#[test]
fn fixed_fan_out_gives_each_pre_exactly_k_distinct_posts() {
    let net = one_to_one_net("fixed_fan_out = 7", "fixed_fan_out = 20");
    let m = Model::build(net.clone(), 5).unwrap();
    let again = Model::build(net.clone(), 5).unwrap();
    assert!(m.weights == again.weights, "a pure function of the seed");
    assert_ne!(m.weights[1], Model::build(net, 6).unwrap().weights[1]);
    for (j, k, n_pre, n_post) in [(1usize, 7usize, 100usize, 20usize), (2, 20, 100, 20)] {
        let rows = m.weights[j].sparse.as_ref().expect("sparse");
        assert_eq!(rows.ptr.len(), n_post + 1);
        assert_eq!(rows.pre.len(), k * n_pre, "k synapses a pre neuron");
        let mut posts_of = vec![Vec::new(); n_pre];
        for post in 0..n_post {
            let pres = &rows.pre[rows.ptr[post]..rows.ptr[post + 1]];
            assert!(
                pres.windows(2).all(|w| w[0] < w[1]),
                "post {post}: ascending"
            );
            for &i in pres {
                posts_of[i as usize].push(post);
            }
        }
        // each pre to exactly k distinct posts (distinct: ascending per post
        // means a pre appears once in a post's list)
        assert!(posts_of.iter().all(|p| p.len() == k), "{posts_of:?}");
        if k == 20 {
            // every post of 20: k = n_post connects all
            assert!(posts_of.iter().all(|p| *p == (0..20).collect::<Vec<_>>()));
        }
    }
}

#[test]
fn one_to_one_connects_neuron_i_to_neuron_i_with_its_dense_draw() {
    let m = Model::build(one_to_one_net("", ""), 3).unwrap();
    let rows = m.weights[0].sparse.as_ref().expect("sparse");
    assert_eq!(rows.ptr, (0..=100).collect::<Vec<_>>());
    assert_eq!(rows.pre, (0..100).collect::<Vec<u32>>());
    // the weight of pre i -> post i is the dense projection's draw at that
    // place, scaled to the bound of a fan-in of 1
    let text = DEFAULT_TOML.replacen("size = 50", "size = 100", 1);
    let dense = Model::build(Network::from_toml_str(&text, "dense").unwrap(), 3).unwrap();
    for i in 0..100 {
        let d = dense.weights[0].w[i * 100 + i];
        let u_dense = (d + 0.1) / 0.2;
        let u_sparse = (m.weights[0].w[i] + 1.0) / 2.0;
        assert!((u_dense - u_sparse).abs() < 1e-4, "neuron {i}");
    }
}

#[test]
fn fan_out_and_one_to_one_runs_agree_across_threads_and_sums() {
    let net = one_to_one_net("fixed_fan_out = 9", "fixed_fan_out = 4");
    let model = Model::build(net, 8).unwrap();
    let input = InputSource::generated(&model);
    let plain = {
        let mut e = CpuEngine::with_threads(&model, 1).unwrap();
        simulate(&mut e, &model.net, &input, 60, 25, |_| {}).unwrap()
    };
    assert!(plain.pops[1].total() > 0 && plain.pops[2].total() > 0);
    // gathered by post (a block at a time), on 2 threads
    let mut e = common::gathering_engine(&model, Some(0), 2);
    assert!(simulate(&mut e, &model.net, &input, 60, 25, |_| {}).unwrap() == plain);
}

#[test]
fn fan_out_and_one_to_one_config_errors_name_the_field() {
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "fc2",
            "fixed_fan_out = 0",
            &["fc2", "fixed_fan_out", "0", "1..=20", "`msn`"],
        ),
        (
            "fc2",
            "fixed_fan_out = 21",
            &["fixed_fan_out", "21", "post population"],
        ),
        (
            "fc2",
            "one_to_one = true",
            &["one_to_one", "`inter` has 50", "`msn` has 20"],
        ),
        (
            "fc3",
            "one_to_one = true\nfixed_fan_in = 3",
            &["not both", "one_to_one"],
        ),
    ];
    for (proj, line, parts) in cases {
        let text = DEFAULT_TOML.replacen(
            &format!("name = \"{proj}\""),
            &format!("name = \"{proj}\"\n{line}"),
            1,
        );
        let e = Network::from_toml_str(&text, "t").unwrap_err().to_string();
        for p in parts {
            assert!(e.contains(p), "{line}: {e:?} lacks {p:?}");
        }
    }
}

#[test]
fn fan_out_and_one_to_one_round_trip_through_config_toml() {
    let net = one_to_one_net("fixed_fan_out = 9", "fixed_fan_out = 4");
    let again = Network::from_toml_str(&net.to_toml(), "round trip").unwrap();
    assert_eq!(net, again);
    assert!(net.to_toml().contains("one_to_one = true"));
    assert_eq!(net.synapses(0), 100);
    assert_eq!(net.synapses(1), 9 * 100);
}
