//! One test per kernel family: one dispatch on random buffers `==` its CPU
//! twin (`engine::cpu::<family>`), and Philox, which every input kernel
//! draws with. The buffers are laid out as the engine lays them out for one
//! population or projection; `OneDispatch` binds and runs them.

use super::*;
use nacc::engine::cpu;
use nacc::engine::gpu::kernels::{self as k, OneDispatch};
use nacc::engine::gpu::layout::{
    Chunk, GatherParams, MaskParams, PlasticParams, PoissonParams, PopParams, ProjParams,
    ScatterParams, SynParams,
};
use nacc::engine::plan::BLOCK_STEPS;

/// The tests of this file: one per kernel family.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![
        (
            "philox_on_the_gpu_equals_the_cpu",
            philox_on_the_gpu_equals_the_cpu,
        ),
        ("kernel_poisson_input_equals_its_twin", poisson_input),
        (
            "kernel_synapse_accumulate_equals_its_twin",
            synapse_accumulate,
        ),
        ("kernel_synapse_block_equals_its_twin", synapse_block),
        ("kernel_synapse_scatter_equals_its_twin", synapse_scatter),
        ("kernel_synapse_gather_equals_its_twin", synapse_gather),
        ("kernel_lif_update_equals_its_twin", lif_update),
        ("kernel_plasticity_equals_its_twin", plasticity),
    ]
}

/// Random spike rows: `rows` rows for `n` neurons, each neuron spiking
/// with probability `p` (bits past `n` clear).
fn random_rows(rng: &mut StdRng, rows: usize, n: usize, p: f64) -> Vec<u32> {
    let wps = n.div_ceil(32);
    let mut out = vec![0u32; rows * wps];
    for r in 0..rows {
        for i in 0..n {
            if rng.random_bool(p) {
                out[r * wps + i / 32] |= 1 << (i % 32);
            }
        }
    }
    out
}

/// A chunk uniform of `n_steps` steps of one trial.
pub fn chunk(n_steps: usize) -> Chunk {
    Chunk {
        n_steps: n_steps as u32,
        n_trials: 1,
        spike_stride: 0,
        acc_stride: 0,
        v_stride: 0,
        mask_stride: 0,
        first_step: 0,
        block_len: BLOCK_STEPS as u32,
    }
}

pub fn words<T: bytemuck::Pod>(x: &[T]) -> Vec<u32> {
    bytemuck::cast_slice(x).to_vec()
}

pub fn ints(x: &[u32]) -> Vec<i32> {
    bytemuck::cast_slice(x).to_vec()
}

/// The two buffers equal, else the first index where they differ.
pub fn assert_same(what: &str, got: &[i32], want: &[i32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: first difference at [{i}]: GPU {} vs CPU {}",
            got[i], want[i]
        );
    }
}

/// `poisson_input`: `n_steps` steps of one population from its thresholds
/// and keys, `==` `input::poisson_chunk`.
fn poisson_input(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1701);
    for case in 0..6 {
        let n = rng.random_range(1..300usize);
        let wps = n.div_ceil(32);
        let n_steps = rng.random_range(1..40usize);
        let (seed, stream): (u64, u32) = (rng.random(), rng.random());
        let first_step = rng.random_range(0..1u64 << 31);
        let thr: Vec<u32> = (0..n).map(|_| rng.random_range(0..=1u32 << 24)).collect();
        let blocks = (wps as u32).div_ceil(64);
        let params = PoissonParams {
            n: n as u32,
            word_offset: 0,
            row_words: wps as u32,
            thr_offset: 0,
            key_index: 0,
            n_keyed: 1,
            first_step: first_step as u32,
            blocks,
            n_steps: n_steps as u32,
            _pad: [0; 3],
        };
        let keys = nacc::input::key_words(seed, stream).to_vec();
        let d = OneDispatch {
            family: &k::poisson_input::FAMILY,
            entry: "poisson_input",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (thr.clone(), true),
                (vec![0; (n_steps + 1) * wps], false),
                (keys, true),
            ],
            row: 1,
            chunk: chunk(n_steps),
            grid: [blocks, 1, n_steps as u32],
        };
        let got = d.run(ctx).unwrap();
        let mut want = vec![0u32; n_steps * wps];
        cpu::poisson_input::poisson_input(seed, stream, &thr, first_step, n_steps, &mut want);
        let what = format!("case {case}: {n} neurons, {n_steps} steps");
        assert_same(&what, &ints(&got[1][wps..]), &ints(&want));
    }
}

/// A dense projection's weights, and its rows padded to vec4s as the
/// kernels read them.
fn dense_weights(rng: &mut StdRng, n_pre: usize, n_post: usize) -> (Vec<i32>, Vec<u32>) {
    let wq: Vec<i32> = (0..n_pre * n_post)
        .map(|_| rng.random_range(-(1 << 20)..1 << 20))
        .collect();
    let stride = n_post.div_ceil(4) * 4;
    let mut padded = vec![0i32; n_pre * stride];
    for i in 0..n_pre {
        padded[i * stride..][..n_post].copy_from_slice(&wq[i * n_post..][..n_post]);
    }
    (wq, words(&padded))
}

/// The parameters and grid of a `synapse_accumulate` or `synapse_block`
/// dispatch over a whole dense projection.
fn syn_params(n_pre: usize, n_post: usize, chunk_words: u64) -> (SynParams, [u32; 3]) {
    let n_words = n_pre.div_ceil(32) as u64;
    let n_post4 = n_post.div_ceil(4) as u64;
    let post_blocks = n_post4.div_ceil(64);
    let chunk_words = chunk_words.min(n_words);
    let groups = post_blocks * n_words.div_ceil(chunk_words);
    let (x, y) = nacc::engine::gpu::grid_2d(groups, 65535).unwrap();
    let p = SynParams {
        n_post: n_post as u32,
        post_blocks: post_blocks as u32,
        n_words: n_words as u32,
        pre_word_offset: 0,
        row_words: n_words as u32,
        acc_offset: 0,
        n_post4: n_post4 as u32,
        chunk_words: chunk_words as u32,
    };
    (p, [x, y, 1])
}

/// `synapse_accumulate`: one step's sums `==` `cpu::synapse_accumulate`.
fn synapse_accumulate(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1702);
    for case in 0..8 {
        let (n_pre, n_post) = (rng.random_range(1..400usize), rng.random_range(1..300usize));
        let (wq, padded) = dense_weights(&mut rng, n_pre, n_post);
        let p = rng.random_range(0.0..1.0);
        let rows = random_rows(&mut rng, 2, n_pre, p);
        let (params, grid) = syn_params(n_pre, n_post, nacc::engine::gpu::SYN_CHUNK_WORDS);
        let d = OneDispatch {
            family: &k::synapse_accumulate::FAMILY,
            entry: "synapse_accumulate",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (padded, true),
                (rows.clone(), true),
                (vec![0; n_post], false),
            ],
            row: 1,
            chunk: chunk(1),
            grid,
        };
        let got = d.run(ctx).unwrap();
        let mut want = vec![0i32; n_post];
        let wps = n_pre.div_ceil(32);
        cpu::synapse_accumulate::synapse_accumulate(&wq, n_post, 0, &rows[wps..], &mut want);
        let what = format!("case {case}: {n_pre} -> {n_post}");
        assert_same(&what, &ints(&got[2]), &want);
    }
}

/// `synapse_block`: a block's sums in per-step slots `==`
/// `cpu::synapse_accumulate_steps` (whole and cut blocks).
fn synapse_block(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1703);
    for case in 0..8 {
        let (n_pre, n_post) = (rng.random_range(1..400usize), rng.random_range(1..300usize));
        let (wq, padded) = dense_weights(&mut rng, n_pre, n_post);
        let n_steps = rng.random_range(1..=BLOCK_STEPS + 4);
        let t_n = n_steps.min(BLOCK_STEPS);
        let p = rng.random_range(0.0..0.5);
        let rows = random_rows(&mut rng, n_steps + 1, n_pre, p);
        let (params, grid) = syn_params(n_pre, n_post, nacc::engine::gpu::BLOCK_CHUNK_WORDS);
        let d = OneDispatch {
            family: &k::synapse_accumulate::FAMILY,
            entry: "synapse_block",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (padded, true),
                (rows.clone(), true),
                (vec![0; BLOCK_STEPS * n_post], false),
            ],
            row: 1,
            chunk: chunk(n_steps),
            grid,
        };
        let got = d.run(ctx).unwrap();
        let wps = n_pre.div_ceil(32);
        let list = cpu::synapse_accumulate::spike_list(&rows[wps..], wps, t_n);
        let mut want = vec![0i32; BLOCK_STEPS * n_post];
        cpu::synapse_accumulate::synapse_accumulate_steps(&wq, n_post, 0, &list, t_n, &mut want);
        let what = format!("case {case}: {n_pre} -> {n_post}, {t_n} steps");
        assert_same(&what, &ints(&got[2])[..t_n * n_post], &want[..t_n * n_post]);
    }
}

/// A random sparse projection, pre-major: (pre_ptr, post, weights).
fn random_csr(rng: &mut StdRng, n_pre: usize, n_post: usize) -> (Vec<usize>, Vec<u32>, Vec<i32>) {
    let (mut ptr, mut post, mut w) = (vec![0usize], Vec::new(), Vec::new());
    for _ in 0..n_pre {
        for j in 0..n_post {
            if rng.random_bool(0.2) {
                post.push(j as u32);
                w.push(rng.random_range(-(1 << 20)..1 << 20));
            }
        }
        ptr.push(post.len());
    }
    (ptr, post, w)
}

/// A random sparse projection (pre-major, with the ring's fields of
/// `params` clear), a row of spikes of its pre neurons after row 0, and its
/// `synapse_scatter` parameters and grid.
pub struct ScatterCase {
    pub n_pre: usize,
    pub n_post: usize,
    pub ptr: Vec<usize>,
    pub post: Vec<u32>,
    pub w: Vec<i32>,
    pub rows: Vec<u32>,
    pub params: ScatterParams,
    pub grid: [u32; 3],
}

impl ScatterCase {
    pub fn random(rng: &mut StdRng) -> ScatterCase {
        let (n_pre, n_post) = (rng.random_range(1..400usize), rng.random_range(1..300usize));
        let (ptr, post, w) = random_csr(rng, n_pre, n_post);
        let p = rng.random_range(0.0..1.0);
        let rows = random_rows(rng, 2, n_pre, p);
        let n_words = n_pre.div_ceil(32) as u64;
        let chunk_words = nacc::engine::gpu::SYN_CHUNK_WORDS;
        let (x, y) = nacc::engine::gpu::grid_2d(n_words.div_ceil(chunk_words), 65535).unwrap();
        let params = ScatterParams {
            n_words: n_words as u32,
            pre_word_offset: 0,
            row_words: n_words as u32,
            acc_offset: 0,
            chunk_words: chunk_words as u32,
            block_stride: n_post as u32,
            ring_mask: 0,
            ring_offset: 0,
        };
        let grid = [x, y, 1];
        ScatterCase {
            n_pre,
            n_post,
            ptr,
            post,
            w,
            rows,
            params,
            grid,
        }
    }

    /// The dispatch of `synapse_scatter` on the sums `acc` (and per-synapse
    /// `delays`, packed); its sums are the output's buffer 4.
    pub fn run(&self, ctx: &Ctx, acc: Vec<u32>, delays: Vec<u32>, first_step: u32) -> Vec<u32> {
        let ptr32: Vec<u32> = self.ptr.iter().map(|&x| x as u32).collect();
        let d = OneDispatch {
            family: &k::synapse_scatter::FAMILY,
            entry: "synapse_scatter",
            params: bytemuck::bytes_of(&self.params),
            buffers: vec![
                (ptr32, true),
                (self.post.clone(), true),
                (words(&self.w), true),
                (self.rows.clone(), true),
                (acc, false),
                (delays, true),
            ],
            row: 1,
            chunk: Chunk {
                first_step,
                ..chunk(1)
            },
            grid: self.grid,
        };
        d.run(ctx).unwrap().swap_remove(4)
    }
}

/// `synapse_scatter`: one step's sums `==` `cpu::synapse_scatter`.
fn synapse_scatter(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1704);
    for case in 0..8 {
        let c = ScatterCase::random(&mut rng);
        let got = c.run(ctx, vec![0; c.n_post], vec![0], 0);
        let mut want = vec![0i32; c.n_post];
        let wps = c.n_pre.div_ceil(32);
        cpu::synapse_scatter::synapse_scatter(&c.ptr, &c.post, &c.w, &c.rows[wps..], 0, &mut want);
        let what = format!("case {case}: {} -> {}", c.n_pre, c.n_post);
        assert_same(&what, &ints(&got), &want);
    }
}

/// `block_masks` then `synapse_gather` on a sparse projection held by post:
/// the masks `==` `cpu::synapse_gather::block_masks`, the sums `==`
/// `cpu::synapse_gather::synapse_gather`.
fn synapse_gather(ctx: &Ctx) {
    let mut rng = StdRng::seed_from_u64(1705);
    for case in 0..4 {
        let fan_in = rng.random_range(1..60);
        let scale = rng.random_range(1..4u64);
        let fc1 = format!("fixed_fan_in = {fan_in}");
        let net = common::sparse_net(&fc1, "fixed_probability = 0.3")
            .scaled(scale)
            .unwrap();
        let model = Model::build(net, case).unwrap();
        let q = &model.quantize_for(&[true, true, true]).unwrap()[0];
        let (n_pre, n_post) = (q.n_pre, q.n_post);
        let n_steps = rng.random_range(1..=BLOCK_STEPS + 2);
        let t_n = n_steps.min(BLOCK_STEPS);
        let p = rng.random_range(0.0..0.5);
        let rows = random_rows(&mut rng, n_steps + 1, n_pre, p);
        let wps = n_pre.div_ceil(32);
        let mp = MaskParams {
            n: n_pre as u32,
            word_offset: 0,
            row_words: wps as u32,
            mask_offset: 0,
        };
        let masks = OneDispatch {
            family: &k::synapse_gather::MASKS,
            entry: "block_masks",
            params: bytemuck::bytes_of(&mp),
            buffers: vec![(rows.clone(), true), (vec![0; n_pre], false)],
            row: 1,
            chunk: chunk(n_steps),
            grid: [(n_pre as u32).div_ceil(64), 1, 1],
        };
        let got_masks = masks.run(ctx).unwrap().swap_remove(1);
        let mut want_masks = vec![0u16; n_pre];
        cpu::synapse_gather::block_masks(&rows[wps..], wps, t_n, &mut want_masks);
        let want32: Vec<i32> = want_masks.iter().map(|&m| m as i32).collect();
        assert_same(&format!("case {case}: masks"), &ints(&got_masks), &want32);
        let (slice_ptr, pre, w) = nacc::engine::gpu::sparse::by_post_slices(q);
        let gp = GatherParams {
            n_post: n_post as u32,
            acc_offset: 0,
            mask_offset: 0,
            first_slice: 0,
        };
        let ptr32: Vec<u32> = slice_ptr.iter().map(|&x| x as u32).collect();
        let gather = OneDispatch {
            family: &k::synapse_gather::FAMILY,
            entry: "synapse_gather",
            params: bytemuck::bytes_of(&gp),
            buffers: vec![
                (ptr32, true),
                (pre, true),
                (words(&w), true),
                (got_masks, true),
                (vec![0; BLOCK_STEPS * n_post], false),
            ],
            row: 1,
            chunk: chunk(n_steps),
            grid: [(slice_ptr.len() - 1) as u32, 1, 1],
        };
        let got = gather.run(ctx).unwrap();
        let by_post = q.rows.as_deref().unwrap();
        let mut want = vec![0i32; BLOCK_STEPS * n_post];
        let (ptr, pre) = (&by_post.ptr, &by_post.pre);
        cpu::synapse_gather::synapse_gather(ptr, pre, &q.wq, &want_masks, 0, t_n, &mut want);
        let what = format!("case {case}: sums of {n_pre} -> {n_post}, {t_n} steps");
        assert_same(&what, &ints(&got[4])[..t_n * n_post], &want[..t_n * n_post]);
    }
}

/// Two projections into a population of `n` neurons, as the CPU engine
/// holds them (fc1's and fc3's scales, one inhibitory), with random sums
/// and biases.
fn lif_inputs(rng: &mut StdRng, model: &Model, n: usize) -> Vec<cpu::ProjectionState> {
    let quantized = model.quantize_for(&[false; 3]).unwrap();
    [(0usize, 1i32), (2, -1)]
        .iter()
        .map(|&(src, sign)| cpu::ProjectionState {
            pre: 0,
            sign,
            q: Arc::new(nacc::network::Quantized {
                n_post: n,
                ..quantized[src].clone()
            }),
            bias: (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
            acc: (0..n)
                .map(|_| rng.random_range(-(1 << 22)..1 << 22))
                .collect(),
            scratch: vec![],
            block: vec![],
            block_per: 0,
            ring: None,
            delay: nacc::network::Delay::NONE,
            arrivals: None,
            plastic: None,
            masks: vec![],
            kin: Default::default(),
            syn: vec![],
            table: None,
        })
        .collect()
}

/// `lif_update`: one step of a population fed by two projections (one
/// inhibitory, one with dopamine's gain) from random sums, biases and
/// membranes, every reset mode, and membranes already infinite: membranes
/// (bit for bit), spikes and the first non-finite neuron `==`
/// `cpu::lif_update::lif_update`, the sums zeroed for their next use.
fn lif_update(ctx: &Ctx) {
    use nacc::network::{LifParams, Reset};
    let mut rng = StdRng::seed_from_u64(1706);
    let model = Model::build(Network::default_nacc(), 1).unwrap();
    let resets = [Reset::Subtract, Reset::Zero, Reset::None, Reset::Subtract];
    for (case, reset) in resets.into_iter().enumerate() {
        let n = rng.random_range(1..300usize);
        let wps = n.div_ceil(32);
        let lif = LifParams {
            beta: [0.0, 1.0, 0.9, rng.random_range(0.0..1.0)][case],
            threshold: rng.random_range(0.25..3.0),
            reset,
        };
        let projs = lif_inputs(&mut rng, &model, n);
        let gains = [1.0f32, rng.random_range(0.0..2.0)];
        let mut v0: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        // the last case: some membranes already infinite
        let broken: Vec<usize> = match case {
            3 => (0..3).map(|_| rng.random_range(0..n)).collect(),
            _ => vec![],
        };
        for &b in &broken {
            v0[b] = f32::INFINITY;
        }
        let prev = random_rows(&mut rng, 1, n, 0.3);
        // the GPU: the projections' table, their sums and biases side by side
        let table: Vec<ProjParams> = projs
            .iter()
            .enumerate()
            .map(|(j, p)| ProjParams {
                acc_offset: (j * n) as u32,
                bias_offset: (j * n) as u32,
                sign: p.sign,
                gained: (j == 1) as u32,
                scale_hi: p.q.scale_hi,
                scale_lo: p.q.scale_lo,
                block_stride: 0,
                ring_mask: 0,
                ring_offset: 0,
                _pad: [0; 3],
            })
            .collect();
        let params = PopParams {
            n: n as u32,
            v_offset: 0,
            word_offset: 0,
            row_words: wps as u32,
            first_in: 0,
            n_in: 2,
            reset: match reset {
                Reset::Subtract => 0,
                Reset::Zero => 1,
                Reset::None => 2,
            },
            zero: 0,
            beta: lif.beta,
            threshold: lif.threshold,
            pop: 0,
            n_proj: 2,
        };
        let acc: Vec<i32> = projs.iter().flat_map(|p| p.acc.clone()).collect();
        let bias: Vec<f32> = projs.iter().flat_map(|p| p.bias.clone()).collect();
        let mut rows = prev.clone();
        rows.resize(2 * wps, 0);
        let d = OneDispatch {
            family: &k::lif_update::FAMILY,
            entry: "lif_update",
            params: bytemuck::bytes_of(&params),
            buffers: vec![
                (words(&table), true),
                (vec![0, 1], true),
                (words(&bias), true),
                (words(&acc), false),
                (words(&v0), false),
                (rows, false),
                (vec![0; 6], false),
                (words(&gains), true),
            ],
            row: 1,
            chunk: chunk(1),
            grid: [(n as u32).div_ceil(64), 1, 1],
        };
        let got = d.run(ctx).unwrap();
        let (mut v, mut current, mut spikes) = (v0.clone(), vec![0f32; n], vec![0u32; wps]);
        let bad = cpu::lif_update::lif_update(
            &lif,
            &projs,
            Some(&gains),
            &[0, 1],
            &mut v,
            &mut current,
            &prev,
            &mut spikes,
        );
        let what = format!("case {case}: {n} neurons, {reset:?}");
        // the first neuron whose membrane is not finite, as both report it
        let first = broken.iter().min().copied();
        assert_eq!(bad, first, "{what}: the CPU's report");
        let reported = (got[6][4] != 0).then(|| (!got[6][5] & ((1 << 27) - 1)) as usize);
        assert_eq!(reported, first, "{what}: the GPU's report ({:?})", got[6]);
        let bits: Vec<i32> = v.iter().map(|x| x.to_bits() as i32).collect();
        assert_same(&format!("{what}: membranes"), &ints(&got[4]), &bits);
        assert_eq!(
            got[6][..4],
            [0; 4],
            "{what}: the fused kernel's words untouched"
        );
        assert_same(
            &format!("{what}: spikes"),
            &ints(&got[5][wps..]),
            &ints(&spikes),
        );
        assert!(got[3].iter().all(|&a| a == 0), "{what}: sums zeroed");
    }
}

/// Random plasticity constants, eligibilities and weights (rows of
/// `stride`) for `n_pre` x `n_post` synapses.
fn plastic_state(
    rng: &mut StdRng,
    n_pre: usize,
    n_post: usize,
    stride: usize,
) -> (nacc::network::PlasticConsts, Vec<f32>, Vec<i32>) {
    let k = nacc::network::PlasticConsts {
        decay_pre: rng.random_range(0.0..1.0),
        decay_post: rng.random_range(0.0..1.0),
        decay_c: rng.random_range(0.0..1.0),
        a_plus: rng.random_range(0.0..0.1),
        a_minus: rng.random_range(0.0..0.1),
        wq_min: -(1 << 20),
        wq_max: 1 << 20,
    };
    let mut elig = vec![0f32; n_pre * stride];
    let mut w = vec![0i32; n_pre * stride];
    for i in 0..n_pre {
        for j in 0..n_post {
            elig[i * stride + j] = rng.random_range(-1.0..1.0);
            w[i * stride + j] = rng.random_range(-(1 << 20)..1 << 20);
        }
    }
    (k, elig, w)
}

/// `plasticity` then `plasticity_traces` on random traces, eligibilities,
/// weights and spikes: every synapse `==` `cpu::plasticity::synapse_update`
/// and every trace `==` `cpu::plasticity::trace_step`.
fn plasticity(ctx: &Ctx) {
    use cpu::plasticity::{synapse_update, trace_step};
    let mut rng = StdRng::seed_from_u64(1707);
    for case in 0..6 {
        let (n_pre, n_post) = (rng.random_range(1..120usize), rng.random_range(1..90usize));
        let stride = n_post.div_ceil(4) * 4;
        let (wps_pre, wps_post) = (n_pre.div_ceil(32), n_post.div_ceil(32));
        let row_words = wps_pre + wps_post;
        let pre = random_rows(&mut rng, 1, n_pre, 0.4);
        let post = random_rows(&mut rng, 1, n_post, 0.4);
        // rows 0 and 1 of [pre | post]
        let mut rows = vec![0u32; 2 * row_words];
        rows[row_words..][..wps_pre].copy_from_slice(&pre);
        rows[row_words + wps_pre..][..wps_post].copy_from_slice(&post);
        let (k, elig, w) = plastic_state(&mut rng, n_pre, n_post, stride);
        let eta = rng.random_range(-1e6f32..1e6);
        let traces: Vec<f32> = (0..n_pre + n_post)
            .map(|_| rng.random_range(0.0..3.0))
            .collect();
        let params = PlasticParams {
            n_pre: n_pre as u32,
            n_post: n_post as u32,
            stride: stride as u32,
            pre_word_offset: 0,
            post_word_offset: wps_pre as u32,
            row_words: row_words as u32,
            index: 0,
            n_plastic: 1,
            wq_min: k.wq_min,
            wq_max: k.wq_max,
            zero: 0,
            delay: 0,
            decay_pre: k.decay_pre,
            decay_post: k.decay_post,
            decay_c: k.decay_c,
            a_plus: k.a_plus,
            a_minus: k.a_minus,
            arrival_mask: 0,
            _pad1: [0; 2],
        };
        let dispatch = |entry, items: usize| {
            OneDispatch {
                family: &k::plasticity::FAMILY,
                entry,
                params: bytemuck::bytes_of(&params),
                buffers: vec![
                    (rows.clone(), true),
                    (words(&[eta]), true),
                    (words(&w), false),
                    (words(&elig), false),
                    (words(&traces), false),
                    (vec![0], false),
                ],
                row: 1,
                chunk: chunk(1),
                grid: [(items as u32).div_ceil(64), 1, 1],
            }
            .run(ctx)
            .unwrap()
        };
        let got = dispatch("plasticity", n_pre * n_post);
        let bit = |x: &[u32], i: usize| x[i / 32] >> (i % 32) & 1 == 1;
        for i in 0..n_pre {
            for j in 0..n_post {
                let s = i * stride + j;
                let (c, wq) = synapse_update(
                    &k,
                    (elig[s], w[s]),
                    (traces[i], traces[n_pre + j]),
                    (bit(&pre, i), bit(&post, j)),
                    eta,
                );
                let at = format!("case {case}: synapse ({i}, {j})");
                assert_eq!(got[2][s] as i32, wq, "{at}: weight");
                assert_eq!(got[3][s], c.to_bits(), "{at}: eligibility");
            }
        }
        let got = dispatch("plasticity_traces", n_pre + n_post);
        for t in 0..n_pre + n_post {
            let want = match t < n_pre {
                true => trace_step(traces[t], k.decay_pre, bit(&pre, t)),
                false => trace_step(traces[t], k.decay_post, bit(&post, t - n_pre)),
            };
            assert_eq!(got[4][t], want.to_bits(), "case {case}: trace {t}");
        }
    }
}

/// Issue 16 (groundwork): the WGSL `philox4x32_10` of shaders/pieces/philox.wgsl
/// gives Random123's known answers and the CPU twin's words for random
/// counters and keys, and its `mulhi` (from 16-bit halves) the high word of
/// the 64-bit product for extreme and random operands.
fn philox_on_the_gpu_equals_the_cpu(ctx: &Ctx) {
    use nacc::philox::{KNOWN_ANSWERS, mulhilo, philox4x32_10};
    use wgpu::util::DeviceExt;
    // per case: counter (4), key (2), mulhi operands (2)
    let mut cases: Vec<[u32; 8]> = KNOWN_ANSWERS
        .iter()
        .map(|(c, k, _)| [c[0], c[1], c[2], c[3], k[0], k[1], u32::MAX, u32::MAX])
        .collect();
    let extremes = [0u32, 1, 0xFFFF, 0x1_0000, 0x8000_0000, u32::MAX];
    for &a in &extremes {
        for &b in &extremes {
            cases.push([a, b, a ^ b, !a, b, a, a, b]);
        }
    }
    let mut rng = StdRng::seed_from_u64(16);
    for _ in 0..4096 {
        cases.push(std::array::from_fn(|_| rng.random()));
    }
    let src = nacc::engine::gpu::wgsl::compose_with(
        &["philox"],
        r#"
@group(0) @binding(0) var<storage, read> cases: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn philox_kat(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= arrayLength(&cases) / 8u) {
        return;
    }
    let b = i * 8u;
    let r = philox4x32_10(vec4<u32>(cases[b], cases[b + 1u], cases[b + 2u], cases[b + 3u]), vec2<u32>(cases[b + 4u], cases[b + 5u]));
    out[i * 5u] = r.x;
    out[i * 5u + 1u] = r.y;
    out[i * 5u + 2u] = r.z;
    out[i * 5u + 3u] = r.w;
    out[i * 5u + 4u] = mulhi(cases[b + 6u], cases[b + 7u]);
}
"#,
    );
    let device = &ctx.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("philox_kat"),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("philox_kat"),
        layout: None,
        module: &module,
        entry_point: Some("philox_kat"),
        compilation_options: Default::default(),
        cache: None,
    });
    let flat: Vec<u32> = cases.iter().flatten().copied().collect();
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("cases"),
        contents: bytemuck::cast_slice(&flat),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (cases.len() * 5 * 4) as u64;
    let output = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("out"),
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("philox_kat"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: output.as_entire_binding(),
            },
        ],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups((cases.len() as u32).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&output, 0, &readback, 0, size);
    ctx.queue.submit([enc.finish()]);
    let got: Vec<u32> = ctx.read_mapped(&readback, size).unwrap();
    for (i, case) in cases.iter().enumerate() {
        let c = [case[0], case[1], case[2], case[3]];
        let k = [case[4], case[5]];
        let want = philox4x32_10(c, k);
        assert_eq!(
            got[i * 5..i * 5 + 4],
            want,
            "case {i}: counter {c:08x?} key {k:08x?}"
        );
        if let Some((_, _, answer)) = KNOWN_ANSWERS.get(i) {
            assert_eq!(want, *answer, "known answer {i}");
        }
        let hi = mulhilo(case[6], case[7]).0;
        assert_eq!(got[i * 5 + 4], hi, "mulhi({:#x}, {:#x})", case[6], case[7]);
    }
}
