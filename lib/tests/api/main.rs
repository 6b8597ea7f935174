//! HTTP-level specifications of toko, run against the real app and a fresh database each.
//! One test binary (modules below) keeps link time down.

mod auth;
mod catalog;
mod openapi;
mod platform;
mod search;
