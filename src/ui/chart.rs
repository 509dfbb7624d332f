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
    /// A baseline's series, drawn under the live ones: `.` in ASCII instead of its own mark.
    pub faint: bool,
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

    // Times can come from a recording made anywhere: the arithmetic saturates, so a
    // far-future or negative time is off the axis instead of wrapping onto it.
    pub fn column(&self, t: TimeMs) -> Option<usize> {
        let b = t.div_euclid(self.bucket_ms);
        let back = self.end_bucket.saturating_sub(b);
        (0..self.cols as TimeMs)
            .contains(&back)
            .then(|| self.cols - 1 - back as usize)
    }

    pub fn start(&self) -> TimeMs {
        (self.end_bucket.saturating_sub(self.cols as TimeMs - 1)).saturating_mul(self.bucket_ms)
    }

    pub fn end(&self) -> TimeMs {
        (self.end_bucket.saturating_add(1)).saturating_mul(self.bucket_ms)
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

    /// Draws the chart: y-axis labels in the gutter on the left, x labels on the last row, the
    /// plot in the rest. Too small an area draws nothing.
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
        let y_max = self.y_top();
        self.draw_y_axis(area.x, plot, y_max, buf);
        self.draw_x_labels(plot, area.y + area.height - 1, buf);
        let mut grid = Grid::new(plot.width as usize, plot.height as usize, self.ascii, y_max);
        for l in &self.hlines {
            grid.hline(l);
        }
        for &(col, style) in &self.vlines {
            grid.vline(col, style);
        }
        // Faint (baseline) series first, so the live ones are drawn over them.
        for s in self.series.iter().filter(|s| s.faint) {
            grid.series(s, '.');
        }
        for (i, s) in self.series.iter().filter(|s| !s.faint).enumerate() {
            grid.series(s, ASCII_MARKS[i % ASCII_MARKS.len()]);
        }
        grid.draw(plot, buf);
    }

    /// The value at the top of the plot: `y_max`, or 1 if that is not a positive number.
    fn y_top(&self) -> f64 {
        if self.y_max.is_finite() && self.y_max > 0.0 {
            self.y_max
        } else {
            1.0
        }
    }

    /// The gutter left of `plot`, starting at column `x`: labels for the top, the middle (only
    /// where it has a row of its own) and zero, then the axis line.
    fn draw_y_axis(&self, x: u16, plot: Rect, y_max: f64, buf: &mut Buffer) {
        let style = Style::default();
        let h = plot.height as usize;
        let mid = h / 2;
        let mut labels = vec![(0, y_max)];
        if h >= 4 {
            labels.push((mid, y_max * (1.0 - mid as f64 / (h - 1) as f64)));
        }
        let width = GUTTER as usize - 1;
        for (row, v) in labels {
            buf.set_stringn(x, plot.y + row as u16, (self.y_label)(v), width, style);
        }
        buf.set_stringn(x, plot.y + h as u16 - 1, "0", width, style);
        let axis = if self.ascii { "|" } else { "│" };
        for row in 0..plot.height {
            buf.set_string(x + GUTTER - 1, plot.y + row, axis, style);
        }
    }

    /// The x labels on row `y`: the left one under the plot's left half, the right one flush
    /// with its right edge.
    fn draw_x_labels(&self, plot: Rect, y: u16, buf: &mut Buffer) {
        let w = plot.width as usize;
        buf.set_stringn(plot.x, y, &self.x_labels.0, w / 2, Style::default());
        let right = &self.x_labels.1;
        let rw = right.chars().count().min(w);
        buf.set_stringn(plot.x + (w - rw) as u16, y, right, rw, Style::default());
    }
}

/// The plot's cells while a chart is drawn: braille dots, or one mark a cell (ASCII points,
/// threshold and marker lines), each with the style of what was drawn in it last.
struct Grid {
    w: usize,
    h: usize,
    /// Dots per cell across and down: 2×4 in braille, 1×1 in ASCII.
    sx: usize,
    sy: usize,
    ascii: bool,
    y_max: f64,
    dots: Vec<u8>,
    marks: Vec<Option<char>>,
    styles: Vec<Option<Style>>,
}

impl Grid {
    fn new(w: usize, h: usize, ascii: bool, y_max: f64) -> Self {
        let (sx, sy) = if ascii { (1, 1) } else { (2, 4) };
        Self {
            w,
            h,
            sx,
            sy,
            ascii,
            y_max,
            dots: vec![0; w * h],
            marks: vec![None; w * h],
            styles: vec![None; w * h],
        }
    }

    /// The dot row of a value: 0 at `y_max`, the bottom row at zero, clamped between.
    fn dot_row(&self, v: f64) -> usize {
        let f = (v / self.y_max).clamp(0.0, 1.0);
        ((1.0 - f) * (self.h * self.sy - 1) as f64).round() as usize
    }

    fn mark(&mut self, i: usize, mark: char, style: Style) {
        self.marks[i] = Some(mark);
        self.styles[i] = Some(style);
    }

    /// A threshold across the whole plot, unless it lies outside the y range.
    fn hline(&mut self, l: &HLine) {
        if !(0.0..=self.y_max).contains(&l.y) {
            return;
        }
        let row = self.dot_row(l.y) / self.sy;
        let mark = if self.ascii { '-' } else { '┄' };
        for col in 0..self.w {
            self.mark(row * self.w + col, mark, l.style);
        }
    }

    /// A marker down the whole plot at `col`, unless it lies outside.
    fn vline(&mut self, col: usize, style: Style) {
        if col >= self.w {
            return;
        }
        let mark = if self.ascii { '|' } else { '│' };
        for row in 0..self.h {
            self.mark(row * self.w + col, mark, style);
        }
    }

    /// A series' points joined by lines, except across a gap of more than one column (missing
    /// data stays open); `mark` is its character in ASCII.
    fn series(&mut self, s: &Series, mark: char) {
        let points: Vec<(usize, usize)> = s
            .points
            .iter()
            .filter(|(c, v)| *c < self.w && v.is_finite())
            .map(|&(c, v)| (c * self.sx + self.sx / 2, self.dot_row(v)))
            .collect();
        let mut n = 0;
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if x1 - x0 > 2 * self.sx {
                continue;
            }
            line(x0, y0, x1, y1, |x, y| {
                self.dot(x, y, n, s, mark);
                n += 1;
            });
        }
        if let Some(&(x, y)) = points.last() {
            self.dot(x, y, 0, s, mark);
        }
    }

    /// The `n`th dot along a series' line at grid point (`gx`, `gy`); a dashed series skips
    /// every other pair of dots.
    fn dot(&mut self, gx: usize, gy: usize, n: usize, s: &Series, mark: char) {
        if s.dashed && (n / 2) % 2 == 1 {
            return;
        }
        let (cx, cy) = (gx / self.sx, gy / self.sy);
        if cx >= self.w || cy >= self.h {
            return;
        }
        let i = cy * self.w + cx;
        if self.ascii {
            self.marks[i] = Some(mark);
        } else {
            self.dots[i] |= BRAILLE[gy % 4][gx % 2];
            self.marks[i] = None;
        }
        self.styles[i] = Some(s.style);
    }

    /// Copies the drawn cells into `plot`; cells with nothing drawn keep what was there.
    fn draw(&self, plot: Rect, buf: &mut Buffer) {
        for row in 0..self.h {
            for col in 0..self.w {
                let i = row * self.w + col;
                let ch = if self.dots[i] != 0 {
                    char::from_u32(0x2800 + self.dots[i] as u32).unwrap_or(' ')
                } else if let Some(m) = self.marks[i] {
                    m
                } else {
                    continue;
                };
                let cell = &mut buf[(plot.x + col as u16, plot.y + row as u16)];
                cell.set_char(ch);
                if let Some(st) = self.styles[i] {
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
    fn times_at_the_ends_of_the_clock_stay_off_the_axis() {
        for view in [i64::MAX, i64::MIN, 0] {
            let a = TimeAxis::new(view, 60_000, 30, 1000);
            assert!(a.start() <= a.end(), "{view}: {} > {}", a.start(), a.end());
            for t in [i64::MIN, i64::MAX, view] {
                let c = a.column(t);
                assert!(c.is_none_or(|c| c < 30), "{view} {t}: {c:?}");
            }
        }
        let a = TimeAxis::new(61_500, 60_000, 30, 1000);
        assert_eq!(a.column(i64::MIN), None);
        assert_eq!(a.column(i64::MAX), None);
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
                faint: false,
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
                    faint: false,
                },
                Series {
                    points: (0..13).map(|c| (c, 3.0)).collect(),
                    style: Style::default(),
                    dashed: true,
                    faint: false,
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
