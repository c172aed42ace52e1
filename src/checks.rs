//! The ranges every number of a network file must lie in, shared by the
//! network and the reward sections. Besides the rule each field states, no
//! value may be subnormal (below 2^-126 in magnitude but not 0): a GPU may
//! flush such operands to zero where the CPU does not (see
//! docs/arithmetic.md), so they are refused when read.

use crate::error::{Result, bad_value};

/// The largest magnitude of a weight, bias, threshold, gain or bound.
pub const MAX_PARAM: f32 = 1e6;

/// The range of `dt_ms`: a microsecond to a second.
pub const DT_MS_RANGE: (f64, f64) = (1e-3, 1e3);

/// Whether `v` is subnormal (not 0, smaller in magnitude than 2^-126).
pub fn is_subnormal(v: f32) -> bool {
    v != 0.0 && v.abs() < f32::MIN_POSITIVE
}

/// A finite number within [min, MAX_PARAM] in magnitude, 0 or normal.
pub fn check_param(field: &str, v: f32, min: f32) -> Result<()> {
    if !(v.is_finite() && v >= min && v.abs() <= MAX_PARAM) {
        return Err(bad_value(
            field,
            format!("{v:?}"),
            format!("must be a finite number within [{min}, {MAX_PARAM}]"),
        ));
    }
    check_normal(field, v)
}

/// 0 or a normal number (not subnormal).
pub fn check_normal(field: &str, v: f32) -> Result<()> {
    if is_subnormal(v) {
        return Err(bad_value(
            field,
            format!("{v:?}"),
            "is subnormal (below 1.18e-38 in magnitude); use 0 or a larger value",
        ));
    }
    Ok(())
}

/// `dt_ms` within [`DT_MS_RANGE`].
pub fn check_dt(dt_ms: f64) -> Result<()> {
    let (lo, hi) = DT_MS_RANGE;
    if dt_ms.is_finite() && (lo..=hi).contains(&dt_ms) {
        Ok(())
    } else {
        Err(bad_value(
            "dt_ms",
            format!("{dt_ms:?}"),
            format!("must be a time step in ms within [{lo}, {hi}]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_huge_and_non_finite_values_are_refused_naming_the_field() {
        assert!(check_param("w", 1.5, -MAX_PARAM).is_ok());
        assert!(check_param("w", 0.0, -MAX_PARAM).is_ok());
        assert!(check_param("w", f32::MIN_POSITIVE, 0.0).is_ok());
        for v in [1e-40, -1e-45, 3e38, f32::NAN, f32::INFINITY, 1e7] {
            let e = check_param("init.weight", v, -MAX_PARAM)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("init.weight = "), "{e}");
        }
        assert!(check_param("gain", -1.0, 0.0).is_err());
        for dt in [5e-324, 0.0, -1.0, 1e-4, 1e4, f64::NAN] {
            assert!(check_dt(dt).is_err(), "{dt}");
        }
        for dt in [1e-3, 0.1, 1.0, 1000.0] {
            assert!(check_dt(dt).is_ok(), "{dt}");
        }
    }
}
