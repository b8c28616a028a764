//! Tests that hold a real server to wall-clock limits of a second or two: slow and flooding
//! clients (`slow_clients`), and requests finishing within Rocket's grace period after SIGTERM
//! (`shutdown`). A binary apart from `tests/it`, whose tests run beside each other on the two
//! cores: cargo runs test binaries one after another, so these never share the machine with
//! the rest of the suite (seen otherwise: a health check under a connection flood unanswered
//! after 2 s, a sign-in in flight past the 2 s grace period).

#[path = "../it/common/mod.rs"]
mod common;

mod shutdown;
mod slow_clients;
