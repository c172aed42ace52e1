//! Spike rasters as PNG: neuron index on y (neuron 0 at the bottom), time on
//! x. When neurons or steps outnumber pixels, each pixel shows the fraction
//! of its neuron x step cells that spiked (any spike stays visible); when
//! they are few, each neuron and step is drawn as a block of pixels.

use crate::error::Result;
use crate::export::write_atomic;
use crate::record::PopRecord;
use image::{GrayImage, Luma};
use std::path::Path;

/// Most grid cells along x and y before cells are merged.
const MAX_COLS: usize = 2000;
const MAX_ROWS: usize = 1000;
/// Smallest image the blocks are scaled up to.
const MIN_WIDTH: usize = 1000;
const MIN_HEIGHT: usize = 200;

/// Spikes per grid cell: `grid[row][col]` counts the spikes of the neurons
/// and steps that cell covers; also returns how many (neuron, step) pairs
/// each cell covers at most.
pub fn density_grid(rec: &PopRecord) -> (Vec<Vec<u32>>, usize, usize) {
    let steps = rec.steps();
    let cols = steps.clamp(1, MAX_COLS);
    let rows = rec.size.clamp(1, MAX_ROWS);
    let mut grid = vec![vec![0u32; cols]; rows];
    for t in 0..steps {
        let c = t * cols / steps;
        let words = &rec.bits[t * rec.words_per_step..][..rec.words_per_step];
        for (w, &word) in words.iter().enumerate() {
            let mut b = word;
            while b != 0 {
                let n = w * 32 + b.trailing_zeros() as usize;
                b &= b - 1;
                grid[n * rows / rec.size][c] += 1;
            }
        }
    }
    (grid, rec.size.div_ceil(rows), steps.max(1).div_ceil(cols))
}

pub fn raster_image(rec: &PopRecord) -> GrayImage {
    let (grid, per_row, per_col) = density_grid(rec);
    let (rows, cols) = (grid.len(), grid[0].len());
    let fx = MIN_WIDTH.div_ceil(cols).max(1);
    let fy = MIN_HEIGHT.div_ceil(rows).max(1);
    let cells = (per_row * per_col) as f32;
    let mut img = GrayImage::from_pixel((cols * fx) as u32, (rows * fy) as u32, Luma([255]));
    for (r, line) in grid.iter().enumerate() {
        for (c, &count) in line.iter().enumerate() {
            if count == 0 {
                continue;
            }
            // one spike in the cell: mid grey; every cell spiking: black
            let level = (200.0 * (1.0 - (count as f32 / cells).min(1.0))) as u8;
            let y0 = (rows - 1 - r) * fy; // neuron 0 at the bottom
            for y in y0..y0 + fy {
                for x in c * fx..(c + 1) * fx {
                    img.put_pixel(x as u32, y as u32, Luma([level]));
                }
            }
        }
    }
    img
}

pub fn write_raster(path: &Path, rec: &PopRecord) -> Result<()> {
    let img = raster_image(rec);
    write_atomic(path, |w| {
        img.write_with_encoder(image::codecs::png::PngEncoder::new(w))
            .map_err(std::io::Error::other)
    })
}
