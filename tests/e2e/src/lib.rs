//! Helpers of the end-to-end tests: deterministic camera frames and the shipped test vectors.
//! The tests build and run the firmware through the host tool's own helper, `host::qemu`
//! (QEMU, flip-link and defmt-print on the PATH).

pub mod frames;

use std::path::Path;

/// A blob of `models/testvectors/` (RANDOM weights; see its README).
pub fn test_vector(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/testvectors").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The shipped PilotNet's blob.
pub fn shipped_pilotnet() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/pilotnet/pilotnet.pnn8")
}

/// Frame count from an environment variable, or `default`.
pub fn frames_from_env(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{var}={v} is not a frame count")),
        Err(_) => default,
    }
}
