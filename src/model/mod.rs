//! SqueezeNet 1.1: its layout, its weights from files, and the burn module that runs it.

pub mod architecture;
pub mod benchmark;
pub mod export;
pub mod host_conv;
pub mod inference;
pub mod layers;
pub mod max_pool;
pub mod squeezenet;
pub mod weights;
