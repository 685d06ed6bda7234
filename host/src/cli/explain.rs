//! `pilot explain`: what a driving network looks at, frame by frame.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::explain::run::{run as explain, Options, Source};
use crate::explain::{Explainer, FloatExplainer, Int8Explainer};
use crate::sim::vehicle::DEFAULT_SPEED;
use crate::train::checkpoint::RunDir;

const HELP: &str = "\
Method: VisualBackProp (Bojarski et al. 2016, made for PilotNet). Each convolution's feature maps
are averaged over channels; from the deepest layer back, the map is scaled up to the layer's input
by a transposed convolution of ones (the layer's kernel and stride) and multiplied with the next
shallower averaged map; the result, at the input's resolution, is normalised to [0, 1].
Why not Grad-CAM: VisualBackProp needs only the forward pass, so an int8 blob is explained from its
own layer outputs (the common reference interpreter, the bytes the chip computes; no float twin)
and a training run from its float network, by the same code, and its mask has the input's
resolution where Grad-CAM's has the deepest layer's (1x18 for PilotNet). It shows what the
convolutional features respond to, not how the dense head weighs them.

Writes OUT/frame-0001.png ... (each frame at twice its size: the network's crop tinted by the mask,
the rest dimmed; yellow bar and number: the network's steering, cyan: the recording's label or the
simulator expert's command), OUT/explain.gif (the same, animated) and OUT/explain.csv.
With --seed the network drives the simulator's track, as `pilot sim drive` does.

Examples:
  pilot explain --blob models/pilotnet/pilotnet.pnn8 --seed 1 --frames 40 --out runs/explain-sim
  pilot explain --model runs/pilotnet --data /work/data/udacity-track1 --start 500 --every 10 --out runs/explain-udacity
  pilot explain --blob models/pilotnet/pilotnet.pnn8 --data runs/sim-data --frames 10 --no-gif --out runs/explain --force";

#[derive(Args, Debug)]
#[command(after_help = HELP)]
#[command(group = clap::ArgGroup::new("network").required(true).args(["blob", "model"]))]
#[command(group = clap::ArgGroup::new("frames_from").required(true).args(["data", "seed"]))]
pub struct ExplainArgs {
    /// int8 model blob (from `pilot export`), explained from the reference interpreter's layer
    /// outputs.
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// A training run's folder (from `pilot train`): its best float checkpoint.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A Udacity-format recording (driving_log.csv + IMG/), or a folder of recordings: the
    /// centre images, with the log's steering as the label.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Simulator track seed: the network drives it, the expert's command is the label.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Frames to explain.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: u64,
    /// Explain every N-th frame.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Frames to skip first.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Simulator speed in m/s (with --seed).
    #[arg(long, default_value_t = DEFAULT_SPEED, requires = "seed")]
    pub speed: f64,
    /// Folder for the pictures, the GIF and the CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Write no GIF.
    #[arg(long)]
    pub no_gif: bool,
    /// Replace an earlier explain run's files in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let blob = match &args.blob {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let mut int8 = match (&blob, &args.blob) {
        (Some(bytes), Some(path)) => Some(Int8Explainer::new(bytes).with_context(|| path.display().to_string())?),
        _ => None,
    };
    let mut float = args.model.as_ref().map(|dir| FloatExplainer::load(&RunDir::new(dir))).transpose()?;
    let explainer: &mut dyn Explainer = match (int8.as_mut(), float.as_mut()) {
        (Some(e), _) => e,
        (_, Some(e)) => e,
        _ => anyhow::bail!("give --blob or --model"),
    };
    let source = match (&args.data, args.seed) {
        (Some(dir), _) => Source::Recording(dir),
        (_, Some(seed)) => Source::Drive { seed, speed: args.speed },
        _ => anyhow::bail!("give --data or --seed"),
    };
    let opts = Options { frames: args.frames as usize, every: args.every as usize, start: args.start as usize, gif: !args.no_gif, force: args.force };
    println!("saliency by VisualBackProp on the {}", explainer.describe());
    let bar = ProgressBar::new(opts.frames as u64);
    if let Ok(style) = ProgressStyle::with_template("explaining [{bar:30}] {pos}/{len} frames {per_sec} ETA {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let summary = explain(explainer, &source, &args.out, &opts, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let first = summary.first_png.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    println!("{} frames explained: {first} ...", summary.frames);
    if let Some(gif) = &summary.gif {
        println!("animation: {}", gif.display());
    }
    println!("steering per frame: {}", summary.csv.display());
    println!("mean |network - reference| over these frames: {:.4}", summary.mean_abs_difference);
    Ok(())
}
