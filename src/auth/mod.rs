//! Authentication: keys and tokens, passwords, CSRF, sessions and the request guard.

pub mod csrf;
pub mod denylist;
pub mod device;
pub mod fresh;
pub mod keys;
pub mod password;
pub mod profiles;
pub mod session;
pub mod session_views;
pub mod throttle;
pub mod token;
