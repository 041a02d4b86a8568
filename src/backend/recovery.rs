//! What a long job offers after a GPU failure — decided once here, so training and the
//! analysis give the same choices in the page and say the same thing about them.
//!
//! A buffer over the device's limits and an out-of-memory both leave the device usable, and
//! GPU memory follows the images per pass: halving the pass may be enough. A lost device is
//! gone for this page (burn cannot get another), so only the CPU remains. The CPU is always
//! offered: it has no such limits, only less speed.

use super::{BackendError, GpuFailure, GpuFailureKind};

/// An error that may stand for a GPU failure (out of memory, device lost, rejected work).
pub trait GpuFailureSource {
    /// The failure behind the error, when it is one.
    fn gpu_failure(&self) -> Option<&GpuFailure>;
}

impl GpuFailureSource for BackendError {
    fn gpu_failure(&self) -> Option<&GpuFailure> {
        match self {
            BackendError::GpuFailed(failure) => Some(failure),
            _ => None,
        }
    }
}

/// One way to go on after a GPU failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The same GPU with fewer images per pass.
    SmallerPasses { images_per_pass: usize },
    /// The CPU (after a lost device, the page's whole backend moves there).
    Cpu,
}

impl GpuFailure {
    /// The choices to offer after this failure for work that ran `images_per_pass` images at a
    /// time: half the pass on the same GPU where it still works and the pass can shrink, and
    /// the CPU always, last.
    pub fn recoveries(&self, images_per_pass: usize) -> Vec<Recovery> {
        let mut options = Vec::with_capacity(2);
        if self.kind != GpuFailureKind::Lost && images_per_pass > 1 {
            options.push(Recovery::SmallerPasses { images_per_pass: images_per_pass / 2 });
        }
        options.push(Recovery::Cpu);
        options
    }

    /// One sentence on what the choices mean for this kind of failure.
    pub fn advice(&self) -> &'static str {
        match self.kind {
            GpuFailureKind::OutOfMemory => {
                "Smaller passes need less GPU memory; the CPU has no such limit but is slower."
            }
            GpuFailureKind::Lost => "The GPU cannot be used again in this page (reload it to try); the CPU can go on.",
            GpuFailureKind::Error => {
                "If a buffer was too large for the GPU, smaller passes help; the CPU can go on too."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: GpuFailureKind) -> GpuFailure {
        GpuFailure { kind, message: "test".into() }
    }

    #[test]
    fn a_usable_gpu_is_offered_half_the_pass_then_the_cpu() {
        for kind in [GpuFailureKind::OutOfMemory, GpuFailureKind::Error] {
            assert_eq!(
                failure(kind).recoveries(32),
                vec![Recovery::SmallerPasses { images_per_pass: 16 }, Recovery::Cpu]
            );
        }
    }

    #[test]
    fn a_lost_gpu_or_a_single_image_pass_leaves_only_the_cpu() {
        assert_eq!(failure(GpuFailureKind::Lost).recoveries(32), vec![Recovery::Cpu]);
        assert_eq!(failure(GpuFailureKind::OutOfMemory).recoveries(1), vec![Recovery::Cpu]);
    }

    #[test]
    fn backend_errors_name_their_gpu_failure() {
        let gpu = BackendError::GpuFailed(failure(GpuFailureKind::Lost));
        assert_eq!(gpu.gpu_failure().map(|f| f.kind), Some(GpuFailureKind::Lost));
        assert!(BackendError::ReadBack("x".into()).gpu_failure().is_none());
    }
}
