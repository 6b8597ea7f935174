//! HTTP-level specifications of toko, run against the real app and a fresh database each.
//! One test binary (modules below) keeps link time down.

mod account_data;
mod addresses;
mod audit_log;
mod auth;
mod authorization;
mod cart;
mod catalog;
mod catalog_bulk;
mod catalog_cache;
mod checkout;
mod connections;
mod consistency;
mod email_verification;
mod events;
mod fulfilment;
mod hostile_input;
mod layers;
mod openapi;
mod orders;
mod password_guessing;
mod password_reset;
mod payment_rules;
mod payments;
mod platform;
mod promotions;
mod rate_limits;
mod returns;
mod search;
mod shipping;
mod staff;
mod tax;
mod webhook_flood;
