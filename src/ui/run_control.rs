//! What a long run in the page (training, t-SNE) looks at between steps: the user's Pause,
//! Resume and Cancel, shared by the panels so they behave alike.

use std::cell::Cell;

use super::browser_files::sleep_ms;

/// The user's latest wish for a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Cancel,
}

impl Control {
    /// Pause ↔ Run (the one button that says "Pause" or "Resume").
    pub fn toggled(self) -> Control {
        if self == Control::Pause { Control::Run } else { Control::Pause }
    }
}

/// Waits while paused (calling `on_pause` once when a pause begins); returns false when the
/// run was cancelled, true when it should go on.
pub async fn keep_going(control: &Cell<Control>, on_pause: impl Fn()) -> bool {
    if control.get() == Control::Pause {
        on_pause();
        while control.get() == Control::Pause {
            sleep_ms(100).await;
        }
    }
    control.get() != Control::Cancel
}
