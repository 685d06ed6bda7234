//! The events of preprocessing one camera frame row by row (`common::preprocess::RowStream`,
//! as the firmware runs it): per camera row the checks, per row it needs the horizontal
//! interpolation of every output pixel, per output row the vertical combination and colour of
//! every output pixel; on the fast path (a crop a whole multiple of the output) per needed
//! row the sums of every output pixel and per output row their rounding and colour. `emit(y)`
//! is called where the stream emits output row `y`.

use super::{Event, Ledger};
use crate::preprocess::{resize_coord, ColorMode, FastResize, PixelFormat, Preprocess};
use crate::shape::Shape;

/// Walks one frame of `pp` into an input of shape `out`, calling `emit` for each output row.
pub fn frame<L: Ledger>(t: &mut L, pp: &Preprocess, out: Shape, mut emit: impl FnMut(&mut L, u16)) {
    let crop = pp.crop;
    let interp_pixel = match pp.format {
        PixelFormat::Rgb888 => Event::PreInterpPixelRgb888,
        PixelFormat::Rgb565Be | PixelFormat::Rgb565Le => Event::PreInterpPixelRgb565,
    };
    let combine_pixel = match pp.color {
        ColorMode::Rgb => Event::PreCombinePixelRgb,
        ColorMode::Yuv => Event::PreCombinePixelYuv,
        ColorMode::Gray => Event::PreCombinePixelGray,
    };
    t.add(Event::PreFrame, 1);
    if let Some(fast) = FastResize::of(pp, out) {
        return fast_frame(t, pp, fast, out, emit);
    }
    let mut next_y = 0;
    for frame_y in 0..pp.frame_h {
        t.add(Event::PreRow, 1);
        if frame_y < crop.y || frame_y >= crop.y + crop.h || next_y == out.h {
            continue;
        }
        t.add(Event::PreRowInCrop, 1);
        let r = frame_y - crop.y;
        if r < resize_coord(next_y, crop.h, out.h).0 {
            continue;
        }
        t.add(Event::PreInterpRow, 1);
        t.add(interp_pixel, out.w as u64);
        while next_y < out.h {
            t.add(Event::PreOutputCheck, 1);
            let (_, y1, _) = resize_coord(next_y, crop.h, out.h);
            if y1 > r {
                break;
            }
            t.add(Event::PreOutputRow, 1);
            t.add(combine_pixel, out.w as u64);
            emit(t, next_y);
            next_y += 1;
        }
    }
}

/// The fast path's frame (`RowStream::push_fast`).
fn fast_frame<L: Ledger>(t: &mut L, pp: &Preprocess, fast: FastResize, out: Shape, mut emit: impl FnMut(&mut L, u16)) {
    let crop = pp.crop;
    let rgb565 = !matches!(pp.format, PixelFormat::Rgb888);
    let sum_pixel = match (fast.x.pair, rgb565) {
        (false, false) => Event::PreFastSumRgb888,
        (false, true) => Event::PreFastSumRgb565,
        (true, false) => Event::PreFastSumPairRgb888,
        (true, true) => Event::PreFastSumPairRgb565,
    };
    let combine_pixel = match pp.color {
        ColorMode::Rgb => Event::PreFastCombineRgb,
        ColorMode::Yuv => Event::PreFastCombineYuv,
        ColorMode::Gray => Event::PreFastCombineGray,
    };
    let w = out.w as u64;
    let mut next_y = 0;
    for frame_y in 0..pp.frame_h {
        t.add(Event::PreRow, 1);
        if frame_y < crop.y || frame_y >= crop.y + crop.h || next_y == out.h {
            continue;
        }
        t.add(Event::PreFastRow, 1);
        let (r, y0) = (frame_y - crop.y, fast.y.first(next_y));
        let second = fast.y.pair && r == y0 + 1;
        if r != y0 && !second {
            continue;
        }
        t.add(Event::PreFastSumRow, 1);
        t.add(sum_pixel, w);
        if fast.y.pair && !second {
            continue;
        }
        t.add(Event::PreFastOutputRow, 1);
        t.add(combine_pixel, w);
        if second {
            t.add(Event::PreFastCombineSecond, w);
        }
        emit(t, next_y);
        next_y += 1;
    }
}
