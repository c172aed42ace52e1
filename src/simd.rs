//! The CPU engine's hot loops, compiled twice on x86-64: for the baseline
//! (SSE2) and with AVX2, the one that runs picked at run time.
//!
//! Both versions compute the same values: integer sums and hashes are exact,
//! and each f32 operation is IEEE-rounded as written in either (Rust never
//! fuses `a * b + c`, and AVX2 alone adds no FMA). `tests/cpu_simd.rs`
//! checks it with `==` on whole runs. [`set_portable`] (the binary calls it
//! for `NACC_CPU_SIMD=portable`) runs the baseline version on any CPU.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not decided yet; 1: AVX2 where the CPU has it; 2: the baseline.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Whether the hot loops run their AVX2 version.
#[inline]
pub fn avx2() -> bool {
    let mode = match MODE.load(Ordering::Relaxed) {
        0 => {
            MODE.store(1, Ordering::Relaxed);
            1
        }
        m => m,
    };
    mode == 1 && cpu_has_avx2()
}

/// Whether this CPU has AVX2 (x86-64 only).
pub fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs the baseline versions (`true`) or AVX2 where the CPU has it
/// (`false`) from now on, in every thread.
pub fn set_portable(portable: bool) {
    MODE.store(if portable { 2 } else { 1 }, Ordering::Relaxed);
}

/// The instruction set the CPU engine's hot loops use: "AVX2" or "SSE2"
/// (x86-64), else the target's architecture.
pub fn describe() -> &'static str {
    if avx2() {
        "AVX2"
    } else if cfg!(target_arch = "x86_64") {
        "SSE2"
    } else {
        std::env::consts::ARCH
    }
}

/// Asks the CPU to bring `data` into its caches ahead of use (x86-64: one
/// prefetch per 64-byte line; elsewhere nothing). A hint: no effect on
/// values.
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = data.as_ptr() as *const i8;
        let bytes = std::mem::size_of_val(data);
        for off in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults, and the address is inside `data`
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// `pub fn $name(args) -> ret { body }`, its body compiled twice: with
/// AVX2, run when [`avx2`] says so, and for the baseline.
macro_rules! avx2_twin {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            // inlined into each version below
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                fn with_avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::simd::avx2() {
                    // SAFETY: the CPU has AVX2 (`avx2` checked it)
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use avx2_twin;
