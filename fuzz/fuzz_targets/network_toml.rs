#![no_main]
//! Any text as a network file: a network or an error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(net) = nacc::config::Network::from_toml_str(text, "fuzz.toml") {
            let _ = net.scaled(3);
        }
    }
});
