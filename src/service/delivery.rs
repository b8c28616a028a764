//! Sending what the outbox holds: a worker on every instance claims due rows with a lease
//! (one instance sends each), tries a failure again with exponential back-off for up to a
//! day, and erases a message once sent. Also the administrator's view: a test send, the queue.

use crate::app::App;
use crate::db::outbox::{self, kind, Row};
use crate::db::write_tx;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::mail::compose::{compose, Mail};
use crate::mail::{Message, SendError};

use super::outbox::finish;

/// How long a claimed row is held by the worker that claimed it: longer than a send may take
/// (30 s), so a crashed worker's rows are picked up by another after it.
pub const LEASE: i64 = 120;
/// Rows one pass claims: small, so several instances share a backlog.
const BATCH: i64 = 20;
/// The first retry comes after this, then twice as long each time...
const FIRST_RETRY: i64 = 30;
/// ...but never more than this apart...
const LONGEST_RETRY: i64 = 3600;
/// ...and after this long since it was queued, the message is given up on.
pub const GIVE_UP_AFTER: i64 = 86400;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Reset requests looked at (a mail is queued for those with an account).
    pub requests: usize,
}

/// When the next back-off retry of a row tried `attempts` times is due.
fn next_attempt(now: i64, attempts: i32) -> i64 {
    let shift = attempts.clamp(0, 20) as u32;
    now + (FIRST_RETRY << shift).min(LONGEST_RETRY)
}

/// One pass of the worker: claims what is due and sends it, until nothing due is left. Does
/// nothing without `smtp_url`.
pub async fn drain(app: &App) -> Result<Drained, AppError> {
    let mut done = Drained::default();
    let Some(mail) = app.mail.as_ref() else {
        return Ok(done);
    };
    loop {
        let now = app.clock.now();
        let rows = app
            .db
            .run(move |conn| {
                Ok(write_tx(conn, |c| {
                    outbox::claim(c, now, now + LEASE, BATCH)
                })?)
            })
            .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        for row in rows {
            match row.kind.as_str() {
                kind::MAIL => match send_row(app, mail, &row).await? {
                    Outcome::Sent => done.sent += 1,
                    Outcome::Retried => done.retried += 1,
                    Outcome::Failed => done.failed += 1,
                },
                kind::RESET_REQUEST => {
                    super::reset::handle_request(app, &row).await?;
                    done.requests += 1;
                }
                other => {
                    log::error!("outbox row {} has an unknown kind {other:?}", row.id);
                    finish(
                        app,
                        row.id,
                        Err(SendError::Permanent("unknown kind".into())),
                    )
                    .await?;
                    done.failed += 1;
                }
            }
        }
    }
}

enum Outcome {
    Sent,
    Retried,
    Failed,
}

async fn send_row(app: &App, mail: &crate::mail::Outgoing, row: &Row) -> Result<Outcome, AppError> {
    let message = row
        .payload
        .as_deref()
        .and_then(|sealed| app.mail_key.open(sealed))
        .and_then(|plain| serde_json::from_slice::<Message>(&plain).ok());
    let Some(message) = message else {
        // Sealed with another instance's key (data_dir not shared) or damaged: no instance
        // with this key will ever read it.
        log::error!(
            "outbox row {} cannot be opened with this instance's mail key",
            row.id
        );
        finish(
            app,
            row.id,
            Err(SendError::Permanent(
                "cannot be opened with the mail key".into(),
            )),
        )
        .await?;
        return Ok(Outcome::Failed);
    };
    let result = mail.send(&message).await;
    if let Err(e) = &result {
        log::warn!("mail {} to the outbox's recipient not sent: {e}", row.id);
    }
    let outcome = match &result {
        Ok(_) => Outcome::Sent,
        Err(SendError::Temporary(_)) if app.clock.now() - row.created_at < GIVE_UP_AFTER => {
            Outcome::Retried
        }
        Err(_) => Outcome::Failed,
    };
    let attempts = row.attempts;
    let id = row.id;
    let now = app.clock.now();
    let written = match (&outcome, result) {
        (Outcome::Sent, _) => {
            app.db
                .run(move |conn| Ok(outbox::sent(conn, id, now)?))
                .await
        }
        (Outcome::Retried, Err(e)) => {
            let next = next_attempt(now, attempts);
            let error = e.to_string();
            app.db
                .run(move |conn| Ok(outbox::retry_later(conn, id, next, &error)?))
                .await
        }
        (_, result) => {
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            app.db
                .run(move |conn| Ok(outbox::failed(conn, id, now, &error)?))
                .await
        }
    };
    written?;
    Ok(outcome)
}

/// The worker: drains at start-up (mail queued before a restart goes out), whenever a row is
/// queued here, and when the earliest retry falls due (or at least every minute, for rows
/// queued by other instances and leases that ran out). Ends with the server.
pub async fn worker(app: App, shutdown: rocket::Shutdown) {
    if app.mail.is_none() {
        return;
    }
    rocket::tokio::pin!(shutdown);
    // Held while the pass it woke for runs, so a test's clock move waits for the sends.
    let mut awake = None;
    loop {
        let drained = drain(&app).await;
        if let Err(e) = &drained {
            log::warn!("the outbox could not be drained, will retry: {e}");
        }
        let now = app.clock.now();
        let next = app
            .db
            .run(move |conn| Ok(outbox::next_due(conn, now)?))
            .await
            .ok()
            .flatten();
        // Something fell due while draining: drain again (not after a failure, which would
        // spin while the database is down).
        if drained.is_ok() && next.is_some_and(|due| due <= now) {
            continue;
        }
        let wait = next.map_or(60, |due| (due - now).clamp(1, 60));
        // Asked for before the wake ends: a clock moved again right away still finds it.
        let sleep = app.clock.sleep(wait as u64);
        drop(awake.take());
        // Time moved between reading the clock and asking to sleep: the sleep would count
        // from the later time, so look again now.
        if app.clock.now() != now {
            continue;
        }
        rocket::tokio::select! {
            _ = &mut shutdown => break,
            _ = app.outbox_wake.notified() => {}
            woke = sleep => awake = Some(woke),
        }
    }
}

/// How `gatehouse mail test` went.
#[derive(Debug)]
pub enum TestSend {
    /// No `smtp_url`: nothing can be sent.
    Off,
    /// Not an address mail can be sent to.
    BadAddress,
    /// The server took it; its answer.
    Sent(String),
    /// The server (or the way to it) refused; why.
    Refused(SendError),
}

/// Sends a test message to `to` now, past the outbox: the admin wants the server's answer,
/// not a queued row.
pub async fn send_test(app: &App, to: &str) -> TestSend {
    let Some(mail) = app.mail.as_ref() else {
        return TestSend::Off;
    };
    if !crate::mail::deliverable(to) || to.len() > crate::validate::EMAIL_MAX {
        return TestSend::BadAddress;
    }
    let message = compose(Lang::En, to, to, &Mail::Test);
    match mail.send(&message).await {
        Ok(answer) => TestSend::Sent(answer),
        Err(e) => TestSend::Refused(e),
    }
}

/// What waits or failed, oldest first.
pub async fn queue(app: &App) -> Result<Vec<Row>, AppError> {
    app.db
        .run(|conn| Ok(outbox::pending_and_failed(conn)?))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(next_attempt(1000, 0), 1030);
        assert_eq!(next_attempt(1000, 1), 1060);
        assert_eq!(next_attempt(1000, 5), 1000 + 960);
        assert_eq!(next_attempt(1000, 10), 1000 + 3600);
        assert_eq!(next_attempt(1000, 50), 1000 + 3600);
    }
}
