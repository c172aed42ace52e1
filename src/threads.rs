//! The CPU's threads: one persistent rayon pool, sized once by the binary
//! (`NACC_THREADS`, else every core). The CPU engine splits large sums
//! across it instead of starting threads every step; sums are integers, so
//! the result is the same whatever the count.

use crate::error::{Error, Result};
use std::sync::Arc;

/// Where parallel work runs: the global pool, or a pool of its own (an
/// engine asked for another thread count, as the tests do).
#[derive(Clone)]
pub struct Threads {
    n: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Threads({})", self.n)
    }
}

/// Threads of the global pool.
pub fn count() -> usize {
    rayon::current_num_threads()
}

/// Sizes the global pool (the binary, once, before any parallel work).
pub fn set_global(n: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| Error::Runtime(format!("NACC_THREADS = {n}: {e}")))
}

impl Threads {
    /// One thread: the work runs on the caller's thread.
    pub const SINGLE: Threads = Threads { n: 1, pool: None };

    /// The global pool.
    pub fn global() -> Threads {
        Threads {
            n: count(),
            pool: None,
        }
    }

    /// `n` threads: the global pool when it has that many, else a pool of
    /// its own (one thread: no pool, the work runs on the caller's thread).
    pub fn new(n: usize) -> Result<Threads> {
        let n = n.max(1);
        if n == 1 || n == count() {
            return Ok(Threads { n, pool: None });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Runtime(format!("a pool of {n} threads: {e}")))?;
        Ok(Threads {
            n,
            pool: Some(Arc::new(pool)),
        })
    }

    pub fn count(&self) -> usize {
        self.n
    }

    /// Runs `f` with a scope whose spawned jobs run on this pool and have
    /// all finished when it returns.
    pub fn scope<'s, F>(&self, f: F)
    where
        F: for<'a> FnOnce(&'a rayon::Scope<'s>) + Send,
    {
        match &self.pool {
            Some(p) => p.scope(f),
            None => rayon::scope(f),
        }
    }
}
