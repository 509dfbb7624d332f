//! Colours and glyphs. Every band carries a symbol and a word as well as a colour, so the
//! screen reads the same under `NO_COLOR` or on a monochrome terminal; `--ascii` swaps the
//! braille and box-drawing glyphs for plain ASCII.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::widgets::BorderType;

use crate::detect::StageState;
use crate::settings::Band;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (no-color.org).
    pub fn from_env(ascii: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color,
            ascii,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn band(&self, b: Band) -> Style {
        match b {
            Band::NoData => self.fg(Color::DarkGray),
            Band::Ok => self.fg(Color::Green),
            Band::Warn => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Band::Crit => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn band_symbol(&self, b: Band) -> &'static str {
        if self.ascii {
            match b {
                Band::NoData => "?",
                Band::Ok => "+",
                Band::Warn => "!",
                Band::Crit => "X",
            }
        } else {
            b.symbol()
        }
    }

    pub fn stage(&self, s: StageState) -> Style {
        match s {
            StageState::Inactive => self.fg(Color::DarkGray),
            StageState::Suspected => self.fg(Color::Yellow),
            StageState::Active => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            StageState::Cleared => self.fg(Color::Cyan),
        }
    }

    pub fn stage_symbol(&self, s: StageState) -> &'static str {
        match (s, self.ascii) {
            (StageState::Inactive, false) => "○",
            (StageState::Suspected, false) => "◐",
            (StageState::Active, false) => "●",
            (StageState::Cleared, false) => "◌",
            (StageState::Inactive, true) => "-",
            (StageState::Suspected, true) => "?",
            (StageState::Active, true) => "*",
            (StageState::Cleared, true) => "~",
        }
    }

    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn focus(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn series(&self, i: usize) -> Style {
        const C: [Color; 4] = [Color::Cyan, Color::Magenta, Color::Green, Color::Yellow];
        self.fg(C[i % C.len()])
    }

    /// A baseline's series: the live series' colour, faint.
    pub fn baseline(&self, i: usize) -> Style {
        self.series(i).add_modifier(Modifier::DIM)
    }

    pub fn threshold(&self, b: Band) -> Style {
        self.band(b).remove_modifier(Modifier::BOLD)
    }

    pub fn marker(&self) -> Style {
        self.fg(Color::Blue)
    }

    pub fn border_type(&self) -> BorderType {
        BorderType::Plain
    }

    pub fn border_set(&self) -> symbols::border::Set {
        if self.ascii {
            ASCII_BORDER
        } else {
            symbols::border::PLAIN
        }
    }

    pub fn chart_marker(&self) -> symbols::Marker {
        if self.ascii {
            symbols::Marker::Dot
        } else {
            symbols::Marker::Braille
        }
    }

    /// Line styles for a chart's series: solid, dashed in words for monochrome terminals.
    pub fn rec(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
}

pub const ASCII_BORDER: symbols::border::Set = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};
