//! The `nacc` binary: parse, run, map errors to exit codes (2 for bad input).

use clap::Parser;
use nacc::cli::{Cli, Command, RunArgs};
use nacc::tuning::Tuning;
use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_wayland();
    // started by mpirun or srun: MPI first (it must see the whole command line)
    let ranks = match start_ranks() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nacc: error: {e}");
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // only rank 0 speaks; the others end with its exit code
    let root = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    if let Some(Err(e)) = ranks.as_ref().map(|c| same_options(&**c)) {
        if root {
            eprintln!("nacc: error: {e}");
        }
        return ExitCode::from(e.exit_code() as u8);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !root => return ExitCode::from(e.exit_code() as u8),
        Err(e) => return usage_error(e),
    };
    let split = ranks.as_ref().is_some_and(|c| c.size() > 1);
    let result = match cli.command {
        // one process's commands: several would write the same files
        Some(Command::Devices | Command::Study(_) | Command::Render(_)) if split => {
            Err(nacc::Error::Input(
                "nacc devices, study and render run in one process: start them without mpirun or srun (run, compare and bench split across ranks)".into(),
            ))
        }
        Some(Command::Run(args)) => run(&args, ranks.clone()),
        None => run(&RunArgs::default(), ranks.clone()),
        Some(Command::Compare(args)) => compare(&args, ranks.clone()),
        Some(Command::Devices) => devices(),
        Some(Command::Bench(args)) => bench(&args, ranks.as_ref()),
        Some(Command::Study(args)) => study(&args),
        Some(Command::Render(args)) => nacc::render::render(&args.to_options()).map(|files| {
            let out = args.out.as_ref().unwrap_or(&args.dir);
            say(&format!(
                "wrote {} in {}\n",
                files.join(", "),
                out.display()
            ));
            ExitCode::SUCCESS
        }),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) if !root => ExitCode::from(e.exit_code() as u8),
        Err(e @ nacc::Error::Signal(..)) => {
            eprintln!("nacc: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("nacc: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    };
    // MPI is finalised here, on every rank
    drop(ranks);
    code
}

/// Variables an MPI launcher sets in every process it starts: Open MPI's
/// mpirun, MPICH's Hydra (and srun with PMI-2), PMIx (srun, Open MPI 5).
const LAUNCHER_VARS: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"];

/// The ranks, when an MPI launcher started this process; None in a
/// process started alone.
fn start_ranks() -> nacc::Result<Option<nacc::ranks::Ranks>> {
    let launched = LAUNCHER_VARS.iter().find(|v| std::env::var_os(v).is_some());
    let Some(var) = launched else {
        return Ok(None);
    };
    #[cfg(feature = "mpi")]
    {
        let _ = var;
        let world = nacc::ranks::mpi::World::init()
            .ok_or_else(|| nacc::Error::Runtime("MPI was already initialised".into()))?;
        Ok(Some(std::sync::Arc::new(world)))
    }
    #[cfg(not(feature = "mpi"))]
    Err(nacc::Error::Input(format!(
        "started by an MPI launcher ({var} is set), but this nacc was built without MPI: build it with `cargo build --release --features mpi` (docs/mpi.md), or run it without mpirun"
    )))
}

/// Every rank must have the same options: the command line but
/// `--backend` (a GPU on some ranks, the CPU on others), and the `NACC_*`
/// knobs but the adapter and the test hooks.
fn same_options(ranks: &dyn nacc::ranks::Comm) -> nacc::Result<()> {
    let mut args: Vec<String> = Vec::new();
    let mut given = std::env::args().skip(1);
    while let Some(a) = given.next() {
        match a.as_str() {
            "--backend" => {
                given.next();
            }
            a if a.starts_with("--backend=") => {}
            _ => args.push(a),
        }
    }
    let mut knobs: Vec<String> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("NACC_") && k != "NACC_ADAPTER" && !k.starts_with("NACC_INJECT")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    // in one order whatever each process's environment
    knobs.sort();
    args.extend(knobs);
    nacc::ranks::check_same_options(ranks, &args)
}

/// The `NACC_*` knobs, read from the environment once, here: the library
/// reads none. The thread pool and the CPU's instruction set are set for
/// the whole process.
fn tuning() -> nacc::Result<Tuning> {
    let t = Tuning::from_vars(|var| std::env::var(var).ok())?;
    if let Some(n) = t.threads {
        nacc::threads::set_global(n)?;
    }
    if t.cpu_simd_portable {
        nacc::simd::set_portable(true);
    }
    Ok(t)
}

fn run(args: &RunArgs, ranks: Option<nacc::ranks::Ranks>) -> nacc::Result<ExitCode> {
    let mut opts = args.to_options();
    opts.tuning = tuning()?;
    let root = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    opts.quiet |= !root;
    opts.ranks = ranks;
    if args.dry_run {
        // every rank checks its own machine; rank 0 reports
        let dry = nacc::run::dry_run(&opts)?;
        if root {
            say(&dry.text);
        }
        return Ok(if dry.fits {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(nacc::run::DOES_NOT_FIT)
        });
    }
    (opts.stop, opts.exit_at_once) = stop_on_signals();
    let outcome = nacc::run::run(&opts)?;
    if !root {
        // rank 0 says it
        let why = outcome
            .stopped
            .as_ref()
            .map(|s| &s.1)
            .or(outcome.late_signal.as_ref());
        return Ok(why.map_or(ExitCode::SUCCESS, |w| {
            ExitCode::from(nacc::run::signal_exit_code(w))
        }));
    }
    if let Some((steps, why)) = &outcome.stopped {
        eprintln!(
            "nacc: stopped by {why} after {steps} of {} steps; the outputs in {} hold those steps",
            outcome.steps_requested,
            opts.out.display()
        );
        return Ok(ExitCode::from(nacc::run::signal_exit_code(why)));
    }
    if let Some(why) = &outcome.late_signal {
        eprintln!(
            "nacc: {why} came too late to stop the run: it completed, and {} holds all {} steps",
            opts.out.display(),
            outcome.steps
        );
        return Ok(ExitCode::from(nacc::run::signal_exit_code(why)));
    }
    if outcome.streamed && !opts.quiet {
        eprintln!(
            "nacc: the spikes were streamed to disk, so no figures were drawn: nacc render {} draws them",
            opts.out.display()
        );
    }
    if !opts.quiet {
        say(&nacc::run::table(&outcome));
        say(&format!(
            "{} steps on {} in {:.3} s (built in {:.3} s: network {:.3} s, engine {:.3} s); outputs in {}\n",
            outcome.steps,
            outcome.engine,
            outcome.sim_time.as_secs_f64(),
            (outcome.build_time + outcome.setup_time).as_secs_f64(),
            outcome.build_time.as_secs_f64(),
            outcome.setup_time.as_secs_f64(),
            opts.out.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(args: &RunArgs, ranks: Option<nacc::ranks::Ranks>) -> nacc::Result<ExitCode> {
    // a comparison writes nothing and runs both engines: the options that
    // choose an engine or shape outputs have nothing to act on
    let defaults = RunArgs::default();
    for (flag, given) in [
        ("--out", args.out != defaults.out),
        ("--stream", args.stream),
        ("--packed-spikes", args.packed_spikes),
        ("--no-weight-files", args.no_weight_files),
        (
            "--backend",
            !matches!(args.backend, nacc::cli::BackendArg::Auto),
        ),
    ] {
        if given {
            return Err(nacc::Error::Input(format!(
                "{flag}: nacc compare runs both engines and writes no files, so it takes no {flag}; use it with nacc run"
            )));
        }
    }
    let mut opts = args.to_options();
    opts.tuning = tuning()?;
    let root = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    opts.ranks = ranks;
    if args.dry_run {
        let text = nacc::run::compare_dry_run(&opts)?;
        if root {
            say(&text);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = nacc::run::compare(&opts)?;
    if args.quiet || !root {
        // the exit code alone says it
        return Ok(if report.identical() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    say(&report.render());
    Ok(if report.identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn bench(
    args: &nacc::cli::BenchArgs,
    ranks: Option<&nacc::ranks::Ranks>,
) -> nacc::Result<ExitCode> {
    let root = ranks.is_none_or(|c| c.rank() == 0);
    if !(args.budget.is_finite() && args.budget > 0.0 && args.budget <= 3600.0) {
        return Err(nacc::error::bad_value(
            "--budget",
            args.budget,
            "must be a number of seconds in (0, 3600]",
        ));
    }
    nacc::bench::check_names(&args.networks)?;
    let tuning = tuning()?;
    if !args.json && root {
        say(&format!("{}\n", nacc::bench::TABLE_HEADER));
    }
    nacc::bench::run(
        args.backend.backend(),
        std::time::Duration::from_secs_f64(args.budget),
        &args.networks,
        args.profile,
        &tuning,
        ranks,
        |v| {
            if !root {
                return true;
            }
            let line = if args.json {
                v.to_string()
            } else {
                nacc::bench::table_line(v)
            };
            say(&format!("{line}\n"))
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

fn study(args: &nacc::cli::StudyArgs) -> nacc::Result<ExitCode> {
    let mut opts = args.to_options();
    opts.tuning = tuning()?;
    let r = nacc::study::study(&opts)?;
    if !args.quiet {
        say(&format!("{}\n", nacc::study::summary(&r, &opts.out)));
    }
    Ok(ExitCode::SUCCESS)
}

fn devices() -> nacc::Result<ExitCode> {
    let tuning = tuning()?;
    say(&nacc::run::devices(tuning.adapter.as_deref()));
    Ok(ExitCode::SUCCESS)
}

/// A command line clap cannot parse: its message, with a hint when a run's
/// options came without `run` (`nacc --config x.toml`), exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = e.exit_code();
    let _ = e.print();
    if e.kind() == ErrorKind::UnknownArgument {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.first().is_some_and(|a| a.starts_with("--")) {
            eprintln!(
                "hint: the options of a run come after the command: nacc run {}",
                args.join(" ")
            );
        }
    }
    ExitCode::from(code as u8)
}

/// On a headless Linux machine, Mesa's Vulkan drivers load libwayland, which
/// prints "XDG_RUNTIME_DIR is invalid or not set" to stderr while wgpu looks
/// for adapters. Point it at the temp dir when it is unset, before any
/// thread exists, so that `--quiet` stays quiet.
fn quiet_wayland() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in main, while the process has one thread.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}

/// Writes to stdout; false once stdout is gone (a closed pipe, as in
/// `nacc bench | head`), which is not an error worth a message.
fn say(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Until the run has its out dir and starts stepping, SIGINT and SIGTERM
/// end nacc at once (130, 143). From then on a first one asks the run to
/// stop at the end of the current chunk and write what it has (or, after
/// the last step, to finish writing), and a second one ends nacc at once.
#[allow(clippy::type_complexity)]
fn stop_on_signals() -> (
    Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    let stop = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(true));
    for sig in [SIGINT, SIGTERM] {
        // the order matters: the shutdown checks `armed` before this signal sets it
        let registered =
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, armed.clone())
                .and_then(|_| signal_hook::flag::register(sig, armed.clone()))
                .and_then(|_| signal_hook::flag::register_usize(sig, stop.clone(), sig as usize));
        if registered.is_err() {
            return (None, None);
        }
    }
    (Some(stop), Some(armed))
}
