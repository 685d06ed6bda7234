//! Host files through semihosting: what a camera and a steering servo are to the QEMU build.
//!
//! File names come from the semihosting command line (`qemu-run.sh ELF FRAMES OUTPUTS COSTS`
//! passes them as `-semihosting-config ...,arg=ELF,arg=FRAMES,...`); paths are relative to the
//! directory QEMU runs in. Errors are reported through defmt with the path, never as panics.

use core::ffi::CStr;

use semihosting::fs::File;
pub use semihosting::io::{self, Read, Write};

/// Longest path accepted, NUL included.
const PATH_BYTES: usize = 128;
/// Bytes of the whole semihosting command line: the program name and three paths.
const CMDLINE_BYTES: usize = 3 * PATH_BYTES + 64;

/// A NUL-terminated copy of a path, as semihosting wants it.
pub struct Path {
    buf: [u8; PATH_BYTES],
    len: usize,
}

impl Path {
    fn new(s: &str) -> Option<Path> {
        let b = s.as_bytes();
        if b.len() >= PATH_BYTES || b.contains(&0) {
            return None;
        }
        let mut buf = [0; PATH_BYTES];
        buf[..b.len()].copy_from_slice(b);
        Some(Path { buf, len: b.len() })
    }

    pub fn as_str(&self) -> &str {
        // Copied from a `&str` in `new`, so valid UTF-8; the fallback is unreachable.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }

    fn c_str(&self) -> &CStr {
        // `new` wrote no NUL before `len` and a NUL at `len`: the fallback is unreachable.
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

/// The program's file arguments, `[FRAMES [OUTPUTS [COSTS]]]` after the program name; a
/// missing argument or `-` is none.
pub struct Args {
    /// Camera frames to read.
    pub input: Option<Path>,
    /// Where the int8 outputs go.
    pub output: Option<Path>,
    /// Where the cost records go (`common::report::CostRecord`, one per frame).
    pub costs: Option<Path>,
}

/// Reads the semihosting command line. A malformed one is an error the caller reports.
pub fn args() -> Result<Args, &'static str> {
    let cmdline = semihosting::experimental::env::args::<CMDLINE_BYTES>().map_err(|_| "cannot read the semihosting command line")?;
    let mut it = (&cmdline).skip(1);
    let mut next = || -> Result<Option<Path>, &'static str> {
        match it.next() {
            None | Some(Ok("-")) => Ok(None),
            Some(Ok(s)) => Path::new(s).map(Some).ok_or("argument too long"),
            Some(Err(_)) => Err("argument is not UTF-8"),
        }
    };
    let (input, output, costs) = (next()?, next()?, next()?);
    if it.next().is_some() {
        return Err("too many arguments (expected: FRAMES OUTPUTS COSTS)");
    }
    Ok(Args { input, output, costs })
}

/// Logs a failed file operation with its path and the host's errno.
pub fn report(what: &str, path: &Path, e: io::Error) {
    match e.raw_os_error() {
        Some(errno) => defmt::error!("{=str} {=str}: host errno {=i32}", what, path.as_str(), errno),
        None => defmt::error!("{=str} {=str}: I/O error", what, path.as_str()),
    }
}

/// Opens `path` for reading and returns it with its length in bytes.
pub fn open(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path.c_str())?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Creates (or truncates) `path` for writing.
pub fn create(path: &Path) -> io::Result<File> {
    File::create(path.c_str())
}
