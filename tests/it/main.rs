//! Every integration test in one binary: one link of the whole stack instead of one per file.
//! Two binaries stay apart: tests/bench_page.rs needs `--features bench`, and tests/timing/
//! holds a real server to limits of a second or two, which it cannot do while the tests here
//! run beside it.
//!
//! Tests that involve the database run on SQLite and on PostgreSQL (`backend_tests!`, modules
//! `sqlite` and `postgres`); the rest run once, on SQLite.

#[macro_use]
mod common;

mod account;
mod audit;
mod browser;
mod caddy;
mod cli;
mod cluster;
mod concurrency;
mod config;
mod csrf;
mod disk;
mod forward_auth;
mod hot_path;
mod i18n;
mod interop;
mod keys;
mod login;
mod mail;
mod nginx;
mod outage;
mod pages;
mod register;
mod routes;
mod second_factor;
mod sessions;
mod throttle;
mod tokens;
mod upkeep;
