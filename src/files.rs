//! Input files: every file nacc reads (configs, `.npy` arrays) is opened
//! here, and must be a regular file: a FIFO or a device would block or never
//! end, a directory is a mistake worth naming.

use crate::error::{Error, Result, bad_file};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest network file read (a network needs a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Opens `path` for reading if it is a regular file (a symlink to one is
/// fine), without blocking on a FIFO; returns it with its length.
pub fn open_regular(path: &Path) -> Result<(File, u64)> {
    let f = open_nonblocking(path).map_err(|e| bad_file(path, format!("cannot open: {e}")))?;
    let m = f
        .metadata()
        .map_err(|e| bad_file(path, format!("cannot read: {e}")))?;
    if m.is_dir() {
        return Err(bad_file(path, "is a directory; give a file"));
    }
    if !m.is_file() {
        return Err(bad_file(
            path,
            "is not a regular file (a FIFO, a device or a socket); nacc reads its inputs from regular files",
        ));
    }
    Ok((f, m.len()))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO does not wait for a writer (it has no
    // effect on reading a regular file)
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// The text of a regular file of at most `max` bytes; `field` names it in
/// errors (e.g. "--config").
pub fn read_text(path: &Path, field: &str, max: u64) -> Result<String> {
    let (f, len) = open_regular(path).map_err(|e| e.context(field))?;
    if len > max {
        return Err(Error::Input(format!(
            "{field} {}: {} bytes; a network file may hold at most {} ({max} bytes)",
            path.display(),
            len,
            human(max)
        )));
    }
    let mut text = String::new();
    f.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::Input(format!("{field} {}: cannot read: {e}", path.display())))?;
    if text.len() as u64 > max {
        return Err(Error::Input(format!(
            "{field} {}: more than {max} bytes; a network file may hold at most {}",
            path.display(),
            human(max)
        )));
    }
    Ok(text)
}

/// Bytes in words: "1.5 MiB".
pub fn human(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{x:.1} {}", units[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_regular(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("is a directory; give a file"), "{e}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2000]).unwrap();
        let e = read_text(&big, "--config", 1000).unwrap_err().to_string();
        assert!(e.contains("2000 bytes") && e.contains("--config"), "{e}");
        assert_eq!(read_text(&big, "--config", 2000).unwrap().len(), 2000);
        #[cfg(target_os = "linux")]
        {
            let e = read_text(Path::new("/dev/zero"), "--config", 1000)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
    }
}
