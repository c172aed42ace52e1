//! The Python package (python/): built into the test environment with
//! maturin and tested with pytest (python/tests), through `cargo test`, so
//! that the README's one test command runs them.
//!
//! The environment is `.venv` at the top of the checkout (or the Python
//! named by `NACC_PYTHON`), with maturin, pytest and NumPy: `.ci/run`
//! makes it. Without one the test says SKIPPED and why; with `CI=true` it
//! fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The Python of the test environment, or why there is none.
fn python() -> Result<PathBuf, String> {
    let python = match std::env::var_os("NACC_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(ROOT).join(".venv/bin/python"),
    };
    if !python.exists() {
        return Err(format!(
            "{} not found: make the environment with `python3 -m venv .venv && .venv/bin/pip install maturin pytest numpy` (or set NACC_PYTHON)",
            python.display()
        ));
    }
    let has = Command::new(&python)
        .args(["-c", "import maturin, pytest, numpy"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !has.status.success() {
        return Err(format!(
            "{} lacks maturin, pytest or numpy ({}): `{} -m pip install maturin pytest numpy`",
            python.display(),
            String::from_utf8_lossy(&has.stderr).trim(),
            python.display()
        ));
    }
    Ok(python)
}

/// Runs `cmd`, printing its output; panics with it when it fails.
fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{what}:\n{text}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
}

#[test]
fn the_python_package_passes_its_tests() {
    let python = match python() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the Python package's tests cannot run: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED: the Python package's tests: {why}");
            return;
        }
    };
    // the environment's directory, which maturin installs into
    let venv = python
        .parent()
        .and_then(Path::parent)
        .expect("the Python of an environment is in its bin/");
    let root = Path::new(ROOT);
    run(
        "maturin develop",
        Command::new(&python)
            .args(["-m", "maturin", "develop", "--release", "--quiet"])
            .arg("--manifest-path")
            .arg(root.join("python/Cargo.toml"))
            .env("VIRTUAL_ENV", venv)
            .current_dir(root),
    );
    run(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
            .env("NACC_BIN", env!("CARGO_BIN_EXE_nacc"))
            .current_dir(root.join("python")),
    );
}
