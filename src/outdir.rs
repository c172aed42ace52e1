//! The out dir as one transaction (see `docs/outputs.md`, "How a run
//! replaces its out dir").
//!
//! A run never writes into `--out` file by file. It takes the out dir's lock
//! (`.nacc.lock`, refused while another run holds it), writes everything into
//! a fresh staging directory beside `--out` (a random name made with
//! `mkdir`, so nothing can be planted there), and when its outputs are
//! complete swaps the two directories in one `renameat2(RENAME_EXCHANGE)`;
//! the previous run, now at the staging name, is then deleted. So `--out`
//! holds the whole previous run or the whole new one, never files of both,
//! and nothing of a previous run stays beside the new one. A failure before
//! the swap deletes the staging directory and leaves `--out` as it was; a
//! process killed outright leaves its staging directory, which the next run
//! into the same `--out` deletes.
//!
//! A streamed run (`--stream`) swaps as soon as its spike files exist, so
//! that its completed chunks are in `--out` even if it is killed: from then
//! on `summary.json` says how many steps are complete.
//!
//! `--out` may hold only files that nacc writes: a run replaces the whole
//! directory, so one holding anything else (a user's notes, a symlink, a
//! subdirectory) is refused rather than deleted.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The lock file every run holds in its out dir (and its staging dir).
pub const LOCK_NAME: &str = ".nacc.lock";

/// Files being written are named `.nacc-tmp-<random>` until complete.
pub const TEMP_PREFIX: &str = ".nacc-tmp-";

/// A new file beside `path`, made exclusively under a random name
/// (`.nacc-tmp-*`), with the mode `File::create` would give `path`.
pub fn temp_file_for(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    builder.permissions(file_permissions());
    builder.tempfile_in(dir)
}

/// Staging directories are named `.nacc-staging-<out name>-<random>`.
const STAGING_PREFIX: &str = ".nacc-staging-";

/// An out dir being written: the lock held, the staging directory made.
pub struct OutDir {
    /// The absolute path of --out.
    target: PathBuf,
    /// The staging directory: the new run until [`OutDir::publish`], the
    /// previous one (to delete) after.
    staging: PathBuf,
    published: bool,
    /// --out did not exist: it is removed again if nothing is published.
    created_target: bool,
    /// The lock of --out, held until drop.
    _lock: File,
    /// The lock of the staging directory, which becomes --out's.
    _staging_lock: Option<File>,
}

impl OutDir {
    /// Takes the lock of `out` (creating it if needed), checks that it holds
    /// only nacc's files, deletes staging directories that killed runs left
    /// beside it, and makes a fresh staging directory.
    pub fn open(out: &Path) -> Result<OutDir> {
        let target = resolve(out)?;
        let parent = target
            .parent()
            .expect("resolve gives a path with a parent")
            .to_path_buf();
        let parent = parent.as_path();
        std::fs::create_dir_all(parent)
            .map_err(|e| out_error(out, format!("cannot create its parent ({e})")))?;
        let created_target = match std::fs::create_dir(&target) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(out_error(out, format!("cannot create it ({e})"))),
        };
        let mut open = OutDir {
            staging: PathBuf::new(),
            published: false,
            created_target,
            _lock: lock(out, &target)?,
            _staging_lock: None,
            target,
        };
        check_only_nacc_files(out, &open.target)?;
        remove_abandoned(parent, &staging_prefix(&open.target));
        let prefix = staging_prefix(&open.target);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        #[cfg(unix)]
        builder.permissions(dir_permissions());
        let staging = builder
            .tempdir_in(parent)
            .map_err(|e| {
                out_error(
                    out,
                    format!(
                        "cannot create a staging directory in {} ({e}); a run writes into a new directory beside --out and swaps it in, so the parent of --out must be writable",
                        parent.display()
                    ),
                )
            })?
            .keep();
        open.staging = staging;
        open._staging_lock = Some(lock(out, &open.staging)?);
        Ok(open)
    }

    /// The checks of [`OutDir::open`], leaving nothing behind: whether `out`
    /// could be used and is free now (a run calls it before building its
    /// network, and opens the out dir only when it is built).
    pub fn precheck(out: &Path) -> Result<()> {
        let target = resolve(out)?;
        if !target.is_dir() {
            // where its parent exists, it can be made (and is removed again)
            if target.parent().is_some_and(Path::is_dir) {
                std::fs::create_dir(&target)
                    .map_err(|e| out_error(out, format!("cannot create it ({e})")))?;
                let _ = std::fs::remove_dir(&target);
            }
            return Ok(());
        }
        check_only_nacc_files(out, &target)?;
        let path = target.join(LOCK_NAME);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && let Ok(f) = File::open(&path)
            && let Err(std::fs::TryLockError::WouldBlock) = f.try_lock()
        {
            return Err(busy(out, &path));
        }
        Ok(())
    }

    /// Where the run writes: the staging directory, or --out once published.
    pub fn dir(&self) -> &Path {
        if self.published {
            &self.target
        } else {
            &self.staging
        }
    }

    /// The out dir as given to the user (absolute).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// `e`, a failure before the swap, told in terms of --out: the staging
    /// directory's path is --out's, and --out is as it was.
    pub fn explain(&self, e: Error) -> Error {
        let (staging, target) = (
            self.staging.display().to_string(),
            self.target.display().to_string(),
        );
        let told = |m: String| format!("{}; {target} is as it was", m.replace(&staging, &target));
        match e {
            Error::Input(m) => Error::Input(told(m)),
            Error::Runtime(m) => Error::Runtime(told(m)),
            other => other,
        }
    }

    /// Swaps the staging directory in as --out, whole, and deletes the
    /// previous run; a second call does nothing.
    pub fn publish(&mut self) -> Result<()> {
        if self.published {
            return Ok(());
        }
        exchange(&self.staging, &self.target).map_err(|e| {
            Error::Runtime(format!(
                "cannot move the finished outputs from {} to {}: {e}; they are kept in {}",
                self.staging.display(),
                self.target.display(),
                self.staging.display()
            ))
        })?;
        self.published = true;
        // the staging name now holds the previous run
        let _ = std::fs::remove_dir_all(&self.staging);
        sync_dir(self.target.parent());
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        // --out is left without the lock file (still held here; a run that
        // opened it meanwhile finds it gone from the path and takes a new
        // one): after a publish that is the staging dir's, else --out's own
        let _ = std::fs::remove_file(self.target.join(LOCK_NAME));
        if self.published {
            return;
        }
        // nothing was published: --out is as it was
        if !self.staging.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
        if self.created_target {
            let _ = std::fs::remove_dir(&self.target);
        }
    }
}

/// `--out = X: what`: the error for an out dir nacc cannot use.
fn out_error(out: &Path, what: impl std::fmt::Display) -> Error {
    Error::Input(format!("--out = {}: {what}", out.display()))
}

/// The absolute path of `out`: a symlink given as --out is followed (the
/// user made it), anything that exists must be a directory.
fn resolve(out: &Path) -> Result<PathBuf> {
    match std::fs::metadata(out) {
        Ok(m) if m.is_dir() => std::fs::canonicalize(out)
            .map_err(|e| out_error(out, format!("cannot resolve it ({e})"))),
        Ok(_) => Err(out_error(
            out,
            "is not a directory; the out dir must be a directory (new or a previous run's)",
        )),
        Err(_) => {
            let abs = std::path::absolute(out)
                .map_err(|e| out_error(out, format!("cannot resolve it ({e})")))?;
            match (abs.parent(), abs.file_name()) {
                (Some(_), Some(_)) => Ok(abs),
                _ => Err(out_error(out, "names no directory")),
            }
        }
    }
}

fn staging_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{STAGING_PREFIX}{name}-")
}

/// Opens and locks `dir/.nacc.lock` (never through a symlink), checking that
/// the file locked is still the one at that path (a run that just swapped
/// its out dir leaves its old lock file in the directory it deletes).
fn lock(out: &Path, dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_NAME);
    for _ in 0..8 {
        let f = open_nofollow(&path).map_err(|e| {
            out_error(
                out,
                format!(
                    "cannot create its lock file {} ({e}); nacc writes through no symbolic link it did not create",
                    path.display()
                ),
            )
        })?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(busy(out, &path)),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(out_error(
                    out,
                    format!("cannot lock {} ({e})", path.display()),
                ));
            }
        }
        if same_file(&f, &path) {
            return Ok(f);
        }
    }
    Err(out_error(
        out,
        "its lock file keeps changing: another nacc run is swapping it; try again",
    ))
}

fn busy(out: &Path, lock: &Path) -> Error {
    out_error(
        out,
        format!(
            "another nacc run is writing into it (it holds {}); wait for that run to end, or choose another --out",
            lock.display()
        ),
    )
}

#[cfg(unix)]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other("it is a symbolic link"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.is_file()
}

/// The mode of the staging directory: as `mkdir` makes one (the umask
/// applies).
#[cfg(unix)]
fn dir_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o777)
}

/// The mode of an output file: as `File::create` makes one (the umask
/// applies), not the owner-only mode of a temporary file.
#[cfg(unix)]
pub fn file_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o666)
}

/// The files a population may write, for its name (`{}`), in any mode.
pub const POPULATION_FILES: [(&str, &str); 4] = [
    ("spikes_{}.npy", "spikes"),
    ("spikes_{}_packed.npy", "packed spikes"),
    ("raster_{}.png", "raster"),
    ("traces_{}.png", "traces"),
];

/// The files a projection may write, for its name, dense or sparse,
/// plastic or not.
pub const PROJECTION_FILES: [(&str, &str); 8] = [
    ("weights_{}.npy", "weights"),
    ("weights_{}_initial.npy", "initial weights"),
    ("weights_{}_post.npy", "sparse post indices"),
    ("weights_{}_pre.npy", "sparse pre indices"),
    ("weights_{}_value.npy", "sparse weights"),
    ("bias_{}.npy", "biases"),
    ("heatmap_{}.png", "heatmap"),
    ("weights_change_{}.png", "weight change figure"),
];

/// Two objects of a network whose output files would have the same name:
/// "population `a` (its packed spikes) and population `a_packed` (its
/// spikes) would both write spikes_a_packed.npy", or None. Every mode is
/// counted (packed or not, dense or sparse, plastic or not), so that a
/// network that is valid stays valid under every flag.
pub fn output_name_collision(populations: &[&str], projections: &[&str]) -> Option<String> {
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    let objects = populations
        .iter()
        .flat_map(|n| POPULATION_FILES.map(|f| ("population", *n, f)))
        .chain(
            projections
                .iter()
                .flat_map(|n| PROJECTION_FILES.map(|f| ("projection", *n, f))),
        );
    for (kind, name, (template, what)) in objects {
        let file = template.replace("{}", name);
        let who = format!("{kind} `{name}` (its {what})");
        if let Some(first) = seen.get(&file) {
            return Some(format!(
                "{first} and {who} would both write {file}; rename one of them"
            ));
        }
        seen.insert(file, who);
    }
    None
}

/// The files of a run that no population or projection names.
pub const RUN_FILES: [&str; 7] = [
    "summary.json",
    "config.toml",
    "nacc.png",
    "dopamine.npy",
    "dopamine.png",
    "responses.csv",
    "learning.png",
];

/// Whether `name` is a file nacc writes into an out dir (or a leftover of an
/// earlier version's writing), which a run may replace.
pub fn is_nacc_file(name: &str) -> bool {
    let fits = |template: &str| {
        let (prefix, suffix) = template.split_once("{}").unwrap_or((template, ""));
        name.len() > prefix.len() + suffix.len()
            && name.starts_with(prefix)
            && name.ends_with(suffix)
    };
    name == LOCK_NAME
        || RUN_FILES.contains(&name)
        || POPULATION_FILES.iter().any(|(t, _)| fits(t))
        || PROJECTION_FILES.iter().any(|(t, _)| fits(t))
        // recorded state: state_<population>_<variable>.npy
        || fits("state_{}.npy")
        // nacc study: study.json, study_<figure>.png, study_<run>.toml
        || name == "study.json"
        || fits("study_{}.png")
        || fits("study_{}.toml")
        || name.starts_with(TEMP_PREFIX)
        // written by earlier versions
        || fits(".{}.partial")
        || name.starts_with(".nacc-write-test-")
}

/// Refuses an out dir that holds anything nacc did not write: a run
/// replaces the whole directory, which would delete it.
fn check_only_nacc_files(out: &Path, target: &Path) -> Result<()> {
    let entries =
        std::fs::read_dir(target).map_err(|e| out_error(out, format!("cannot list it ({e})")))?;
    let mut foreign = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let plain_file = e.file_type().is_ok_and(|t| t.is_file());
        if !(plain_file && is_nacc_file(&name)) {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let shown: Vec<_> = foreign.iter().take(5).map(|n| format!("`{n}`")).collect();
    let more = match foreign.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    Err(out_error(
        out,
        format!(
            "holds {}{more}, which nacc did not write (or a directory or symbolic link); a run replaces its out dir as a whole, so --out must be new, empty or a previous run's: move those away or choose another --out",
            shown.join(", ")
        ),
    ))
}

/// Deletes the staging directories of this out dir that killed runs left
/// (called with the out dir's lock held, so none of them is in use).
fn remove_abandoned(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let random = name.strip_prefix(prefix).unwrap_or_default();
        // tempfile's names: the prefix and 6 random alphanumerics
        let ours = random.len() == 6 && random.chars().all(|c| c.is_ascii_alphanumeric());
        if ours && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Swaps two directories in one step where the system can
/// (`renameat2(RENAME_EXCHANGE)` on Linux); elsewhere `b` is moved aside to
/// `a`'s name through a third name (a moment in which `b` does not exist).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
        let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: two NUL-terminated paths; the call reads them only.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        // file systems without the flag fall through to the portable way
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    let mut aside = a.as_os_str().to_owned();
    aside.push(".old");
    let aside = PathBuf::from(aside);
    std::fs::rename(b, &aside)?;
    if let Err(e) = std::fs::rename(a, b) {
        let _ = std::fs::rename(&aside, b);
        return Err(e);
    }
    std::fs::rename(&aside, a)
}

/// Makes a rename in `dir` durable (where the system allows it).
fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    if let Some(d) = dir
        && let Ok(f) = File::open(d)
    {
        let _ = f.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes `path` through `body`, into a temporary file made exclusively
/// under a random name beside it (`.nacc-tmp-*`), synced and renamed over
/// `path` when complete: a symlink at `path` is replaced, never followed.
pub fn write_atomic(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    write_atomic_as(path, true, body)
}

/// [`write_atomic`], synced to the disk only with `sync` (a progress file
/// rewritten every chunk need not wait for the disk).
pub fn write_atomic_as(
    path: &Path,
    sync: bool,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let result = (|| {
        let tmp = temp_file_for(path)?;
        let (file, tmp_path) = tmp.into_parts();
        let mut w = BufWriter::with_capacity(1 << 20, file);
        body(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        if sync {
            file.sync_all()?;
        }
        tmp_path.persist(path).map_err(|e| e.error)
    })();
    result.map_err(|e| crate::error::io_error(path, "cannot write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_output_names_are_found_and_named() {
        assert_eq!(
            output_name_collision(&["input", "msn"], &["fc1", "fc2"]),
            None
        );
        let e = output_name_collision(&["a", "a_packed"], &[]).unwrap();
        assert_eq!(
            e,
            "population `a` (its packed spikes) and population `a_packed` (its spikes) would both write spikes_a_packed.npy; rename one of them"
        );
        for suffix in ["_post", "_pre", "_value", "_initial"] {
            let other = format!("p{suffix}");
            let e = output_name_collision(&["x"], &["p", &other]).unwrap();
            assert!(e.contains(&format!("weights_p{suffix}.npy")), "{e}");
        }
        // spikes of a population and weights of a projection of one name do not meet
        assert_eq!(output_name_collision(&["x"], &["x"]), None);
    }

    #[test]
    fn nacc_file_names_are_recognised_and_others_are_not() {
        for n in [
            "summary.json",
            "spikes_msn.npy",
            "spikes_msn_packed.npy",
            "weights_fc1_initial.npy",
            "bias_fc1.npy",
            "raster_msn.png",
            "heatmap_fc1.png",
            "nacc.png",
            ".nacc.lock",
            ".spikes_msn.npy.partial",
        ] {
            assert!(is_nacc_file(n), "{n}");
        }
        for n in [
            "notes.txt",
            "net.toml",
            "spikes_.npy",
            "photo.jpg",
            "data.npy",
            "weights_.npy",
            ".nacc",
        ] {
            assert!(!is_nacc_file(n), "{n}");
        }
    }
}
