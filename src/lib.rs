//! nacc: a spiking neural network simulator of the Nucleus Accumbens.
//!
//! Data flows config -> network -> input -> engine -> record -> exports and
//! figures, one module a stage:
//!
//! - [`config`]: TOML -> validated [`config::Network`] (all checks)
//! - [`network`]: weights, biases, rates from the seed; fixed-point form
//! - [`input`]: counter-based Poisson source
//! - [`engine`]: the [`engine::Engine`] trait, the chunked run loop, the CPU reference
//! - [`record`]: bit-packed spikes, counts, rates
//! - [`import`], [`npy`], [`export`], [`figures`]: files in and out
//! - [`outdir`]: the out dir as one transaction (lock, staging, swap)
//! - [`reward`]: stimulus patterns, dopamine, D1/D2 gain, three-factor plasticity
//! - [`run`]: `nacc run` end to end
//!
//! Running the default network on the CPU reference from Rust:
//!
//! ```
//! use nacc::config::Network;
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
pub mod engine;
pub mod error;
pub mod export;
pub mod figures;
pub mod files;
pub mod import;
pub mod input;
pub mod memory;
pub mod network;
pub mod npy;
pub mod outdir;
pub mod philox;
pub mod record;
pub mod render;
pub mod reward;
pub mod run;
pub mod simd;
pub mod summary;
pub mod trials;

pub use error::{Error, Result};
