//! The arithmetic both engines share (docs/arithmetic.md): the conversion
//! of a fixed-point sum to f32, the subnormal flushes, the floors of the
//! reward model, and exact powers of two.

/// Stored traces and eligibilities below this magnitude become +0.
pub const TRACE_FLOOR: f32 = 5.421_011e-20; // 2^-64
/// Per-step factors and decays below this magnitude become +0.
pub const FACTOR_FLOOR: f32 = 9.094_947e-13; // 2^-40
/// The most one step may change a fixed-point weight.
pub const MAX_STEP_CHANGE: f32 = 1_073_741_824.0; // 2^30

#[inline]
pub fn flush_below(x: f32, floor: f32) -> f32 {
    if x.abs() < floor { 0.0 } else { x }
}

/// `f32(exp(-dt / tau))`, +0 below [`FACTOR_FLOOR`].
pub fn decay(dt_ms: f64, tau_ms: f64) -> f32 {
    flush_below((-dt_ms / tau_ms).exp() as f32, FACTOR_FLOOR)
}

/// `2^k` as f32, exact for -126 <= k <= 127.
pub fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `nearest_f32(acc * 2^-F)` without f64: `acc >> 12` and `acc & 0xFFF` are
/// exact in f32, both products are exact, and the one addition rounds once.
#[inline]
pub fn fixed_to_f32(acc: i32, scale_hi: f32, scale_lo: f32) -> f32 {
    let hi = (acc >> 12) as f32;
    let lo = (acc & 0xFFF) as f32;
    hi * scale_hi + lo * scale_lo
}

#[inline]
pub fn flush_subnormal(v: f32) -> f32 {
    if v.abs() < f32::MIN_POSITIVE { 0.0 } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_to_f32_is_the_nearest_f32() {
        let mut x: u32 = 12345;
        for f in 0..=30u32 {
            let (hi, lo) = (pow2(12 - f as i32), pow2(-(f as i32)));
            for _ in 0..2000 {
                x = crate::input::mix32(x);
                let acc = x as i32;
                let exact = acc as f64 * 2f64.powi(-(f as i32));
                assert_eq!(fixed_to_f32(acc, hi, lo), exact as f32, "acc {acc} F {f}");
            }
        }
    }

    #[test]
    fn floors_are_the_powers_of_two_they_claim() {
        assert_eq!(TRACE_FLOOR, pow2(-64));
        assert_eq!(FACTOR_FLOOR, pow2(-40));
        assert_eq!(MAX_STEP_CHANGE, pow2(30));
    }

    #[test]
    fn decay_of_one_over_ln2_is_one_half() {
        assert_eq!(decay(1.0, 1.0 / std::f64::consts::LN_2), 0.5);
        assert_eq!(decay(1.0, 1e-3), 0.0);
    }
}
