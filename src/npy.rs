//! NumPy `.npy` files: writing (streamed, any size) and strict reading.
//!
//! Reading checks everything before allocating: the magic string, the
//! version, a bounded header, the dtype, C order, and that the data length
//! the shape implies is exactly what the file holds, so that a header
//! claiming 10^12 elements is rejected, not allocated.

use crate::error::{Result, bad_file};
use std::io::{Read, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    U8,
    Bool,
    F32,
    U32,
    U16,
}

impl DType {
    pub fn descr(self) -> &'static str {
        match self {
            DType::U8 => "|u1",
            DType::Bool => "|b1",
            DType::F32 => "<f4",
            DType::U32 => "<u4",
            DType::U16 => "<u2",
        }
    }
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::Bool => 1,
            DType::U16 => 2,
            DType::F32 | DType::U32 => 4,
        }
    }
    pub fn from_descr(d: &str) -> Option<DType> {
        match d {
            "|u1" | "<u1" | "u1" | "=u1" => Some(DType::U8),
            "|b1" | "<b1" | "b1" | "=b1" => Some(DType::Bool),
            "<f4" | "f4" | "=f4" => Some(DType::F32),
            "<u4" | "u4" | "=u4" => Some(DType::U32),
            "<u2" | "u2" | "=u2" => Some(DType::U16),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::Bool => "bool",
            DType::F32 => "float32",
            DType::U32 => "uint32",
            DType::U16 => "uint16",
        }
    }
}

/// The header of a `.npy` file (format version 1.0) for `shape` and
/// `dtype`. Its length does not depend on the first dimension (padded as if
/// it had 20 digits), so that a file streamed step by step can rewrite its
/// header in place as rows are added.
pub fn header(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let dict = |first: String| {
        let mut dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if let Some(d) = dims.first_mut() {
            *d = first;
        }
        let dims = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
            dtype.descr()
        )
    };
    let widest = dict("9".repeat(20)).len();
    let mut text = dict(shape.first().map_or(String::new(), |d| d.to_string()));
    // magic(6) + version(2) + len(2) + dict + '\n' is a multiple of 64
    let total = (10 + widest + 1).next_multiple_of(64);
    text.push_str(&" ".repeat(total - 11 - text.len()));
    text.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// Writes a whole float32 array.
pub fn write_f32(w: &mut impl Write, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    w.write_all(&header(DType::F32, shape))?;
    for chunk in data.chunks(4096) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    Ok(())
}

/// Writes a whole uint32 array.
pub fn write_u16(w: &mut impl Write, shape: &[usize], data: &[u16]) -> std::io::Result<()> {
    w.write_all(&header(DType::U16, shape))?;
    for chunk in data.chunks(4096) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    Ok(())
}

pub fn write_u32(w: &mut impl Write, shape: &[usize], data: &[u32]) -> std::io::Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    w.write_all(&header(DType::U32, shape))?;
    for chunk in data.chunks(4096) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    Ok(())
}

/// An array read from a `.npy` file: little-endian data in C order.
#[derive(Debug, Clone)]
pub struct Array {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Array {
    pub fn to_f32(&self) -> Vec<f32> {
        self.data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The values of an unsigned integer array (uint8, uint16, uint32).
    pub fn to_unsigned(&self) -> Vec<u32> {
        match self.dtype {
            DType::U8 | DType::Bool => self.data.iter().map(|&b| b as u32).collect(),
            DType::U16 => self
                .data
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32)
                .collect(),
            _ => self.to_u32(),
        }
    }

    pub fn to_u32(&self) -> Vec<u32> {
        self.data
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// Largest header we accept (NumPy's own limit is far below this for the
/// arrays nacc reads).
const MAX_HEADER: usize = 1 << 16;

/// Reads a `.npy` file, with errors naming the file and what was wrong.
pub fn read(path: &Path) -> Result<Array> {
    let (f, file_len) = crate::files::open_regular(path)?;
    read_from(f, file_len, path)
}

/// Parses `.npy` bytes held in memory (`path` names them in errors).
pub fn parse(bytes: &[u8], path: &Path) -> Result<Array> {
    read_from(bytes, bytes.len() as u64, path)
}

/// Reads an array from `f`, which holds `file_len` bytes: every check
/// before any allocation that the header's claims would size.
fn read_from(mut f: impl Read, file_len: u64, path: &Path) -> Result<Array> {
    let mut pre = [0u8; 10];
    f.read_exact(&mut pre[..8])
        .map_err(|_| bad_file(path, "not a .npy file: shorter than its magic string"))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad_file(
            path,
            "not a .npy file: the magic string \\x93NUMPY is missing",
        ));
    }
    let (major, minor) = (pre[6], pre[7]);
    let header_len = match major {
        1 => {
            f.read_exact(&mut pre[8..10])
                .map_err(|_| bad_file(path, "truncated .npy header"))?;
            u16::from_le_bytes([pre[8], pre[9]]) as usize
        }
        2 | 3 => {
            let mut l = [0u8; 4];
            f.read_exact(&mut l)
                .map_err(|_| bad_file(path, "truncated .npy header"))?;
            u32::from_le_bytes(l) as usize
        }
        _ => {
            return Err(bad_file(
                path,
                format!("unsupported .npy version {major}.{minor} (1.0, 2.0 and 3.0 are read)"),
            ));
        }
    };
    if header_len > MAX_HEADER {
        return Err(bad_file(
            path,
            format!("header of {header_len} bytes is implausibly large"),
        ));
    }
    let prefix = if major == 1 { 10 } else { 12 };
    let mut hbytes = vec![0u8; header_len];
    f.read_exact(&mut hbytes)
        .map_err(|_| bad_file(path, "truncated .npy header"))?;
    let htext =
        std::str::from_utf8(&hbytes).map_err(|_| bad_file(path, "the .npy header is not text"))?;
    let (dtype, fortran, shape) =
        parse_header(htext).map_err(|m| bad_file(path, format!("malformed .npy header: {m}")))?;
    let dtype = DType::from_descr(&dtype).ok_or_else(|| {
        let hint = match dtype.as_str() {
            "<f8" | "f8" => " (float64: save with .astype(np.float32))",
            ">f4" => " (big-endian float32: save with .astype('<f4'))",
            _ => "",
        };
        bad_file(path, format!("dtype '{dtype}' is not read by nacc{hint}"))
    })?;
    if fortran {
        return Err(bad_file(
            path,
            "fortran_order is True; save a C-ordered array (np.ascontiguousarray)",
        ));
    }
    let count = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .and_then(|c| c.checked_mul(dtype.size() as u64))
        .ok_or_else(|| bad_file(path, format!("shape {shape:?} is too large")))?;
    let available = file_len.saturating_sub((prefix + header_len) as u64);
    // a streamed file may hold the rows of a chunk its header does not count yet
    if count > available {
        return Err(bad_file(
            path,
            format!(
                "shape {shape:?} of {} needs {count} bytes of data, the file has {available}{}",
                dtype.name(),
                if count > available {
                    " (truncated?)"
                } else {
                    ""
                }
            ),
        ));
    }
    let mut data = Vec::new();
    data.try_reserve_exact(count as usize)
        .map_err(|_| bad_file(path, format!("{count} bytes of data cannot be allocated")))?;
    f.take(count)
        .read_to_end(&mut data)
        .map_err(|e| bad_file(path, format!("cannot read data: {e}")))?;
    if data.len() as u64 != count {
        return Err(bad_file(path, "truncated data"));
    }
    Ok(Array { dtype, shape, data })
}

/// Parses NumPy's header dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(h: &str) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let h = h.trim_end_matches(['\n', ' ', '\0']).trim();
    let body = h
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or("not a dict")?;
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = quoted(rest).ok_or("expected a quoted key")?;
        let after = after
            .trim_start()
            .strip_prefix(':')
            .ok_or("expected ':'")?
            .trim_start();
        rest = match key {
            "descr" => {
                let (v, r) = quoted(after).ok_or("descr must be a quoted string")?;
                descr = Some(v.to_string());
                r
            }
            "fortran_order" => {
                if let Some(r) = after.strip_prefix("True") {
                    fortran = Some(true);
                    r
                } else if let Some(r) = after.strip_prefix("False") {
                    fortran = Some(false);
                    r
                } else {
                    return Err("fortran_order must be True or False".into());
                }
            }
            "shape" => {
                let inner = after.strip_prefix('(').ok_or("shape must be a tuple")?;
                let close = inner.find(')').ok_or("shape tuple not closed")?;
                let mut dims = Vec::new();
                for part in inner[..close].split(',') {
                    let part = part.trim();
                    if part.is_empty() {
                        continue;
                    }
                    if dims.len() >= 32 {
                        return Err("more than 32 dimensions".into());
                    }
                    dims.push(
                        part.parse::<usize>()
                            .map_err(|_| format!("bad dimension {part:?}"))?,
                    );
                }
                shape = Some(dims);
                &inner[close + 1..]
            }
            other => return Err(format!("unknown key {other:?}")),
        };
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok((
        descr.ok_or("no 'descr'")?,
        fortran.ok_or("no 'fortran_order'")?,
        shape.ok_or("no 'shape'")?,
    ))
}

fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = s[1..].find(q)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}

/// Checks that an array has the expected dtype(s) and shape, naming the file.
pub fn expect(path: &Path, a: &Array, dtypes: &[DType], shape: &[usize]) -> Result<()> {
    if !dtypes.contains(&a.dtype) {
        let want: Vec<_> = dtypes.iter().map(|d| d.name()).collect();
        return Err(bad_file(
            path,
            format!(
                "dtype {} found, expected {}",
                a.dtype.name(),
                want.join(" or ")
            ),
        ));
    }
    if a.shape != shape {
        return Err(bad_file(
            path,
            format!("shape {:?} found, expected {:?}", a.shape, shape),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_parses_back() {
        for shape in [vec![3usize], vec![1000, 20], vec![0, 5]] {
            let h = header(DType::U8, &shape);
            assert_eq!(h.len() % 64, 0);
            let text = std::str::from_utf8(&h[10..]).unwrap();
            assert_eq!(parse_header(text).unwrap(), ("|u1".into(), false, shape));
        }
    }

    #[test]
    fn parses_numpy_written_headers() {
        let (d, f, s) =
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (50, 100), }      \n")
                .unwrap();
        assert_eq!((d.as_str(), f, s), ("<f4", false, vec![50, 100]));
        assert_eq!(
            parse_header("{'descr': '|u1', 'fortran_order': True, 'shape': (7,), }")
                .unwrap()
                .2,
            vec![7]
        );
        assert!(parse_header("{'descr': '|u1', 'shape': (7,), }").is_err());
        assert!(parse_header("{'descr': '|u1', 'fortran_order': False, 'shape': (x,), }").is_err());
    }
}
