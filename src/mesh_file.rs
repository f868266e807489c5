//! The regions of a 3-D lp partition as polygon meshes for 3-D viewers: each region's facets as
//! polygons, in PLY (MeshLab, Blender: one colour per region as vertex colours) or legacy VTK
//! (ParaView: a `region` and a `linear_region` number per polygon). Coordinates are f64 copies of
//! the exact vertices; the files are pictures, not certificates.
//!
//! Both formats are written here: they are a header and lines of numbers. (The crates for them
//! were measured as worse: vtkio 0.6 depends on nom 3, which current rustc flags as code a
//! future version will reject; ply-rs has had no release since 2020.)

use crate::engine::lp::LpPartition;
use crate::picture::fill_colour;
use std::fmt::Write;

/// Which file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshFormat {
    Ply,
    Vtk,
}

impl MeshFormat {
    /// From a file name's extension (`.ply` or `.vtk`).
    pub fn from_path(path: &str) -> Option<MeshFormat> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".ply") {
            Some(MeshFormat::Ply)
        } else if lower.ends_with(".vtk") {
            Some(MeshFormat::Vtk)
        } else {
            None
        }
    }
}

/// One polygon: the region it bounds and its corners (indices into the point list).
struct Face {
    region: usize,
    corners: Vec<usize>,
}

/// Every region's facets as polygons ordered counter-clockwise seen from outside the region,
/// each region with its own copies of its vertices, moved towards its centre by `shrink`
/// (1 = true size; 0.9 leaves gaps that show the cells apart).
fn polygons(p: &LpPartition, shrink: f64) -> (Vec<[f64; 3]>, Vec<Face>) {
    let mut points = Vec::new();
    let mut faces = Vec::new();
    for (r, region) in p.regions.iter().enumerate() {
        let Some(vertices) = &region.vertices else {
            continue;
        };
        let xyz: Vec<[f64; 3]> = vertices
            .iter()
            .map(|(v, _)| {
                let f = v.to_f64();
                [f[0], f[1], f[2]]
            })
            .collect();
        let centre = mean(xyz.iter());
        let base = points.len();
        points.extend(xyz.iter().map(|q| {
            let mut moved = [0.0; 3];
            for k in 0..3 {
                moved[k] = centre[k] + shrink * (q[k] - centre[k]);
            }
            moved
        }));
        for (j, facet) in region.facets.iter().enumerate() {
            let on: Vec<usize> = (0..vertices.len())
                .filter(|&i| vertices[i].1.binary_search(&j).is_ok())
                .collect();
            if on.len() < 3 {
                continue;
            }
            // The facet's outward normal is −a (inside is a·t + c ≥ 0); sort its corners by
            // angle in the plane, counter-clockwise seen from outside.
            let a = crate::engine::lp::feasibility::scaled_floats(facet);
            let norm = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
            let n = [-a[0] / norm, -a[1] / norm, -a[2] / norm];
            let c = mean(on.iter().map(|&i| &xyz[i]));
            let u = unit(sub(&xyz[on[0]], &c));
            let w = cross(&n, &u);
            let mut corners = on.clone();
            corners.sort_by(|&i, &k| {
                let angle = |i: usize| {
                    let d = sub(&xyz[i], &c);
                    dot(&d, &w).atan2(dot(&d, &u))
                };
                angle(i).total_cmp(&angle(k))
            });
            faces.push(Face {
                region: r,
                corners: corners.into_iter().map(|i| base + i).collect(),
            });
        }
    }
    (points, faces)
}

fn mean<'a>(pts: impl Iterator<Item = &'a [f64; 3]>) -> [f64; 3] {
    let (mut s, mut n) = ([0.0; 3], 0.0);
    for p in pts {
        for k in 0..3 {
            s[k] += p[k];
        }
        n += 1.0;
    }
    s.map(|x| x / n)
}

fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = dot(&v, &v).sqrt();
    v.map(|x| x / n)
}

/// The mesh file of a 3-D partition whose regions carry exact vertices
/// ([`crate::engine::lp::LpOptions::exact_geometry`]). `linear`: each region's linear region,
/// when known (VTK only).
pub fn mesh_file(
    p: &LpPartition,
    format: MeshFormat,
    shrink: f64,
    linear: Option<&[usize]>,
) -> String {
    let (points, faces) = polygons(p, shrink);
    let mut out = String::new();
    match format {
        MeshFormat::Ply => {
            let _ = write!(
                out,
                "ply\nformat ascii 1.0\ncomment relu-regions: {} regions, one colour each\n\
                 element vertex {}\nproperty double x\nproperty double y\nproperty double z\n\
                 property uchar red\nproperty uchar green\nproperty uchar blue\n\
                 element face {}\nproperty list uchar int vertex_indices\nend_header\n",
                p.regions.len(),
                points.len(),
                faces.len()
            );
            // Vertex colours: a region's copies of its vertices all get its colour.
            let mut owner = vec![0usize; points.len()];
            for f in &faces {
                for &c in &f.corners {
                    owner[c] = f.region;
                }
            }
            for (q, r) in points.iter().zip(owner) {
                let c = fill_colour(r);
                let _ = writeln!(out, "{} {} {} {} {} {}", q[0], q[1], q[2], c.0, c.1, c.2);
            }
            for f in &faces {
                let _ = write!(out, "{}", f.corners.len());
                for c in &f.corners {
                    let _ = write!(out, " {c}");
                }
                out.push('\n');
            }
        }
        MeshFormat::Vtk => {
            let _ = write!(
                out,
                "# vtk DataFile Version 3.0\nrelu-regions: {} regions\nASCII\nDATASET POLYDATA\n\
                 POINTS {} double\n",
                p.regions.len(),
                points.len()
            );
            for q in &points {
                let _ = writeln!(out, "{} {} {}", q[0], q[1], q[2]);
            }
            let size: usize = faces.iter().map(|f| f.corners.len() + 1).sum();
            let _ = writeln!(out, "POLYGONS {} {size}", faces.len());
            for f in &faces {
                let _ = write!(out, "{}", f.corners.len());
                for c in &f.corners {
                    let _ = write!(out, " {c}");
                }
                out.push('\n');
            }
            let _ = write!(
                out,
                "CELL_DATA {}\nSCALARS region int 1\nLOOKUP_TABLE default\n",
                faces.len()
            );
            for f in &faces {
                let _ = writeln!(out, "{}", f.region);
            }
            if let Some(labels) = linear {
                let _ = write!(out, "SCALARS linear_region int 1\nLOOKUP_TABLE default\n");
                for f in &faces {
                    let _ = writeln!(out, "{}", labels[f.region]);
                }
            }
        }
    }
    out
}
