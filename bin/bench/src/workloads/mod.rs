//! The workloads W1–W8 of issue 10, one module per area.

pub mod cart;
pub mod catalog;
pub mod checkout;
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
