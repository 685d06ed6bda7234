//! `pilot demo`: the main job. At this stage of the product it exercises the `common` contract
//! end to end on the shipped network shapes: it writes int8 model blobs (random weights, clearly
//! labelled; training, the simulator and the firmware join in later stages), parses and
//! validates them, plans their memory, preprocesses a synthetic camera frame both whole and row
//! by row, and runs the reference interpreter.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context};
use clap::Args;
use common::format::owned::OwnedModel;
use common::preprocess::{preprocess_frame, RowStream};
use common::{Model, Shape};

use crate::zoo;

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  pilot demo --out runs/demo")]
pub struct DemoArgs {
    /// Where the blobs are written.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A 320x160 RGB888 frame that looks like the Udacity simulator's: sky, a grey road narrowing
/// towards the horizon, grass on both sides.
pub fn synthetic_road_frame(w: usize, h: usize) -> Vec<u8> {
    let mut f = vec![0u8; w * h * 3];
    let horizon = h * 2 / 5;
    for y in 0..h {
        for x in 0..w {
            let px = if y < horizon {
                [120 + (y * 80 / horizon) as u8, 160 + (y * 60 / horizon) as u8, 230]
            } else {
                let t = (y - horizon) as f64 / (h - horizon) as f64; // 0 at horizon, 1 at bottom
                let half = 0.08 + 0.5 * t;
                let u = (x as f64 / w as f64 - 0.5).abs();
                if u < half * 0.03 / 0.5 + 0.004 {
                    [230, 230, 230] // centre line
                } else if u < half {
                    [105, 105, 110]
                } else {
                    [40 + ((x * 7 + y * 13) % 30) as u8, 120, 40]
                }
            };
            f[(y * w + x) * 3..][..3].copy_from_slice(&px);
        }
    }
    f
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    println!("pilot demo (foundation stage): the int8 contract on the shipped network shapes.");
    println!("Weights are RANDOM: training, the simulator and the firmware arrive in later stages.\n");

    let mut rows = Vec::new();
    for owned in [zoo::pilotnet_random(args.seed), zoo::sign_cnn_random(args.seed)] {
        rows.push(run_one(&owned, &args)?);
    }
    println!("summary");
    println!("{:<10} {:>10} {:>12} {:>12} {:>14} {:>12}  {}", "model", "MACs", "arena B", "ping-pong B", "ref infer/s", "output[0]", "blob");
    for r in rows {
        println!("{:<10} {:>10} {:>12} {:>12} {:>14.1} {:>12}  {}", r.name, r.macs, r.arena, r.naive, r.per_second, r.first_output, r.blob.display());
    }
    Ok(())
}

struct Row {
    name: String,
    macs: u64,
    arena: usize,
    naive: usize,
    per_second: f64,
    first_output: i8,
    blob: PathBuf,
}

fn run_one(owned: &OwnedModel, args: &DemoArgs) -> anyhow::Result<Row> {
    let bytes = owned.to_bytes();
    let path = args.out.join(format!("{}-random.pnn8", owned.name));
    std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    let model = Model::parse(&bytes).context("the written blob does not parse")?;
    print!("{}", super::report::describe(&model, bytes.len()));

    let input_shape: Shape = model.input().shape;
    let pp = model.def().input.preprocess.context("model has no preprocessing")?;
    let frame = synthetic_road_frame(pp.frame_w as usize, pp.frame_h as usize);
    let mut whole = vec![0i8; input_shape.len()];
    preprocess_frame(&pp, input_shape, &frame, &mut whole)?;

    // The camera's way: row by row, with a buffer of two interpolated rows.
    let (nr, no) = RowStream::scratch_len(input_shape.w, input_shape.c);
    let (mut rows, mut out_row) = (vec![0u16; nr], vec![0i8; no]);
    let mut streamed = vec![0i8; input_shape.len()];
    let mut stream = RowStream::new(pp, input_shape, &mut rows, &mut out_row)?;
    let row_len = (input_shape.w * input_shape.c) as usize;
    for row in frame.chunks(pp.row_bytes()) {
        stream.push_row(row, |y, r| streamed[y as usize * row_len..][..row_len].copy_from_slice(r))?;
    }
    ensure!(stream.done() && streamed == whole, "streamed preprocessing differs from whole-frame");
    println!("preprocessing: {}x{} frame -> {}x{}x{}, whole-frame and row-streaming give the same bytes ({} scratch bytes)", pp.frame_w, pp.frame_h, input_shape.h, input_shape.w, input_shape.c, nr * 2 + no);

    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let start = Instant::now();
    let mut runs = 0;
    let mut first_output = 0;
    while runs < 3 || start.elapsed().as_secs_f64() < 0.5 {
        first_output = common::run(&model, &whole, &mut arena)?[0];
        runs += 1;
    }
    let per_second = runs as f64 / start.elapsed().as_secs_f64();
    println!("reference interpreter: {per_second:.1} inferences/s on this PC, output[0] = {first_output}\n");
    Ok(Row {
        name: owned.name.clone(),
        macs: model.macs(),
        arena: model.plan().arena_bytes(),
        naive: model.plan().naive_ping_pong_bytes(),
        per_second,
        first_output,
        blob: path,
    })
}
