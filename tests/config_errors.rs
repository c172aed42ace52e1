//! Every config mistake is an `Input` error (exit 2) whose message names the
//! field, the value and the rule.

mod common;

use common::assert_names;

use nacc::config::DEFAULT_TOML;

use nacc::network::Network;

/// `DEFAULT_TOML` with `from` replaced by `to`: the message of its error.
fn error_with(from: &str, to: &str) -> String {
    common::config_error(DEFAULT_TOML, from, to)
}

#[test]
fn default_config_is_valid() {
    Network::from_toml_str(DEFAULT_TOML, "default").unwrap();
}

#[test]
fn unknown_population_in_projection() {
    let m = error_with("pre = \"inter\"", "pre = \"striatum\"");
    assert_names(
        &m,
        &[
            "fc2",
            "pre",
            "\"striatum\"",
            "not a population",
            "\"input\"",
        ],
    );
}

#[test]
fn unknown_post_population() {
    let m = error_with("post = \"msn\"", "post = \"vta\"");
    assert_names(&m, &["fc2", "post", "\"vta\""]);
}

#[test]
fn size_zero() {
    let m = error_with("size = 50", "size = 0");
    assert_names(&m, &["inter", "size", "= 0", "1.."]);
}

#[test]
fn size_negative() {
    let m = error_with("size = 20", "size = -3");
    assert_names(&m, &["msn", "size", "-3"]);
}

#[test]
fn beta_above_one() {
    let m = error_with("beta = 0.9", "beta = 1.5");
    assert_names(&m, &["inter", "beta", "1.5", "[0, 1]"]);
}

#[test]
fn beta_negative() {
    let m = error_with("beta = 0.9", "beta = -0.1");
    assert_names(&m, &["beta", "-0.1", "[0, 1]"]);
}

#[test]
fn threshold_zero_or_negative() {
    let m = error_with("threshold = 1.0", "threshold = 0.0");
    assert_names(&m, &["inter", "threshold", "= 0", "> 0"]);
    let m = error_with("threshold = 1.0", "threshold = -2.0");
    assert_names(&m, &["threshold", "-2", "> 0"]);
}

#[test]
fn threshold_not_finite() {
    let m = error_with("threshold = 1.0", "threshold = inf");
    assert_names(&m, &["threshold", "inf", "finite"]);
    let m = error_with("threshold = 1.0", "threshold = nan");
    assert_names(&m, &["threshold", "NaN", "finite"]);
}

#[test]
fn rate_outside_unit_interval() {
    let m = error_with("rate = [0.1, 0.5]", "rate = [0.1, 1.5]");
    assert_names(&m, &["input", "rate[1]", "1.5", "[0, 1]"]);
    let m = error_with("rate = [0.1, 0.5]", "rate = [-0.1, 0.5]");
    assert_names(&m, &["rate[0]", "-0.1"]);
}

#[test]
fn rate_lo_above_hi() {
    let m = error_with("rate = [0.1, 0.5]", "rate = [0.6, 0.5]");
    assert_names(&m, &["input", "rate", "[0.6, 0.5]", "lo <= hi"]);
}

#[test]
fn unknown_reset_mode() {
    let m = error_with("reset = \"subtract\"", "reset = \"hard\"");
    assert_names(&m, &["reset", "\"hard\"", "subtract", "zero", "none"]);
}

#[test]
fn unknown_kind() {
    let m = error_with("kind = \"lif\"", "kind = \"hodgkin_huxley\"");
    assert_names(
        &m,
        &[
            "kind",
            "\"hodgkin_huxley\"",
            "poisson",
            "lif",
            "iaf",
            "izhikevich",
        ],
    );
}

#[test]
fn sign_other_than_plus_minus_one() {
    let m = error_with("sign = -1", "sign = -2");
    assert_names(&m, &["fc2", "sign", "-2", "1", "-1"]);
}

#[test]
fn projection_onto_poisson_population() {
    let m = error_with("post = \"inter\"", "post = \"input\"");
    assert_names(&m, &["fc1", "post", "\"input\"", "poisson"]);
}

#[test]
fn cycle_is_named() {
    let text = format!(
        "{DEFAULT_TOML}\n[[projection]]\nname = \"back\"\npre = \"msn\"\npost = \"inter\"\n"
    );
    let m = Network::from_toml_str(&text, "t").unwrap_err().to_string();
    assert_names(&m, &["cycle", "inter -> msn -> inter", "fc2", "back"]);
}

#[test]
fn self_projection_is_a_cycle() {
    let text =
        format!("{DEFAULT_TOML}\n[[projection]]\nname = \"self\"\npre = \"msn\"\npost = \"msn\"\n");
    let m = Network::from_toml_str(&text, "t").unwrap_err().to_string();
    assert_names(&m, &["cycle", "msn -> msn", "self"]);
}

#[test]
fn duplicate_names() {
    let m = error_with("name = \"msn\"", "name = \"inter\"");
    assert_names(&m, &["name", "\"inter\"", "unique"]);
    let m = error_with("name = \"fc3\"", "name = \"fc1\"");
    assert_names(&m, &["name", "\"fc1\"", "unique"]);
}

#[test]
fn names_must_be_file_safe() {
    let m = error_with("name = \"msn\"", "name = \"../msn\"");
    assert_names(&m, &["name", "\"../msn\"", "letters, digits"]);
}

#[test]
fn unknown_field_is_named() {
    let m = error_with("beta = 0.9", "beta = 0.9\ntau = 3.0");
    assert_names(&m, &["tau", "test.toml"]);
}

#[test]
fn wrong_type_is_named() {
    let m = error_with("size = 50", "size = \"fifty\"");
    assert_names(&m, &["size", "test.toml"]);
}

#[test]
fn malformed_toml() {
    let e = Network::from_toml_str("[[population]\nname = ", "broken.toml").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_names(&e.to_string(), &["broken.toml", "invalid network file"]);
}

#[test]
fn lif_fields_on_poisson_and_back() {
    let m = error_with("rate = [0.1, 0.5]", "rate = [0.1, 0.5]\nbeta = 0.5");
    assert_names(&m, &["input", "beta", "poisson"]);
}

#[test]
fn init_parameters_checked() {
    let m = error_with("init = \"linear\"", "init = \"constant\"");
    assert_names(&m, &["fc1", "weight", "missing", "constant"]);
    let m = error_with(
        "init = \"linear\"",
        "init = \"uniform\"\nlow = 1.0\nhigh = 0.5",
    );
    assert_names(&m, &["fc1", "low", "1", "high"]);
    let m = error_with("init = \"linear\"", "init = \"constant\"\nweight = nan");
    assert_names(&m, &["fc1", "weight", "NaN", "finite"]);
    let m = error_with("init = \"linear\"", "init = \"xavier\"");
    assert_names(&m, &["fc1", "init", "\"xavier\"", "linear"]);
}

#[test]
fn dt_must_be_within_a_microsecond_and_a_second() {
    let m = error_with("dt_ms = 1.0", "dt_ms = 0.0");
    assert_names(&m, &["dt_ms", "0", "[0.001, 1000]"]);
    // issue 15: 5e-324 passed "> 0" and panicked in the figures
    let m = error_with("dt_ms = 1.0", "dt_ms = 5e-324");
    assert_names(&m, &["dt_ms = 5e-324", "[0.001, 1000]"]);
    let m = error_with("dt_ms = 1.0", "dt_ms = 1e4");
    assert_names(&m, &["dt_ms = 10000.0", "[0.001, 1000]"]);
}

/// Issue 15: weights, biases and thresholds far outside any network's, or
/// subnormal, are refused naming the field, not failed on later.
#[test]
fn huge_and_subnormal_parameters_name_their_field() {
    let init = "init = \"linear\"       # nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))";
    for (text, parts) in [
        (
            "init = \"uniform\"\nlow = -3e38\nhigh = 3e38",
            &[
                "projection `fc1` field `low`",
                "-3e38",
                "[-1000000, 1000000]",
            ][..],
        ),
        (
            "init = \"constant\"\nweight = 1e30",
            &["field `weight`", "1e30"],
        ),
        (
            "init = \"constant\"\nweight = 1e-40",
            &["field `weight`", "1e-40", "subnormal"],
        ),
        (
            "init = \"constant\"\nweight = 0.5\nbias_value = -2e7",
            &["field `bias_value`", "-20000000.0"],
        ),
    ] {
        let m = error_with(init, text);
        assert_names(&m, parts);
    }
    let m = error_with("threshold = 1.0", "threshold = 1e-40");
    assert_names(
        &m,
        &["population `inter` field `threshold`", "1e-40", "subnormal"],
    );
    let m = error_with("threshold = 1.0", "threshold = 3e38");
    assert_names(&m, &["field `threshold`", "3e38"]);
    let m = error_with("beta = 0.9", "beta = 1e-39");
    assert_names(&m, &["field `beta`", "subnormal"]);
}

#[test]
fn scale_zero_and_overflow() {
    let e = Network::default_nacc().scaled(0).unwrap_err().to_string();
    assert_names(&e, &["--scale", "0", ">= 1"]);
    let e = Network::default_nacc()
        .scaled(1 << 40)
        .unwrap_err()
        .to_string();
    assert_names(&e, &["--scale", "input", "exceed"]);
}

// ---------------------------------------------------------------------------
// Reward: stimulus, dopamine, D1/D2 gain, plasticity

const REWARD_TOML: &str = include_str!("../assets/reward_learning.toml");

/// The reward experiment with one piece of text replaced.
fn reward_error_with(from: &str, to: &str) -> String {
    assert!(
        REWARD_TOML.contains(from),
        "{from:?} not in the reward config"
    );
    let text = REWARD_TOML.replacen(from, to, 1);
    let e = Network::from_toml_str(&text, "reward.toml").expect_err("must be rejected");
    assert_eq!(e.exit_code(), 2);
    e.to_string()
}

#[test]
fn reward_config_is_valid() {
    let net = Network::from_toml_str(REWARD_TOML, "reward").unwrap();
    assert_eq!(net.steps, Some(50_000));
    assert!(net.stimulus.is_some() && net.dopamine.is_some());
}

#[test]
fn reward_mistakes_name_field_value_and_rule() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "sequence = [\"A\", \"B\"]",
            "sequence = [\"A\", \"C\"]",
            &["sequence", "\"C\"", "not a pattern", "\"A\", \"B\""],
        ),
        (
            "neurons = [25, 50]",
            "neurons = [25, 101]",
            &["pattern `B`", "neurons", "[25, 101]", "<= 100"],
        ),
        (
            "present_ms = 100.0",
            "present_ms = 600.0",
            &["present_ms", "600", "at most trial_ms"],
        ),
        (
            "trial_ms = 500.0",
            "trial_ms = -1.0",
            &["trial_ms", "-1", ">= 0"],
        ),
        (
            "population = \"input\"\ntrial_ms",
            "population = \"d1\"\ntrial_ms",
            &["stimulus", "population", "\"d1\"", "poisson"],
        ),
        (
            "rate = 0.1",
            "rate = 1.5",
            &["pattern `A`", "rate", "1.5", "[0, 1]"],
        ),
        (
            "pattern = \"A\"\ndelay_ms",
            "pattern = \"Z\"\ndelay_ms",
            &["dopamine.rule[0].pattern", "\"Z\"", "not a pattern"],
        ),
        (
            "tau_ms = 100.0",
            "tau_ms = 0.0",
            &["dopamine", "tau_ms", "> 0"],
        ),
        (
            "[dopamine]\ntau_ms = 100.0",
            "[dopamine]\ntonic = -0.5\ntau_ms = 100.0",
            &["dopamine", "`tonic`", "-0.5", "[0,"],
        ),
        (
            "dopamine = \"d1\"",
            "dopamine = \"d3\"",
            &["d1", "dopamine", "\"d3\"", "\"d1\" or \"d2\""],
        ),
        (
            "da_gain = 0.5             # excitatory input x (1 +",
            "da_gain = -1.0 #",
            &["da_gain", "-1", "[0,"],
        ),
        (
            "w_max = 0.15",
            "w_max = 0.03",
            &[
                "in_d1",
                "init",
                "[0.01, 0.05]",
                "[w_min, w_max] = [0, 0.03]",
            ],
        ),
        (
            "w_min = 0.0",
            "w_min = 0.5",
            &["in_d1", "w_min", "0.5", "<= w_max"],
        ),
        (
            "tau_c_ms = 200.0",
            "tau_c_ms = -5.0",
            &["in_d1", "plasticity.tau_c_ms", "-5", "> 0"],
        ),
        (
            "a_minus = 0.6",
            "a_minus = -0.6",
            &["in_d1", "plasticity.a_minus", "-0.6"],
        ),
        (
            "learning_rate = 2e-6",
            "learning_rate = inf",
            &["in_d1", "learning_rate", "inf"],
        ),
        (
            "[projection.plasticity]",
            "fixed_fan_in = 10\n[projection.plasticity]",
            &["in_d1", "plasticity", "dense"],
        ),
        ("steps = 50000", "steps = 0", &["steps", "= 0", "1.."]),
    ];
    for (from, to, parts) in cases {
        let m = reward_error_with(from, to);
        assert_names(&m, parts);
    }
}

#[test]
fn gain_and_plasticity_need_a_dopamine_section() {
    let start = REWARD_TOML.find("[dopamine]").unwrap();
    let text = &REWARD_TOML[..start];
    let e = Network::from_toml_str(text, "no dopamine").unwrap_err();
    assert_names(
        &e.to_string(),
        &["d1", "dopamine", "needs a [dopamine] section"],
    );
    let m = error_with(
        "size = 100\nkind = \"poisson\"",
        "size = 100\nkind = \"poisson\"\ndopamine = \"d1\"",
    );
    assert_names(&m, &["input", "dopamine", "poisson"]);
}

#[test]
fn a_reward_rule_needs_a_stimulus() {
    let start = REWARD_TOML.find("[stimulus]").unwrap();
    let end = REWARD_TOML.find("[dopamine]").unwrap();
    let text = format!("{}{}", &REWARD_TOML[..start], &REWARD_TOML[end..]);
    let e = Network::from_toml_str(&text, "no stimulus").unwrap_err();
    assert_names(
        &e.to_string(),
        &["dopamine.rule[0].pattern", "\"A\"", "[stimulus]"],
    );
}

/// Issue 15: a pair given three values (a rate range, a pattern's neurons,
/// a reward) is an error, not silently cut to two.
#[test]
fn pairs_given_more_or_fewer_values_are_errors() {
    let m = error_with("rate = [0.1, 0.5]", "rate = [0.1, 0.5, 0.7]");
    assert_names(
        &m,
        &[
            "population `input` field `rate`",
            "[0.1, 0.5, 0.7]",
            "two numbers",
        ],
    );
    let m = error_with("rate = [0.1, 0.5]", "rate = [0.1]");
    assert_names(&m, &["field `rate`", "two numbers"]);
    let m = reward_error_with("neurons = [0, 25]", "neurons = [0, 25, 40]");
    assert_names(
        &m,
        &["line", "neurons", "expected a pair [a, b], found 3 values"],
    );
    let m = reward_error_with(
        "tau_ms = 100.0",
        "tau_ms = 100.0\nrewards = [[100.0, 1.0, 3.0]]",
    );
    assert_names(&m, &["rewards", "found one of 3 values"]);
}

/// Issue 16: a network file may name its generator; only this version's.
#[test]
fn rng_names_the_only_generator() {
    let m = error_with("dt_ms = 1.0", "rng = \"lowbias32\"\ndt_ms = 1.0");
    assert_names(&m, &["rng", "lowbias32", "philox4x32-10"]);
    let text = DEFAULT_TOML.replacen("dt_ms = 1.0", "rng = \"philox4x32-10\"\ndt_ms = 1.0", 1);
    assert!(Network::from_toml_str(&text, "ok").is_ok());
}
