#![no_main]
//! Any bytes as a .npy file: an array or an error, never a panic, a hang or
//! an allocation sized by a header's claim.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nacc::npy::parse(data, std::path::Path::new("fuzz.npy"));
});
