//! Command-line types (clap) and their conversion into library options.

use crate::run::{Backend, DEFAULT_CHUNK, RunOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "nacc",
    version,
    about = "Spiking network simulator of the Nucleus Accumbens, GPU-accelerated with a bit-exact CPU reference",
    long_about = "Spiking network simulator of the Nucleus Accumbens.\n\n\
        With no command, runs the default NAcc network (input 100 / inter 50 / msn 20) \
        for 1000 steps with seed 0 and writes spikes, weights, rasters and summary.json into ./out."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a network and write its spikes, weights, rasters and summary into --out.
    Run(RunArgs),
    /// Run the same network, seed, input and steps on the CPU and the GPU and
    /// compare spikes and membranes with ==. Exit 0 identical, 1 different, 2 bad input.
    Compare(RunArgs),
    /// List the GPU adapters wgpu sees, with backend, type and limits.
    Devices,
    /// Redraw the figures of a previous run from the files in its out dir.
    Render(RenderArgs),
    /// Time a fixed suite of networks on the chosen backend, with the CPU
    /// engine in the same run for the speed-up.
    Bench(BenchArgs),
    /// Run the experiments that show the NAcc striatum model's signature
    /// behaviours (activity, feed-forward inhibition, dopamine, reward
    /// learning) and write their figures and numbers into --out.
    Study(StudyArgs),
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The model (default: the built-in assets/nacc_striatum.toml); it
    /// needs populations d1, d2, fsi (neurons) and pfc (Poisson).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of every run (the learning runs take seed, seed + 1, ...).
    #[arg(long, value_name = "S", default_value_t = 0, allow_negative_numbers = true, value_parser = any_u64)]
    pub seed: u64,
    /// Multiply every population size by K.
    #[arg(long, value_name = "K", default_value_t = 1, allow_negative_numbers = true, value_parser = at_least_1_u64)]
    pub scale: u64,
    /// Directory for the figures, study.json and the runs' network files.
    #[arg(long, value_name = "DIR", default_value = "study")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// The short protocol: fewer volleys, doses, presentations and seeds.
    #[arg(long)]
    pub quick: bool,
    /// Say nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

impl StudyArgs {
    pub fn to_options(&self) -> crate::study::StudyOptions {
        crate::study::StudyOptions {
            config: self.config.clone(),
            seed: self.seed,
            scale: self.scale,
            out: self.out.clone(),
            backend: self.backend.backend(),
            quick: self.quick,
            verbose: !self.quiet,
            tuning: Default::default(),
        }
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Seconds each network may run (beyond its warm-up).
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    pub budget: f64,
    /// Only this network of the suite (seed, large, msn-fsi, sparse-1m,
    /// trials, recurrent, recurrent-open, recurrent-open-3,
    /// recurrent-open-0, nacc-striatum-10k, nacc-striatum-300k,
    /// nacc-striatum-2.8m, or nacc-striatum for its three scales);
    /// repeat for several. Default: all.
    #[arg(long = "network", value_name = "NAME")]
    pub networks: Vec<String>,
    /// Also time every kernel on the GPU (timestamps around each dispatch,
    /// 64 more steps): microseconds per step per kernel.
    #[arg(long)]
    pub profile: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The --out dir of a nacc run (config.toml, spikes_*.npy, weights_*.npy).
    pub dir: PathBuf,
    /// Start of the time window: steps ("250") or milliseconds ("250ms").
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// End of the time window (exclusive): steps or milliseconds.
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// Neurons A..B (B exclusive) of every population.
    #[arg(long, value_name = "A..B")]
    pub neurons: Option<String>,
    /// Width of every figure in pixels.
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,
    /// Height of nacc.png in pixels (panels scale to fit).
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,
    /// Where to write the figures (default: DIR).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The trial to draw of a `nacc run --trials N` run (0..N; default 0).
    #[arg(long, value_name = "K")]
    pub trial: Option<usize>,
}

impl RenderArgs {
    pub fn to_options(&self) -> crate::render::RenderOptions {
        crate::render::RenderOptions {
            dir: self.dir.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            neurons: self.neurons.clone(),
            width: self.width,
            height: self.height,
            out: self.out.clone(),
            trial: self.trial,
        }
    }
}

/// A whole number of at least `min`, with a message saying so (clap's own
/// says "invalid digit found in string" for "-5").
fn whole_at_least<T: std::str::FromStr + TryFrom<u64>>(text: &str, min: u64) -> Result<T, String> {
    let rule = if min == 0 {
        "must be a whole number >= 0".to_string()
    } else {
        format!("must be a whole number >= {min}")
    };
    let v: u64 = text.trim().parse().map_err(|_| rule.clone())?;
    if v < min {
        return Err(rule);
    }
    T::try_from(v).map_err(|_| format!("{rule}, at most {}", u64::MAX))
}

fn at_least_1_u64(text: &str) -> Result<u64, String> {
    whole_at_least(text, 1)
}

fn at_least_1(text: &str) -> Result<usize, String> {
    whole_at_least(text, 1)
}

fn any_u64(text: &str) -> Result<u64, String> {
    whole_at_least(text, 0)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// A hardware GPU when wgpu finds one, else the CPU engine.
    Auto,
    Cpu,
    Gpu,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Network file (TOML); default: the built-in NAcc model (assets/nacc.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Steps to simulate (1 step = dt_ms); default 1000, or T of --input-spikes.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_1_u64)]
    pub steps: Option<u64>,
    /// Seed of weights, biases, input rates and input spikes.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        allow_negative_numbers = true,
        value_parser = any_u64
    )]
    pub seed: u64,
    /// Multiply every population size by K.
    #[arg(
        long,
        value_name = "K",
        default_value_t = 1,
        allow_negative_numbers = true,
        value_parser = at_least_1_u64
    )]
    pub scale: u64,
    /// Directory for the outputs (created if needed).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// No progress bar and no table.
    #[arg(long)]
    pub quiet: bool,
    /// Load weights_{proj}.npy and bias_{proj}.npy (or a sparse projection's COO files) from DIR instead of drawing them.
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// Input spikes, T x N_input uint8 0/1, instead of Poisson draws.
    #[arg(long, value_name = "FILE.npy")]
    pub input_spikes: Option<PathBuf>,
    /// Independent trials (input drawn with each trial's seed, same
    /// weights); spikes_*.npy gain a leading trial axis.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        allow_negative_numbers = true,
        value_parser = at_least_1
    )]
    pub trials: usize,
    /// Write spikes_*.npy chunk by chunk (valid after every chunk, memory
    /// flat); automatic when the record would not fit in half the memory.
    /// Figures are then left to `nacc render`.
    #[arg(long)]
    pub stream: bool,
    /// Write spikes_<pop>_packed.npy, 8 neurons a byte (NumPy:
    /// np.unpackbits(a, axis=-1, count=N, bitorder="little")), instead of
    /// spikes_<pop>.npy, a byte a neuron: 8x smaller.
    #[arg(long)]
    pub packed_spikes: bool,
    /// Write no weights_*.npy / bias_*.npy but a plastic projection's
    /// learned ones: the others follow from config.toml and the seed
    /// (sparse-1m's are 6 GB).
    #[arg(long)]
    pub no_weight_files: bool,
    /// Print the host and GPU memory the run would need (and whether this
    /// machine and its GPU have it), and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Steps per engine chunk (spikes are handed back once per chunk).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHUNK, allow_negative_numbers = true, value_parser = at_least_1)]
    pub chunk: usize,
}

impl Default for RunArgs {
    fn default() -> Self {
        // The defaults clap gives `nacc run` with no options.
        match Cli::parse_from(["nacc", "run"]).command {
            Some(Command::Run(a)) => a,
            _ => unreachable!("`nacc run` parses to the run command"),
        }
    }
}

impl BackendArg {
    pub fn backend(self) -> Backend {
        match self {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Cpu => Backend::Cpu,
            BackendArg::Gpu => Backend::Gpu,
        }
    }
}

impl RunArgs {
    pub fn to_options(&self) -> RunOptions {
        RunOptions {
            config: self.config.clone(),
            steps: self.steps,
            seed: self.seed,
            scale: self.scale,
            out: self.out.clone(),
            backend: self.backend.backend(),
            quiet: self.quiet,
            weights: self.weights.clone(),
            input_spikes: self.input_spikes.clone(),
            chunk: self.chunk,
            trials: self.trials,
            stop: None,
            exit_at_once: None,
            stream: self.stream,
            packed_spikes: self.packed_spikes,
            no_weight_files: self.no_weight_files,
            ..Default::default()
        }
    }
}
