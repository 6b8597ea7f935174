//! The workloads W1–W8 of issue 10 and the long tail L1–L4 of issue 16, one module per area.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod long_tail;
pub mod notifier;
pub mod relay;
pub mod search;

use std::time::Duration;

/// Load settings shared by the HTTP workloads.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub duration: Duration,
}
