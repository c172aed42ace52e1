//! One test per kernel family: one dispatch on random buffers `==` its CPU
//! twin (and Philox, which every input kernel draws with).

use super::*;

/// The tests of this file.
pub fn tests() -> Vec<(&'static str, GpuTest)> {
    vec![(
        "philox_on_the_gpu_equals_the_cpu",
        philox_on_the_gpu_equals_the_cpu,
    )]
}

/// Issue 16 (groundwork): the WGSL `philox4x32_10` of shaders/common.wgsl
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
    let src = nacc::engine::gpu::wgsl::compose(
        r#"
@group(0) @binding(0) var<storage, read> cases: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
// common.wgsl's block helpers read the spike rows every kernel declares
@group(0) @binding(2) var<storage, read> spikes: array<u32>;
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
