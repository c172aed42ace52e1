//! The `nacc` binary: parse, run, map errors to exit codes (2 for bad input).

use clap::Parser;
use nacc::cli::{Cli, Command, RunArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(args)) => run(&args),
        None => run(&RunArgs::default()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nacc: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(args: &RunArgs) -> nacc::Result<()> {
    let opts = args.to_options();
    let outcome = nacc::run::run(&opts)?;
    if !opts.quiet {
        print!("{}", nacc::run::table(&outcome));
        println!(
            "{} steps on {} in {:.3} s; outputs in {}",
            outcome.record.steps(),
            outcome.engine,
            outcome.sim_time.as_secs_f64(),
            opts.out.display()
        );
    }
    Ok(())
}
