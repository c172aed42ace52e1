//! A [`Network`] made concrete: weights, biases and input rates drawn from the
//! seed (SPEC §1), and the fixed-point form of every projection (SPEC §2.2).

use crate::config::{Init, Network, PopKind};
use crate::error::{Error, Result, try_zeroed};
use crate::input::{draw_rates, hash4, purpose, stream_id, unit_f32};

/// Raw weights of one projection, as torch stores them.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// `w[post * n_pre + pre]`: the `nn.Linear.weight` layout (N_post x N_pre).
    pub w: Vec<f32>,
    /// `b[post]`; all zero when the projection has no bias.
    pub b: Vec<f32>,
}

/// A network with its parameters: what every engine runs.
#[derive(Debug, Clone)]
pub struct Model {
    pub net: Network,
    pub seed: u64,
    /// One per projection, in config order.
    pub weights: Vec<Weights>,
    /// Per population: the rates (spikes/step) of a Poisson population, else empty.
    pub rates: Vec<Vec<f32>>,
}

impl Model {
    /// Draws every weight, bias and rate from `seed`, each a pure function of
    /// (seed, object name, index) so that nothing depends on evaluation order.
    pub fn build(net: Network, seed: u64) -> Result<Model> {
        let mut weights = Vec::with_capacity(net.projections.len());
        for proj in &net.projections {
            let n_pre = net.populations[proj.pre].size;
            let n_post = net.populations[proj.post].size;
            let count = n_pre.checked_mul(n_post).ok_or_else(|| {
                Error::Input(format!("projection `{}` has too many synapses", proj.name))
            })?;
            let mut w: Vec<f32> =
                try_zeroed(count, &format!("projection `{}` weights", proj.name))?;
            let mut b = vec![0.0f32; n_post];
            let (lo, hi) = match proj.init {
                Init::Linear => {
                    let k = 1.0 / (n_pre as f32).sqrt();
                    (-k, k)
                }
                Init::Uniform { low, high } => (low, high),
                Init::Constant { weight, bias } => {
                    w.fill(weight);
                    if proj.bias {
                        b.fill(bias);
                    }
                    weights.push(Weights { w, b });
                    continue;
                }
            };
            let sw = stream_id(&proj.name, purpose::WEIGHT);
            for (post, row) in w.chunks_exact_mut(n_pre).enumerate() {
                for (pre, x) in row.iter_mut().enumerate() {
                    *x = lo + (hi - lo) * unit_f32(hash4(seed, sw, post as u32, pre as u32));
                }
            }
            if proj.bias {
                let sb = stream_id(&proj.name, purpose::BIAS);
                for (post, x) in b.iter_mut().enumerate() {
                    *x = lo + (hi - lo) * unit_f32(hash4(seed, sb, post as u32, 0));
                }
            }
            weights.push(Weights { w, b });
        }
        let rates = net
            .populations
            .iter()
            .map(|p| match p.kind {
                PopKind::Poisson { rate_lo, rate_hi } => {
                    draw_rates(seed, &p.name, p.size, rate_lo, rate_hi)
                }
                PopKind::Lif(_) => Vec::new(),
            })
            .collect();
        Ok(Model {
            net,
            seed,
            weights,
            rates,
        })
    }

    /// The fixed-point form of every projection, in config order.
    pub fn quantize(&self) -> Result<Vec<Quantized>> {
        self.net
            .projections
            .iter()
            .zip(&self.weights)
            .map(|(proj, w)| {
                let n_pre = self.net.populations[proj.pre].size;
                let n_post = self.net.populations[proj.post].size;
                Quantized::new(&w.w, n_post, n_pre)
                    .map_err(|e| e.context(format!("projection `{}`", proj.name)))
            })
            .collect()
    }
}

/// `2^k` as f32, exact for -126 <= k <= 127.
pub fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `(w * 2^f).round()` as an integer (ties away from zero, SPEC §2.2), or
/// `None` when it does not fit an `i32`.
fn quantize_one(w: f32, f: u32) -> Option<i32> {
    let x = (w as f64 * (1u64 << f) as f64).round(); // exact: a power-of-two scaling
    (x.abs() < 2_147_483_648.0).then_some(x as i32)
}

/// The worst-case |sum| a post neuron can receive at `f` fractional bits, or
/// `None` when it reaches 2^31.
fn worst_case_sum(w: &[f32], n_pre: usize, f: u32) -> Option<u64> {
    let mut worst = 0u64;
    for row in w.chunks_exact(n_pre.max(1)) {
        let mut s = 0u64;
        for &x in row {
            s += quantize_one(x, f)?.unsigned_abs() as u64;
            if s >= 1 << 31 {
                return None;
            }
        }
        worst = worst.max(s);
    }
    Some(worst)
}

/// The largest F in 0..=30 for which no synaptic sum can reach 2^31
/// (SPEC §2.2), or `None` when even F = 0 fails.
pub fn choose_frac_bits(w: &[f32], n_pre: usize) -> Option<u32> {
    // The worst case grows with F, so the predicate is monotone: bisect.
    worst_case_sum(w, n_pre, 0)?;
    let (mut ok, mut bad) = (0u32, 31u32);
    while bad - ok > 1 {
        let mid = (ok + bad) / 2;
        if worst_case_sum(w, n_pre, mid).is_some() {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    Some(ok)
}

/// A projection in the form the engines read.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// F: weights are integers in units of 2^-F.
    pub frac_bits: u32,
    pub n_pre: usize,
    pub n_post: usize,
    /// `wq[pre * n_post + post]`: pre-major, so that a spiking pre neuron's
    /// row is contiguous (event-driven accumulation reads only those rows).
    pub wq: Vec<i32>,
    /// 2^(12-F) and 2^-F: the exact conversion of SPEC §2.2.
    pub scale_hi: f32,
    pub scale_lo: f32,
}

impl Quantized {
    /// `w` in the `nn.Linear` layout (N_post x N_pre).
    pub fn new(w: &[f32], n_post: usize, n_pre: usize) -> Result<Quantized> {
        assert_eq!(w.len(), n_post * n_pre);
        if let Some(i) = w.iter().position(|x| !x.is_finite()) {
            return Err(Error::Input(format!(
                "weight [{}, {}] = {} is not finite",
                i / n_pre,
                i % n_pre,
                w[i]
            )));
        }
        let f = choose_frac_bits(w, n_pre).ok_or_else(|| {
            Error::Input(
                "weights too large for exact integer sums: even at 0 fractional bits a post neuron's sum of |round(w)| reaches 2^31 (SPEC §2.2)".into(),
            )
        })?;
        let mut wq: Vec<i32> = try_zeroed(w.len(), "quantised weights")?;
        for (post, row) in w.chunks_exact(n_pre.max(1)).enumerate().take(n_post) {
            for (pre, &x) in row.iter().enumerate() {
                wq[pre * n_post + post] = quantize_one(x, f).expect("checked by choose_frac_bits");
            }
        }
        Ok(Quantized {
            frac_bits: f,
            n_pre,
            n_post,
            wq,
            scale_hi: pow2(12 - f as i32),
            scale_lo: pow2(-(f as i32)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_is_exact() {
        for k in -126..=127 {
            assert_eq!(pow2(k) as f64, 2f64.powi(k));
        }
    }

    #[test]
    fn build_is_a_pure_function_of_the_seed() {
        let a = Model::build(Network::default_nacc(), 7).unwrap();
        let b = Model::build(Network::default_nacc(), 7).unwrap();
        let c = Model::build(Network::default_nacc(), 8).unwrap();
        assert_eq!(a.weights, b.weights);
        assert_ne!(a.weights, c.weights);
        assert_eq!(a.rates, b.rates);
    }

    #[test]
    fn linear_init_stays_within_fan_in_bound() {
        let m = Model::build(Network::default_nacc(), 1).unwrap();
        for (proj, w) in m.net.projections.iter().zip(&m.weights) {
            let k = 1.0 / (m.net.populations[proj.pre].size as f32).sqrt();
            assert!(w.w.iter().chain(&w.b).all(|x| x.abs() <= k));
            // and uses the range: the extremes come near the bound
            let max = w.w.iter().fold(0f32, |a, x| a.max(x.abs()));
            assert!(max > 0.9 * k, "{}: max |w| {max} vs bound {k}", proj.name);
        }
    }
}
