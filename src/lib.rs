//! nacc: a spiking neural network simulator of the Nucleus Accumbens.
//!
//! Data flows config -> network -> input -> engine -> record -> exports and
//! figures, one module a stage:
//!
//! - [`config`]: TOML -> validated [`network::Network`] (every check), and back
//! - [`network`]: the description; weights, biases, rates from the seed; fixed-point form
//! - [`input`]: counter-based Poisson source ([`philox`])
//! - [`dopamine`]: d(t), D1/D2 gains and learning factors, step by step
//! - [`engine`]: the [`engine::Engine`] trait, the chunked run loop, the
//!   execution [`engine::plan`], the CPU reference and the GPU engine
//! - [`record`]: bit-packed spikes, counts, rates; [`responses`]: what a stimulus evoked
//! - [`import`], [`npy`], [`export`], [`figures`]: files in and out
//! - [`outdir`]: the out dir as one transaction (lock, staging, swap)
//! - [`memory`]: what a run will allocate, and what the machine has
//! - [`tuning`], [`threads`]: the `NACC_*` knobs, the thread pool
//! - [`run`]: `nacc run` end to end; [`study`]: `nacc study`, the NAcc
//!   striatum model's experiments
//!
//! docs/architecture.md says where each stage and each kernel lives.
//!
//! Running the default network on the CPU reference from Rust:
//!
//! ```
//! use nacc::network::Network;
//! use nacc::engine::{InputSource, cpu::CpuEngine, simulate};
//! use nacc::network::Model;
//!
//! let model = Model::build(Network::default_nacc(), 0)?;
//! let mut engine = CpuEngine::new(&model)?;
//! let input = InputSource::generated(&model);
//! let record = simulate(&mut engine, &model.net, &input, 200, 100, |_| {})?;
//! let msn = &record.pops[2];
//! assert_eq!(msn.steps(), 200);
//! assert!(msn.total() > 0, "the MSNs fire");
//! # Ok::<(), nacc::Error>(())
//! ```

pub mod bench;
pub mod checks;
pub mod cli;
pub mod compare;
pub mod config;
pub mod dopamine;
pub mod engine;
pub mod error;
pub mod export;
pub mod figures;
pub mod files;
pub mod fixed;
pub mod import;
pub mod input;
pub mod memory;
pub mod network;
pub mod npy;
pub mod outdir;
pub mod philox;
pub mod ranks;
pub mod record;
pub mod render;
pub mod responses;
pub mod run;
pub mod simd;
pub mod study;
pub mod threads;
pub mod trials;
pub mod tuning;

pub use error::{Error, Result};
