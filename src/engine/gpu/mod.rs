//! The GPU engine: the WGSL kernels of `shaders/` run through wgpu.
//!
//! Everything is created once in [`GpuEngine::new`]: pipelines, buffers and
//! bind groups. A chunk of steps is then one upload of the host's input, one
//! compute pass holding every dispatch of every step, two copies and one
//! readback of the bit-packed spikes:
//!
//! - `spikes`: rows of `row_words` u32, every population's words side by
//!   side; row 0 holds the last step of the previous chunk (copied in from
//!   `carry`), rows 1..=n the steps of this chunk;
//! - `v`: membranes of every LIF population; `acc`: the integer sums of every
//!   projection; `bias`: every projection's bias;
//! - one weights buffer per part of a projection: pre-major i32 rows, split
//!   by pre rows when a projection exceeds the storage-binding limit.
//!
//! Per step, populations go in dependency order: `synapse_accumulate` for
//! each incoming projection (each part), then `lif_update` (which also
//! zeroes the sums for the next step). The step's row reaches the kernels as
//! a dynamic offset into a uniform buffer written once.

pub mod context;
pub mod layout;

pub use context::GpuContext;

use super::Engine;
use crate::config::{Network, Reset};
use crate::error::{Error, Result};
use crate::network::Model;
use crate::record::ChunkSpikes;
use layout::{PopParams, ProjParams, Step, SynParams};
use std::sync::Arc;
use wgpu::util::DeviceExt;

pub const COMMON_WGSL: &str = include_str!("../../../shaders/common.wgsl");
pub const SYNAPSE_WGSL: &str = include_str!("../../../shaders/synapse_accumulate.wgsl");
pub const LIF_WGSL: &str = include_str!("../../../shaders/lif_update.wgsl");

const WORKGROUP: u64 = 64;
/// Spike-buffer rows kept on the GPU at most, in bytes (bounds the chunk).
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// Knobs for tests: smaller limits than the adapter's, to exercise the
/// code paths that large networks take (2-D grids, split weights).
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuOptions {
    /// Workgroups per grid dimension (default: the adapter's limit).
    pub max_groups_per_dim: Option<u32>,
    /// Bytes per weights binding (default: the adapter's limit).
    pub max_binding_bytes: Option<u64>,
}

/// A kernel launch prepared once: its bind group and grid.
struct Launch {
    bind_group: wgpu::BindGroup,
    grid: (u32, u32),
}

pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    net: Network,
    capacity: usize,
    row_words: usize,
    /// Per population: its word offset within a row.
    word_offset: Vec<usize>,
    /// Per population: its offset in `v` (LIF only).
    v_offset: Vec<usize>,
    v_len: usize,
    syn_pipeline: wgpu::ComputePipeline,
    lif_pipeline: wgpu::ComputePipeline,
    /// Per projection: one launch per weights part.
    syn_launches: Vec<Vec<Launch>>,
    /// Per population: its lif_update launch (LIF only).
    lif_launches: Vec<Option<Launch>>,
    incoming: Vec<Vec<usize>>,
    step_group: wgpu::BindGroup,
    step_stride: u32,
    spikes: wgpu::Buffer,
    carry: wgpu::Buffer,
    staging: wgpu::Buffer,
    v: wgpu::Buffer,
    v_staging: wgpu::Buffer,
    _weights: Vec<wgpu::Buffer>,
    upload: Vec<u32>,
}

/// Splits `groups` workgroups into a 2-D grid of at most `max` per dimension.
pub fn grid_2d(groups: u64, max: u32) -> Option<(u32, u32)> {
    let x = groups.clamp(1, max as u64);
    let y = groups.div_ceil(x).max(1);
    (y <= max as u64).then_some((x as u32, y as u32))
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
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

fn uniform_entry(binding: u32, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
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

fn too_big(what: &str, bytes: u64, limit: u64, ctx: &GpuContext) -> Error {
    Error::Input(format!(
        "{what} needs {bytes} bytes in one GPU buffer, above the limit of {limit} bytes of {}; use --backend cpu or a smaller network",
        ctx.info.name
    ))
}

impl GpuEngine {
    /// Builds everything on the device. `chunk` is the most steps a chunk
    /// hands over at once (larger chunks are split).
    pub fn new(
        ctx: Arc<GpuContext>,
        model: &Model,
        chunk: usize,
        opts: GpuOptions,
    ) -> Result<GpuEngine> {
        let net = model.net.clone();
        let quantized = model.quantize()?;
        let device = &ctx.device;
        let limits = &ctx.limits;
        let max_dim = opts
            .max_groups_per_dim
            .unwrap_or(limits.max_compute_workgroups_per_dimension)
            .min(limits.max_compute_workgroups_per_dimension);
        let max_binding = opts
            .max_binding_bytes
            .unwrap_or(limits.max_storage_buffer_binding_size)
            .min(limits.max_storage_buffer_binding_size)
            .min(limits.max_buffer_size);
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        // Layout of the spike rows and the concatenated state buffers.
        let mut word_offset = Vec::new();
        let mut row_words = 0usize;
        let mut v_offset = Vec::new();
        let mut v_len = 0usize;
        for p in &net.populations {
            word_offset.push(row_words);
            row_words += p.words_per_step();
            v_offset.push(v_len);
            if !p.is_poisson() {
                v_len += p.size;
            }
        }
        let row_bytes = row_words as u64 * 4;
        let capacity = chunk.clamp(1, (MAX_CHUNK_BYTES / row_bytes).max(1) as usize);
        let spikes_bytes = (capacity as u64 + 1) * row_bytes;
        if spikes_bytes > max_binding {
            return Err(too_big(
                "the spike rows of one chunk",
                spikes_bytes,
                max_binding,
                &ctx,
            ));
        }
        let mut acc_offset = Vec::new();
        let mut acc_len = 0usize;
        for proj in &net.projections {
            acc_offset.push(acc_len);
            acc_len += net.populations[proj.post].size;
        }
        for (what, bytes) in [
            ("the membranes", v_len as u64 * 4),
            ("the synaptic sums", acc_len as u64 * 4),
        ] {
            if bytes > max_binding {
                return Err(too_big(what, bytes, max_binding, &ctx));
            }
        }

        let usage_rw = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let buffer = |label: &str, size: u64, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(16).next_multiple_of(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let spikes = buffer("spikes", spikes_bytes, usage_rw);
        let carry = buffer(
            "carry",
            row_bytes,
            wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        let staging = buffer(
            "spikes staging",
            capacity as u64 * row_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let v = buffer("v", v_len as u64 * 4, usage_rw);
        let v_staging = buffer(
            "v staging",
            v_len as u64 * 4,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let acc = buffer("acc", acc_len as u64 * 4, usage_rw);
        let bias_data: Vec<f32> = model
            .weights
            .iter()
            .flat_map(|w| w.b.iter().copied())
            .collect();
        let bias = init_buffer(
            device,
            "bias",
            bytemuck::cast_slice(&bias_data),
            wgpu::BufferUsages::STORAGE,
        );
        let proj_params: Vec<ProjParams> = net
            .projections
            .iter()
            .zip(&quantized)
            .enumerate()
            .map(|(j, (p, q))| ProjParams {
                acc_offset: acc_offset[j] as u32,
                bias_offset: acc_offset[j] as u32,
                sign: p.sign,
                _pad0: 0,
                scale_hi: q.scale_hi,
                scale_lo: q.scale_lo,
                _pad1: [0; 2],
            })
            .collect();
        let projections = init_buffer(
            device,
            "projections",
            bytemuck::cast_slice(&proj_params),
            wgpu::BufferUsages::STORAGE,
        );
        let incoming: Vec<Vec<usize>> = (0..net.populations.len())
            .map(|p| net.incoming(p).map(|(j, _)| j).collect())
            .collect();
        let incoming_flat: Vec<u32> = incoming.iter().flatten().map(|&j| j as u32).collect();
        let incoming_buf = init_buffer(
            device,
            "incoming",
            bytemuck::cast_slice(&incoming_flat),
            wgpu::BufferUsages::STORAGE,
        );

        // The step uniforms: entry s says "write row s + 1".
        let step_stride = limits
            .min_uniform_buffer_offset_alignment
            .max(std::mem::size_of::<Step>() as u32);
        let mut step_bytes = vec![0u8; capacity * step_stride as usize];
        for s in 0..capacity {
            let st = Step {
                row: s as u32 + 1,
                _pad: [0; 3],
            };
            step_bytes[s * step_stride as usize..][..16].copy_from_slice(bytemuck::bytes_of(&st));
        }
        let steps_buf = init_buffer(device, "steps", &step_bytes, wgpu::BufferUsages::UNIFORM);

        // Pipelines with explicit layouts (group 1 has a dynamic offset).
        let step_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("step"),
            entries: &[uniform_entry(0, true)],
        });
        let syn_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("synapse_accumulate"),
            entries: &[
                uniform_entry(0, false),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, false),
            ],
        });
        let lif_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("lif_update"),
            entries: &[
                uniform_entry(0, false),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, true),
                storage_entry(4, false),
                storage_entry(5, false),
                storage_entry(6, false),
            ],
        });
        let pipeline = |name: &str, src: &str, layout: &wgpu::BindGroupLayout| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(format!("{COMMON_WGSL}\n{src}").into()),
            });
            let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(name),
                bind_group_layouts: &[Some(layout), Some(&step_layout)],
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
        };
        let syn_pipeline = pipeline("synapse_accumulate", SYNAPSE_WGSL, &syn_layout);
        let lif_pipeline = pipeline("lif_update", LIF_WGSL, &lif_layout);
        let step_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step"),
            layout: &step_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &steps_buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<Step>() as u64),
                }),
            }],
        });

        // synapse_accumulate launches: one per weights part.
        let mut weights_buffers = Vec::new();
        let mut syn_launches = Vec::new();
        for (j, (proj, q)) in net.projections.iter().zip(&quantized).enumerate() {
            let n_post = q.n_post as u64;
            let row_bytes_w = n_post * 4;
            let rows_per_part = (max_binding / row_bytes_w) / 32 * 32;
            if rows_per_part == 0 {
                return Err(too_big(
                    &format!("projection `{}`: 32 pre rows of weights", proj.name),
                    32 * row_bytes_w,
                    max_binding,
                    &ctx,
                ));
            }
            let post_blocks = n_post.div_ceil(WORKGROUP);
            let mut launches = Vec::new();
            let mut first = 0u64;
            while first < q.n_pre as u64 {
                let rows = rows_per_part.min(q.n_pre as u64 - first);
                let n_words = rows.div_ceil(32);
                let groups = post_blocks * n_words;
                let grid = grid_2d(groups, max_dim).ok_or_else(|| {
                    Error::Input(format!(
                        "projection `{}` needs {groups} workgroups, more than {max_dim} x {max_dim}",
                        proj.name
                    ))
                })?;
                let slice = &q.wq[(first * n_post) as usize..((first + rows) * n_post) as usize];
                let wbuf = init_buffer(
                    device,
                    &format!("weights {} part", proj.name),
                    bytemuck::cast_slice(slice),
                    wgpu::BufferUsages::STORAGE,
                );
                let params = SynParams {
                    n_post: n_post as u32,
                    post_blocks: post_blocks as u32,
                    n_words: n_words as u32,
                    pre_word_offset: (word_offset[proj.pre] as u64 + first / 32) as u32,
                    row_words: row_words as u32,
                    acc_offset: acc_offset[j] as u32,
                    _pad: [0; 2],
                };
                let pbuf = init_buffer(
                    device,
                    "syn params",
                    bytemuck::bytes_of(&params),
                    wgpu::BufferUsages::UNIFORM,
                );
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("synapse_accumulate"),
                    layout: &syn_layout,
                    entries: &[
                        entry(0, &pbuf),
                        entry(1, &wbuf),
                        entry(2, &spikes),
                        entry(3, &acc),
                    ],
                });
                launches.push(Launch { bind_group, grid });
                weights_buffers.push(wbuf);
                first += rows;
            }
            syn_launches.push(launches);
        }

        // lif_update launches: one per LIF population.
        let mut lif_launches = Vec::new();
        let mut first_in = 0usize;
        for (p, pop) in net.populations.iter().enumerate() {
            let Some(lif) = pop.lif() else {
                lif_launches.push(None);
                continue;
            };
            let params = PopParams {
                n: pop.size as u32,
                v_offset: v_offset[p] as u32,
                word_offset: word_offset[p] as u32,
                row_words: row_words as u32,
                first_in: first_in as u32,
                n_in: incoming[p].len() as u32,
                reset: match lif.reset {
                    Reset::Subtract => 0,
                    Reset::Zero => 1,
                    Reset::None => 2,
                },
                zero: 0,
                beta: lif.beta,
                threshold: lif.threshold,
                _pad1: [0; 2],
            };
            first_in += incoming[p].len();
            let grid =
                grid_2d((pop.size as u64).div_ceil(WORKGROUP), max_dim).ok_or_else(|| {
                    Error::Input(format!(
                        "population `{}` is too large for the GPU grid",
                        pop.name
                    ))
                })?;
            let pbuf = init_buffer(
                device,
                "pop params",
                bytemuck::bytes_of(&params),
                wgpu::BufferUsages::UNIFORM,
            );
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("lif_update"),
                layout: &lif_layout,
                entries: &[
                    entry(0, &pbuf),
                    entry(1, &projections),
                    entry(2, &incoming_buf),
                    entry(3, &bias),
                    entry(4, &acc),
                    entry(5, &v),
                    entry(6, &spikes),
                ],
            });
            lif_launches.push(Some(Launch { bind_group, grid }));
        }

        if let Some(e) = pollster::block_on(scope.pop()) {
            let bytes: u64 = spikes_bytes * 2
                + (v_len as u64 + acc_len as u64 * 2) * 4
                + quantized.iter().map(|q| q.wq.len() as u64 * 4).sum::<u64>();
            return Err(Error::Input(format!(
                "the network needs about {bytes} bytes of GPU memory, more than {} can give ({e}); use --backend cpu or a smaller network",
                ctx.info.name
            )));
        }
        ctx.take_error()?;
        Ok(GpuEngine {
            upload: vec![0; capacity * row_words],
            ctx,
            net,
            capacity,
            row_words,
            word_offset,
            v_offset,
            v_len,
            syn_pipeline,
            lif_pipeline,
            syn_launches,
            lif_launches,
            incoming,
            step_group,
            step_stride,
            spikes,
            carry,
            staging,
            v,
            v_staging,
            _weights: weights_buffers,
        })
    }

    /// Runs `n <= capacity` steps whose input starts at step `offset` of `chunk`.
    fn run_part(&mut self, chunk: &mut ChunkSpikes, offset: usize, n: usize) -> Result<()> {
        let rw = self.row_words;
        // One upload: the input words of every Poisson population, zeros elsewhere.
        let upload = &mut self.upload[..n * rw];
        upload.fill(0);
        for (p, pop) in self.net.populations.iter().enumerate() {
            if !pop.is_poisson() {
                continue;
            }
            let wps = pop.words_per_step();
            for s in 0..n {
                upload[s * rw + self.word_offset[p]..][..wps]
                    .copy_from_slice(&chunk.bits[p][(offset + s) * wps..][..wps]);
            }
        }
        let ctx = &self.ctx;
        let row_bytes = rw as u64 * 4;
        ctx.queue
            .write_buffer(&self.spikes, row_bytes, bytemuck::cast_slice(upload));

        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("chunk"),
            });
        enc.copy_buffer_to_buffer(&self.carry, 0, &self.spikes, 0, row_bytes);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steps"),
                timestamp_writes: None,
            });
            for s in 0..n {
                pass.set_bind_group(1, &self.step_group, &[s as u32 * self.step_stride]);
                for &p in &self.net.order {
                    let Some(lif) = &self.lif_launches[p] else {
                        continue;
                    };
                    pass.set_pipeline(&self.syn_pipeline);
                    for &j in &self.incoming[p] {
                        for l in &self.syn_launches[j] {
                            pass.set_bind_group(0, &l.bind_group, &[]);
                            pass.dispatch_workgroups(l.grid.0, l.grid.1, 1);
                        }
                    }
                    pass.set_pipeline(&self.lif_pipeline);
                    pass.set_bind_group(0, &lif.bind_group, &[]);
                    pass.dispatch_workgroups(lif.grid.0, lif.grid.1, 1);
                }
            }
        }
        enc.copy_buffer_to_buffer(
            &self.spikes,
            n as u64 * row_bytes,
            &self.carry,
            0,
            row_bytes,
        );
        enc.copy_buffer_to_buffer(
            &self.spikes,
            row_bytes,
            &self.staging,
            0,
            n as u64 * row_bytes,
        );
        ctx.queue.submit([enc.finish()]);
        let rows: Vec<u32> = ctx.read_mapped(&self.staging, n as u64 * row_bytes)?;
        for (p, pop) in self.net.populations.iter().enumerate() {
            if pop.is_poisson() {
                continue;
            }
            let wps = pop.words_per_step();
            for s in 0..n {
                chunk.bits[p][(offset + s) * wps..][..wps]
                    .copy_from_slice(&rows[s * rw + self.word_offset[p]..][..wps]);
            }
        }
        Ok(())
    }

    /// Steps a chunk may hold without being split.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The grid of every launch (x, y), synapse launches first.
    pub fn grids(&self) -> Vec<(u32, u32)> {
        let syn = self.syn_launches.iter().flatten();
        syn.chain(self.lif_launches.iter().flatten())
            .map(|l| l.grid)
            .collect()
    }

    /// Per projection: how many weights bindings it was split into.
    pub fn weight_parts(&self) -> Vec<usize> {
        self.syn_launches.iter().map(|l| l.len()).collect()
    }
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

fn init_buffer(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    if contents.len() < 16 {
        // wgpu rejects empty bindings; pad tiny buffers.
        let mut padded = contents.to_vec();
        padded.resize(16, 0);
        return device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &padded,
            usage,
        });
    }
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage,
    })
}

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        self.ctx.describe()
    }

    fn run_chunk(&mut self, spikes: &mut ChunkSpikes) -> Result<()> {
        let mut done = 0;
        while done < spikes.steps {
            let n = self.capacity.min(spikes.steps - done);
            self.run_part(spikes, done, n)?;
            done += n;
        }
        Ok(())
    }

    fn membranes(&mut self) -> Result<Vec<Vec<f32>>> {
        let bytes = self.v_len as u64 * 4;
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); self.net.populations.len()];
        if bytes == 0 {
            return Ok(out);
        }
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.v, 0, &self.v_staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let v: Vec<f32> = self.ctx.read_mapped(&self.v_staging, bytes)?;
        for (p, pop) in self.net.populations.iter().enumerate() {
            if !pop.is_poisson() {
                out[p] = v[self.v_offset[p]..][..pop.size].to_vec();
            }
        }
        Ok(out)
    }
}
