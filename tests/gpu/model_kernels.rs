//! The kernel families of the physical models on random buffers against
//! their CPU twins, one dispatch each: `neuron_update` (every model and
//! synapse kind, sub-steps, dopamine's parameters, refractory counters,
//! membranes already infinite) and `state_record`.

use super::kernels::{assert_same, chunk, ints, words};
use super::*;
use nacc::engine::cpu;
use nacc::engine::gpu::kernels::{self as k, OneDispatch};
use nacc::engine::gpu::layout::{NeuronParams, RecordParams, SynKinetics};
use nacc::network::neuron::{
    MG_TABLE_LEN, ModelConsts, Preset, SYN_CONDUCTANCE, SYN_EXP_CURRENT, SYN_INSTANT, SYN_NMDA,
    mg_table,
};
use nacc::network::{Iaf, Izhikevich, Network, Quantized};

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        ("kernel_neuron_update_equals_its_twin", neuron_update),
        ("kernel_state_record_equals_its_twin", state_record),
    ]
}

/// The model of case `case`: the iaf (with and without a refractory
/// period, sub-steps) or an Izhikevich preset (the FSI's cubic nullcline).
fn model_of(rng: &mut StdRng, case: usize, dt: f64) -> ModelConsts {
    match case % 5 {
        0 | 1 => Iaf {
            tau_m_ms: rng.random_range(3.0..30.0),
            c_m_pf: rng.random_range(50.0..300.0),
            e_l_mv: -70.0,
            v_reset_mv: -75.0,
            v_th_mv: -50.0,
            t_ref_ms: dt * (case % 2 * 3) as f64,
            v_init_mv: -70.0,
            i_ext_pa: rng.random_range(0.0..400.0),
            substeps: rng.random_range(1..4),
        }
        .consts(dt),
        p => Izhikevich {
            i_ext_pa: rng.random_range(0.0..300.0),
            substeps: rng.random_range(1..6),
            ..[Preset::Msn, Preset::Fsi, Preset::MsnHumphries][p - 2].params()
        }
        .consts(dt),
    }
}

/// Four projections into `n` neurons, one of each synapse kind (instant,
/// exponential current, conductance, NMDA), with random sums, biases and
/// states, as the CPU engine holds them.
fn inputs(rng: &mut StdRng, n: usize, dt: f64, table: &Arc<Vec<f32>>) -> Vec<cpu::ProjectionState> {
    let model = Model::build(Network::default_nacc(), 1).unwrap();
    let q = model.quantize_for(&[false; 3]).unwrap();
    [SYN_INSTANT, SYN_EXP_CURRENT, SYN_CONDUCTANCE, SYN_NMDA]
        .iter()
        .enumerate()
        .map(|(j, &kind)| {
            let conductance = kind >= SYN_CONDUCTANCE;
            let tau: f64 = rng.random_range(2.0..100.0);
            cpu::ProjectionState {
                pre: 0,
                sign: [1, -1][j % 2],
                q: Arc::new(Quantized {
                    n_post: n,
                    ..q[j % 3].clone()
                }),
                bias: (0..n)
                    .map(|_| match conductance {
                        true => 0.0,
                        false => rng.random_range(-50.0..50.0),
                    })
                    .collect(),
                acc: (0..n).map(|_| rng.random_range(0..1 << 24)).collect(),
                scratch: vec![],
                block: vec![],
                block_per: 0,
                ring: None,
                delay: nacc::network::Delay::NONE,
                arrivals: None,
                plastic: None,
                masks: vec![],
                kin: nacc::network::neuron::SynapseConsts {
                    kind,
                    decay: nacc::fixed::decay(dt, tau),
                    e_rev: [0.0, 0.0, -70.0, 0.0][j],
                    mg: 1.0,
                },
                syn: match kind {
                    SYN_INSTANT => vec![],
                    _ => (0..n).map(|_| rng.random_range(0.0..3.0)).collect(),
                },
                table: (kind == SYN_NMDA).then(|| table.clone()),
            }
        })
        .collect()
}

/// One step of a population of random size, model and inputs: membranes,
/// second states, synaptic states (bit for bit), spikes and the first
/// non-finite neuron `==` `cpu::neuron_update::neuron_update`, the sums
/// zeroed for their next use.
fn neuron_update(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1919);
    let table = Arc::new(mg_table(1.0));
    for case in 0..10 {
        let dt = [1.0, 0.5, 0.1][case % 3];
        let n = rng.random_range(1..300usize);
        let wps = n.div_ceil(32);
        let m = model_of(&mut rng, case, dt);
        let mut projs = inputs(&mut rng, n, dt, &table);
        let gains: Vec<f32> = (0..4).map(|_| rng.random_range(0.0..2.0)).collect();
        // Humphries' modulated [k, v_r, d] after the gains, in case 9
        let modulated = (case == 9).then(|| [0.95f32, -81.0, 80.0]);
        let mut row = gains.clone();
        row.extend(modulated.unwrap_or([0.0; 3]));
        let mut v0: Vec<f32> = (0..n).map(|_| rng.random_range(-80.0..-40.0)).collect();
        let mut u0: Vec<f32> = match m.model {
            0 => (0..n).map(|_| rng.random_range(0..3) as f32).collect(),
            _ => (0..n).map(|_| rng.random_range(-50.0..200.0)).collect(),
        };
        if case == 8 {
            v0[rng.random_range(0..n)] = f32::INFINITY;
            u0[0] = 0.0;
        }
        // state: u, then each stateful projection's (1, 2, 3)
        let mut state = u0.clone();
        for p in &projs[1..] {
            state.extend(&p.syn);
        }
        let table_at = 4 * n;
        let mut bias: Vec<f32> = projs.iter().flat_map(|p| p.bias.clone()).collect();
        bias.extend(table.iter());
        let syn: Vec<SynKinetics> = projs
            .iter()
            .enumerate()
            .map(|(j, p)| SynKinetics {
                proj: j as u32,
                acc_offset: (j * n) as u32,
                bias_offset: (j * n) as u32,
                sign: p.sign,
                gained: 1,
                kind: p.kin.kind,
                state_offset: (j * n) as u32,
                table_offset: table_at as u32,
                scale_hi: p.q.scale_hi,
                scale_lo: p.q.scale_lo,
                decay: p.kin.decay,
                e_rev: p.kin.e_rev,
                block_stride: 0,
                ring_mask: 0,
                ring_offset: 0,
                _pad0: 0,
            })
            .collect();
        let params = NeuronParams {
            n: n as u32,
            row_words: wps as u32,
            n_in: 4,
            gain_row: 7,
            mod_offset: modulated.map_or(u32::MAX, |_| 4),
            ..NeuronParams::of(&m)
        };
        let acc: Vec<i32> = projs.iter().flat_map(|p| p.acc.clone()).collect();
        let d = OneDispatch {
            family: &k::neuron_update::FAMILY,
            entry: "neuron_update",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (words(&syn), true),
                (words(&bias), true),
                (words(&acc), false),
                (words(&v0), false),
                (vec![0; 2 * wps], false),
                (vec![0; 6], false),
                (words(&row), true),
                (words(&state), false),
            ],
            row: 1,
            chunk: chunk(1),
            grid: [(n as u32).div_ceil(64), 1, 1],
        };
        let got = d.run(ctx).unwrap();
        let (mut v, mut u, mut spikes) = (v0.clone(), u0.clone(), vec![0u32; wps]);
        let bad = cpu::neuron_update::neuron_update(
            &m,
            modulated,
            &mut cpu::neuron_update::Incoming::of(&mut projs, &[0, 1, 2, 3]),
            Some(&gains),
            &mut v,
            &mut u,
            &mut spikes,
        );
        let what = format!("case {case} (model {}, {} sub-steps)", m.model, m.substeps);
        assert_same(&format!("{what}: v"), &ints(&got[3]), &ints(&words(&v)));
        assert_same(
            &format!("{what}: spikes"),
            &ints(&got[4][wps..]),
            &ints(&spikes),
        );
        let mut want = u.clone();
        for p in &projs[1..] {
            want.extend(&p.syn);
        }
        assert_same(
            &format!("{what}: state"),
            &ints(&got[7]),
            &ints(&words(&want)),
        );
        assert!(got[2].iter().all(|&x| x == 0), "{what}: sums not zeroed");
        let fault = &got[5];
        assert_eq!(fault[4] != 0, bad.is_some(), "{what}: fault report");
        if let Some(b) = bad {
            assert_eq!(
                !fault[5] & ((1 << 27) - 1),
                b as u32,
                "{what}: first bad neuron"
            );
        }
        // it did something: membranes moved, and some case spiked
        assert_ne!(words(&v), words(&v0), "{what}");
    }
    assert_eq!(table.len(), MG_TABLE_LEN);
}

/// `state_record`: the samples of a step, from membranes or states, into
/// their sample's row.
fn state_record(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1920);
    let v: Vec<f32> = (0..500).map(|_| rng.random_range(-80.0..30.0)).collect();
    let state: Vec<f32> = (0..700).map(|_| rng.random_range(0.0..9.0)).collect();
    for (from_state, every, row) in [(0u32, 1u32, 1u32), (1, 3, 7), (1, 5, 11)] {
        let n = rng.random_range(1..150usize);
        let src: Vec<u32> = (0..n).map(|_| rng.random_range(0..500)).collect();
        let first_row = 1 + (row - 1) % every;
        let params = RecordParams {
            n: n as u32,
            src_offset: 0,
            from_state,
            out_offset: 3,
            every,
            first_row,
            _pad: [0; 2],
        };
        let sample = ((row - first_row) / every) as usize;
        let out_len = 3 + (sample + 1) * n;
        let d = OneDispatch {
            family: &k::state_record::FAMILY,
            entry: "state_record",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (src.clone(), true),
                (words(&v), true),
                (words(&state), true),
                (vec![0; out_len], false),
            ],
            row,
            chunk: chunk(16),
            grid: [(n as u32).div_ceil(64), 1, 1],
        };
        let got = d.run(ctx).unwrap();
        let from = if from_state == 1 { &state } else { &v };
        let mut want = vec![0f32; out_len];
        for (i, &s) in src.iter().enumerate() {
            want[3 + sample * n + i] = from[s as usize];
        }
        assert_same(
            &format!("row {row} every {every}"),
            &ints(&got[3]),
            &ints(&words(&want)),
        );
    }
}
