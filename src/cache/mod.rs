//! What each instance keeps in memory so the hot path needs no database query and no
//! signature check. Every entry may be stale; for each cache, what evicts an entry, and why a
//! stale one is harmless:
//!
//! - `verified_tokens`: tokens that passed the strict decode. Bounded (4096, the cache drops
//!   the least used), emptied when the key set changes. Harmless: a hit skips only the
//!   signature check; time, deny list and revalidation still run on every request.
//! - `profiles`: forward-auth's name, email and groups per user. Trusted for
//!   `session_revalidate_interval`, bounded (stale entries first, else all). Harmless: a
//!   session is itself rechecked only that often, so a change of groups takes effect no
//!   later than a revocation does.
//! - `session_views`: the dashboard's facts about a session (absolute expiry, previous
//!   sign-in). Same rule as `profiles`; display only (the token's `exp` enforces expiry).
//! - `denylist`: sessions ended on this instance, refused at once. An entry expires when no
//!   token of its session could still skip revalidation; when full, the one ending soonest
//!   goes. Harmless: a dropped entry's session is refused at its next revalidation.
//! - `known_bans`: bans this instance has seen. Trusted for `session_revalidate_interval`,
//!   bounded (lifted bans first). Harmless: a miss asks the database; a stale entry refuses
//!   at most one interval after `gatehouse bans clear`.

pub mod denylist;
pub mod fresh;
pub mod known_bans;
pub mod profiles;
pub mod refusals;
pub mod session_views;
pub mod verified_tokens;
