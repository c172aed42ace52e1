//! `nacc study`: the signature behaviours of the NAcc striatum model
//! (`assets/nacc_striatum.toml`, docs/models/nacc-striatum.md), each an
//! experiment of a few runs of the model changed in one way, measured and
//! drawn:
//!
//! 1. activity: the model as it is (the cortical slow oscillation): rasters,
//!    rate histograms, membranes of chosen MSNs and an FSI;
//! 2. feed-forward inhibition: cortical volleys, with and without FSI -> MSN;
//! 3. dopamine: the tonic level d swept, D1 and D2 rates against d;
//! 4. reward learning: the A/B task of `assets/reward_learning.toml` on
//!    cue inputs to the MSNs, rewarded and not, over several seeds.
//!
//! Every run is an ordinary network: its file is written beside the
//! figures (`study_<run>.toml`), so `nacc run --config` repeats it with
//! every output. The study writes into its out dir as a run does (one
//! transaction): `study.json` (every measured number) and the figures.

mod conditions;
mod figures;
mod measure;

pub use conditions::{Condition, Protocol};
pub use measure::{Activity, Feedforward, Learning, LearningRun, PREFERENCE_HZ, Psth, StudyReport};

use crate::engine::gpu::GpuContext;
use crate::engine::{InputSource, simulate};
use crate::error::{Error, Result, bad_value};
use crate::network::{Model, Network, PopKind};
use crate::record::SpikeRecord;
use crate::run::{Backend, choose_gpu, engine_on, memory_shortfall};
use crate::tuning::Tuning;
use std::path::PathBuf;
use std::sync::Arc;

/// The NAcc striatum model (`assets/nacc_striatum.toml`).
pub const NACC_STRIATUM_TOML: &str = include_str!("../../assets/nacc_striatum.toml");

/// The model as shipped.
pub fn nacc_striatum() -> Result<Network> {
    Network::from_toml_str(NACC_STRIATUM_TOML, "assets/nacc_striatum.toml")
}

/// Options of `nacc study`.
#[derive(Debug, Clone)]
pub struct StudyOptions {
    /// The model (default: `assets/nacc_striatum.toml`, built in).
    pub config: Option<PathBuf>,
    pub seed: u64,
    pub scale: u64,
    pub out: PathBuf,
    pub backend: Backend,
    /// The short protocol (fewer volleys, doses, trials and seeds).
    pub quick: bool,
    /// Say what runs, on stderr.
    pub verbose: bool,
    pub tuning: Tuning,
}

impl Default for StudyOptions {
    fn default() -> Self {
        StudyOptions {
            config: None,
            seed: 0,
            scale: 1,
            out: PathBuf::from("study"),
            backend: Backend::Cpu,
            quick: false,
            verbose: false,
            tuning: Tuning::default(),
        }
    }
}

impl StudyOptions {
    /// The command line that repeats this study.
    pub fn command(&self) -> String {
        let mut s = format!("nacc study --seed {}", self.seed);
        if let Some(c) = &self.config {
            s += &format!(" --config {}", c.display());
        }
        if self.scale != 1 {
            s += &format!(" --scale {}", self.scale);
        }
        if self.quick {
            s += " --quick";
        }
        s
    }
}

/// The populations a study measures, by name.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub d1: usize,
    pub d2: usize,
    pub fsi: usize,
    pub pfc: usize,
}

impl Roles {
    /// `d1`, `d2` and `fsi` neuron populations and a Poisson `pfc`, or a
    /// clear error naming what is missing.
    pub fn of(net: &Network, origin: &str) -> Result<Roles> {
        let find = |name: &str, poisson: bool| {
            net.populations
                .iter()
                .position(|p| p.name == name && matches!(p.kind, PopKind::Poisson { .. }) == poisson)
                .ok_or_else(|| {
                    bad_value(
                        "--config",
                        origin,
                        format!(
                            "nacc study needs a {} population named `{name}` (it measures d1, d2, fsi and drives pfc; docs/models/nacc-striatum.md)",
                            if poisson { "poisson" } else { "neuron" }
                        ),
                    )
                })
        };
        Ok(Roles {
            d1: find("d1", false)?,
            d2: find("d2", false)?,
            fsi: find("fsi", false)?,
            pfc: find("pfc", true)?,
        })
    }
}

/// Runs every experiment of the protocol, writes the figures, the runs'
/// network files and `study.json` into `opts.out`, and returns the report.
pub fn study(opts: &StudyOptions) -> Result<StudyReport> {
    let protocol = if opts.quick {
        Protocol::quick()
    } else {
        Protocol::full()
    };
    study_with(opts, &protocol)
}

/// [`study`] with a protocol of one's own.
pub fn study_with(opts: &StudyOptions, protocol: &Protocol) -> Result<StudyReport> {
    let origin = opts
        .config
        .as_ref()
        .map_or("assets/nacc_striatum.toml".to_string(), |p| {
            p.display().to_string()
        });
    let net = match &opts.config {
        Some(p) => Network::from_file(p)?,
        None => nacc_striatum()?,
    }
    .scaled(opts.scale)?;
    Roles::of(&net, &origin)?;
    crate::outdir::OutDir::precheck(&opts.out)?;
    let runs = protocol.conditions(&net)?;
    let gpu = choose_gpu(opts.backend, opts.tuning.adapter.as_deref())?.map(Arc::new);
    // every run must fit before the first starts
    for c in &runs {
        if let Some(why) = memory_shortfall(&c.net, 1, gpu.as_deref(), &opts.tuning) {
            return Err(Error::Input(format!("nacc study, run `{}`: {why}", c.name)));
        }
    }
    let mut measured = measure::Collector::default();
    for c in &runs {
        if opts.verbose {
            eprintln!("nacc study: {} ({} steps)", c.name, c.steps);
        }
        let seed = opts.seed + c.seed_offset;
        let done = run_one(&c.net, seed, c.steps, gpu.as_ref(), &opts.tuning)?;
        measured.add(c, done, seed)?;
    }
    let adapter = gpu.as_ref().map(|g| g.describe());
    let (report, activity) = measured.finish(opts, protocol, &runs[0].net, adapter);
    write(opts, &runs, &report, &activity)?;
    Ok(report)
}

/// One run: the network's spikes and recorded state over `steps`, with
/// its plastic weights at the end.
pub struct Done {
    pub record: SpikeRecord,
    /// Per projection: its weights before and after (plastic ones only),
    /// as `nn.Linear` orders them (`[post][pre]`).
    pub learned: Vec<Option<(Vec<f32>, Vec<f32>)>>,
}

fn run_one(
    net: &Network,
    seed: u64,
    steps: usize,
    gpu: Option<&Arc<GpuContext>>,
    tuning: &Tuning,
) -> Result<Done> {
    let model = Model::build(net.clone(), seed)?;
    let input = InputSource::generated(&model);
    let chunk = steps.min(crate::run::DEFAULT_CHUNK);
    let (mut engine, _) = engine_on(gpu, &model, &input, chunk, tuning)?;
    let record = simulate(engine.as_mut(), &model.net, &input, steps, chunk, |_| {})?;
    let learned = engine
        .plastic_weights()?
        .into_iter()
        .enumerate()
        .map(|(j, wq)| {
            let Some(wq) = wq else { return Ok(None) };
            let q = model.quantize_projection(j, false)?;
            Ok(Some((q.to_linear(&q.wq), q.to_linear(&wq))))
        })
        .collect::<Result<_>>()?;
    Ok(Done { record, learned })
}

/// The study's files, in one transaction of the out dir.
fn write(
    opts: &StudyOptions,
    runs: &[Condition],
    report: &StudyReport,
    activity: &Done,
) -> Result<()> {
    let mut out = crate::outdir::OutDir::open(&opts.out)?;
    let res = (|| -> Result<()> {
        let dir = out.dir().to_path_buf();
        for c in runs {
            let text = c.toml()?;
            crate::outdir::write_atomic(&dir.join(format!("study_{}.toml", c.name)), |f| {
                use std::io::Write;
                f.write_all(text.as_bytes())
            })?;
        }
        figures::write_all(&dir, opts, &runs[0], report, activity)?;
        let json = serde_json::to_string_pretty(report)
            .map_err(|e| crate::Error::Runtime(format!("study.json: {e}")))?;
        crate::outdir::write_atomic(&dir.join("study.json"), |f| {
            use std::io::Write;
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")
        })?;
        out.publish()
    })();
    res.map_err(|e| out.explain(e))
}

/// What a study found, in a few lines (printed by `nacc study`).
pub fn summary(r: &StudyReport, out: &std::path::Path) -> String {
    let a = &r.activity;
    let f = &r.feedforward;
    let dose = |x: &measure::DoseResponse| {
        format!("d={:.2}: D1 {:.1}, D2 {:.1} Hz", x.d, x.d1_hz, x.d2_hz)
    };
    let doses: Vec<String> = r.dopamine.iter().map(dose).collect();
    let l = &r.learning;
    format!(
        "activity: D1 {:.2} Hz, D2 {:.2} Hz, FSI {:.1} Hz; {:.0} % of MSNs below 1 Hz; MSN membrane up {} / down {}\n\
         feed-forward: FSI peak {:.0} ms, MSN peak {:.0} ms after a volley; MSN response {:.3} spikes/neuron, {:.3} without FSI -> MSN\n\
         dopamine: {}\n\
         learning: D1 came to prefer the rewarded A in {} of {} seeds ({} of {} without reward)\n\
         wrote {} and study.json in {}",
        a.d1_hz,
        a.d2_hz,
        a.fsi_hz,
        100.0 * a.msn_below_1hz,
        a.msn_up_mv.map_or("-".into(), |v| format!("{v:.1} mV")),
        a.msn_down_mv.map_or("-".into(), |v| format!("{v:.1} mV")),
        f.fsi_peak_ms,
        f.msn_peak_ms,
        f.msn_response_intact,
        f.msn_response_no_fsi_msn,
        doses.join("; "),
        l.rewarded_prefer_a,
        l.seeds,
        l.control_prefer_a,
        l.seeds,
        figures::NAMES.join(", "),
        out.display()
    )
}
