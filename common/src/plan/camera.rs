//! The arena a camera model needs on the chip: the row-band plan with preprocessing's row
//! buffers as its scratch.
//!
//! A camera delivers a frame row by row; [`crate::preprocess::RowStream`] turns each row into
//! model-input rows with two interpolated rows and one output row of buffer, and
//! [`crate::interp::Stream`] pushes those into the first layers in row bands. While a frame
//! streams in, the row buffers and one camera row live in the band plan's scratch region
//! ([`BandPlan::scratch`]); after the last row the rest of the network reuses it. The firmware's
//! build script sizes its static arena with [`CameraPlan::of`], the firmware splits the scratch
//! with [`RowBuffers`], and `pilot report` prints the same numbers.

use super::BandPlan;
use crate::format::Model;
use crate::preprocess::RowStream;

/// Preprocessing's row buffers while a frame streams in, in the order they sit in the scratch
/// region: the u16 rows first, so the word-aligned region aligns them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RowBuffers {
    /// u16s of `RowStream`'s two horizontally interpolated rows.
    pub interp_u16s: usize,
    /// Bytes of `RowStream`'s output row (one model-input row).
    pub out_row: usize,
    /// Bytes of one camera row as it arrives, in the model's own frame format.
    pub frame_row: usize,
}

impl RowBuffers {
    /// The row buffers of `model`'s preprocessing (all zero for a model without one).
    pub fn of(model: &Model<'_>) -> RowBuffers {
        let input = model.input().shape;
        match model.def().input.preprocess {
            Some(pp) => {
                let (interp_u16s, out_row) = RowStream::scratch_len(input.w, input.c);
                RowBuffers { interp_u16s, out_row, frame_row: pp.row_bytes() }
            }
            None => RowBuffers::default(),
        }
    }

    /// Bytes of all three buffers (what [`RowStream::buffer_bytes`] counts).
    pub fn bytes(&self) -> usize {
        2 * self.interp_u16s + self.out_row + self.frame_row
    }
}

/// Everything the chip holds for a camera model besides weights and stack: the row-band plan
/// whose scratch holds the [`RowBuffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraPlan {
    /// The smallest row-band plan with `rows.bytes()` of scratch ([`BandPlan::new`]).
    pub bands: BandPlan,
    pub rows: RowBuffers,
}

impl CameraPlan {
    /// The plan the firmware runs `model` with. A model without preprocessing gets the band
    /// plan without scratch.
    pub fn of(model: &Model<'_>) -> CameraPlan {
        let rows = RowBuffers::of(model);
        CameraPlan { bands: BandPlan::new(model, rows.bytes()), rows }
    }

    /// Exact arena bytes, the row buffers included.
    pub fn arena_bytes(&self) -> usize {
        self.bands.arena_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::owned::{OwnedConv, OwnedLayer, OwnedModel, OwnedNode};
    use crate::format::{InputSpec, Pads, QParams, Task, Window};
    use crate::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
    use crate::Shape;

    /// 40x30 RGB888 frames cropped and resized to `h` x `w` YUV, then one 3x3 conv.
    fn camera_model(h: u16, w: u16, preprocess: bool) -> Vec<u8> {
        let pp = Preprocess { frame_w: 40, frame_h: 30, format: PixelFormat::Rgb888, crop: Rect { x: 2, y: 4, w: 36, h: 20 }, color: ColorMode::Yuv };
        let conv = OwnedConv {
            out_channels: 4,
            window: Window { kernel_h: 3, kernel_w: 3, stride_h: 1, stride_w: 1, pads: Pads::default() },
            relu: true,
            output: QParams { scale_exp: -3, zero_point: -128 },
            weights: vec![1; 4 * 3 * 3 * 3],
            bias: vec![0; 4],
            multipliers: vec![1 << 12; 4],
        };
        OwnedModel {
            name: "camera".into(),
            task: Task::Regression,
            input: InputSpec { shape: Shape::new(h, w, 3), quant: QParams { scale_exp: -7, zero_point: 0 }, preprocess: preprocess.then_some(pp) },
            layers: vec![OwnedNode { name: "conv1".into(), layer: OwnedLayer::Conv2d(conv) }],
        }
        .to_bytes()
    }

    #[test]
    fn row_buffers_are_the_row_streams_buffers() {
        let bytes = camera_model(10, 18, true);
        let model = Model::parse(&bytes).unwrap();
        let rows = RowBuffers::of(&model);
        // Two rows of 18 interpolated RGB pixels, one row of 18 YUV values, one 40-pixel RGB888 row.
        assert_eq!(rows, RowBuffers { interp_u16s: 2 * 3 * 18, out_row: 18 * 3, frame_row: 40 * 3 });
        let pp = model.def().input.preprocess.unwrap();
        assert_eq!(rows.bytes(), RowStream::buffer_bytes(&pp, model.input().shape));
    }

    #[test]
    fn the_camera_plan_keeps_the_row_buffers_in_the_band_plans_scratch() {
        let bytes = camera_model(10, 18, true);
        let model = Model::parse(&bytes).unwrap();
        let plan = CameraPlan::of(&model);
        assert_eq!(plan.bands, BandPlan::new(&model, plan.rows.bytes()));
        assert_eq!(plan.bands.scratch().len as usize, plan.rows.bytes());
        assert!(plan.bands.scratch().end() as usize <= plan.arena_bytes());
        assert_eq!(plan.arena_bytes(), plan.bands.arena_bytes());
    }

    #[test]
    fn a_model_without_preprocessing_has_no_row_buffers() {
        let bytes = camera_model(10, 18, false);
        let model = Model::parse(&bytes).unwrap();
        let plan = CameraPlan::of(&model);
        assert_eq!(plan.rows, RowBuffers::default());
        assert_eq!(plan.bands, BandPlan::new(&model, 0));
    }
}
