//! The camera-to-output path, the same in every firmware binary.
//!
//! A frame arrives row by row (a camera's readout; a host file in QEMU). Each row is
//! preprocessed as it arrives ([`RowStream`]: crop, resize, colour), and every model-input row
//! it completes goes straight into the first layers, which run in row bands ([`Stream`]);
//! after the last row the rest of the network runs on whole tensors. Neither the frame nor the
//! model input is ever held whole.
//!
//! The arena is laid out by `common`'s camera plan ([`common::plan::CameraPlan`], which the
//! build script sized the static arena with): while a frame streams in, the bytes below the
//! band plan's scratch region belong to the row bands, and the scratch holds preprocessing's
//! row buffers ([`RowBuffers`]: two interpolated rows, one model-input row, one camera row);
//! after the last row the whole arena belongs to the network.
//!
//! The binaries bring the I/O and the timing: [`Pipeline::run`] takes a reader that fills the
//! row buffer and pushes each row ([`Rows::push`]), and a [`Probe`] that hears when the network
//! starts, finishes a layer (or one row of a banded layer) and stops.

use common::interp::{Kernels, RunError, Stream};
use common::plan::{BandPlan, RowBuffers, Slot};
use common::preprocess::{Preprocess, PreprocessError, RowStream};
use common::Model;

/// Why a pipeline cannot run a model on the given frames and arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SetupError {
    /// The model takes no camera frames: it has no preprocessing spec.
    NoPreprocessing,
    /// The arena is smaller than the model's camera plan.
    ArenaTooSmall { needed: usize, got: usize },
    /// The arena does not start at a word boundary (the row buffers in it hold u16s).
    ArenaNotAligned,
    /// The frames' rows are longer than the camera row buffer of the plan (one row of the
    /// frames the model was made for).
    FrameRowTooLong { row_bytes: usize, buffer: usize },
    /// The frames' preprocessing does not give the model's input.
    Preprocess(PreprocessError),
}

/// Why a frame gave no output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError<E> {
    /// The reader's own error.
    Read(E),
    Preprocess(PreprocessError),
    Network(RunError),
}

/// What the pipeline tells its caller while a frame runs, for timing. Each method does nothing
/// unless implemented; `()` times nothing.
pub trait Probe {
    /// The network starts: on a model-input row (the row bands), or after the frame's last
    /// row (the layers after the bands).
    fn network_start(&mut self) {}
    /// Layer `layer` has produced one row (a banded layer) or its whole output.
    fn layer_done(&mut self, layer: usize) {
        let _ = layer;
    }
    /// The network has done all that the row, or the end of the frame, allows.
    fn network_end(&mut self) {}
}

impl Probe for () {}

/// Takes one model through camera frames, in an arena laid out by its camera plan.
pub struct Pipeline<'s, 'm, 'a> {
    model: &'s Model<'m>,
    /// The frames that come in (the model's own, or a camera's: [`Preprocess::for_frame`]).
    frames: Preprocess,
    rows: RowBuffers,
    stream: Stream<'s, 'm>,
    /// False from the start of a frame until it gave its output: a frame cut short leaves
    /// the stream mid-frame, and the next one starts from a fresh stream.
    clean: bool,
    arena: &'a mut [i8],
}

impl<'s, 'm, 'a> Pipeline<'s, 'm, 'a> {
    /// A pipeline for `frames` (the model's own preprocessing, or the same for another
    /// camera), in `arena`: at least the model's camera plan, word-aligned.
    pub fn new(model: &'s Model<'m>, frames: Preprocess, arena: &'a mut [i8]) -> Result<Self, SetupError> {
        if model.def().input.preprocess.is_none() {
            return Err(SetupError::NoPreprocessing);
        }
        // `common::plan::CameraPlan::of`, the build script's sizing, computed the same way.
        let rows = RowBuffers::of(model);
        let stream = Stream::new(model, rows.bytes());
        let needed = stream.plan().arena_bytes();
        if arena.len() < needed {
            return Err(SetupError::ArenaTooSmall { needed, got: arena.len() });
        }
        if arena.as_ptr().align_offset(4) != 0 {
            return Err(SetupError::ArenaNotAligned);
        }
        if frames.row_bytes() > rows.frame_row {
            return Err(SetupError::FrameRowTooLong { row_bytes: frames.row_bytes(), buffer: rows.frame_row });
        }
        // Try the row buffers once: `RowStream::new` checks the frames against the input.
        let got = arena.len();
        let (_, buffers) = split(arena, stream.plan().scratch(), &rows).ok_or(SetupError::ArenaTooSmall { needed, got })?;
        RowStream::new(frames, model.input().shape, buffers.interp, buffers.out_row).map_err(SetupError::Preprocess)?;
        Ok(Pipeline { model, frames, rows, stream, clean: true, arena })
    }

    /// The arena's layout while rows stream in.
    pub fn plan(&self) -> &BandPlan {
        self.stream.plan()
    }

    /// The frames this pipeline takes.
    pub fn frames(&self) -> &Preprocess {
        &self.frames
    }

    /// Runs one frame. `read(row, rows)` must fill `row` (`frames().row_bytes()` long) with
    /// each frame row in turn, top to bottom, and hand it to [`Rows::push`]; it may push
    /// slices of its own instead. Returns the model's output, in the arena.
    pub fn run<K, P, E, R>(&mut self, kernels: &mut K, probe: &mut P, read: R) -> Result<&[i8], FrameError<E>>
    where
        K: Kernels + ?Sized,
        P: Probe,
        R: FnOnce(&mut [u8], &mut Rows<'_, 's, 'm, K, P>) -> Result<(), E>,
    {
        if !self.clean {
            self.stream = Stream::new(self.model, self.rows.bytes());
        }
        self.clean = false;
        let (frames, input) = (self.frames, self.model.input().shape);
        let too_small = RunError::ArenaTooSmall { needed: self.stream.plan().arena_bytes(), got: self.arena.len() };
        let failure = {
            let scratch = self.stream.plan().scratch();
            let (bands, buffers) = split(self.arena, scratch, &self.rows).ok_or(FrameError::Network(too_small))?;
            let preprocess = RowStream::new(frames, input, buffers.interp, buffers.out_row).map_err(FrameError::Preprocess)?;
            let mut rows = Rows { preprocess, stream: &mut self.stream, bands, kernels: &mut *kernels, probe: &mut *probe, failure: None };
            read(&mut buffers.frame_row[..frames.row_bytes()], &mut rows).map_err(FrameError::Read)?;
            rows.failure
        };
        match failure {
            Some(Failure::Preprocess(e)) => return Err(FrameError::Preprocess(e)),
            Some(Failure::Network(e)) => return Err(FrameError::Network(e)),
            None => {}
        }
        probe.network_start();
        let out = self.stream.finish(kernels, self.arena, |i, _, _| probe.layer_done(i));
        probe.network_end();
        let out = out.map_err(FrameError::Network)?;
        self.clean = true;
        Ok(out)
    }
}

/// The arena while rows stream in: the row bands' bytes (below the plan's `scratch`) and the
/// row buffers in the scratch. `None` if the arena is too short or misaligned
/// ([`Pipeline::new`] checked both).
fn split<'x>(arena: &'x mut [i8], scratch: Slot, rows: &RowBuffers) -> Option<(&'x mut [i8], Buffers<'x>)> {
    let (bands, rest) = arena.split_at_mut_checked(scratch.offset as usize)?;
    let buffers = Buffers::split(rest.get_mut(..scratch.len as usize)?, rows)?;
    Some((bands, buffers))
}

/// Where a frame failed inside the pipeline.
enum Failure {
    Preprocess(PreprocessError),
    Network(RunError),
}

/// The rows of one frame on their way in: what [`Pipeline::run`]'s reader pushes rows into.
pub struct Rows<'f, 's, 'm, K: ?Sized, P> {
    preprocess: RowStream<'f>,
    stream: &'f mut Stream<'s, 'm>,
    bands: &'f mut [i8],
    kernels: &'f mut K,
    probe: &'f mut P,
    failure: Option<Failure>,
}

impl<K: Kernels + ?Sized, P: Probe> Rows<'_, '_, '_, K, P> {
    /// Takes the next frame row: preprocesses it and runs the row bands on every model-input
    /// row it completes. After a failure the frame's remaining rows are ignored (a camera must
    /// still finish its readout) and [`Pipeline::run`] returns the error.
    pub fn push(&mut self, row: &[u8]) {
        if self.failure.is_some() {
            return;
        }
        let (stream, bands, kernels, probe, failure) = (&mut *self.stream, &mut *self.bands, &mut *self.kernels, &mut *self.probe, &mut self.failure);
        let pushed = self.preprocess.push_row(row, |_, input_row| {
            probe.network_start();
            if let Err(e) = stream.push_row(kernels, bands, input_row, |i, _, _| probe.layer_done(i)) {
                failure.get_or_insert(Failure::Network(e));
            }
            probe.network_end();
        });
        if let Err(e) = pushed {
            self.failure.get_or_insert(Failure::Preprocess(e));
        }
    }
}

/// Preprocessing's row buffers, in the band plan's scratch region.
struct Buffers<'a> {
    /// `RowStream`'s two interpolated rows.
    interp: &'a mut [u16],
    /// `RowStream`'s output row.
    out_row: &'a mut [i8],
    /// One camera row as it arrives.
    frame_row: &'a mut [u8],
}

impl<'a> Buffers<'a> {
    /// Splits the scratch region (word-aligned in a word-aligned arena) into the buffers;
    /// `None` if it is shorter than `rows` or not 2-aligned.
    fn split(scratch: &'a mut [i8], rows: &RowBuffers) -> Option<Buffers<'a>> {
        let (interp, rest) = scratch.split_at_mut_checked(2 * rows.interp_u16s)?;
        let (out_row, rest) = rest.split_at_mut_checked(rows.out_row)?;
        let (frame_row, _) = rest.split_at_mut_checked(rows.frame_row)?;
        if interp.as_ptr().align_offset(2) != 0 {
            return None;
        }
        // SAFETY: `interp` is an exclusive borrow of 2 * interp_u16s bytes at a 2-aligned
        // address (checked above), so it holds exactly interp_u16s aligned u16s; every bit
        // pattern is a valid u16; the new slice takes over the borrow for the same lifetime.
        let interp = unsafe { core::slice::from_raw_parts_mut(interp.as_mut_ptr().cast::<u16>(), rows.interp_u16s) };
        // SAFETY: i8 and u8 have the same size, alignment and validity; same exclusive borrow.
        let frame_row = unsafe { core::slice::from_raw_parts_mut(frame_row.as_mut_ptr().cast::<u8>(), frame_row.len()) };
        Some(Buffers { interp, out_row, frame_row })
    }
}
