//! The CPU twin of the kernel `poisson_input` (shaders/poisson_input.wgsl):
//! a Poisson population's spikes of a run of steps, a pure function of
//! (seed, stream, neuron, step). The host draws the input with it when the
//! GPU does not (`input::InputSource::fill`), so it lives in `input`;
//! it is named here so that every kernel's twin is found under
//! `engine::cpu`.

pub use crate::input::poisson_chunk as poisson_input;
