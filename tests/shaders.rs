//! Every WGSL kernel parses and validates with naga (no GPU needed), and
//! every `#[repr(C)]` mirror matches its WGSL struct's layout.

use nacc::engine::gpu::layout::{
    Chunk, FusedParams, GatherParams, MaskParams, PlasticParams, PoissonParams, PopParams,
    ProjParams, ScatterParams, Step, SynParams,
};
use std::mem::{offset_of, size_of};
use std::path::Path;

/// The kernel files of shaders/ (all but common.wgsl), each compiled as the
/// engine compiles it: common.wgsl followed by the kernel.
fn kernels() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let common = std::fs::read_to_string(dir.join("common.wgsl")).expect("shaders/common.wgsl");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl") && !p.ends_with("common.wgsl"))
        .map(|p| {
            let src = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                format!("{common}\n{src}"),
            )
        })
        .collect();
    out.sort();
    out
}

fn module(name: &str, src: &str) -> naga::Module {
    let m = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&m)
    .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    m
}

#[test]
fn every_shader_parses_and_validates() {
    let ks = kernels();
    assert!(
        ks.len() >= 5,
        "no kernels found in shaders/: {:?}",
        ks.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    for (name, src) in &ks {
        let m = module(name, src);
        // each kernel file has the entry point named after it (and may have more)
        let entry = name.trim_end_matches(".wgsl");
        assert!(
            m.entry_points.iter().any(|e| e.name == entry),
            "{name} has no entry point `{entry}`"
        );
    }
}

#[test]
fn engine_compiles_the_files_in_shaders() {
    // The engine embeds the shaders with include_str!: they are these files,
    // and every file is one the engine uses.
    use nacc::engine::gpu::{
        COMMON_WGSL, FUSED_WGSL, GATHER_WGSL, LIF_WGSL, MASKS_WGSL, PLASTICITY_WGSL, POISSON_WGSL,
        SCATTER_WGSL, SYNAPSE_WGSL,
    };
    let embedded = [
        ("block_masks.wgsl", MASKS_WGSL),
        ("fused_steps.wgsl", FUSED_WGSL),
        ("lif_update.wgsl", LIF_WGSL),
        ("plasticity.wgsl", PLASTICITY_WGSL),
        ("poisson_input.wgsl", POISSON_WGSL),
        ("synapse_accumulate.wgsl", SYNAPSE_WGSL),
        ("synapse_gather.wgsl", GATHER_WGSL),
        ("synapse_scatter.wgsl", SCATTER_WGSL),
    ];
    let ks = kernels();
    assert_eq!(
        ks.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        embedded.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    for ((file, src), (name, text)) in ks.iter().zip(embedded) {
        assert_eq!(*src, format!("{COMMON_WGSL}\n{text}"), "{file} vs {name}");
    }
}

/// The value of the WGSL constant `name` (a u32) of module `m`.
fn wgsl_const_u32(m: &naga::Module, name: &str) -> u32 {
    let (_, c) = m
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("WGSL constant {name} not found"));
    match m.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => v,
        ref e => panic!("WGSL constant {name} is {e:?}, not a u32 literal"),
    }
}

#[test]
fn constants_shared_with_rust_match() {
    let ks = kernels();
    let (name, src) = ks
        .iter()
        .find(|k| k.0 == "synapse_accumulate.wgsl")
        .unwrap();
    let m = module(name, src);
    assert_eq!(
        wgsl_const_u32(&m, "BLOCK_STEPS") as usize,
        nacc::engine::BLOCK_STEPS
    );
    assert_eq!(
        wgsl_const_u32(&m, "MAX_CHUNK_WORDS") as u64,
        nacc::engine::gpu::SYN_CHUNK_WORDS
    );
}

/// (size, [(member name, offset)]) of a WGSL struct, from naga's layouter.
fn wgsl_layout(m: &naga::Module, name: &str) -> (u32, Vec<(String, u32)>) {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(m.to_ctx()).unwrap();
    for (h, ty) in m.types.iter() {
        if let (Some(n), naga::TypeInner::Struct { members, .. }) = (ty.name.as_deref(), &ty.inner)
            && n == name
        {
            let fields = members
                .iter()
                .map(|mb| (mb.name.clone().unwrap_or_default(), mb.offset))
                .collect();
            return (layouter[h].size, fields);
        }
    }
    panic!("struct {name} not found");
}

macro_rules! check_layout {
    ($module:expr, $ty:ty, $wgsl:literal, [$($field:ident),*]) => {{
        let (size, fields) = wgsl_layout($module, $wgsl);
        assert_eq!(size as usize, size_of::<$ty>(), "size of {} vs WGSL {}", stringify!($ty), $wgsl);
        let named: Vec<_> = fields.iter().filter(|(n, _)| !n.starts_with('_')).collect();
        let rust: Vec<(&str, usize)> = vec![$((stringify!($field), offset_of!($ty, $field))),*];
        assert_eq!(named.len(), rust.len(), "{}: fields {:?}", $wgsl, named);
        for ((wn, wo), (rn, ro)) in named.iter().zip(&rust) {
            assert_eq!((wn.as_str(), *wo as usize), (*rn, *ro), "{} field order or offset", $wgsl);
        }
    }};
}

#[test]
fn repr_c_types_match_wgsl_structs() {
    let ks = kernels();
    let m = |n: &str| {
        let (name, src) = ks.iter().find(|k| k.0 == n).unwrap();
        module(name, src)
    };
    let syn = m("synapse_accumulate.wgsl");
    let lif = m("lif_update.wgsl");
    let fused = m("fused_steps.wgsl");
    let poisson = m("poisson_input.wgsl");
    let scatter = m("synapse_scatter.wgsl");
    check_layout!(
        &scatter,
        ScatterParams,
        "ScatterParams",
        [
            n_words,
            pre_word_offset,
            row_words,
            acc_offset,
            chunk_words,
            block_stride
        ]
    );
    check_layout!(&syn, Step, "Step", [row]);
    let masks = m("block_masks.wgsl");
    check_layout!(
        &masks,
        MaskParams,
        "MaskParams",
        [n, word_offset, row_words, mask_offset]
    );
    let gather = m("synapse_gather.wgsl");
    check_layout!(
        &gather,
        GatherParams,
        "GatherParams",
        [n_post, acc_offset, mask_offset, first_slice]
    );
    check_layout!(
        &syn,
        Chunk,
        "Chunk",
        [
            n_steps,
            n_trials,
            spike_stride,
            acc_stride,
            v_stride,
            mask_stride
        ]
    );
    check_layout!(
        &syn,
        SynParams,
        "SynParams",
        [
            n_post,
            post_blocks,
            n_words,
            pre_word_offset,
            row_words,
            acc_offset,
            n_post4,
            chunk_words
        ]
    );
    check_layout!(
        &lif,
        PopParams,
        "PopParams",
        [
            n,
            v_offset,
            word_offset,
            row_words,
            first_in,
            n_in,
            reset,
            zero,
            beta,
            threshold,
            pop,
            n_proj
        ]
    );
    check_layout!(
        &lif,
        ProjParams,
        "ProjParams",
        [
            acc_offset,
            bias_offset,
            sign,
            gained,
            scale_hi,
            scale_lo,
            block_stride
        ]
    );
    let plastic = m("plasticity.wgsl");
    check_layout!(
        &plastic,
        PlasticParams,
        "PlasticParams",
        [
            n_pre,
            n_post,
            stride,
            pre_word_offset,
            post_word_offset,
            row_words,
            index,
            n_plastic,
            wq_min,
            wq_max,
            zero,
            decay_pre,
            decay_post,
            decay_c,
            a_plus,
            a_minus
        ]
    );
    check_layout!(
        &fused,
        FusedParams,
        "FusedParams",
        [
            n_steps,
            row_words,
            n_lif,
            zero,
            pop_base,
            proj_base,
            in_base,
            gen_input,
            poisson_base,
            n_poisson,
            keys_base,
            first_step,
            trial_words,
            v_len,
            slice_steps
        ]
    );
    check_layout!(
        &poisson,
        PoissonParams,
        "PoissonParams",
        [
            n,
            word_offset,
            row_words,
            thr_offset,
            key_index,
            n_keyed,
            first_step,
            blocks,
            n_steps
        ]
    );
}
