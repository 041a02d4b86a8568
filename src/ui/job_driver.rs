//! The one loop every long job of the page runs in: steps of a core object (an `Analyzer`, a
//! t-SNE runner, …) back to back for a short time slice, then the browser gets the thread back
//! to paint and handle input; between any two steps the user's Pause and Cancel take effect.

use std::cell::Cell;

use std::fmt::Display;

use super::browser_files::{now_ms, yield_to_browser};
use super::run_control::{Control, keep_going};
use crate::backend::{GpuFailure, GpuFailureSource};

/// Longest time the page's thread runs steps before letting the browser paint (one frame at
/// 60 Hz is 16.7 ms; a step is never split, so a long step still runs whole).
pub const SLICE_MS: f64 = 12.0;

/// A long piece of work done one step at a time. (The page is single-threaded, so the step's
/// future need not be `Send`.)
#[allow(async_fn_in_trait)]
pub trait SteppedJob {
    type Report;
    type Error;
    /// Does the next piece of work.
    async fn step(&mut self) -> Result<Self::Report, Self::Error>;
    /// True when nothing is left to do.
    fn is_finished(&self) -> bool;
}

/// How a driven job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Finished,
    Cancelled,
    /// The GPU failed (out of memory, lost, rejected work): the panel offers what
    /// [`GpuFailure::recoveries`] allows.
    GpuFailed(GpuFailure),
    /// Any other error, as the message to show.
    Failed(String),
}

/// Steps `job` to its end. `report` sees every step's report (and decides what to show);
/// `on_pause` is called once when a pause begins, `on_resume` when work goes on again. An
/// error ends the job: a GPU failure as [`Ended::GpuFailed`], anything else as its message.
pub async fn drive<J: SteppedJob>(
    job: &mut J,
    control: &Cell<Control>,
    on_pause: impl Fn(),
    on_resume: impl Fn(),
    mut report: impl FnMut(&J, J::Report),
) -> Ended
where
    J::Error: GpuFailureSource + Display,
{
    let mut slice_start = now_ms();
    while !job.is_finished() {
        if control.get() != Control::Run {
            if !keep_going(control, &on_pause).await {
                return Ended::Cancelled;
            }
            on_resume();
            slice_start = now_ms();
        }
        match job.step().await {
            Ok(r) => report(job, r),
            Err(e) => return e.gpu_failure().cloned().map_or_else(|| Ended::Failed(e.to_string()), Ended::GpuFailed),
        }
        if now_ms() - slice_start > SLICE_MS {
            yield_to_browser().await;
            slice_start = now_ms();
        }
    }
    Ended::Finished
}
