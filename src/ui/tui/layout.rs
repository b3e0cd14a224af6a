//! Where each part of the screen goes. Shared by the view and by `update`, which
//! needs the log's height to page through it.

use ratatui::layout::{Constraint, Layout, Rect};

/// Below this the layout would break; the screen asks for a larger window.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub header: Rect,
    pub plan: Rect,
    pub detail: Rect,
    pub log: Rect,
    pub footer: Rect,
}

impl Areas {
    pub fn new(area: Rect) -> Self {
        let body = area.height.saturating_sub(3);
        // The log gets two fifths of what is left, never less than a few lines.
        let log = (body * 2 / 5).max(5);
        let [header, middle, log, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Fill(1),
            Constraint::Length(log),
            Constraint::Length(1),
        ])
        .areas(area);
        let [plan, detail] = Layout::horizontal([Constraint::Percentage(40), Constraint::Fill(1)]).areas(middle);
        Areas { header, plan, detail, log, footer }
    }

    /// Lines of log in view: the box less its borders and the progress line.
    pub fn log_page(&self) -> usize {
        usize::from(self.log.height.saturating_sub(3)).max(1)
    }
}
