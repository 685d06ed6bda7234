//! `pilot zoo`: the shipped architectures as int8 blobs with RANDOM weights (test vectors for
//! the firmware, its memory plan and cost measurements, before any training).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use common::Model;

use crate::fsutil::atomic_write;
use crate::zoo;

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  pilot zoo --out models/testvectors")]
pub struct ZooArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: ZooArgs) -> Result<()> {
    for owned in [zoo::pilotnet_random(args.seed), zoo::sign_cnn_random(args.seed)] {
        let bytes = owned.to_bytes();
        let model = Model::parse(&bytes)?;
        let path = args.out.join(format!("{}-random.pnn8", owned.name));
        atomic_write(&path, &bytes)?;
        println!("{}: {} MACs, arena {} B, {} B (RANDOM weights)", path.display(), model.macs(), model.plan().arena_bytes(), bytes.len());
    }
    Ok(())
}
