//! Helpers of the tests that run the binary (tests/cli*.rs).
#![allow(dead_code)]

use super::nacc;
use std::path::Path;
use std::process::Output;

/// Starts nacc in `dir`, sends it `sig` (e.g. "-INT") after `ms`
/// milliseconds, and waits for it.
#[cfg(unix)]
pub fn signalled(dir: &Path, args: &[&str], ms: u64, sig: &str) -> Output {
    let child = super::spawn(dir, args);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    super::kill(&child, sig);
    child.wait_with_output().unwrap()
}

pub fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = nacc(dir, args);
    assert!(
        o.status.success(),
        "nacc {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs nacc expecting exit code 2, a message naming every part, no panic,
/// and returns stderr.
pub fn fails(dir: &Path, args: &[&str], parts: &[&str]) -> String {
    let o = nacc(dir, args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "nacc {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for p in parts {
        assert!(
            err.contains(p),
            "nacc {args:?}: message {err:?} does not name {p:?}"
        );
    }
    err
}

pub fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for f in names {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}
