//! Every WGSL kernel parses and validates with naga (no GPU needed), and
//! every `#[repr(C)]` mirror matches its WGSL struct's layout.

use nacc::engine::gpu::SYN_CHUNK_WORDS;
use nacc::engine::gpu::layout::{
    Chunk, FusedParams, GatherParams, MaskParams, NeuronParams, PlasticParams, PoissonParams,
    PopParams, ProjParams, RecordParams, ScatterParams, Step, SynKinetics, SynParams,
};
use nacc::engine::gpu::wgsl::{FAMILIES, FUSED, PIECES, compose};
use std::mem::{offset_of, size_of};
use std::path::Path;

/// Every kernel family's file, as the engine compiles it
/// (`wgsl::compose`: the generated prelude, its pieces, the kernel).
fn kernels() -> Vec<(String, String)> {
    let mut out: Vec<_> = FAMILIES
        .iter()
        .chain([&FUSED])
        .map(|f| (f.file.to_string(), compose(f)))
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
fn the_family_table_holds_every_file_in_shaders_as_it_is() {
    // The engine embeds the shaders with include_str!: they are these files,
    // and every file is one family's (the pieces are in shaders/pieces/).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    files.sort();
    let mut table: Vec<String> = FAMILIES
        .iter()
        .chain([&FUSED])
        .map(|f| f.file.to_string())
        .collect();
    table.sort();
    assert_eq!(files, table);
    for f in FAMILIES.iter().chain([&FUSED]) {
        let text = std::fs::read_to_string(dir.join(f.file)).unwrap();
        assert_eq!(f.source, text, "{} vs the embedded source", f.file);
        let m = module(f.file, &compose(f));
        for e in f.entry_points {
            assert!(
                m.entry_points.iter().any(|p| p.name == *e),
                "{} has no entry point `{e}`",
                f.file
            );
        }
        // the family's host module and CPU twin exist by that name
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
        let host = root.join(format!("gpu/kernels/{}.rs", f.name));
        assert!(
            host.exists(),
            "{} has no host module {}",
            f.file,
            host.display()
        );
        if f.name != "fused_steps" {
            let twin = root.join(format!("cpu/{}.rs", f.name));
            assert!(
                twin.exists(),
                "{} has no CPU twin {}",
                f.file,
                twin.display()
            );
        }
    }
    // every piece is its file, and used by some family
    let mut pieces: Vec<String> = std::fs::read_dir(dir.join("pieces"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pieces.sort();
    let mut table: Vec<String> = PIECES.iter().map(|(n, _)| format!("{n}.wgsl")).collect();
    table.sort();
    assert_eq!(pieces, table);
    for (name, text) in PIECES {
        let file = std::fs::read_to_string(dir.join(format!("pieces/{name}.wgsl"))).unwrap();
        assert_eq!(file, text, "piece {name}");
        let used = FAMILIES
            .iter()
            .chain([&FUSED])
            .any(|f| f.pieces.contains(&name));
        assert!(used, "piece {name} is used by no family");
    }
}

/// The value of the WGSL constant `name` of module `m`.
fn wgsl_const(m: &naga::Module, name: &str) -> naga::Literal {
    let (_, c) = m
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("WGSL constant {name} not found"));
    match m.global_expressions[c.init] {
        naga::Expression::Literal(l) => l,
        ref e => panic!("WGSL constant {name} is {e:?}, not a literal"),
    }
}

#[test]
fn constants_shared_with_rust_are_the_rust_values_and_defined_once() {
    use nacc::engine::gpu::wgsl::{FUSED_WORKGROUP, MAX_CHUNK_WORDS, WORKGROUP};
    use naga::Literal::{F32, U32};
    let m = module("fused_steps.wgsl", &compose(&FUSED));
    let plastic = module("plasticity.wgsl", &compose(&FAMILIES[6]));
    let u32s = [
        ("WORKGROUP", WORKGROUP),
        ("BLOCK_STEPS", nacc::engine::plan::BLOCK_STEPS as u64),
        ("MAX_CHUNK_WORDS", MAX_CHUNK_WORDS),
        (
            "MAX_ROW_WORDS",
            nacc::engine::plan::FUSED_MAX_ROW_WORDS as u64,
        ),
        ("FUSED_WORKGROUP", FUSED_WORKGROUP as u64),
    ];
    for (name, v) in u32s {
        assert_eq!(wgsl_const(&m, name), U32(v as u32), "{name}");
    }
    let f32s = [
        ("MIN_NORMAL", f32::MIN_POSITIVE),
        ("TRACE_FLOOR", nacc::fixed::TRACE_FLOOR),
        ("MAX_STEP_CHANGE", nacc::fixed::MAX_STEP_CHANGE),
    ];
    for (name, v) in f32s {
        match wgsl_const(&plastic, name) {
            F32(x) => assert_eq!(x.to_bits(), v.to_bits(), "{name}"),
            other => panic!("{name} is {other:?}"),
        }
    }
    // no file defines them itself (the prelude is their one home)
    for f in FAMILIES.iter().chain([&FUSED]) {
        for text in std::iter::once(f.source).chain(PIECES.iter().map(|p| p.1)) {
            for (name, _) in u32s
                .iter()
                .map(|(n, _)| (n, ()))
                .chain(f32s.iter().map(|(n, _)| (n, ())))
            {
                assert!(
                    !text.contains(&format!("const {name}:")),
                    "{} defines {name}",
                    f.file
                );
            }
        }
    }
    // every entry point's workgroup is the constant's size
    for f in FAMILIES.iter().chain([&FUSED]) {
        let m = module(f.file, &compose(f));
        let want = if f.file == "fused_steps.wgsl" {
            FUSED_WORKGROUP as u32
        } else {
            WORKGROUP as u32
        };
        for e in &m.entry_points {
            assert_eq!(
                e.workgroup_size,
                [want, 1, 1],
                "{} entry {}",
                f.file,
                e.name
            );
        }
    }
    assert_eq!(SYN_CHUNK_WORDS, MAX_CHUNK_WORDS);
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

/// The WGSL module of kernel file `file`, as the engine compiles it.
fn m(file: &str) -> naga::Module {
    let ks = kernels();
    let (name, src) = ks.iter().find(|k| k.0 == file).unwrap();
    module(name, src)
}

#[test]
fn repr_c_params_of_synapse_scatter_match_wgsl() {
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
            block_stride,
            ring_mask,
            ring_offset
        ]
    );
}

#[test]
fn repr_c_params_of_synapse_delay_match_wgsl() {
    use nacc::engine::gpu::kernels::synapse_delay::DelayParams;
    let delay = m("synapse_delay.wgsl");
    check_layout!(
        &delay,
        DelayParams,
        "DelayParams",
        [
            n_post,
            acc_offset,
            block_stride,
            ring_offset,
            ring_mask,
            delay
        ]
    );
}

#[test]
fn repr_c_params_of_synapse_accumulate_match_wgsl() {
    let syn = m("synapse_accumulate.wgsl");
    check_layout!(&syn, Step, "Step", [row]);
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
            mask_stride,
            first_step,
            block_len
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
}

#[test]
fn repr_c_params_of_block_masks_match_wgsl() {
    let masks = m("block_masks.wgsl");
    check_layout!(
        &masks,
        MaskParams,
        "MaskParams",
        [n, word_offset, row_words, mask_offset]
    );
}

#[test]
fn repr_c_params_of_synapse_gather_match_wgsl() {
    let gather = m("synapse_gather.wgsl");
    check_layout!(
        &gather,
        GatherParams,
        "GatherParams",
        [n_post, acc_offset, mask_offset, first_slice]
    );
}

#[test]
fn repr_c_params_of_lif_update_match_wgsl() {
    let lif = m("lif_update.wgsl");
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
            block_stride,
            ring_mask,
            ring_offset
        ]
    );
}

#[test]
fn repr_c_params_of_plasticity_match_wgsl() {
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
            delay,
            decay_pre,
            decay_post,
            decay_c,
            a_plus,
            a_minus,
            arrival_mask
        ]
    );
}

#[test]
fn repr_c_params_of_fused_steps_match_wgsl() {
    let fused = m("fused_steps.wgsl");
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
}

#[test]
fn repr_c_params_of_poisson_input_match_wgsl() {
    let poisson = m("poisson_input.wgsl");
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

#[test]
fn repr_c_params_of_neuron_update_match_wgsl() {
    let neuron = m("neuron_update.wgsl");
    check_layout!(
        &neuron,
        NeuronParams,
        "NeuronParams",
        [
            n,
            v_offset,
            word_offset,
            row_words,
            first_in,
            n_in,
            model,
            substeps,
            u_offset,
            pop,
            gain_row,
            mod_offset,
            zero,
            cubic,
            state_stride,
            i_ext,
            e_l,
            decay,
            r_gain,
            v_reset,
            v_th,
            t_ref,
            k,
            v_r,
            v_t,
            v_peak,
            h_over_c,
            h_a,
            b,
            c,
            d,
            v_b
        ]
    );
    check_layout!(
        &neuron,
        SynKinetics,
        "SynKinetics",
        [
            proj,
            acc_offset,
            bias_offset,
            sign,
            gained,
            kind,
            state_offset,
            table_offset,
            scale_hi,
            scale_lo,
            decay,
            e_rev,
            block_stride,
            ring_mask,
            ring_offset
        ]
    );
}

#[test]
fn repr_c_params_of_state_record_match_wgsl() {
    let record = m("state_record.wgsl");
    check_layout!(
        &record,
        RecordParams,
        "RecordParams",
        [n, src_offset, from_state, out_offset, every, first_row]
    );
}
