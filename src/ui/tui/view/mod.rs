//! Drawing: the whole screen from [`App`], nothing else. Layers go bottom up:
//! the panes, then a question, then the end of the session, then help or "leave?".

mod detail;
mod dialog;
mod footer;
mod header;
mod log;
mod modal;
mod overlay;
mod plan;

use ratatui::Frame;

use super::app::{App, Overlay};
use super::layout::{Areas, too_small};

pub fn view(app: &App, frame: &mut Frame) {
    if too_small(frame.area()) {
        overlay::too_small(app, frame);
        return;
    }
    let areas = Areas::new(frame.area());
    header::draw(app, frame, areas.header);
    plan::draw(app, frame, areas.plan);
    detail::draw(app, frame, areas.detail);
    log::draw(app, frame, areas.log);
    footer::draw(app, frame, areas.footer);
    if let Some(d) = app.dialog.as_ref().filter(|_| !app.dialog_hidden) {
        dialog::draw(app, d, frame);
    }
    if app.is_over() {
        overlay::end(app, frame);
    }
    match app.overlay {
        Overlay::Help => overlay::help(app, frame),
        Overlay::Quit => overlay::quit(app, frame),
        Overlay::None => {}
    }
}
