//! Security primitives, independent of any request: signing keys and tokens, passwords and
//! the bcrypt pool, CSRF tokens and device cookies' signatures.

pub mod csrf;
pub mod device;
pub mod keys;
pub mod password;
pub mod token;
pub mod totp;
