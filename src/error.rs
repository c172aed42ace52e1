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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Runtime(_) => 1,
        }
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, ctx: impl Display) -> Error {
        match self {
            Error::Input(m) => Error::Input(format!("{ctx}: {m}")),
            Error::Runtime(m) => Error::Runtime(format!("{ctx}: {m}")),
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
/// instead of an abort.
pub fn try_zeroed<T: Clone + Default>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(len, what)?;
    v.resize(len, T::default());
    Ok(v)
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
