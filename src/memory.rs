//! Memory a run needs, estimated from the network alone (`--dry-run`), and
//! measured on the objects a run builds, so that tests can hold the
//! estimate to the truth.

use crate::engine::plan::Plan;
use crate::error::{Error, Result};
use crate::files::human;
use crate::network::{Connectivity, Network};
use crate::network::{Model, Quantized};
use crate::record::SpikeRecord;

/// Bytes a run needs, by part.
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    pub host: Vec<(String, u64)>,
    pub gpu: Vec<(String, u64)>,
}

impl Estimate {
    pub fn host_bytes(&self) -> u64 {
        self.host.iter().map(|x| x.1).sum()
    }
    pub fn gpu_bytes(&self) -> u64 {
        self.gpu.iter().map(|x| x.1).sum()
    }
    /// The bytes of the host part named `what` (0 when there is none).
    pub fn part(&self, what: &str) -> u64 {
        self.host.iter().filter(|p| p.0 == what).map(|p| p.1).sum()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for (title, parts, total) in [
            ("host", &self.host, self.host_bytes()),
            ("GPU", &self.gpu, self.gpu_bytes()),
        ] {
            if parts.is_empty() {
                continue;
            }
            s += &format!("{title} memory: {} ({total} bytes)\n", human(total));
            for (what, b) in parts {
                s += &format!("  {:<48} {:>10}\n", what, human(*b));
            }
        }
        s
    }
}

/// The name of the engine's fixed-point weights in an [`Estimate`].
pub const FIXED_POINT: &str = "fixed-point weights (engine)";

/// Host memory this process can still get, in bytes: Linux's MemAvailable
/// plus free swap, lowered to what is left under the process's cgroup
/// memory limit (v1 or v2; its page cache not counted as used) when it has
/// one. None where the system does not say (not Linux).
pub fn host_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |name: &str| -> Option<u64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    let system = kib("MemAvailable:")? + kib("SwapFree:").unwrap_or(0);
    Some(cgroup_left().map_or(system, |left| left.min(system)))
}

/// What is left under the memory limit of the process's cgroups, when one
/// has a limit (see [`cgroup_left_in`]).
fn cgroup_left() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroup_left_in(&cgroups, |path| std::fs::read_to_string(path).ok())
}

/// What is left under the memory limits that apply to the cgroups listed
/// in `cgroups` (the text of `/proc/self/cgroup`), reading the cgroup files
/// with `read`: the smallest limit - (usage - inactive page cache), or None
/// when nothing is limited. v2 (`0::/path`): this cgroup and each one
/// above it; v1 (the `memory` controller): its hierarchical limit. Inside
/// a container the listed path may not exist under the mount: then the
/// mount's root is read.
fn cgroup_left_in(cgroups: &str, read: impl Fn(&str) -> Option<String>) -> Option<u64> {
    let number = |path: String| -> Option<u64> { read(&path)?.trim().parse().ok() };
    let stat = |dir: &str, key: &str| -> Option<u64> {
        read(&format!("{dir}/memory.stat"))?
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
    };
    // limit - (usage - cache) of one cgroup directory, when it has a limit
    // ("max", v2's "no limit", does not parse)
    let left = |dir: &str, v2: bool| -> Option<u64> {
        let (limit, used, cache) = if v2 {
            (
                number(format!("{dir}/memory.max"))?,
                number(format!("{dir}/memory.current"))?,
                stat(dir, "inactive_file"),
            )
        } else {
            (
                stat(dir, "hierarchical_memory_limit")
                    .or_else(|| number(format!("{dir}/memory.limit_in_bytes")))?,
                number(format!("{dir}/memory.usage_in_bytes"))?,
                stat(dir, "total_inactive_file"),
            )
        };
        Some(limit.saturating_sub(used.saturating_sub(cache.unwrap_or(0))))
    };
    let mut smallest: Option<u64> = None;
    let mut take = |x: Option<u64>| {
        if let Some(x) = x {
            smallest = Some(smallest.map_or(x, |s| s.min(x)));
        }
    };
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            let root = "/sys/fs/cgroup";
            if read(&format!("{root}{path}/memory.current")).is_none() {
                take(left(root, true));
                continue;
            }
            // this cgroup, then each parent up to the root
            let mut p = path;
            loop {
                take(left(&format!("{root}{p}"), true));
                match p.rfind('/') {
                    Some(i) => p = &p[..i],
                    None => break,
                }
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            let root = "/sys/fs/cgroup/memory";
            let dir = format!("{root}{path}");
            if read(&format!("{dir}/memory.usage_in_bytes")).is_some() {
                take(left(&dir, false));
            } else {
                take(left(root, false));
            }
        }
    }
    smallest
}

/// The parts of `e` that take host memory: the host's, and the GPU's too
/// when the GPU is a software one (lavapipe, WARP: its buffers are host
/// memory).
fn host_parts(e: &Estimate, software_gpu: bool) -> Vec<&(String, u64)> {
    let mut parts: Vec<&(String, u64)> = e.host.iter().collect();
    if software_gpu {
        parts.extend(e.gpu.iter());
    }
    parts
}

/// The two largest of `parts`, with their sizes.
fn largest(mut parts: Vec<&(String, u64)>) -> String {
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    let two: Vec<String> = parts
        .iter()
        .take(2)
        .map(|(what, b)| format!("{what} {}", human(*b)))
        .collect();
    two.join(", ")
}

/// The host memory `e` needs (see [`host_parts`]).
pub fn host_needed(e: &Estimate, software_gpu: bool) -> u64 {
    host_parts(e, software_gpu).iter().map(|p| p.1).sum()
}

/// When `e` needs more host memory than `available`: what it needs (with
/// its two largest parts) and what there is.
pub fn shortfall(e: &Estimate, software_gpu: bool, available: u64) -> Option<String> {
    let total = host_needed(e, software_gpu);
    if total <= available {
        return None;
    }
    let gpu = if software_gpu {
        ", the software GPU's buffers included"
    } else {
        ""
    };
    Some(format!(
        "needs about {} of host memory{gpu} ({}) but this machine has {} available",
        human(total),
        largest(host_parts(e, software_gpu)),
        human(available),
    ))
}

/// When the GPU part of `e` exceeds the `device` bytes of a hardware
/// GPU's memory: what it needs (with its two largest parts) and what the
/// device has.
pub fn gpu_shortfall(e: &Estimate, device: u64) -> Option<String> {
    let total = e.gpu_bytes();
    if total <= device {
        return None;
    }
    Some(format!(
        "needs about {} of GPU memory ({}) but the GPU has {} available",
        human(total),
        largest(e.gpu.iter().collect()),
        human(device),
    ))
}

/// What `e` needs beyond the host memory still `available` ([`shortfall`]),
/// else beyond `gpu_memory`, a hardware GPU's memory ([`gpu_shortfall`],
/// then `true`); None when it fits or nothing is known.
pub fn shortfall_of(
    e: &Estimate,
    software_gpu: bool,
    available: Option<u64>,
    gpu_memory: Option<u64>,
) -> Option<(String, bool)> {
    let host = available.and_then(|a| shortfall(e, software_gpu, a));
    host.map(|why| (why, false)).or_else(|| {
        gpu_memory
            .and_then(|m| gpu_shortfall(e, m))
            .map(|why| (why, true))
    })
}

/// The error for a run whose estimate `e` does not fit in the host memory
/// still `available`, or in `gpu_memory`, a hardware GPU's memory (None,
/// unknown: assumed to fit), before anything is built (the caller skips it
/// under `NACC_MEMORY_CHECK=off`).
pub fn check_fits(
    e: &Estimate,
    software_gpu: bool,
    available: Option<u64>,
    gpu_memory: Option<u64>,
) -> Result<()> {
    let (why, or) = match shortfall_of(e, software_gpu, available, gpu_memory) {
        None => return Ok(()),
        Some((why, false)) => (why, "fewer --trials or --steps"),
        Some((why, true)) => (why, "fewer --trials, --backend cpu"),
    };
    Err(Error::Input(format!(
        "the run {why} (--dry-run itemises it): run a smaller network (--scale, or sparse projections: fixed_fan_in, fixed_probability), {or}, or set NACC_MEMORY_CHECK=off to try anyway"
    )))
}

/// `--dry-run`'s verdict on a run that needs more than there is or not.
/// `checked`: whether the run checks it (not under `NACC_MEMORY_CHECK=off`).
pub fn verdict(fits: bool, checked: bool) -> &'static str {
    if fits {
        "fits"
    } else if checked {
        "does not fit: nacc run would stop before building anything (NACC_MEMORY_CHECK=off tries anyway)"
    } else {
        "does not fit (NACC_MEMORY_CHECK=off: nacc run tries anyway)"
    }
}

/// What running `net` on the GPU (as `plan` says) and on the CPU engine at
/// once needs, recording spike counts only (`nacc compare`, `nacc bench`):
/// the GPU run's estimate plus the CPU engine's fixed-point weights.
pub fn estimate_both(net: &Network, chunk: usize, plan: &Plan) -> Estimate {
    let mut e = estimate(net, 0, chunk, Some(plan), 1);
    let cpu = estimate(net, 0, chunk, None, 1);
    e.host.push((
        "fixed-point weights (CPU engine)".into(),
        cpu.part(FIXED_POINT),
    ));
    e
}

/// What a run of `trials` trials of `steps` steps in chunks of `chunk` will
/// allocate; the GPU part when `gpu` says how the GPU engine will run it.
pub fn estimate(
    net: &Network,
    steps: usize,
    chunk: usize,
    gpu: Option<&Plan>,
    trials: usize,
) -> Estimate {
    let trials = trials as u64;
    let mut e = Estimate::default();
    let mut raw = 0u64;
    let mut quant = 0u64;
    // sparse projections the engine gathers are quantised by post (no CSR)
    let by_post: Vec<bool> = match gpu {
        Some(plan) => plan.gathered(),
        None => Plan::cpu(net, &Default::default()).gathered(),
    };
    for (j, p) in net.projections.iter().enumerate() {
        let (n_pre, n_post) = (
            net.populations[p.pre].size as u64,
            net.populations[p.post].size as u64,
        );
        let syn = net.synapses(j);
        raw += n_post * 4; // bias
        match p.conn {
            Connectivity::Dense => {
                raw += syn * 4;
                quant += syn * 4;
            }
            _ => {
                raw += syn * 8 + (n_post + 1) * 8;
                quant += if by_post.get(j) == Some(&true) {
                    syn * 4
                } else {
                    syn * 8 + (n_pre + 1) * 8
                };
            }
        }
    }
    // a byte per synapse of a delay range, raw and pre-major
    let delays: u64 = (0..net.projections.len())
        .filter(|&j| net.projections[j].delay.per_synapse())
        .map(|j| net.synapses(j))
        .sum();
    raw += delays;
    quant += delays;
    e.host.push(("weights and biases (raw f32)".into(), raw));
    e.host.push((FIXED_POINT.into(), quant));
    if plastic_bytes(net, false) > 0 {
        e.host.push((
            "plasticity: eligibility and traces".into(),
            plastic_bytes(net, false),
        ));
    }
    let neurons = net.total_neurons();
    if gpu.is_none() {
        e.host.push((
            "CPU engine: membranes, currents, sums and biases".into(),
            trials * cpu_engine_state(net),
        ));
        if ring_bytes(net, false) > 0 {
            let rings = trials * ring_bytes(net, false);
            e.host.push(("rings of delayed sums".into(), rings));
        }
    }
    e.host.push((
        "spike record (1 bit/neuron/step) and counts".into(),
        trials * (SpikeRecord::bytes_needed(net, steps) as u64 + neurons * 4),
    ));
    if !net.records.is_empty() {
        e.host.push((
            "recorded state ([[record]], float32 samples)".into(),
            trials * state_record_bytes(net, steps),
        ));
    }
    if let Some(plan) = gpu {
        let (g, by_post) = gpu_parts(net, plan, chunk);
        if by_post > 0 {
            // built on the host from the pre-major synapses, then uploaded
            e.host
                .push(("sparse synapses by post (while building)".into(), by_post));
        }
        e.gpu = g;
    }
    e
}

/// The rings of every delayed projection (docs/arithmetic.md §2.4): slots of one
/// sum per post neuron, and for a plastic one a row of its pre neurons'
/// spikes per slot (`blocks`: the GPU's, see `plan::ring_slots`).
fn ring_bytes(net: &Network, blocks: bool) -> u64 {
    net.projections
        .iter()
        .zip(crate::engine::plan::rings(net, blocks))
        .map(|(p, slots)| {
            let n_post = net.populations[p.post].size as u64;
            let arrivals = match p.plasticity {
                Some(_) => net.populations[p.pre].words_per_step() as u64,
                None => 0,
            };
            slots as u64 * (n_post + arrivals) * 4
        })
        .sum()
}

/// Eligibility per synapse and one trace per pre and post neuron of every
/// plastic projection (`padded`: rows padded to vec4s, as on the GPU).
fn plastic_bytes(net: &Network, padded: bool) -> u64 {
    net.projections
        .iter()
        .filter(|p| p.plasticity.is_some())
        .map(|p| {
            let (n_pre, n_post) = (
                net.populations[p.pre].size as u64,
                net.populations[p.post].size as u64,
            );
            let row = if padded {
                n_post.div_ceil(4) * 4
            } else {
                n_post
            };
            (n_pre * row + n_pre + n_post) * 4
        })
        .sum()
}

/// What the GPU engine holds for `plan` in chunks of `chunk` steps, and
/// the host bytes of sparse synapses sorted by post while it is built.
fn gpu_parts(net: &Network, plan: &Plan, chunk: usize) -> (Vec<(String, u64)>, u64) {
    let neurons = net.total_neurons();
    // the GPU holds the trials it runs side by side
    let trials = plan.trials as u64;
    let row_words = net.row_words() as u64;
    let cap = plan.capacity.min(chunk).max(1) as u64;
    let mg_tables = net
        .projections
        .iter()
        .filter(|p| p.synapse.kind == crate::network::SynapseKind::Nmda)
        .count() as u64
        * crate::network::neuron::MG_TABLE_LEN as u64
        * 4;
    let v: u64 = net
        .populations
        .iter()
        .filter(|p| !p.is_poisson())
        .map(|p| p.size as u64)
        .sum();
    let posts: u64 = net
        .projections
        .iter()
        .map(|p| net.populations[p.post].size as u64)
        .sum();
    let mut g = vec![
        (
            "spike rows of a chunk, staging, carry".to_string(),
            if trials > 1 {
                trials * (2 * (cap + 1) + 1)
            } else {
                (cap + 1) + cap + 1
            } * row_words
                * 4,
        ),
        ("membranes (and staging)".to_string(), trials * v * 8),
        (
            "biases (and NMDA's tables)".to_string(),
            posts * 4 + mg_tables,
        ),
    ];
    if plan.gen_input {
        let poisson: u64 = net
            .populations
            .iter()
            .filter(|p| p.is_poisson())
            .map(|p| p.size as u64)
            .sum();
        g.push(("Poisson thresholds".into(), poisson * 4));
    }
    let gathered = plan.gathered();
    let (mut weights, mut by_post) = (0u64, 0u64);
    for (j, p) in net.projections.iter().enumerate() {
        let (n_pre, n_post) = (
            net.populations[p.pre].size as u64,
            net.populations[p.post].size as u64,
        );
        weights += match (p.conn, plan.fused) {
            (Connectivity::Dense, true) => n_pre * n_post * 4,
            (Connectivity::Dense, false) => n_pre * n_post.div_ceil(4) * 16,
            // by post in slices of 64, each as wide as its largest
            // fan-in (about mean + 2.4 sd: the largest of 64 draws)
            (conn, _) if gathered[j] => {
                let slices = n_post.div_ceil(64);
                let width = match conn {
                    Connectivity::FixedFanIn(k) => k as f64,
                    Connectivity::OneToOne => 1.0,
                    // a post's fan-in: each pre picks it with chance k / n_post
                    Connectivity::FixedFanOut(k) => {
                        let (n, q) = (n_pre as f64, (k as f64 / n_post as f64).min(1.0));
                        n * q + 2.4 * (n * q * (1.0 - q)).sqrt()
                    }
                    Connectivity::FixedProbability(q) => {
                        let n = n_pre as f64;
                        n * q + 2.4 * (n * q * (1.0 - q)).sqrt()
                    }
                    Connectivity::Dense => unreachable!("dense is matched above"),
                };
                let slots = (slices as f64 * 64.0 * width.ceil()) as u64 * 8;
                by_post += slots;
                slots + (slices + 1) * 4
            }
            _ if net.projections[j].delay.per_synapse() => net.synapses(j) * 9 + (n_pre + 1) * 4,
            _ => net.synapses(j) * 8 + (n_pre + 1) * 4,
        };
    }
    g.push((
        "weights (fixed point, as the kernels read them)".into(),
        weights,
    ));
    if by_post > 0 {
        g.push((
            "spike masks of a block (sparse projections)".into(),
            trials * neurons * 4,
        ));
    }
    if !plan.fused {
        // BLOCK_STEPS rows of sums for a projection that sums in blocks
        let sums: u64 = net
            .projections
            .iter()
            .zip(plan.blocked())
            .map(|(p, b)| {
                let rows = if b {
                    crate::engine::plan::BLOCK_STEPS
                } else {
                    1
                };
                (rows * net.populations[p.post].size) as u64
            })
            .sum();
        g.push(("synaptic sums".into(), trials * sums * 4));
        if ring_bytes(net, true) > 0 {
            g.push((
                "rings of delayed sums".into(),
                trials * ring_bytes(net, true),
            ));
        }
    }
    g.push(("step uniforms".into(), cap * plan.step_stride as u64));
    g.extend(model_parts(net, cap, trials));
    if plastic_bytes(net, true) > 0 {
        g.push((
            "plasticity: eligibility and traces".into(),
            plastic_bytes(net, true),
        ));
    }
    let modulated = net.populations.iter().any(|p| p.dopamine.is_some());
    if modulated || plastic_bytes(net, true) > 0 {
        let n_plastic = net
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some())
            .count();
        let per_step = (crate::dopamine::gain_row(net) + n_plastic) as u64 * 4;
        g.push((
            "dopamine's gains and learning factors of a chunk".into(),
            cap * per_step,
        ));
    }
    (g, by_post)
}

/// The GPU buffers of the physical models and the records: the models'
/// state of every trial side by side, and a part's samples (with their
/// staging and their sources).
fn model_parts(net: &Network, cap: u64, trials: u64) -> Vec<(String, u64)> {
    let mut g = Vec::new();
    let state = net.state_words() as u64 * 4;
    if state > 0 {
        g.push((
            "model state (u, refractory, synapses)".into(),
            trials * state,
        ));
    }
    if !net.records.is_empty() {
        // a part's samples and their staging, the sources' indices
        let per_part: u64 = net
            .probes()
            .iter()
            .map(|&(r, _)| {
                let rec = &net.records[r];
                (cap.div_ceil(rec.every) * 8 + 4) * rec.neurons.len() as u64
            })
            .sum();
        g.push(("recorded state of a chunk ([[record]])".into(), per_part));
    }
    g
}

/// Bytes of the CPU engine's own state (besides its fixed-point weights):
/// per LIF neuron its membrane and current; per projection its sums and
/// biases, `BLOCK_STEPS` rows of sums when it sums in blocks (dense from a
/// Poisson population, or gathered by post), and one row of sums per
/// thread when a sparse projection is scattered by several threads; per
/// Poisson neuron its rate and threshold.
fn cpu_engine_state(net: &Network) -> u64 {
    use crate::engine::plan::{BLOCK_STEPS, PARALLEL_MIN_SYNAPSES};
    let threads = crate::threads::count() as u64;
    let plan = Plan::cpu(net, &Default::default());
    let neurons: u64 = net.populations.iter().map(|p| p.size as u64 * 8).sum();
    let projections: u64 = (0..net.projections.len())
        .map(|j| {
            let p = &net.projections[j];
            let n_post = net.populations[p.post].size as u64;
            let rows = if plan.sums[j].in_slots() {
                1 + BLOCK_STEPS as u64
            } else if !p.conn.is_dense() && net.synapses(j) >= PARALLEL_MIN_SYNAPSES as u64 {
                1 + threads
            } else {
                1
            };
            (rows + 1) * n_post * 4
        })
        .sum();
    neurons + projections + net.state_words() as u64 * 4
}

/// Bytes of the samples `steps` steps record (every `[[record]]` variable).
pub fn state_record_bytes(net: &Network, steps: usize) -> u64 {
    net.probes()
        .iter()
        .map(|&(r, _)| {
            let rec = &net.records[r];
            rec.samples(steps as u64) * rec.neurons.len() as u64 * 4
        })
        .sum()
}

/// Heap bytes of a built model (weights, biases, rates).
pub fn model_bytes(m: &Model) -> u64 {
    m.weights
        .iter()
        .map(|w| {
            let sparse = w
                .sparse
                .as_ref()
                .map_or(0, |s| s.ptr.capacity() * 8 + s.pre.capacity() * 4);
            let delays = w.delays.as_ref().map_or(0, |d| d.capacity());
            (w.w.capacity() + w.b.capacity()) as u64 * 4 + (sparse + delays) as u64
        })
        .sum()
}

/// Heap bytes of the fixed-point form of a model.
pub fn quantized_bytes(q: &[Quantized]) -> u64 {
    q.iter()
        .map(|q| {
            let sparse = q
                .sparse
                .as_ref()
                .map_or(0, |s| s.pre_ptr.capacity() * 8 + s.post.capacity() * 4);
            let delays = q.delays.as_ref().map_or(0, |d| d.capacity());
            q.wq.capacity() as u64 * 4 + (sparse + delays) as u64
        })
        .sum()
}

/// Heap bytes of a spike record, with its recorded state.
pub fn record_bytes(r: &SpikeRecord) -> u64 {
    let state: u64 = r.state.iter().map(|s| s.capacity() as u64 * 4).sum();
    r.pops
        .iter()
        .map(|p| (p.bits.capacity() + p.counts.capacity()) as u64 * 4)
        .sum::<u64>()
        + state
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cgroup_left_in` over a fake file system of (path, contents).
    fn left(cgroups: &str, files: &[(&str, &str)]) -> Option<u64> {
        let files: std::collections::HashMap<String, String> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        cgroup_left_in(cgroups, |p| files.get(p).cloned())
    }

    #[test]
    fn cgroup_limits_are_read_for_v1_and_v2_up_the_hierarchy() {
        const G: u64 = 1 << 30;
        let s = |x: u64| x.to_string();
        // v1: limit 2 GiB, 1 GiB used of which 0.5 GiB inactive page cache
        let v1 = "4:memory:/job/1\n3:cpu:/\n";
        let d1 = "/sys/fs/cgroup/memory/job/1";
        let stat = format!("cache 5\ntotal_inactive_file {}\n", G / 2);
        let files = [
            (format!("{d1}/memory.limit_in_bytes"), s(2 * G)),
            (format!("{d1}/memory.usage_in_bytes"), s(G)),
            (format!("{d1}/memory.stat"), stat.clone()),
        ];
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(left(v1, &refs), Some(G + G / 2));
        // a parent's lower limit, as v1 reports it (hierarchical)
        let stat_h = format!("{stat}hierarchical_memory_limit {}\n", G + G / 4);
        let mut h = refs.clone();
        h[2].1 = &stat_h;
        assert_eq!(left(v1, &h), Some(G / 4 + G / 2));
        // unlimited (v1's huge value) leaves everything
        let mut u = refs.clone();
        u[0].1 = "9223372036854771712";
        assert_eq!(left(v1, &u), Some(9223372036854771712 - G / 2));
        // inside a container: the listed path is not under the mount
        let root: Vec<(String, &str)> = refs
            .iter()
            .map(|(p, c)| (p.replace("/job/1", ""), *c))
            .collect();
        let root: Vec<(&str, &str)> = root.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        assert_eq!(left(v1, &root), Some(G + G / 2));

        // v2: no limit here ("max"), 4 GiB on the parent with 3 GiB used,
        // 1 GiB of it inactive page cache; the root has no files
        let v2 = "0::/user/job\n";
        let files = [
            ("/sys/fs/cgroup/user/job/memory.max", "max".to_string()),
            ("/sys/fs/cgroup/user/job/memory.current", s(G)),
            ("/sys/fs/cgroup/user/memory.max", s(4 * G)),
            ("/sys/fs/cgroup/user/memory.current", s(3 * G)),
            (
                "/sys/fs/cgroup/user/memory.stat",
                format!("anon 1\ninactive_file {G}\n"),
            ),
        ];
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
        assert_eq!(left(v2, &refs), Some(2 * G));
        // nothing limited anywhere: None (MemAvailable alone decides)
        assert_eq!(left(v2, &refs[..2]), None);
        assert_eq!(left("0::/\n", &[]), None);
        assert_eq!(left("garbage", &refs), None);
    }
}
