//! PNG plots of a run (plotters): packets/s against the number of flows
//! (figures `pps.flows.<n>`), and the FIB lookup cost against the FIB size
//! (figures `fib.lookup_ns.<n>`). Each point is a median with a [min, max]
//! bar.
//!
//! Text needs a TrueType font: the first of [`FONTS`] that exists is used;
//! without one no plot is drawn (a warning says so).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::figure::Figure;

/// Fonts tried in order (Debian/Ubuntu: fonts-dejavu-core).
pub const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        for p in FONTS {
            if let Ok(bytes) = std::fs::read(p) {
                // Registered fonts live as long as the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// One series point: x, median, min, max.
type Point = (f64, f64, f64, f64);

/// Points of figures whose id is `<prefix><x>`, sorted by x.
fn series(figures: &[Figure], prefix: &str) -> Vec<Point> {
    let mut v: Vec<Point> = figures
        .iter()
        .filter_map(|f| {
            let x: f64 = f.id.strip_prefix(prefix)?.parse().ok()?;
            f.median.is_finite().then_some((x, f.median, f.min, f.max))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

struct Spec<'a> {
    /// (figure id prefix, legend, colour) per series.
    series: Vec<(&'a str, &'a str, RGBColor)>,
    file: String,
    caption: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    y_scale: f64,
}

/// Draws every plot the figures allow; returns the files written. A plot
/// that fails is skipped with a warning (a report without a picture is
/// still a report).
pub fn draw(figures: &[Figure], out: &Path, stem: &str) -> Vec<PathBuf> {
    let plots = [
        Spec {
            series: vec![("pps.flows.", "anycast6 XDP", BLUE)],
            file: format!("{stem}-pps-vs-flows.png"),
            caption: "anycast6 XDP: packets/s against number of flows",
            x_desc: "flows",
            y_desc: "Mpps (median, [min, max])",
            y_scale: 1e-6,
        },
        Spec {
            series: vec![
                ("fib.lookup_ns.", "cache-warm (one address, repeated)", BLUE),
                ("fib.lookup_cold_ns.", "a new random address every run", RED),
            ],
            file: format!("{stem}-fib-lookup-vs-size.png"),
            caption: "FIB lookup + member choice (BPF_PROG_TEST_RUN) against FIB size",
            x_desc: "anycast addresses in the FIB",
            y_desc: "ns per packet (median, [min, max])",
            y_scale: 1.0,
        },
    ];
    let mut written = Vec::new();
    for spec in plots {
        let data: Vec<(Vec<Point>, &str, RGBColor)> = spec
            .series
            .iter()
            .map(|(prefix, legend, colour)| (series(figures, prefix), *legend, *colour))
            .filter(|(pts, _, _)| !pts.is_empty())
            .collect();
        if data.is_empty() {
            continue;
        }
        if !font_ready() {
            eprintln!(
                "warning: no TrueType font found ({}); plots skipped",
                FONTS.join(", ")
            );
            return written;
        }
        let path = out.join(&spec.file);
        match plot(&path, &spec, &data) {
            Ok(()) => written.push(path),
            Err(e) => eprintln!("warning: plot {}: {e}", path.display()),
        }
    }
    written
}

fn plot(
    path: &Path,
    spec: &Spec,
    data: &[(Vec<Point>, &str, RGBColor)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let s = spec.y_scale;
    let all = || data.iter().flat_map(|(pts, _, _)| pts.iter());
    let x0 = all().map(|p| p.0).fold(f64::INFINITY, f64::min).max(1.0) / 2.0;
    let x1 = all().map(|p| p.0).fold(0.0, f64::max).max(1.0) * 2.0;
    let y_max = all().map(|p| p.3 * s).fold(0.0, f64::max) * 1.15;
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .x_label_formatter(&|v| count_label(*v))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()?;
    for (pts, legend, colour) in data {
        let c = *colour;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1 * s)),
                c.stroke_width(2),
            ))?
            .label(*legend)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(
            pts.iter()
                .map(|p| Circle::new((p.0, p.1 * s), 4, c.filled())),
        )?;
        chart.draw_series(pts.iter().map(|p| {
            ErrorBar::new_vertical(p.0, p.2 * s, p.1 * s, p.3 * s, c.stroke_width(1), 8)
        }))?;
        chart.draw_series(pts.iter().map(|p| {
            Text::new(
                crate::report::num(p.1 * s, "value"),
                (p.0 * 1.08, p.1 * s + y_max * 0.015),
                ("sans-serif", 13),
            )
        }))?;
    }
    if data.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// 1000 → "1k", 1e6 → "1M", others as numbers.
fn count_label(v: f64) -> String {
    let r = v.round();
    if (v - r).abs() < 1e-6 && r >= 1.0 {
        crate::scale::label(r as usize)
    } else {
        crate::report::num(v, "count")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_plots_from_figures() {
        let mut figs = Vec::new();
        for (n, v) in [(1024u32, 5.0e6), (4096, 4.6e6), (65536, 4.1e6)] {
            figs.push(Figure::from_samples(
                &format!("pps.flows.{n}"),
                "pps",
                "pps",
                vec![v * 0.98, v, v * 1.01],
                None,
                "",
            ));
        }
        for n in [1_000usize, 1_000_000] {
            figs.push(Figure::from_samples(
                &format!("fib.lookup_ns.{n}"),
                "l",
                "ns/packet",
                vec![40.0, 41.0],
                None,
                "",
            ));
            figs.push(Figure::from_samples(
                &format!("fib.lookup_cold_ns.{n}"),
                "l",
                "ns/packet",
                vec![120.0, 900.0],
                None,
                "",
            ));
        }
        let dir = crate::cleanup::TempDir::new("plot").unwrap();
        let written = draw(&figs, dir.path(), "t");
        if font_ready() {
            assert_eq!(written.len(), 2, "{written:?}");
            for p in &written {
                assert!(std::fs::metadata(p).unwrap().len() > 1000);
            }
        }
        assert_eq!(series(&figs, "pps.flows.").len(), 3);
        assert_eq!(series(&figs, "pps.flows.")[0].0, 1024.0);
    }
}
