//! A layer's weight matrix, dense (row-major) or sparse (compressed rows).
//!
//! Dense layers (`Gemm`, `MatMul`, version-1 files) keep one row-major array, which the float
//! path multiplies with a packed matrix product. Convolutions, pooling and the pass-through rows
//! of residual networks are sparse: a 3×3 convolution over 16 channels has 144 weights per row
//! whatever the image size, so its rows are stored as (column, value) lists and multiplied row by
//! row — the convolution computed over the vertex rows, never a dense matrix of the whole image.

use std::ops::Range;

/// Which entries a matrix stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Every entry, row-major.
    Dense,
    /// Row i holds the entries `start[i]..start[i + 1]` of `cols` and of the values, columns
    /// increasing.
    Sparse { start: Vec<usize>, cols: Vec<u32> },
}

/// An `n_out × n_in` matrix of `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    pub n_out: usize,
    pub n_in: usize,
    pub layout: Layout,
    pub vals: Vec<T>,
}

/// One row of a [`Matrix`]: its values and, when sparse, their columns.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a, T> {
    pub cols: Option<&'a [u32]>,
    pub vals: &'a [T],
}

impl<'a, T> Row<'a, T> {
    /// Column of the k-th stored entry.
    #[inline]
    pub fn col(&self, k: usize) -> usize {
        match self.cols {
            Some(c) => c[k] as usize,
            None => k,
        }
    }

    /// (column, value) of every stored entry (dense rows: every column).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a T)> + '_ {
        self.vals.iter().enumerate().map(|(k, v)| (self.col(k), v))
    }
}

impl<T> Matrix<T> {
    pub fn dense(n_out: usize, n_in: usize, vals: Vec<T>) -> Matrix<T> {
        assert_eq!(vals.len(), n_out * n_in, "a dense {n_out}×{n_in} matrix");
        Matrix {
            n_out,
            n_in,
            layout: Layout::Dense,
            vals,
        }
    }

    /// From compressed rows (columns increasing within each row).
    pub fn sparse(
        n_out: usize,
        n_in: usize,
        start: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<T>,
    ) -> Matrix<T> {
        assert_eq!(start.len(), n_out + 1);
        assert_eq!(cols.len(), vals.len());
        assert_eq!(*start.last().expect("n_out + 1 entries"), vals.len());
        debug_assert!(cols.iter().all(|&c| (c as usize) < n_in));
        Matrix {
            n_out,
            n_in,
            layout: Layout::Sparse { start, cols },
            vals,
        }
    }

    pub fn is_dense(&self) -> bool {
        matches!(self.layout, Layout::Dense)
    }

    /// Positions of row i's entries in `vals`.
    #[inline]
    pub fn range(&self, i: usize) -> Range<usize> {
        match &self.layout {
            Layout::Dense => i * self.n_in..(i + 1) * self.n_in,
            Layout::Sparse { start, .. } => start[i]..start[i + 1],
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> Row<'_, T> {
        self.row_of(&self.vals, i)
    }

    /// Row i of another value array laid out like this matrix (e.g. the weights for inactive
    /// inputs, which share the weights' layout).
    #[inline]
    pub fn row_of<'a>(&'a self, vals: &'a [T], i: usize) -> Row<'a, T> {
        let r = self.range(i);
        Row {
            cols: match &self.layout {
                Layout::Dense => None,
                Layout::Sparse { cols, .. } => Some(&cols[r.clone()]),
            },
            vals: &vals[r],
        }
    }

    /// The same layout with other values.
    pub fn with_vals<U>(&self, vals: Vec<U>) -> Matrix<U> {
        assert_eq!(vals.len(), self.vals.len());
        Matrix {
            n_out: self.n_out,
            n_in: self.n_in,
            layout: self.layout.clone(),
            vals,
        }
    }

    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> Matrix<U> {
        self.with_vals(self.vals.iter().map(f).collect())
    }

    /// Stored entries (every entry when dense).
    pub fn stored(&self) -> usize {
        self.vals.len()
    }
}

impl Matrix<f64> {
    /// max_i Σ_j |w_ij|.
    pub fn row_l1_max(&self) -> f64 {
        (0..self.n_out)
            .map(|i| self.row(i).vals.iter().map(|x| x.abs()).sum::<f64>())
            .fold(0.0, f64::max)
    }

    /// The most entries in one row (the length of the longest dot product).
    pub fn row_len_max(&self) -> usize {
        (0..self.n_out)
            .map(|i| self.range(i).len())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_rows_agree() {
        let dense = Matrix::dense(2, 3, vec![1.0, 0.0, 2.0, 0.0, -3.0, 0.0]);
        let sparse = Matrix::sparse(2, 3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, -3.0]);
        for i in 0..2 {
            let d: Vec<(usize, f64)> = dense
                .row(i)
                .iter()
                .filter(|(_, v)| **v != 0.0)
                .map(|(c, v)| (c, *v))
                .collect();
            let s: Vec<(usize, f64)> = sparse.row(i).iter().map(|(c, v)| (c, *v)).collect();
            assert_eq!(d, s);
        }
        assert_eq!(dense.row_l1_max(), 3.0);
        assert_eq!(sparse.row_l1_max(), 3.0);
        assert_eq!(sparse.row_len_max(), 2);
    }
}
