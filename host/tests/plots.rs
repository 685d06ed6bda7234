//! Every chart is a PNG of the expected size with something drawn on it: curves, marks, text.

use std::path::Path;

use host::plot::text;
use host::sim::drive::{drive, Pilot};
use host::sim::track::Track;
use host::sim::world::World;
use host::train::history::{Epoch, History};
use image::RgbImage;

fn load(path: &Path) -> RgbImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_rgb8()
}

/// Pixels close to `c` (anti-aliased lines and text are blends).
fn count_near(img: &RgbImage, c: [u8; 3]) -> usize {
    img.pixels().filter(|p| p.0.iter().zip(c).all(|(&a, b)| (a as i32 - b as i32).abs() <= 24)).count()
}

/// Dark pixels (text, axes) in the rectangle `x0..x1, y0..y1`.
fn ink_in(img: &RgbImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
    (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&v| v < 110)).count()
}

fn history(n: usize) -> History {
    History {
        epochs: (1..=n)
            .map(|e| Epoch {
                epoch: e,
                train_loss: 1.0 / e as f64,
                train_metric: 0.5 + 0.04 * e as f64,
                val_loss: 1.2 / e as f64 + if e == 4 { -0.1 } else { 0.0 },
                val_metric: 0.45 + 0.04 * e as f64,
                seconds: 1.0,
                images_per_second: 100.0,
            })
            .collect(),
    }
}

const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [255, 127, 14];
const GREEN: [u8; 3] = [44, 160, 44];

#[test]
fn history_curves_are_drawn_with_the_best_epoch_marked() {
    let dir = tempfile::tempdir().unwrap();
    host::plot::history(&history(6), "mse", "mae", 4, dir.path()).unwrap();
    for file in ["loss.png", "metric.png"] {
        let img = load(&dir.path().join(file));
        assert_eq!(img.dimensions(), (800, 500), "{file}");
        assert!(count_near(&img, BLUE) > 300, "{file}: the training curve");
        assert!(count_near(&img, ORANGE) > 300, "{file}: the validation curve");
        assert!(count_near(&img, GREEN) > 60, "{file}: the best epoch's mark");
        // Title across the top, tick labels and "epoch" below the plot, the turned axis name
        // at the left edge.
        assert!(ink_in(&img, (250, 550), (0, 40)) > 100, "{file}: title");
        assert!(ink_in(&img, (300, 500), (455, 500)) > 50, "{file}: x axis name");
        assert!(ink_in(&img, (10, 35), (150, 350)) > 30, "{file}: y axis name");
    }
    // Without a best epoch there is no mark.
    host::plot::history(&history(6), "mse", "mae", 0, dir.path()).unwrap();
    assert!(count_near(&load(&dir.path().join("loss.png")), GREEN) < 5);
}

#[test]
fn a_single_epoch_and_missing_values_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = history(1);
    h.epochs[0].val_loss = f64::NAN;
    host::plot::history(&h, "cross-entropy", "accuracy", 1, dir.path()).unwrap();
    let img = load(&dir.path().join("loss.png"));
    assert_eq!(img.dimensions(), (800, 500));
    assert!(count_near(&img, BLUE) > 20);
}

#[test]
fn steering_scatter_and_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let truth: Vec<f32> = (0..200).map(|i| ((i as f32) * 0.37).sin() * 0.6).collect();
    let predicted: Vec<f32> = truth.iter().map(|t| t * 0.8 + 0.02).collect();
    host::plot::steering(&truth, &predicted, dir.path()).unwrap();
    let scatter = load(&dir.path().join("steering.png"));
    assert_eq!(scatter.dimensions(), (640, 640));
    assert!(ink_in(&scatter, (100, 540), (0, 40)) > 100, "title");
    // The dots are light blue (translucent), the diagonal grey.
    let dots = scatter.pixels().filter(|p| p.0[2] > 180 && p.0[0] < 200 && p.0[0] + 20 < p.0[2]).count();
    assert!(dots > 300, "{dots} blue pixels");
    let hist = load(&dir.path().join("steering-histogram.png"));
    assert_eq!(hist.dimensions(), (800, 500));
    assert!(count_near(&hist, ORANGE) > 100, "the predicted outline");
    assert!(hist.pixels().filter(|p| p.0[2] > 150 && p.0[0] < 120).count() > 1000, "the bars");
}

#[test]
fn histogram_bins_put_straight_ahead_in_the_middle() {
    let c = host::plot::steering::bin_counts(&[0.0, 0.0, -1.0, 1.0, 5.0, f32::NAN]);
    assert_eq!(c.len(), 41);
    assert_eq!((c[20], c[0], c[40]), (2, 1, 2));
}

#[test]
fn the_font_is_bundled_and_measures_text() {
    let (w, h) = text::measure("epoch", 16.0);
    assert!(w > 20 && h > 8, "{w}x{h}");
    assert!(text::measure("a much longer label", 16.0).0 > w);
}

#[test]
fn lap_map_has_a_key() {
    let track = Track::generate(3);
    let world = World::new(&track, 3);
    let report = drive(&track, None, &mut Pilot::Expert, 9.0, 0.3, |_| Ok(())).unwrap();
    let img = host::sim::draw::top_down(&world, &report);
    let map = world.map();
    let k = (0..map.levels()).find(|&k| map.level(k).w.max(map.level(k).h) <= 1400).unwrap();
    let (w, h) = (map.level(k).w as u32, map.level(k).h as u32);
    assert_eq!(img.dimensions(), (w + 270, h.max(470)));
    // The key's colour bar runs from green (on the line) to red (an intervention away).
    let key = image::imageops::crop_imm(&img, w, 0, 270, img.height()).to_image();
    assert!(key.pixels().filter(|p| p.0[1] > 180 && p.0[0] < 60).count() > 50, "green end of the bar");
    assert!(key.pixels().filter(|p| p.0[0] > 200 && p.0[1] < 60).count() > 50, "red end of the bar");
    assert!(ink_in(&key, (0, 270), (0, key.height())) > 300, "the key's text");
    // The driven path is on the map, green where the expert stays on the line.
    let on_map = image::imageops::crop_imm(&img, 0, 0, w, h).to_image();
    assert!(on_map.pixels().filter(|p| p.0[1] > 180 && p.0[0] < 80 && p.0[2] < 40).count() > 100, "the path");
}

/// The bounding box of dark pixels: (x0, y0, x1, y1).
fn ink_box(img: &RgbImage) -> (u32, u32, u32, u32) {
    let mut b = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0.iter().all(|&v| v < 128) {
            b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
        }
    }
    b
}

#[test]
fn text_is_anchored_and_turned_as_asked() {
    use host::plot::canvas::draw;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    use plotters::style::{FontTransform, RGBColor};
    let label = "steering angle";
    let (w, h) = text::measure(label, 20.0);
    // Level, right-aligned and vertically centred on (150, 50): the ink ends left of x = 150.
    let level = draw(200, 100, "level text", |a| {
        a.draw_text(label, &text::style(20.0, RGBColor(0, 0, 0)).pos(Pos::new(HPos::Right, VPos::Center)), (150, 50))?;
        Ok(())
    })
    .unwrap();
    let (x0, y0, x1, y1) = ink_box(&level);
    assert!((145..=150).contains(&x1) && x0 + w + 2 >= 150, "ink x {x0}..{x1}, width {w}");
    assert!(y0 >= 50 - h / 2 && y1 <= 50 + h / 2, "ink y {y0}..{y1}, height {h}");
    // Turned a quarter (as y axis names are): taller than wide, about as tall as the level
    // text is wide.
    let turned = draw(100, 200, "turned text", |a| {
        a.draw_text(label, &text::style(20.0, RGBColor(0, 0, 0)).transform(FontTransform::Rotate270), (50, 190))?;
        Ok(())
    })
    .unwrap();
    let (x0, y0, x1, y1) = ink_box(&turned);
    assert!(y1 - y0 + 6 >= w && y1 - y0 <= w, "turned ink {}x{}, level width {w}", x1 - x0, y1 - y0);
    assert!(x1 - x0 < h, "turned ink {} wide", x1 - x0);
}
