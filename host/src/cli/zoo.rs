//! `pilot zoo`: architectures as int8 blobs with RANDOM weights (test vectors for the firmware,
//! its memory plan and cost measurements, and `pilot report`'s timing of a network before any
//! training).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use common::Model;

use crate::fsutil::atomic_write;
use crate::nn::spec::NetSpec;
use crate::zoo;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot zoo --out models/testvectors                      the shipped PilotNet and sign CNN
  pilot zoo --arch my-net.toml --out runs/zoo             any architecture (a name in host/archs or a TOML file)
  pilot report --blob runs/zoo/my-net-random.pnn8         its memory, instructions and frame rate per board")]
pub struct ZooArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Architectures to build instead of the shipped two (names in host/archs or TOML files).
    #[arg(long, num_args = 1..)]
    pub arch: Vec<String>,
    /// Classes, for an architecture whose last layer has `units = "classes"`.
    #[arg(long, default_value_t = 10)]
    pub classes: u16,
}

pub fn run(args: ZooArgs) -> Result<()> {
    let models = if args.arch.is_empty() {
        vec![zoo::pilotnet_random(args.seed), zoo::sign_cnn_random(args.seed)]
    } else {
        let mut models = Vec::new();
        for arch in &args.arch {
            let spec = NetSpec::load(arch).with_context(|| format!("--arch {arch}"))?.with_classes(args.classes);
            models.push(zoo::random(&spec, args.seed)?);
        }
        models
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    for owned in models {
        let bytes = owned.to_bytes();
        let model = Model::parse(&bytes)?;
        let path = args.out.join(format!("{}-random.pnn8", owned.name));
        atomic_write(&path, &bytes)?;
        println!("{}: {} MACs, arena {} B, {} B (RANDOM weights)", path.display(), model.macs(), model.plan().arena_bytes(), bytes.len());
    }
    Ok(())
}
