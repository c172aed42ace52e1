//! The GPU engine against the CPU reference, with `==` on spikes,
//! membranes and plastic weights: every kernel family on random buffers
//! against its CPU twin (`kernels`), then whole engines on the default
//! network, random networks, 2-D grids, split weights, chunkings, imported
//! inputs and reward learning.
//!
//! Under libtest-mimic (Cargo.toml: harness = false), with libtest's
//! command line (`cargo test --test gpu_vs_cpu -- NAME`). Without an
//! adapter every test is reported as ignored, with the reason; with
//! CI=true that is a failure, never a pass. One test at a time unless
//! `--test-threads` says otherwise: they share one device.

#[path = "../common/mod.rs"]
mod common;

mod agree;
mod delays;
mod failures;
mod kernels;
mod model_kernels;
mod models;
mod networks;
mod paths;

use agree::*;
use common::{given_input, random_network, randomise_weights};
use libtest_mimic::{Arguments, Failed, Trial};
use nacc::engine::gpu::{GpuContext, GpuEngine, GpuOptions, Schedule};
use nacc::engine::{Engine, InputSource, cpu::CpuEngine};
use nacc::network::Model;
use nacc::network::Network;
use nacc::record::ChunkSpikes;
use nacc::tuning::SparseChoice;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::path::PathBuf;
use std::sync::Arc;

type Ctx = Arc<GpuContext>;
type GpuTest = fn(&Ctx);

fn main() {
    // Mesa's Vulkan drivers load libwayland, which complains on stderr when
    // XDG_RUNTIME_DIR is unset (as the binary does, before any thread)
    #[cfg(target_os = "linux")]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: first thing in main, while the process has one thread.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let tests: Vec<(&'static str, GpuTest)> = [
        kernels::tests(),
        networks::tests(),
        paths::tests(),
        failures::tests(),
        delays::tests(),
        models::tests(),
        model_kernels::tests(),
    ]
    .concat();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let trials: Vec<Trial> = match GpuContext::new() {
        Ok(ctx) => {
            let ctx: Ctx = Arc::new(ctx);
            println!("GPU tests on {}", ctx.describe());
            tests
                .into_iter()
                .map(|(name, f)| {
                    let ctx = ctx.clone();
                    Trial::test(name, move || {
                        f(&ctx);
                        Ok(())
                    })
                })
                .collect()
        }
        Err(e) => {
            let why = format!("no GPU adapter: {e}");
            println!("{why}");
            tests
                .into_iter()
                .map(|(name, _)| match ci {
                    // CI=true: a missing adapter fails every GPU test
                    true => {
                        let why = why.clone();
                        Trial::test(name, move || Err(Failed::from(why)))
                    }
                    false => Trial::test(name, || Ok(())).with_ignored_flag(true),
                })
                .collect()
        }
    };
    libtest_mimic::run(&args, trials).exit();
}
