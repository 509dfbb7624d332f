//! A small line chart drawn straight into the buffer: braille dots (or ASCII characters with
//! `--ascii`), horizontal threshold lines, vertical annotation markers. Time is bucketed into
//! whole columns aligned to absolute time, so between two column boundaries only the newest
//! column changes and the terminal receives a few cells, not the whole chart, on each refresh.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::model::TimeMs;

pub struct Series {
    /// (column, value); columns count from 0 at the left edge of the plot.
    pub points: Vec<(usize, f64)>,
    pub style: Style,
    pub dashed: bool,
}

pub struct HLine {
    pub y: f64,
    pub style: Style,
}

pub struct Chart {
    pub series: Vec<Series>,
    pub hlines: Vec<HLine>,
    /// Columns holding a marker (annotations, the knee).
    pub vlines: Vec<(usize, Style)>,
    pub y_max: f64,
    pub ascii: bool,
    /// Formats the y-axis labels.
    pub y_label: fn(f64) -> String,
    /// Label under the left and right ends of the x axis.
    pub x_labels: (String, String),
}

/// How time maps to columns: each column covers `bucket_ms`, the rightmost holds `end_bucket`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeAxis {
    pub bucket_ms: TimeMs,
    pub end_bucket: TimeMs,
    pub cols: usize,
}

impl TimeAxis {
    /// Buckets are whole multiples of the refresh, so a column fills in whole refreshes.
    pub fn new(view_t: TimeMs, window_ms: TimeMs, cols: usize, refresh_ms: TimeMs) -> Self {
        let cols = cols.max(1);
        let refresh = refresh_ms.max(1);
        let raw = (window_ms / cols as TimeMs).max(1);
        let bucket_ms = (raw + refresh - 1) / refresh * refresh;
        Self {
            bucket_ms,
            end_bucket: view_t.div_euclid(bucket_ms),
            cols,
        }
    }

    pub fn column(&self, t: TimeMs) -> Option<usize> {
        let b = t.div_euclid(self.bucket_ms);
        let back = self.end_bucket - b;
        (0..self.cols as TimeMs)
            .contains(&back)
            .then(|| self.cols - 1 - back as usize)
    }

    pub fn start(&self) -> TimeMs {
        (self.end_bucket - self.cols as TimeMs + 1) * self.bucket_ms
    }

    pub fn end(&self) -> TimeMs {
        (self.end_bucket + 1) * self.bucket_ms
    }

    /// The last value in each column.
    pub fn bucket(&self, pts: &[(TimeMs, f64)]) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = Vec::new();
        for &(t, v) in pts {
            let Some(c) = self.column(t) else { continue };
            match out.last_mut() {
                Some(last) if last.0 == c => last.1 = v,
                _ => out.push((c, v)),
            }
        }
        out
    }
}

const BRAILLE: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
const ASCII_MARKS: [char; 4] = ['*', 'o', '+', '#'];

/// Width of the y-axis gutter.
pub const GUTTER: u16 = 7;

impl Chart {
    /// Columns available for data in `area`.
    pub fn plot_cols(area: Rect) -> usize {
        area.width.saturating_sub(GUTTER) as usize
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        if area.width <= GUTTER + 2 || area.height < 3 {
            return;
        }
        let plot = Rect {
            x: area.x + GUTTER,
            y: area.y,
            width: area.width - GUTTER,
            height: area.height - 1,
        };
        let (w, h) = (plot.width as usize, plot.height as usize);
        let y_max = if self.y_max.is_finite() && self.y_max > 0.0 {
            self.y_max
        } else {
            1.0
        };
        // Axis labels: top, middle, zero.
        let label_style = Style::default();
        // Top and middle labels; the middle one only where it has a row of its own.
        let mid = h / 2;
        let mut labels = vec![(0, y_max)];
        if h >= 4 {
            labels.push((mid, y_max * (1.0 - mid as f64 / (h - 1) as f64)));
        }
        for (row, v) in labels {
            let s = (self.y_label)(v);
            buf.set_stringn(
                area.x,
                plot.y + row as u16,
                &s,
                GUTTER as usize - 1,
                label_style,
            );
        }
        buf.set_stringn(
            area.x,
            plot.y + h as u16 - 1,
            "0",
            GUTTER as usize - 1,
            label_style,
        );
        for row in 0..h {
            buf.set_string(
                area.x + GUTTER - 1,
                plot.y + row as u16,
                if self.ascii { "|" } else { "│" },
                label_style,
            );
        }
        let bottom = area.y + area.height - 1;
        buf.set_stringn(plot.x, bottom, &self.x_labels.0, w / 2, Style::default());
        let right = &self.x_labels.1;
        let rw = right.chars().count().min(w);
        buf.set_stringn(
            plot.x + (w - rw) as u16,
            bottom,
            right,
            rw,
            Style::default(),
        );

        // Cell grid: dots (braille) or one mark per cell (ASCII), with the style of the series
        // drawn last in that cell.
        let (sx, sy) = if self.ascii { (1, 1) } else { (2, 4) };
        let (gw, gh) = (w * sx, h * sy);
        let mut dots = vec![0u8; w * h];
        let mut marks: Vec<Option<char>> = vec![None; w * h];
        let mut styles: Vec<Option<Style>> = vec![None; w * h];
        let to_row = |v: f64| -> usize {
            let f = (v / y_max).clamp(0.0, 1.0);
            ((1.0 - f) * (gh - 1) as f64).round() as usize
        };
        for l in &self.hlines {
            if !(0.0..=y_max).contains(&l.y) {
                continue;
            }
            let row = to_row(l.y) / sy;
            for c in 0..w {
                let i = row * w + c;
                marks[i] = Some(if self.ascii { '-' } else { '┄' });
                styles[i] = Some(l.style);
            }
        }
        for &(col, style) in &self.vlines {
            if col >= w {
                continue;
            }
            for row in 0..h {
                let i = row * w + col;
                marks[i] = Some(if self.ascii { '|' } else { '│' });
                styles[i] = Some(style);
            }
        }
        for (si, s) in self.series.iter().enumerate() {
            let mut plot_dot = |gx: usize, gy: usize, n: usize| {
                if s.dashed && (n / 2) % 2 == 1 {
                    return;
                }
                let (cx, cy) = (gx / sx, gy / sy);
                if cx >= w || cy >= h {
                    return;
                }
                let i = cy * w + cx;
                if self.ascii {
                    marks[i] = Some(ASCII_MARKS[si % ASCII_MARKS.len()]);
                } else {
                    dots[i] |= BRAILLE[gy % 4][gx % 2];
                    marks[i] = None;
                }
                styles[i] = Some(s.style);
            };
            let gpts: Vec<(usize, usize)> = s
                .points
                .iter()
                .filter(|(c, v)| *c < w && v.is_finite())
                .map(|&(c, v)| (c * sx + sx / 2, to_row(v)))
                .collect();
            let mut n = 0;
            for pair in gpts.windows(2) {
                let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                // A gap of more than one column is missing data: leave it open.
                if x1 - x0 > 2 * sx {
                    continue;
                }
                line(x0, y0, x1, y1, |x, y| {
                    plot_dot(x, y, n);
                    n += 1;
                });
            }
            if let Some(&(x, y)) = gpts.last() {
                plot_dot(x, y, 0);
            }
            let _ = gw;
        }
        for row in 0..h {
            for col in 0..w {
                let i = row * w + col;
                let ch = if dots[i] != 0 {
                    char::from_u32(0x2800 + dots[i] as u32).unwrap_or(' ')
                } else if let Some(m) = marks[i] {
                    m
                } else {
                    continue;
                };
                let cell = &mut buf[(plot.x + col as u16, plot.y + row as u16)];
                cell.set_char(ch);
                if let Some(st) = styles[i] {
                    cell.set_style(st);
                }
            }
        }
    }
}

/// Bresenham's line between two grid points.
fn line(x0: usize, y0: usize, x1: usize, y1: usize, mut put: impl FnMut(usize, usize)) {
    let (mut x, mut y) = (x0 as i64, y0 as i64);
    let (x1, y1) = (x1 as i64, y1 as i64);
    let dx = (x1 - x).abs();
    let dy = -(y1 - y).abs();
    let sx = if x < x1 { 1 } else { -1 };
    let sy = if y < y1 { 1 } else { -1 };
    let mut err = dx + dy;
    loop {
        put(x as usize, y as usize);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// A y-axis maximum a little above the data's, rounded to 1, 2 or 5 × 10ⁿ.
pub fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let v = v * 1.1;
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_to_absolute_time() {
        let a = TimeAxis::new(61_500, 60_000, 30, 1000);
        assert_eq!(a.bucket_ms, 2000);
        assert_eq!(a.column(61_999), Some(29));
        assert_eq!(a.column(60_000), Some(29));
        assert_eq!(a.column(59_999), Some(28));
        assert_eq!(a.column(a.start() - 1), None);
        // Half a second later the axis has not moved: nothing on screen shifts.
        assert_eq!(TimeAxis::new(61_999, 60_000, 30, 1000), a);
    }

    #[test]
    fn nice_max_rounds_up() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(42.0), 50.0);
        assert_eq!(nice_max(0.9), 1.0);
        assert_eq!(nice_max(1.9), 5.0);
    }

    #[test]
    fn tiny_areas_draw_nothing_and_do_not_panic() {
        let c = Chart {
            series: vec![Series {
                points: vec![(0, 1.0), (1, 2.0)],
                style: Style::default(),
                dashed: false,
            }],
            hlines: vec![],
            vlines: vec![(5, Style::default())],
            y_max: 2.0,
            ascii: false,
            y_label: |v| format!("{v}"),
            x_labels: ("-60s".into(), "now".into()),
        };
        for (w, h) in [(0, 0), (1, 1), (8, 2), (9, 3), (10, 3), (40, 10)] {
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            c.render(area, &mut buf);
        }
    }

    #[test]
    fn an_ascii_chart_draws_labels_axis_threshold_marker_and_a_gap() {
        let c = Chart {
            series: vec![
                Series {
                    // Columns 4 and 5 have no data: the line is not drawn across them.
                    points: vec![(0, 1.0), (1, 2.0), (2, 4.0), (3, 6.0), (6, 8.0), (7, 9.0)],
                    style: Style::default(),
                    dashed: false,
                },
                Series {
                    points: (0..13).map(|c| (c, 3.0)).collect(),
                    style: Style::default(),
                    dashed: true,
                },
            ],
            hlines: vec![HLine {
                y: 7.0,
                style: Style::default(),
            }],
            vlines: vec![(10, Style::default())],
            y_max: 10.0,
            ascii: true,
            y_label: |v| format!("{v}"),
            x_labels: ("-60s".into(), "now".into()),
        };
        let area = Rect::new(0, 0, 20, 7);
        let mut buf = Buffer::empty(area);
        c.render(area, &mut buf);
        let rows: Vec<String> = (0..7)
            .map(|y| (0..20).map(|x| buf[(x, y)].symbol()).collect())
            .collect();
        assert_eq!(
            rows,
            [
                "10    |       *  |  ",
                "      |      *   |  ",
                "      |---*------|--",
                "4     |  *       |  ",
                "      |ooooooooooooo",
                "0     |*         |  ",
                "       -60s      now",
            ]
        );
    }
}
