//! A small RGB canvas: rectangles, lines and anti-aliased text in the
//! DejaVu Sans font shipped in `assets/fonts/` (never a system font).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use std::sync::OnceLock;

pub type Color = Rgb<u8>;
pub const WHITE: Color = Rgb([255, 255, 255]);
pub const BLACK: Color = Rgb([0, 0, 0]);
pub const GREY: Color = Rgb([110, 110, 110]);
pub const LIGHT: Color = Rgb([225, 225, 225]);
pub const BLUE: Color = Rgb([31, 95, 170]);

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_BYTES).expect("the shipped DejaVu Sans parses")
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Align {
    Start,
    Center,
    End,
}

pub struct Canvas {
    pub img: RgbImage,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            img: RgbImage::from_pixel(width.max(1), height.max(1), WHITE),
        }
    }

    pub fn width(&self) -> i64 {
        self.img.width() as i64
    }

    pub fn height(&self) -> i64 {
        self.img.height() as i64
    }

    /// Fills `[x0, x1) x [y0, y1)`, clipped to the canvas.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Color) {
        let (x0, x1) = (x0.max(0), x1.min(self.width()));
        let (y0, y1) = (y0.max(0), y1.min(self.height()));
        for y in y0..y1 {
            for x in x0..x1 {
                self.img.put_pixel(x as u32, y as u32, c);
            }
        }
    }

    pub fn blend(&mut self, x: i64, y: i64, c: Color, alpha: f32) {
        if x < 0 || y < 0 || x >= self.width() || y >= self.height() || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for k in 0..3 {
            p.0[k] = (p.0[k] as f32 * (1.0 - a) + c.0[k] as f32 * a).round() as u8;
        }
    }

    /// A 1-pixel rectangle outline around `[x0, x1) x [y0, y1)`.
    pub fn frame(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Color) {
        self.fill_rect(x0 - 1, y0 - 1, x1 + 1, y0, c);
        self.fill_rect(x0 - 1, y1, x1 + 1, y1 + 1, c);
        self.fill_rect(x0 - 1, y0, x0, y1, c);
        self.fill_rect(x1, y0, x1 + 1, y1, c);
    }

    /// A line of width ~1.5 px (anti-aliased by supersampling along it).
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Color) {
        let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
        let n = (len * 3.0).ceil().max(1.0) as usize;
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            let (xi, yi) = (x.floor() as i64, y.floor() as i64);
            let (fx, fy) = ((x - x.floor()) as f32, (y - y.floor()) as f32);
            self.blend(xi, yi, c, (1.0 - fx) * (1.0 - fy) + 0.35);
            self.blend(xi + 1, yi, c, fx * (1.0 - fy));
            self.blend(xi, yi + 1, c, (1.0 - fx) * fy);
        }
    }

    /// Width of `text` at `size` px.
    pub fn text_width(size: f32, text: &str) -> f32 {
        let f = font().as_scaled(PxScale::from(size));
        let mut w = 0.0;
        let mut prev = None;
        for ch in text.chars() {
            let id = f.glyph_id(ch);
            if let Some(p) = prev {
                w += f.kern(p, id);
            }
            w += f.h_advance(id);
            prev = Some(id);
        }
        w
    }

    /// Draws `text` with its box aligned on (x, y): `(h, v)` horizontally
    /// and vertically (Start = left, top).
    pub fn text(
        &mut self,
        x: f64,
        y: f64,
        size: f32,
        text: &str,
        c: Color,
        (h, v): (Align, Align),
    ) {
        let f = font().as_scaled(PxScale::from(size));
        let w = Self::text_width(size, text) as f64;
        let height = (f.ascent() - f.descent()) as f64;
        let left = match h {
            Align::Start => x,
            Align::Center => x - w / 2.0,
            Align::End => x - w,
        };
        let top = match v {
            Align::Start => y,
            Align::Center => y - height / 2.0,
            Align::End => y - height,
        };
        let baseline = top + f.ascent() as f64;
        let mut pen = left;
        let mut prev = None;
        for ch in text.chars() {
            let id = f.glyph_id(ch);
            if let Some(p) = prev {
                pen += f.kern(p, id) as f64;
            }
            let glyph = id.with_scale_and_position(
                PxScale::from(size),
                ab_glyph::point(pen as f32, baseline as f32),
            );
            pen += f.h_advance(id) as f64;
            prev = Some(id);
            if let Some(outline) = font().outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    self.blend(
                        b.min.x as i64 + gx as i64,
                        b.min.y as i64 + gy as i64,
                        c,
                        cov,
                    );
                });
            }
        }
    }

    /// A panel's title, its top left at (x, y + 4).
    pub fn title(&mut self, x: i64, y: i64, text: &str) {
        self.text(
            x as f64,
            (y + 4) as f64,
            15.0,
            text,
            BLACK,
            (Align::Start, Align::Start),
        );
    }

    /// The first of `options` that fits in `max_w` pixels as a title (the
    /// last when none does); returns its width.
    pub fn title_fitting(&mut self, x: i64, y: i64, max_w: i64, options: &[String]) -> i64 {
        let fits = |t: &String| Canvas::text_width(15.0, t).ceil() as i64 <= max_w;
        let text = options
            .iter()
            .find(|t| fits(t))
            .or(options.last())
            .map_or("", |t| t.as_str());
        self.title(x, y, text);
        Canvas::text_width(15.0, text).ceil() as i64
    }

    /// A tick on a y axis at (x, y) with its label to the left.
    pub fn y_tick(&mut self, x: i64, y: i64, label: &str) {
        self.fill_rect(x - 5, y, x - 1, y + 1, GREY);
        self.text(
            (x - 8) as f64,
            y as f64,
            12.0,
            label,
            BLACK,
            (Align::End, Align::Center),
        );
    }

    /// An x axis under a plot whose bottom edge is `y`: a tick and its
    /// label at each pixel column of `ticks`, and `label` centred under
    /// `x .. x + w`.
    pub fn x_axis(&mut self, x: i64, w: i64, y: i64, ticks: &[(i64, String)], label: &str) {
        for (xx, t) in ticks {
            self.fill_rect(*xx, y + 1, xx + 1, y + 6, GREY);
            self.text(
                *xx as f64,
                (y + 8) as f64,
                12.0,
                t,
                BLACK,
                (Align::Center, Align::Start),
            );
        }
        self.text(
            (x + w / 2) as f64,
            (y + 26) as f64,
            13.0,
            label,
            BLACK,
            (Align::Center, Align::Start),
        );
    }

    /// The label of a y axis whose ticks hang left of `x`, centred on the
    /// axis' middle `y_mid`, rotated.
    pub fn y_label(&mut self, x: i64, y_mid: i64, text: &str) {
        self.text_vertical((x - 58) as f64, y_mid as f64, 13.0, text, BLACK);
    }

    /// Draws `text` rotated a quarter turn anticlockwise, centred on (x, y).
    pub fn text_vertical(&mut self, x: f64, y: f64, size: f32, text: &str, c: Color) {
        let w = Self::text_width(size, text).ceil() as u32 + 2;
        let h = (size * 1.3).ceil() as u32;
        let mut tmp = Canvas::new(w, h);
        tmp.text(
            w as f64 / 2.0,
            h as f64 / 2.0,
            size,
            text,
            BLACK,
            (Align::Center, Align::Center),
        );
        let rot = image::imageops::rotate270(&tmp.img);
        let (x0, y0) = (
            x as i64 - rot.width() as i64 / 2,
            y as i64 - rot.height() as i64 / 2,
        );
        for (px, py, p) in rot.enumerate_pixels() {
            let cov = 1.0 - p.0[0] as f32 / 255.0;
            self.blend(x0 + px as i64, y0 + py as i64, c, cov);
        }
    }
}

/// Round tick values covering `[lo, hi]`: steps of 1, 2 or 5 x 10^k, about
/// `target` of them.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo].into_iter().filter(|x| x.is_finite()).collect();
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    // an axis too short or too long for f64's steps: its ends only
    if !(raw.is_normal() && mag.is_normal()) {
        return vec![lo, hi];
    }
    // the round step nearest to the raw one (in ratio)
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|a, b| (a / raw).ln().abs().total_cmp(&(b / raw).ln().abs()))
        .unwrap_or(mag);
    let (first, last) = ((lo / step).ceil(), (hi / step + 1e-9).floor());
    // the steps of an axis far from 0 (lo / step beyond 2^53) are not whole
    if !(first.abs() < 1e15 && last.abs() < 1e15) || last - first > 4.0 * target.max(1) as f64 {
        return vec![lo, hi];
    }
    (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .collect()
}

/// The smallest 1, 2 or 5 x 10^k that is >= `x` (x > 0), for an axis top.
pub fn nice_ceil(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let mag = 10f64.powf(x.log10().floor());
    let top = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= x * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag);
    // beyond f64's powers of ten: x itself
    if top.is_normal() && top >= x * (1.0 - 1e-12) {
        top
    } else {
        x
    }
}

/// A tick label: integers without decimals, else as few decimals as needed.
pub fn tick_label(v: f64) -> String {
    if v.is_nan() || v.abs() >= 1e15 || (v != 0.0 && v.abs() < 1e-3) {
        // beyond what decimals show well
        format!("{v:.3e}")
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_inside() {
        assert_eq!(
            nice_ticks(0.0, 1000.0, 5),
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
        );
        assert_eq!(nice_ticks(0.0, 19.0, 4), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(nice_ticks(250.0, 260.0, 2), vec![250.0, 255.0, 260.0]);
        assert_eq!(nice_ticks(0.0, 446.0, 2), vec![0.0, 200.0, 400.0]);
        assert_eq!(nice_ceil(425.0), 500.0);
        assert_eq!(nice_ceil(87.5), 100.0);
        assert_eq!(nice_ceil(100.0), 100.0);
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(200.0), "200");
    }

    /// Issue 15: no axis, however short, long or far from 0, panics or
    /// gives more than a few ticks, and every tick lies within it.
    #[test]
    fn ticks_of_extreme_axes_are_few_and_inside() {
        let ends = [
            0.0,
            5e-324,
            1e-300,
            1e-12,
            1e-3,
            0.5,
            1.0,
            1000.0,
            4.3e12,
            1e15,
            1e300,
            f64::MAX,
        ];
        for &a in &ends {
            for &b in &ends {
                for (lo, hi) in [(a, b), (-b, a), (a, a + b), (a - b, a)] {
                    for target in [0, 1, 5, 40] {
                        let t = nice_ticks(lo, hi, target);
                        assert!(t.len() <= 4 * target.max(1) + 2, "{lo} {hi}: {}", t.len());
                        if hi > lo {
                            let slack = (hi - lo) * 1e-6;
                            assert!(
                                t.iter().all(|x| *x >= lo - slack && *x <= hi + slack),
                                "{lo}..{hi}: {t:?}"
                            );
                        }
                        for x in t {
                            assert!(!tick_label(x).is_empty());
                        }
                    }
                }
            }
            let top = nice_ceil(a);
            assert!(
                top.is_finite() && top > 0.0 && (a == 0.0 || top >= a * 0.999),
                "{a}: {top}"
            );
        }
        assert_eq!(tick_label(4.3e15), "4.300e15");
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5), Vec::<f64>::new());
    }

    #[test]
    fn text_marks_pixels_inside_its_box() {
        let mut c = Canvas::new(200, 40);
        c.text(
            10.0,
            10.0,
            16.0,
            "NAcc 100 Hz",
            BLACK,
            (Align::Start, Align::Start),
        );
        let dark: Vec<_> = c
            .img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(dark.len() > 50);
        let w = Canvas::text_width(16.0, "NAcc 100 Hz");
        assert!(
            dark.iter()
                .all(|&(x, y)| x >= 10 && (x as f32) <= 11.0 + w && (10..32).contains(&y))
        );
    }
}
