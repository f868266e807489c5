//! Pictures of a partition. d = 2: regions filled with distinct colours (or one colour per
//! linear region), boundaries coloured by the layer that made them, the domain outlined.
//! d = 1: the network's first output along the segment, breakpoints marked.
//!
//! A picture is first a list of shapes ([`Scene`]) in image coordinates; the SVG backend
//! (`svg` crate) and the PNG backend (`tiny-skia`) only draw shapes.

use crate::partition::Partition;
use crate::restrict::Restricted;

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// A light colour for index i; distinct for i < 2^18 (a bijection of the low 18 bits onto a
/// 64×64×64 pastel cube, scrambled so that neighbours differ).
pub fn fill_colour(i: usize) -> Rgb {
    let x = (i as u64).wrapping_mul(0x9E37_79B1) & 0x3FFFF;
    let c = |k: u32| 128 + 2 * ((x >> (6 * k)) & 63) as u8;
    Rgb(c(0), c(1), c(2))
}

/// Boundary colour of hidden layer l (0-based); the domain outline is black.
pub fn layer_colour(l: usize) -> Rgb {
    const PALETTE: [Rgb; 6] = [
        Rgb(31, 119, 180),
        Rgb(214, 39, 40),
        Rgb(44, 160, 44),
        Rgb(148, 103, 189),
        Rgb(255, 127, 14),
        Rgb(23, 190, 207),
    ];
    PALETTE[l % PALETTE.len()]
}

/// One shape in image coordinates (pixels, y down).
#[derive(Debug, Clone)]
pub enum Shape {
    Polygon {
        points: Vec<(f64, f64)>,
        fill: Rgb,
    },
    Line {
        from: (f64, f64),
        to: (f64, f64),
        colour: Rgb,
        width: f64,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        colour: Rgb,
        width: f64,
    },
    /// Text (SVG only: the PNG backend has no fonts and skips it).
    Label {
        at: (f64, f64),
        text: String,
        anchor: &'static str,
    },
    Dot {
        at: (f64, f64),
        radius: f64,
        colour: Rgb,
    },
}

/// Everything to draw, with the image size.
#[derive(Debug, Clone)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub shapes: Vec<Shape>,
}

/// How to colour the regions of a planar picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colouring {
    /// One distinct colour per activation region.
    #[default]
    Regions,
    /// One colour per label: linear regions, or the regions of a 3-D partition a section cuts.
    LinearRegions,
}

/// The planar picture. `labels` (one per region) choose colours in `LinearRegions` mode.
pub fn planar_scene(
    p: &Partition,
    size: u32,
    colouring: Colouring,
    labels: Option<&[usize]>,
) -> Scene {
    assert_eq!(p.dim, 2);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for v in p.xy.chunks(2) {
        x0 = x0.min(v[0]);
        x1 = x1.max(v[0]);
        y0 = y0.min(v[1]);
        y1 = y1.max(v[1]);
    }
    let margin = 8.0;
    let span = (x1 - x0).max(y1 - y0).max(f64::MIN_POSITIVE);
    let scale = (size as f64 - 2.0 * margin) / span;
    let width = ((x1 - x0) * scale + 2.0 * margin).ceil() as u32;
    let height = ((y1 - y0) * scale + 2.0 * margin).ceil() as u32;
    let map = |v: u32| {
        let (x, y) = (p.xy[v as usize * 2], p.xy[v as usize * 2 + 1]);
        (
            margin + (x - x0) * scale,
            height as f64 - margin - (y - y0) * scale,
        )
    };
    let mut shapes = Vec::with_capacity(p.regions.len() * 4);
    for (r, region) in p.regions.iter().enumerate() {
        let key = match (colouring, labels) {
            (Colouring::LinearRegions, Some(l)) => l[r],
            _ => r,
        };
        shapes.push(Shape::Polygon {
            points: region.verts.iter().map(|&v| map(v)).collect(),
            fill: fill_colour(key),
        });
    }
    // Each interior edge once (from the region where u < v), the outline last.
    let mut outline = Vec::new();
    for region in p.regions.iter() {
        let m = region.verts.len();
        for i in 0..m {
            let (u, v) = (region.verts[i], region.verts[(i + 1) % m]);
            let line = region.lines[i];
            match line.hidden_neuron() {
                None => outline.push((u, v)),
                Some((l, _)) if u < v => shapes.push(Shape::Line {
                    from: map(u),
                    to: map(v),
                    colour: layer_colour(l),
                    width: 0.8,
                }),
                _ => {}
            }
        }
    }
    for (u, v) in outline {
        shapes.push(Shape::Line {
            from: map(u),
            to: map(v),
            colour: Rgb(0, 0, 0),
            width: 1.5,
        });
    }
    Scene {
        width,
        height,
        shapes,
    }
}

/// The 1-D picture: the first output along the segment, breakpoints as dots.
pub fn segment_scene(p: &Partition, net: &Restricted, width: u32, height: u32) -> Scene {
    assert_eq!(p.dim, 1);
    let mut pts: Vec<(f64, f64)> = p.xy.iter().map(|&t| (t, net.output_f64(&[t])[0])).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (t0, t1) = (pts[0].0, pts[pts.len() - 1].0);
    let (mut y0, mut y1) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    if y1 - y0 < 1e-12 {
        y0 -= 1.0;
        y1 += 1.0;
    }
    let margin = 36.0;
    let (w, h) = (width as f64, height as f64);
    let map = |(t, y): (f64, f64)| {
        (
            margin + (t - t0) / (t1 - t0) * (w - 2.0 * margin),
            h - margin - (y - y0) / (y1 - y0) * (h - 2.0 * margin),
        )
    };
    let mut shapes = vec![
        Shape::Line {
            from: map((t0, y0)),
            to: map((t1, y0)),
            colour: Rgb(0, 0, 0),
            width: 1.0,
        },
        Shape::Line {
            from: map((t0, y0)),
            to: map((t0, y1)),
            colour: Rgb(0, 0, 0),
            width: 1.0,
        },
        Shape::Polyline {
            points: pts.iter().map(|&q| map(q)).collect(),
            colour: layer_colour(0),
            width: 1.5,
        },
    ];
    // Axis ends and a caption: t along the segment, the first output upwards.
    let label = |at: (f64, f64), text: String, anchor| Shape::Label { at, text, anchor };
    let (x0, yb) = map((t0, y0));
    let (x1, yt) = map((t1, y1));
    shapes.push(label((x0, yb + 14.0), format!("t = {t0:.4}"), "start"));
    shapes.push(label((x1, yb + 14.0), format!("t = {t1:.4}"), "end"));
    shapes.push(label((x0 + 4.0, yt + 4.0), format!("{y1:.4}"), "start"));
    shapes.push(label((x0 + 4.0, yb - 4.0), format!("{y0:.4}"), "start"));
    shapes.push(label(
        ((x0 + x1) / 2.0, 14.0),
        format!(
            "output along the segment: {} regions, breakpoints marked",
            pts.len() - 1
        ),
        "middle",
    ));
    shapes.extend(pts.iter().map(|&q| Shape::Dot {
        at: map(q),
        radius: 2.5,
        colour: layer_colour(1),
    }));
    Scene {
        width,
        height,
        shapes,
    }
}

/// The scene as an SVG document.
pub fn to_svg(scene: &Scene) -> String {
    use svg::node::element::{Circle, Line, Polygon, Polyline, Rectangle};
    let pts = |v: &[(f64, f64)]| {
        v.iter()
            .map(|(x, y)| format!("{x:.2},{y:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut doc = svg::Document::new()
        .set("width", scene.width)
        .set("height", scene.height)
        .set("viewBox", (0, 0, scene.width, scene.height))
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        );
    for s in &scene.shapes {
        doc = match s {
            Shape::Polygon { points, fill } => doc.add(
                Polygon::new()
                    .set("points", pts(points))
                    .set("fill", fill.hex())
                    .set("stroke", "none"),
            ),
            Shape::Line {
                from,
                to,
                colour,
                width,
            } => doc.add(
                Line::new()
                    .set("x1", from.0)
                    .set("y1", from.1)
                    .set("x2", to.0)
                    .set("y2", to.1)
                    .set("stroke", colour.hex())
                    .set("stroke-width", *width),
            ),
            Shape::Polyline {
                points,
                colour,
                width,
            } => doc.add(
                Polyline::new()
                    .set("points", pts(points))
                    .set("fill", "none")
                    .set("stroke", colour.hex())
                    .set("stroke-width", *width),
            ),
            Shape::Label { at, text, anchor } => doc.add(
                svg::node::element::Text::new(text.clone())
                    .set("x", at.0)
                    .set("y", at.1)
                    .set("font-family", "sans-serif")
                    .set("font-size", 11)
                    .set("text-anchor", *anchor),
            ),
            Shape::Dot { at, radius, colour } => doc.add(
                Circle::new()
                    .set("cx", at.0)
                    .set("cy", at.1)
                    .set("r", *radius)
                    .set("fill", colour.hex()),
            ),
        };
    }
    doc.to_string()
}

/// A path through `points` (closed for polygons).
fn path_through(points: &[(f64, f64)], close: bool) -> Option<tiny_skia::Path> {
    let mut pb = tiny_skia::PathBuilder::new();
    let (first, rest) = points.split_first()?;
    pb.move_to(first.0 as f32, first.1 as f32);
    for &(x, y) in rest {
        pb.line_to(x as f32, y as f32);
    }
    if close {
        pb.close();
    }
    pb.finish()
}

/// Strokes an open path through `points`.
fn stroke(
    pixmap: &mut tiny_skia::Pixmap,
    points: &[(f64, f64)],
    paint: &tiny_skia::Paint,
    width: f64,
) {
    if let Some(path) = path_through(points, false) {
        let stroke = tiny_skia::Stroke {
            width: width as f32,
            ..tiny_skia::Stroke::default()
        };
        pixmap.stroke_path(
            &path,
            paint,
            &stroke,
            tiny_skia::Transform::identity(),
            None,
        );
    }
}

/// The scene rasterised to PNG bytes.
pub fn to_png(scene: &Scene) -> Vec<u8> {
    use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Transform};
    let mut pixmap = Pixmap::new(scene.width.max(1), scene.height.max(1)).expect("non-empty image");
    pixmap.fill(Color::WHITE);
    let paint_of = |c: &Rgb, aa: bool| {
        let mut p = Paint::default();
        p.set_color_rgba8(c.0, c.1, c.2, 255);
        p.anti_alias = aa;
        p
    };
    for s in &scene.shapes {
        match s {
            // No fonts in the rasteriser: text is for the SVG.
            Shape::Label { .. } => {}
            Shape::Polygon { points, fill } => {
                if let Some(path) = path_through(points, true) {
                    pixmap.fill_path(
                        &path,
                        &paint_of(fill, false),
                        FillRule::Winding,
                        Transform::identity(),
                        None,
                    );
                }
            }
            Shape::Line {
                from,
                to,
                colour,
                width,
            } => stroke(&mut pixmap, &[*from, *to], &paint_of(colour, true), *width),
            Shape::Polyline {
                points,
                colour,
                width,
            } => stroke(&mut pixmap, points, &paint_of(colour, true), *width),
            Shape::Dot { at, radius, colour } => {
                if let Some(path) =
                    PathBuilder::from_circle(at.0 as f32, at.1 as f32, *radius as f32)
                {
                    pixmap.fill_path(
                        &path,
                        &paint_of(colour, true),
                        FillRule::Winding,
                        Transform::identity(),
                        None,
                    );
                }
            }
        }
    }
    pixmap
        .encode_png()
        .expect("PNG encoding of an in-memory pixmap")
}
