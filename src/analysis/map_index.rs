//! Finding points on a map fast: the point under the cursor (a uniform grid, so hovering over
//! 10,000 points looks at a handful of cells, not every point) and the points inside a lasso.
//! Coordinates are whatever the caller uses (the page passes screen pixels).

/// A uniform grid over a set of 2-D points.
#[derive(Debug, Clone)]
pub struct PointGrid {
    points: Vec<[f32; 2]>,
    origin: [f32; 2],
    cell: f32,
    columns: usize,
    rows: usize,
    /// Point indices per cell, row-major.
    cells: Vec<Vec<u32>>,
}

impl PointGrid {
    /// Indexes `points` (N×2, row-major) with about two points per cell.
    pub fn new(points: &[f32]) -> Self {
        let points: Vec<[f32; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in &points {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        if points.is_empty() {
            lo = [0.0; 2];
            hi = [1.0; 2];
        }
        let span = [(hi[0] - lo[0]).max(1e-6), (hi[1] - lo[1]).max(1e-6)];
        let target_cells = (points.len() / 2).max(1) as f32;
        let cell = ((span[0] * span[1]) / target_cells).sqrt().max(span[0].max(span[1]) / 1024.0);
        let columns = ((span[0] / cell).floor() as usize + 1).min(1024);
        let rows = ((span[1] / cell).floor() as usize + 1).min(1024);
        let mut grid =
            Self { points: Vec::new(), origin: lo, cell, columns, rows, cells: vec![Vec::new(); columns * rows] };
        for (i, p) in points.iter().enumerate() {
            let c = grid.cell_of(*p);
            grid.cells[c.1 * columns + c.0].push(i as u32);
        }
        grid.points = points;
        grid
    }

    fn cell_of(&self, p: [f32; 2]) -> (usize, usize) {
        let cx = ((p[0] - self.origin[0]) / self.cell).floor().clamp(0.0, (self.columns - 1) as f32) as usize;
        let cy = ((p[1] - self.origin[1]) / self.cell).floor().clamp(0.0, (self.rows - 1) as f32) as usize;
        (cx, cy)
    }

    /// The point nearest to `(x, y)` within `radius` for which `visible` holds (ties: lower
    /// index).
    pub fn nearest(&self, x: f32, y: f32, radius: f32, visible: impl Fn(usize) -> bool) -> Option<usize> {
        let reach = (radius / self.cell).ceil() as isize + 1;
        let (cx, cy) = self.cell_of([x, y]);
        let mut best: Option<(f32, usize)> = None;
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                let (gx, gy) = (cx as isize + dx, cy as isize + dy);
                if gx < 0 || gy < 0 || gx >= self.columns as isize || gy >= self.rows as isize {
                    continue;
                }
                for &i in &self.cells[gy as usize * self.columns + gx as usize] {
                    let i = i as usize;
                    let p = self.points[i];
                    let d = (p[0] - x).powi(2) + (p[1] - y).powi(2);
                    if d <= radius * radius && visible(i) && best.is_none_or(|(bd, bi)| d < bd || (d == bd && i < bi)) {
                        best = Some((d, i));
                    }
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Indices of the points inside the closed polygon `polygon` (even-odd rule), ascending.
    pub fn inside(&self, polygon: &[[f32; 2]]) -> Vec<usize> {
        if polygon.len() < 3 {
            return Vec::new();
        }
        (0..self.points.len()).filter(|&i| point_in_polygon(self.points[i], polygon)).collect()
    }
}

/// Even-odd ray casting.
pub fn point_in_polygon(p: [f32; 2], polygon: &[[f32; 2]]) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn nearest_matches_a_scan_of_every_point() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let points: Vec<f32> = (0..2 * 10_000).map(|_| rng.random::<f32>() * 600.0).collect();
        let grid = PointGrid::new(&points);
        for _ in 0..500 {
            let (x, y) = (rng.random::<f32>() * 620.0 - 10.0, rng.random::<f32>() * 620.0 - 10.0);
            let scan = (0..10_000)
                .map(|i| ((points[2 * i] - x).powi(2) + (points[2 * i + 1] - y).powi(2), i))
                .filter(|(d, _)| *d <= 36.0)
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, i)| i);
            assert_eq!(grid.nearest(x, y, 6.0, |_| true), scan);
        }
        // Hidden points are skipped.
        let first = grid.nearest(points[0], points[1], 6.0, |_| true).unwrap();
        assert_ne!(grid.nearest(points[0], points[1], 6.0, |i| i != first), Some(first));
    }

    #[test]
    fn lasso_selects_the_points_inside() {
        let points = [1.0f32, 1.0, 5.0, 5.0, 9.0, 1.0, 5.0, 2.0];
        let grid = PointGrid::new(&points);
        let triangle = [[0.0, 0.0], [10.0, 0.0], [5.0, 6.0]];
        assert_eq!(grid.inside(&triangle), vec![0, 1, 2, 3]);
        let left = [[0.0, 0.0], [6.0, 0.0], [6.0, 3.0], [0.0, 3.0]];
        assert_eq!(grid.inside(&left), vec![0, 3]);
        assert!(grid.inside(&left[..2]).is_empty());
    }
}
