//! What every kernel family builds with: buffers, bind groups, pipelines,
//! launches and grids; the layout of the buffers every kernel shares; the
//! per-step uniforms.

use super::context::GpuContext;
use super::layout::{Chunk, Step};
use crate::engine::plan::BLOCK_STEPS;
use crate::error::{Error, Result};
use crate::network::{Network, Reset};

/// A kernel launch prepared once: its bind group and grid.
pub(crate) struct Launch {
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) grid: (u32, u32),
}

/// Splits `groups` workgroups into a 2-D grid of at most `max` per dimension.
pub fn grid_2d(groups: u64, max: u32) -> Option<(u32, u32)> {
    let x = groups.clamp(1, max as u64);
    let y = groups.div_ceil(x).max(1);
    (y <= max as u64).then_some((x as u32, y as u32))
}

/// [`grid_2d`] for a launch of `what`, or an error naming it.
pub(crate) fn grid(groups: u64, max: u32, what: &str) -> Result<(u32, u32)> {
    grid_2d(groups, max).ok_or_else(|| {
        Error::Input(format!(
            "{what} needs {groups} GPU workgroups, more than {max} x {max}"
        ))
    })
}

pub(crate) fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(crate) fn uniform_entry(binding: u32, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(crate) fn too_big(what: &str, bytes: u64, limit: u64, ctx: &GpuContext) -> Error {
    Error::Input(format!(
        "{what} needs {bytes} bytes in one GPU buffer, above the limit of {limit} bytes of {}; use --backend cpu or a smaller network",
        ctx.info.name
    ))
}

/// Where everything lies in the shared buffers.
pub(crate) struct Offsets {
    pub(crate) row_words: usize,
    pub(crate) word_offset: Vec<usize>,
    pub(crate) v_offset: Vec<usize>,
    pub(crate) v_len: usize,
    /// Per projection: offset of its sums in `acc` (a row of posts, or
    /// [`BLOCK_STEPS`] rows when it sums in blocks) and of its post neurons
    /// in `bias`.
    pub(crate) acc_offset: Vec<usize>,
    /// Per projection: its ring's slots (0 without delay) and where the
    /// ring starts in `acc` (after every projection's sums).
    pub(crate) rings: Vec<usize>,
    pub(crate) ring_offset: Vec<usize>,
    pub(crate) acc_len: usize,
    pub(crate) bias_offset: Vec<usize>,
    /// Per population: incoming projections, config order.
    pub(crate) incoming: Vec<Vec<usize>>,
    /// Per population: where its list starts in the flattened `incoming`.
    pub(crate) first_in: Vec<usize>,
    /// Per population in physical units: where its recovery variables or
    /// refractory counters are in `state`; per projection with a synaptic
    /// state: where its currents or conductances are (else 0).
    pub(crate) u_offset: Vec<usize>,
    pub(crate) syn_offset: Vec<usize>,
    pub(crate) state_len: usize,
    /// Per NMDA projection: where its table of B(v) is in `bias` (after
    /// every projection's biases).
    pub(crate) table_offset: Vec<usize>,
}

impl Offsets {
    /// `blocked[j]`: projection j sums in blocks; `rings[j]`: the slots of
    /// its ring of delayed sums.
    pub(crate) fn new(net: &Network, blocked: &[bool], rings: &[usize]) -> Offsets {
        let (mut word_offset, mut v_offset, mut acc_offset, mut first_in) =
            (vec![], vec![], vec![], vec![]);
        let (mut row_words, mut v_len, mut acc_len, mut n_in) = (0, 0, 0, 0);
        let mut bias_offset = vec![];
        let incoming: Vec<Vec<usize>> = (0..net.populations.len())
            .map(|p| net.incoming(p).map(|(j, _)| j).collect())
            .collect();
        for (p, pop) in net.populations.iter().enumerate() {
            word_offset.push(row_words);
            row_words += pop.words_per_step();
            v_offset.push(v_len);
            if !pop.is_poisson() {
                v_len += pop.size;
            }
            first_in.push(n_in);
            n_in += incoming[p].len();
        }
        let mut posts = 0;
        for (proj, &b) in net.projections.iter().zip(blocked) {
            let n = net.populations[proj.post].size;
            acc_offset.push(acc_len);
            acc_len += if b { BLOCK_STEPS * n } else { n };
            bias_offset.push(posts);
            posts += n;
        }
        let mut ring_offset = vec![];
        for (proj, &r) in net.projections.iter().zip(rings) {
            ring_offset.push(acc_len);
            acc_len += r * net.populations[proj.post].size;
        }
        let (mut u_offset, mut syn_offset, mut state_len) = (vec![], vec![], 0);
        for pop in &net.populations {
            u_offset.push(state_len);
            if pop.is_physical() {
                state_len += pop.size;
            }
        }
        let (mut table_offset, mut tables) = (vec![], posts);
        for proj in &net.projections {
            syn_offset.push(state_len);
            if proj.synapse.has_state() {
                state_len += net.populations[proj.post].size;
            }
            table_offset.push(tables);
            if proj.synapse.kind == crate::network::SynapseKind::Nmda {
                tables += crate::network::neuron::MG_TABLE_LEN;
            }
        }
        debug_assert_eq!(state_len, net.state_words());
        Offsets {
            u_offset,
            syn_offset,
            state_len,
            table_offset,
            rings: rings.to_vec(),
            ring_offset,
            row_words,
            word_offset,
            v_offset,
            v_len,
            acc_offset,
            acc_len,
            bias_offset,
            incoming,
            first_in,
        }
    }

    pub(crate) fn incoming_flat(&self) -> Vec<u32> {
        self.incoming.iter().flatten().map(|&j| j as u32).collect()
    }
}

pub(crate) fn reset_code(r: Reset) -> u32 {
    match r {
        Reset::Subtract => 0,
        Reset::Zero => 1,
        Reset::None => 2,
    }
}

pub(crate) fn buffer(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(16).next_multiple_of(4),
        usage,
        mapped_at_creation: false,
    })
}

pub(crate) fn layout_of(
    device: &wgpu::Device,
    label: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries,
    })
}

/// Entry point `name` of the whole WGSL source `src`, over `layouts`.
pub(crate) fn pipeline(
    device: &wgpu::Device,
    name: &str,
    src: &str,
    layouts: &[Option<&wgpu::BindGroupLayout>],
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: layouts,
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: Some(&pl),
        module: &module,
        entry_point: Some(name),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// One compute kernel: its group-0 layout (the kernel's parameters as a
/// uniform at binding 0, then one storage buffer per flag of `read_only`, in
/// binding order) and its pipeline over that layout and the per-step
/// uniforms at group 1.
pub(crate) fn kernel(
    device: &wgpu::Device,
    name: &str,
    src: &str,
    read_only: &[bool],
    step_layout: &wgpu::BindGroupLayout,
) -> (wgpu::BindGroupLayout, wgpu::ComputePipeline) {
    let entries: Vec<_> = std::iter::once(uniform_entry(0, false))
        .chain((1..).zip(read_only).map(|(b, &ro)| storage_entry(b, ro)))
        .collect();
    let layout = layout_of(device, name, &entries);
    let pipeline = pipeline(device, name, src, &[Some(&layout), Some(step_layout)]);
    (layout, pipeline)
}

/// Bytes between the per-step uniforms: the adapter's alignment.
pub(crate) fn step_stride(limits: &wgpu::Limits) -> u32 {
    limits
        .min_uniform_buffer_offset_alignment
        .max(std::mem::size_of::<Step>() as u32)
}

/// The per-step uniforms (entry s says "write row s + 1"), bound with a
/// dynamic offset at group 1, and the chunk's (`Chunk`, binding 1): their
/// layout, bind group, stride, and the chunk buffer written per chunk.
pub(crate) struct StepUniforms {
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) group: wgpu::BindGroup,
    pub(crate) stride: u32,
    pub(crate) chunk: wgpu::Buffer,
    /// Steps (entries) at most.
    pub(crate) capacity: usize,
}

pub(crate) fn step_uniforms(
    device: &wgpu::Device,
    limits: &wgpu::Limits,
    capacity: usize,
    keep: &mut Vec<wgpu::Buffer>,
) -> StepUniforms {
    let stride = step_stride(limits);
    let mut bytes = vec![0u8; capacity * stride as usize];
    for s in 0..capacity {
        let st = Step {
            row: s as u32 + 1,
            _pad: [0; 3],
        };
        bytes[s * stride as usize..][..16].copy_from_slice(bytemuck::bytes_of(&st));
    }
    let buf = init_buffer(device, "steps", &bytes, wgpu::BufferUsages::UNIFORM);
    let chunk = buffer(
        device,
        "chunk",
        std::mem::size_of::<Chunk>() as u64,
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    let layout = layout_of(
        device,
        "step",
        &[uniform_entry(0, true), uniform_entry(1, false)],
    );
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("step"),
        layout: &layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<Step>() as u64),
                }),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: chunk.as_entire_binding(),
            },
        ],
    });
    keep.push(buf);
    StepUniforms {
        layout,
        group,
        stride,
        chunk,
        capacity,
    }
}

/// The buffers both paths share.
pub(crate) struct Shared<'a> {
    pub(crate) spikes: &'a wgpu::Buffer,
    pub(crate) v: &'a wgpu::Buffer,
    pub(crate) bias: &'a wgpu::Buffer,
    /// Integer thresholds of every Poisson population, concatenated.
    pub(crate) thresholds: &'a wgpu::Buffer,
    /// Per population: its offset in `thresholds`, when the GPU draws its
    /// input.
    pub(crate) poisson: Vec<Option<usize>>,
    /// (k0, k1) of each Poisson population's stream, per trial.
    pub(crate) trial_keys: Vec<u32>,
    /// Where kernels report the first non-finite membrane of a chunk.
    pub(crate) fault: &'a wgpu::Buffer,
    /// Words of one trial's spike rows.
    pub(crate) trial_words: u64,
    /// Trials side by side.
    pub(crate) trials: usize,
    /// Per step of a chunk: each projection's gain, each plastic
    /// projection's learning factor.
    pub(crate) gains: &'a wgpu::Buffer,
    pub(crate) etas: &'a wgpu::Buffer,
    /// The physical models' states beside the membranes (`Offsets::u_offset`,
    /// `Offsets::syn_offset`).
    pub(crate) state: &'a wgpu::Buffer,
}

/// A launch of `grid` whose bind group (over `layout`) binds a new uniform
/// holding `params`, then `buffers`, the way `kernel` lays them out. Returns
/// the uniform too: the caller keeps it alive (and may rewrite it).
pub(crate) fn uniform_launch<P: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    params: &P,
    buffers: &[&wgpu::Buffer],
    grid: (u32, u32),
) -> (Launch, wgpu::Buffer) {
    let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
    let uniform = init_buffer(device, label, bytemuck::bytes_of(params), usage);
    let all: Vec<&wgpu::Buffer> = std::iter::once(&uniform)
        .chain(buffers.iter().copied())
        .collect();
    let launch = Launch {
        bind_group: bind_group(device, label, layout, &all),
        grid,
    };
    (launch, uniform)
}

/// A read-only storage buffer holding `data`.
pub(crate) fn storage_buffer<T: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    data: &[T],
) -> wgpu::Buffer {
    init_buffer(
        device,
        label,
        bytemuck::cast_slice(data),
        wgpu::BufferUsages::STORAGE,
    )
}

/// A bind group that binds `buffers`, whole, at bindings 0, 1, 2... in order.
pub(crate) fn bind_group(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<_> = (0..)
        .zip(buffers)
        .map(|(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

pub(crate) fn init_buffer(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    init_buffer_with(device, label, contents.len() as u64, usage, |dst| {
        dst.slice(..contents.len()).copy_from_slice(contents)
    })
}

/// A buffer of `bytes` bytes (at least 16: wgpu rejects empty bindings),
/// zeroed, then written by `fill` through its mapping at creation (no copy
/// of the contents on the host first). A buffer the device could not
/// allocate cannot be mapped: it is left unwritten, and the error scope
/// around the engine's buffers reports the failure (wgpu's
/// `create_buffer_init` would panic there).
pub(crate) fn init_buffer_with(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
    fill: impl FnOnce(&mut wgpu::BufferViewMut),
) -> wgpu::Buffer {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).max(16),
        usage,
        mapped_at_creation: true,
    });
    if let Ok(mut view) = buffer.get_mapped_range_mut(..) {
        fill(&mut view);
    }
    buffer.unmap();
    buffer
}
