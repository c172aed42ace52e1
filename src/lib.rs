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
//! - [`run`]: `nacc run` end to end

pub mod bench;
pub mod cli;
pub mod compare;
pub mod config;
pub mod engine;
pub mod error;
pub mod export;
pub mod figures;
pub mod import;
pub mod input;
pub mod memory;
pub mod network;
pub mod npy;
pub mod record;
pub mod render;
pub mod run;
pub mod trials;

pub use error::{Error, Result};
