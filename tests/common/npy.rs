//! The outputs as an independent reader sees them: `.npy` files read with
//! the npyz crate, not with nacc's own reader (which tests/hostile.rs
//! tests), into the same small shape the tests compare.

use nacc::npy::DType;
use std::path::Path;

/// An array as read: its dtype, shape and little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
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

    pub fn to_u32(&self) -> Vec<u32> {
        self.data
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// `path` read with npyz; Err with a message when npyz cannot read it or
/// its dtype is none of those nacc writes.
pub fn read(path: &Path) -> Result<Array, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let f = npyz::NpyFile::new(&bytes[..]).map_err(|e| format!("{}: {e}", path.display()))?;
    let shape: Vec<usize> = f.shape().iter().map(|&n| n as usize).collect();
    let descr = match f.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => return Err(format!("{}: dtype {other:?}", path.display())),
    };
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let (dtype, data) = match descr.as_str() {
        "|u1" => (DType::U8, f.into_vec::<u8>().map_err(fail)?),
        "|b1" => {
            let v = f.into_vec::<bool>().map_err(fail)?;
            (DType::Bool, v.into_iter().map(u8::from).collect())
        }
        "<f4" => {
            let v = f.into_vec::<f32>().map_err(fail)?;
            (DType::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        "<u4" => {
            let v = f.into_vec::<u32>().map_err(fail)?;
            (DType::U32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        other => return Err(format!("{}: dtype {other}", path.display())),
    };
    Ok(Array { dtype, shape, data })
}

/// `a` has one of `dtypes` and the shape `shape`.
pub fn expect(path: &Path, a: &Array, dtypes: &[DType], shape: &[usize]) -> Result<(), String> {
    if !dtypes.contains(&a.dtype) || a.shape != shape {
        return Err(format!(
            "{}: {:?} {:?}, expected one of {dtypes:?} and {shape:?}",
            path.display(),
            a.dtype,
            a.shape
        ));
    }
    Ok(())
}
