//! Knobs for kernel experiments and tests: the `NACC_*` environment
//! variables, parsed once by the binary ([`Tuning::from_vars`]) and passed
//! down. The library reads no environment variable. No knob changes a
//! result: each picks another way to compute the same spikes (or, for
//! `NACC_MEMORY_CHECK` and `NACC_INJECT_DEVICE_LOSS`, whether a run starts
//! or fails on purpose). `docs/cli.md` lists them.

use crate::error::{Error, Result};

/// Every knob, with the value a run takes when its variable is unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuning {
    /// `NACC_THREADS`: threads of the CPU engine and of the network's
    /// construction (default: every core).
    pub threads: Option<usize>,
    /// `NACC_CPU_SIMD=portable`: the CPU engine's baseline loops even where
    /// the CPU has AVX2.
    pub cpu_simd_portable: bool,
    /// `NACC_ADAPTER`: the first GPU adapter whose name contains it.
    pub adapter: Option<String>,
    /// `NACC_MEMORY_CHECK=off`: runs that would not fit the memory or the
    /// disk try anyway.
    pub memory_check_off: bool,
    pub cpu: CpuOptions,
    pub gpu: GpuOptions,
    /// The variables that were set, as given (`nacc bench --json` records
    /// them).
    pub vars: Vec<(String, String)>,
}

/// Sparse projections from a Poisson population: gathered by post or
/// scattered from the spiking pre neurons, for every one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseChoice {
    Gather,
    Scatter,
}

/// How the CPU engine computes (`engine::plan::Plan::cpu`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuOptions {
    /// `NACC_CPU_SPARSE`: gather or scatter every sparse projection from a
    /// Poisson population, whatever its size and rates.
    pub sparse: Option<SparseChoice>,
    /// Projections of at least this many synapses sum `BLOCK_STEPS` steps
    /// at once where they can (default `engine::plan::BLOCK_MIN_SYNAPSES`;
    /// `usize::MAX`: never). Tests set 0 to reach the blocked sums on small
    /// networks.
    pub block_min_synapses: Option<usize>,
}

/// How the GPU engine computes (`engine::plan::Plan::gpu`). Tests set
/// smaller limits than the adapter's to exercise the code paths that large
/// networks take (2-D grids, split weights).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GpuOptions {
    /// Workgroups per grid dimension (default: the adapter's limit).
    pub max_groups_per_dim: Option<u32>,
    /// Bytes per weights binding (default: the adapter's limit).
    pub max_binding_bytes: Option<u64>,
    /// Force (Some(true)) or forbid (Some(false)) the fused one-dispatch
    /// kernel; None: [`GpuOptions::prefer_fused`], else fused for several
    /// trials of a network small enough.
    pub fused: Option<bool>,
    /// `NACC_GPU_FUSED=1` (fused whenever the network allows) or `0`
    /// (never).
    pub prefer_fused: Option<bool>,
    /// Draw generated Poisson input on the host and upload it, instead of
    /// drawing it on the GPU (the default).
    pub host_input: bool,
    /// `NACC_GPU_BLOCK_MIN_SYNAPSES`: projections of at least this many
    /// synapses sum `BLOCK_STEPS` steps at once where they can; default
    /// `engine::plan::BLOCK_MIN_SYNAPSES`. Tests set 0 to reach
    /// `synapse_block` on small networks; a huge value turns it off.
    pub block_min_synapses: Option<usize>,
    /// `NACC_GPU_SCHEDULE=step`: step after step even where a block at a
    /// time could run.
    pub step_schedule: bool,
    /// `NACC_GPU_SPARSE`: on the block schedule, scatter sparse projections
    /// (`synapse_scatter_block`) instead of gathering them by post where
    /// their pre population is busy, or gather every one whatever the rates.
    pub sparse: Option<SparseChoice>,
    /// `NACC_SYN_CHUNK_WORDS` (1..=8): spike words a `synapse_accumulate`
    /// or `synapse_scatter` invocation sums.
    pub syn_chunk_words: Option<u64>,
    /// `NACC_BLOCK_CHUNK_WORDS` (1..=8): spike words a `synapse_block`
    /// invocation sums.
    pub block_chunk_words: Option<u64>,
    /// `NACC_INJECT_DEVICE_LOSS=k`, a test hook: the engine fails like a
    /// lost device once k steps are done, so that tests can check what a
    /// run keeps.
    pub inject_loss_at: Option<u64>,
}

/// The variables [`Tuning::from_vars`] reads, for messages and
/// `nacc bench --json`.
pub const VARIABLES: [&str; 12] = [
    "NACC_THREADS",
    "NACC_CPU_SIMD",
    "NACC_CPU_SPARSE",
    "NACC_ADAPTER",
    "NACC_MEMORY_CHECK",
    "NACC_GPU_FUSED",
    "NACC_GPU_SCHEDULE",
    "NACC_GPU_SPARSE",
    "NACC_GPU_BLOCK_MIN_SYNAPSES",
    "NACC_SYN_CHUNK_WORDS",
    "NACC_BLOCK_CHUNK_WORDS",
    "NACC_INJECT_DEVICE_LOSS",
];

fn bad(var: &str, value: &str, allowed: &str) -> Error {
    Error::Input(format!("{var} = {value:?}: {allowed}"))
}

fn number<T: std::str::FromStr + PartialOrd>(
    var: &str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
    allowed: &str,
) -> Result<T> {
    value
        .parse()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| bad(var, value, allowed))
}

fn sparse(var: &str, value: &str) -> Result<SparseChoice> {
    match value {
        "gather" => Ok(SparseChoice::Gather),
        "scatter" => Ok(SparseChoice::Scatter),
        _ => Err(bad(var, value, "allowed: gather, scatter")),
    }
}

impl Tuning {
    /// The knobs from `get(variable)` (the binary passes the environment).
    /// A value that is not allowed is an error naming the variable.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Tuning> {
        let mut t = Tuning::default();
        for var in VARIABLES {
            let Some(v) = get(var) else { continue };
            t.vars.push((var.to_string(), v.clone()));
            let v = v.as_str();
            match var {
                "NACC_THREADS" => {
                    t.threads = Some(number(var, v, 1..=4096, "allowed: 1 to 4096 threads")?)
                }
                "NACC_CPU_SIMD" => match v {
                    "portable" => t.cpu_simd_portable = true,
                    "auto" => {}
                    _ => return Err(bad(var, v, "allowed: portable, auto")),
                },
                "NACC_CPU_SPARSE" => t.cpu.sparse = Some(sparse(var, v)?),
                "NACC_ADAPTER" => t.adapter = Some(v.to_string()),
                "NACC_MEMORY_CHECK" => match v {
                    "off" => t.memory_check_off = true,
                    "on" => {}
                    _ => return Err(bad(var, v, "allowed: off, on")),
                },
                "NACC_GPU_FUSED" => match v {
                    "1" => t.gpu.prefer_fused = Some(true),
                    "0" => t.gpu.prefer_fused = Some(false),
                    _ => return Err(bad(var, v, "allowed: 1 (fused where it can), 0 (never)")),
                },
                "NACC_GPU_SCHEDULE" => match v {
                    "step" => t.gpu.step_schedule = true,
                    "auto" => {}
                    _ => return Err(bad(var, v, "allowed: step, auto")),
                },
                "NACC_GPU_SPARSE" => t.gpu.sparse = Some(sparse(var, v)?),
                "NACC_GPU_BLOCK_MIN_SYNAPSES" => {
                    let n: u64 = number(var, v, 0..=u64::MAX, "allowed: a number of synapses")?;
                    t.gpu.block_min_synapses = Some(n.try_into().unwrap_or(usize::MAX));
                }
                "NACC_SYN_CHUNK_WORDS" => {
                    t.gpu.syn_chunk_words = Some(number(var, v, 1..=8, "allowed: 1 to 8")?)
                }
                "NACC_BLOCK_CHUNK_WORDS" => {
                    t.gpu.block_chunk_words = Some(number(var, v, 1..=8, "allowed: 1 to 8")?)
                }
                "NACC_INJECT_DEVICE_LOSS" => {
                    t.gpu.inject_loss_at =
                        Some(number(var, v, 0..=u64::MAX, "allowed: a number of steps")?)
                }
                _ => unreachable!("every variable of VARIABLES is matched"),
            }
        }
        Ok(t)
    }

    /// Whether a run checks that it fits the memory and the disk.
    pub fn memory_check(&self) -> bool {
        !self.memory_check_off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Tuning> {
        Tuning::from_vars(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn unset_is_the_default_and_every_variable_reaches_its_field() {
        assert_eq!(parse(&[]).unwrap(), Tuning::default());
        let t = parse(&[
            ("NACC_THREADS", "3"),
            ("NACC_CPU_SIMD", "portable"),
            ("NACC_CPU_SPARSE", "gather"),
            ("NACC_ADAPTER", "llvmpipe"),
            ("NACC_MEMORY_CHECK", "off"),
            ("NACC_GPU_FUSED", "0"),
            ("NACC_GPU_SCHEDULE", "step"),
            ("NACC_GPU_SPARSE", "scatter"),
            ("NACC_GPU_BLOCK_MIN_SYNAPSES", "0"),
            ("NACC_SYN_CHUNK_WORDS", "2"),
            ("NACC_BLOCK_CHUNK_WORDS", "8"),
            ("NACC_INJECT_DEVICE_LOSS", "40"),
        ])
        .unwrap();
        assert_eq!(t.threads, Some(3));
        assert!(t.cpu_simd_portable && !t.memory_check());
        assert_eq!(t.cpu.sparse, Some(SparseChoice::Gather));
        assert_eq!(t.adapter.as_deref(), Some("llvmpipe"));
        let g = t.gpu;
        assert_eq!(g.prefer_fused, Some(false));
        assert!(g.step_schedule);
        assert_eq!(g.sparse, Some(SparseChoice::Scatter));
        assert_eq!(g.block_min_synapses, Some(0));
        assert_eq!((g.syn_chunk_words, g.block_chunk_words), (Some(2), Some(8)));
        assert_eq!(g.inject_loss_at, Some(40));
        assert_eq!(t.vars.len(), 12);
        assert_eq!(t.vars[0], ("NACC_THREADS".to_string(), "3".to_string()));
    }

    #[test]
    fn a_value_not_allowed_is_an_error_naming_variable_value_and_choices() {
        for (var, value, allowed) in [
            ("NACC_THREADS", "0", "1 to 4096"),
            ("NACC_THREADS", "many", "1 to 4096"),
            ("NACC_CPU_SPARSE", "both", "gather, scatter"),
            ("NACC_GPU_FUSED", "yes", "1 (fused"),
            ("NACC_SYN_CHUNK_WORDS", "9", "1 to 8"),
            ("NACC_MEMORY_CHECK", "of", "off, on"),
        ] {
            let e = parse(&[(var, value)]).unwrap_err().to_string();
            assert!(
                e.contains(var) && e.contains(&format!("{value:?}")) && e.contains(allowed),
                "{e}"
            );
        }
    }
}
