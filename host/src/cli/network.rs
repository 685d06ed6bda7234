//! The arguments that name the network that steers, shared by `pilot sim drive` and
//! `pilot serve`: an int8 blob (on the reference or on the firmware in QEMU) or a float run.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FirmwareKind {
    /// The QEMU build (mps2-an386, Cortex-M4F; PILOT_QEMU_MACHINE=mps2-an500 for the M7).
    Qemu,
}

#[derive(Args, Debug)]
pub struct NetworkArgs {
    /// int8 model blob (from `pilot export`) that steers from the centre camera, run by the
    /// `common` reference exactly as the firmware runs it.
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// A training run's folder (from `pilot train`): its best float checkpoint steers.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Run the --blob on the firmware itself: every frame goes through the Cortex-M4F build in
    /// QEMU (one run per frame, about 0.2 s each for PilotNet; the simulator waits for every
    /// answer).
    #[arg(long, value_enum, requires = "blob")]
    pub firmware: Option<FirmwareKind>,
}

impl NetworkArgs {
    /// Refuses --firmware without --blob (declared to clap too, which does not enforce
    /// `requires` on a member of a required group).
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.firmware.is_none() || self.blob.is_some(), "--firmware runs a --blob on the firmware: give --blob");
        Ok(())
    }

    /// The --blob's path and bytes, if one was given.
    pub fn read_blob(&self) -> anyhow::Result<Option<(PathBuf, Vec<u8>)>> {
        self.blob.as_ref().map(|path| Ok((path.clone(), std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?))).transpose()
    }
}
