//! Midtrans: the HTTP client, the Snap request, and notification signatures.

pub mod client;
pub mod signature;
pub mod snap;

pub use client::{MidtransClient, MidtransError, SnapTransaction, TransactionStatus};
