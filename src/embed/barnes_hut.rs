//! Barnes-Hut approximation of the repulsive forces (van der Maaten 2014, "Accelerating
//! t-SNE using tree-based algorithms", JMLR 15).
//!
//! The embedding is put in a quadtree whose nodes store their point count and centre of
//! mass. For point i, a node whose side length s satisfies s / ‖y_i − c‖ < θ is treated
//! as one point of weight `count` at its centre of mass c, so
//!   Z   ≈ Σ_nodes count · w,       w = 1 / (1 + ‖y_i − c‖²)
//!   R_i ≈ Σ_nodes count · w² (y_i − c).
//! θ = 0 opens every node, which reproduces the exact sums (the tests rely on it); the
//! default θ = 0.5 is van der Maaten's and openTSNE's. A node that contains i itself is
//! never summarised (its centre of mass includes y_i), which keeps large θ sane.
//!
//! The tree lives in flat vectors reused across iterations (no allocation per
//! iteration once warmed up), points are permuted so every node's points are contiguous,
//! and traversal uses an explicit stack in a fixed order, so results are deterministic.

/// Points per leaf. Leaves are scanned exactly when they are not summarised.
const LEAF_SIZE: usize = 1;
/// Depth limit: beyond this (≈ 2⁻⁴⁸ of the root's side) points are treated as one cell,
/// which only matters for duplicates.
const MAX_DEPTH: usize = 48;

#[derive(Debug, Clone, Copy, Default)]
struct Node {
    com: [f64; 2],
    /// Side length of the (square) cell.
    width: f64,
    count: f64,
    first_child: u32,
    n_children: u32,
    /// Points `start..end` of the permuted order.
    start: u32,
    end: u32,
}

/// Reusable Barnes-Hut state.
#[derive(Debug, Default)]
pub struct BarnesHut {
    nodes: Vec<Node>,
    /// Permuted order of point indices.
    perm: Vec<u32>,
    /// Position of each point in `perm`.
    rank: Vec<u32>,
    /// Point coordinates in permuted order (contiguous leaf scans).
    pos: Vec<[f64; 2]>,
    scratch: Vec<u32>,
    stack: Vec<u32>,
}

impl BarnesHut {
    /// Empty state; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    fn build(&mut self, y: &[f64], n: usize) {
        self.nodes.clear();
        self.perm.clear();
        self.perm.extend(0..n as u32);
        self.scratch.resize(n, 0);
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in y.chunks_exact(2) {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let side = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-12) * (1.0 + 1e-9);
        let centre = [(lo[0] + hi[0]) * 0.5, (lo[1] + hi[1]) * 0.5];
        self.nodes.push(Node::default());
        self.build_node(y, 0, 0, n, centre, side, 0);
        self.rank.resize(n, 0);
        self.pos.clear();
        for (r, &i) in self.perm.iter().enumerate() {
            self.rank[i as usize] = r as u32;
            self.pos.push([y[2 * i as usize], y[2 * i as usize + 1]]);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build_node(
        &mut self,
        y: &[f64],
        at: usize,
        start: usize,
        end: usize,
        centre: [f64; 2],
        side: f64,
        depth: usize,
    ) {
        let mut com = [0.0f64; 2];
        for &i in &self.perm[start..end] {
            com[0] += y[2 * i as usize];
            com[1] += y[2 * i as usize + 1];
        }
        let count = (end - start) as f64;
        com = [com[0] / count, com[1] / count];
        self.nodes[at] =
            Node { com, width: side, count, first_child: 0, n_children: 0, start: start as u32, end: end as u32 };
        if end - start <= LEAF_SIZE || depth >= MAX_DEPTH {
            return;
        }
        // Counting sort of the node's points into the four quadrants.
        let quad = |i: u32| -> usize {
            let (px, py) = (y[2 * i as usize], y[2 * i as usize + 1]);
            (px >= centre[0]) as usize | (((py >= centre[1]) as usize) << 1)
        };
        let mut counts = [0usize; 4];
        for &i in &self.perm[start..end] {
            counts[quad(i)] += 1;
        }
        let mut offs = [0usize; 4];
        for q in 1..4 {
            offs[q] = offs[q - 1] + counts[q - 1];
        }
        let mut fill = offs;
        for t in start..end {
            let i = self.perm[t];
            let q = quad(i);
            self.scratch[start + fill[q]] = i;
            fill[q] += 1;
        }
        self.perm[start..end].copy_from_slice(&self.scratch[start..end]);
        let first = self.nodes.len();
        let non_empty: Vec<usize> = (0..4).filter(|&q| counts[q] > 0).collect();
        self.nodes[at].first_child = first as u32;
        self.nodes[at].n_children = non_empty.len() as u32;
        self.nodes.resize(first + non_empty.len(), Node::default());
        let h = side * 0.25;
        for (c, &q) in non_empty.iter().enumerate() {
            let cc = [centre[0] + if q & 1 == 1 { h } else { -h }, centre[1] + if q & 2 == 2 { h } else { -h }];
            let s = start + offs[q];
            self.build_node(y, first + c, s, s + counts[q], cc, side * 0.5, depth + 1);
        }
    }

    /// Approximate repulsion R_i = Σ_j w_ij² (y_i − y_j) into `out` (N×2); returns the
    /// approximate Z = Σ_{i≠j} w_ij.
    pub fn repulsion(&mut self, y: &[f64], n: usize, theta: f64, out: &mut [f64]) -> f64 {
        self.build(y, n);
        let theta2 = theta * theta;
        let mut z_total = 0.0f64;
        let mut stack = std::mem::take(&mut self.stack);
        for i in 0..n {
            let (px, py) = (y[2 * i], y[2 * i + 1]);
            let ri = self.rank[i];
            let (mut z, mut fx, mut fy) = (0.0f64, 0.0f64, 0.0f64);
            stack.clear();
            stack.push(0);
            while let Some(ni) = stack.pop() {
                let node = &self.nodes[ni as usize];
                let contains_i = node.start <= ri && ri < node.end;
                if node.n_children == 0 {
                    for t in node.start..node.end {
                        if t == ri {
                            continue;
                        }
                        let q = self.pos[t as usize];
                        let (dx, dy) = (px - q[0], py - q[1]);
                        let w = 1.0 / (1.0 + dx * dx + dy * dy);
                        z += w;
                        let w2 = w * w;
                        fx += w2 * dx;
                        fy += w2 * dy;
                    }
                    continue;
                }
                let (dx, dy) = (px - node.com[0], py - node.com[1]);
                let d2 = dx * dx + dy * dy;
                if !contains_i && node.width * node.width < theta2 * d2 {
                    let w = 1.0 / (1.0 + d2);
                    let cw = node.count * w;
                    z += cw;
                    let cw2 = cw * w;
                    fx += cw2 * dx;
                    fy += cw2 * dy;
                } else {
                    // Push in reverse so children are visited in quadrant order.
                    for c in (node.first_child..node.first_child + node.n_children).rev() {
                        stack.push(c);
                    }
                }
            }
            z_total += z;
            out[2 * i] = fx;
            out[2 * i + 1] = fy;
        }
        self.stack = stack;
        z_total
    }
}

#[cfg(test)]
mod tests {
    use super::super::gradient::{ExactScratch, exact_repulsion};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Clustered points, like an embedding mid-optimisation.
    fn points(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut y = Vec::with_capacity(2 * n);
        for k in 0..n {
            let c = (k % 10) as f64;
            let (cx, cy) = ((c * 2.4).cos() * 20.0, (c * 2.4).sin() * 20.0);
            y.push(cx + rng.random_range(-3.0..3.0));
            y.push(cy + rng.random_range(-3.0..3.0));
        }
        y
    }

    fn reference(y: &[f64], n: usize) -> (Vec<f64>, f64) {
        let mut out = vec![0.0; 2 * n];
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let (dx, dy) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    z += w;
                    out[2 * i] += w * w * dx;
                    out[2 * i + 1] += w * w * dy;
                }
            }
        }
        (out, z)
    }

    fn gradient(rep: &[f64], z: f64) -> Vec<f64> {
        rep.iter().map(|r| -4.0 * r / z).collect()
    }

    fn rel_l2(a: &[f64], b: &[f64]) -> f64 {
        let e: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
        e / b.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// Test 2: θ = 0 reproduces the exact repulsive gradient (f64 reference to 1e-12,
    /// the f32 production kernel to its own precision); θ = 0.5 stays within 2%
    /// relative L2 error, and Z within 1%.
    #[test]
    fn bh_matches_exact() {
        let n = 500;
        let y = points(n, 3);
        let (rep_ref, z_ref) = reference(&y, n);
        let g_ref = gradient(&rep_ref, z_ref);
        let mut exact = vec![0.0; 2 * n];
        let z_exact = exact_repulsion(&y, n, &mut ExactScratch::default(), &mut exact);
        assert!(rel_l2(&gradient(&exact, z_exact), &g_ref) < 1e-5);

        let mut bh = BarnesHut::new();
        let mut rep = vec![0.0; 2 * n];
        let z0 = bh.repulsion(&y, n, 0.0, &mut rep);
        assert!((z0 - z_ref).abs() / z_ref < 1e-12);
        assert!(rel_l2(&gradient(&rep, z0), &g_ref) < 1e-12);

        let z5 = bh.repulsion(&y, n, 0.5, &mut rep);
        let err = rel_l2(&gradient(&rep, z5), &g_ref);
        assert!(err < 2e-2, "theta 0.5: rel L2 error {err}");
        assert!((z5 - z_ref).abs() / z_ref < 1e-2);
        // Coarser θ is less accurate (the approximation really is in use).
        let z9 = bh.repulsion(&y, n, 0.9, &mut rep);
        assert!(rel_l2(&gradient(&rep, z9), &g_ref) > err);
        let _ = z9;
    }

    /// Duplicated points (zero-size cells) neither recurse forever nor produce NaN.
    #[test]
    fn duplicates_are_handled() {
        let mut y = vec![1.0; 40];
        y.extend_from_slice(&[3.0, -2.0, 0.5, 0.5]);
        let n = y.len() / 2;
        let mut rep = vec![0.0; 2 * n];
        let z = BarnesHut::new().repulsion(&y, n, 0.5, &mut rep);
        let (rep_ref, z_ref) = reference(&y, n);
        assert!(rep.iter().all(|v| v.is_finite()));
        assert!((z - z_ref).abs() / z_ref < 0.05);
        assert!(rel_l2(&rep, &rep_ref) < 0.05);
    }
}
