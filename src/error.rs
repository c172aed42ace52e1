//! The library's error type. Every error says what was wrong in words a user
//! can act on; [`Error::exit_code`] maps it to the process exit status.

use std::fmt::Display;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a config field, a CLI option or an input file. Exit 2.
    #[error("{0}")]
    Input(String),
    /// Something failed while working on valid input (disk full, device). Exit 1.
    #[error("{0}")]
    Runtime(String),
    /// A signal (its number) stopped the work before it had anything to
    /// keep. Exit 128 + the signal's number (130 SIGINT, 143 SIGTERM).
    #[error("{0}")]
    Signal(String, i32),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Runtime(_) => 1,
            Error::Signal(_, sig) => 128 + sig,
        }
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, ctx: impl Display) -> Error {
        match self {
            Error::Input(m) => Error::Input(format!("{ctx}: {m}")),
            Error::Runtime(m) => Error::Runtime(format!("{ctx}: {m}")),
            Error::Signal(m, sig) => Error::Signal(format!("{ctx}: {m}"), sig),
        }
    }
}

/// A bad value: names the field, the value and the rule it breaks.
pub fn bad_value(field: impl Display, value: impl Display, rule: impl Display) -> Error {
    Error::Input(format!("{field} = {value}: {rule}"))
}

/// A problem with a file given as input (missing, truncated, wrong shape).
pub fn bad_file(path: &Path, msg: impl Display) -> Error {
    Error::Input(format!("{}: {msg}", path.display()))
}

/// An I/O failure while writing results.
pub fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Runtime(format!("{} {}: {e}", what, path.display()))
}

/// Allocates a zeroed vector, turning an impossible size into an error
/// instead of an abort. Zeroed by the allocator (`calloc`: a large one gets
/// fresh zero pages from the system, so nothing is written here and the
/// pages are first touched by whoever fills them, on any thread).
pub fn try_zeroed<T: bytemuck::Zeroable>(len: usize, what: &str) -> Result<Vec<T>> {
    let failed = || {
        Error::Input(format!(
            "{what} needs {} bytes of memory, which cannot be allocated on this machine",
            len as u128 * std::mem::size_of::<T>() as u128
        ))
    };
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| failed())?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(failed());
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `len`
    // values of T (as Vec allocates them), and all-zero bytes are a valid T
    // (Zeroable).
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// An empty vector with room for `len` elements, or an error naming `what`
/// and the bytes when the memory cannot be had (instead of an abort).
pub fn try_with_capacity<T>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Input(format!(
            "{what} needs {} bytes of memory, which cannot be allocated on this machine",
            len as u128 * std::mem::size_of::<T>() as u128
        ))
    })?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_zeroed_gives_zeros_or_an_error_naming_the_bytes() {
        let v: Vec<u32> = try_zeroed(100_000, "x").unwrap();
        assert_eq!((v.len(), v.capacity()), (100_000, 100_000));
        assert!(v.iter().all(|&x| x == 0));
        assert!(try_zeroed::<f32>(0, "x").unwrap().is_empty());
        // a size the layout cannot hold, and one no machine has (2^62 bytes)
        let e = try_zeroed::<u64>(usize::MAX, "huge").unwrap_err();
        assert!(e.to_string().starts_with("huge needs "), "{e}");
        let e = try_zeroed::<u8>(1 << 62, "big").unwrap_err();
        assert_eq!(
            e.to_string(),
            "big needs 4611686018427387904 bytes of memory, which cannot be allocated on this machine"
        );
    }
}
