//! `nacc run --dry-run`: what a run would need, from the network alone.

use super::report::describe_device_memory;
use super::{Planned, RunOptions, plan};
use crate::engine::gpu::GpuContext;
use crate::error::Result;
use crate::export;
use crate::memory::host_available;

/// What `--dry-run` found: its report, and whether the run fits this
/// machine's memory, GPU and disk (`nacc run --dry-run` exits
/// [`DOES_NOT_FIT`] when it does not).
pub struct DryRun {
    pub text: String,
    pub fits: bool,
}

/// The exit code of `nacc run --dry-run` for a run that would not fit.
pub const DOES_NOT_FIT: u8 = 3;

/// `--dry-run`: the memory the run would need, on the backend it would use,
/// computed from the network alone, and whether this machine has it.
pub fn dry_run(opts: &RunOptions) -> Result<DryRun> {
    let planned = plan(opts)?;
    let software_gpu = planned.software_gpu();
    let gpu_memory = planned
        .gpu
        .as_ref()
        .and_then(GpuContext::hardware_memory_info);
    let Planned {
        net,
        steps,
        gpu,
        plan,
        stream,
        estimate: e,
        outputs,
        ..
    } = planned;
    let mut fits = true;
    let mut s = format!(
        "{} neurons, {} synapses, {steps} steps, on {}\n",
        net.total_neurons(),
        net.total_synapses(),
        gpu.as_ref()
            .map_or("the CPU engine".to_string(), |c| c.describe())
    );
    if let Some(p) = &plan {
        s += &format!("GPU engine: {}\n", p.describe(opts.trials));
    }
    s += &e.render();
    if let Some(c) = &gpu {
        let limit = c.limits.max_buffer_size;
        s += &format!(
            "largest GPU buffer allowed: {}\n",
            crate::files::human(limit)
        );
    }
    if stream {
        s += "spikes streamed to disk chunk by chunk (--stream, or a record larger than half the available memory): only their counts are kept\n";
    }
    if let Some(available) = host_available() {
        let needed = crate::memory::host_needed(&e, software_gpu);
        fits &= needed <= available;
        let what = if software_gpu {
            "host memory (the software GPU's buffers included)"
        } else {
            "host memory"
        };
        s += &format!(
            "{what}: {} needed, {} available on this machine: {}\n",
            crate::files::human(needed),
            crate::files::human(available),
            crate::memory::verdict(needed <= available, opts.tuning.memory_check()),
        );
    }
    if let Some(free) = export::disk_available(&opts.out) {
        fits &= outputs <= free;
        s += &format!(
            "outputs: about {} on disk, {} free for {}: {}\n",
            crate::files::human(outputs),
            crate::files::human(free),
            opts.out.display(),
            crate::memory::verdict(outputs <= free, opts.tuning.memory_check()),
        );
    }
    if let Some(m) = gpu_memory {
        let device = m.usable();
        fits &= e.gpu_bytes() <= device;
        s += &format!(
            "GPU memory: {} needed, {}: {}\n",
            crate::files::human(e.gpu_bytes()),
            describe_device_memory(m),
            crate::memory::verdict(e.gpu_bytes() <= device, opts.tuning.memory_check()),
        );
    }
    Ok(DryRun { text: s, fits })
}
