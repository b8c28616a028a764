//! The durable outbox: a mail is queued in the transaction of the event that causes it (so it
//! exists if and only if the event happened), sealed with the mail key. Pages only queue, so
//! SMTP being down never fails or slows one; `service::delivery` sends what is queued.

use diesel::QueryResult;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::db::outbox::{self, kind, NewRow};
use crate::db::DbConn;
use crate::error::AppError;
use crate::mail::{Message, SendError};

/// Queues `message` inside the caller's write transaction. Call [`wake`] after the commit.
pub fn enqueue(conn: &mut DbConn, app: &App, message: &Message, now: i64) -> QueryResult<i64> {
    let sealed = app
        .mail_key
        .seal(&serde_json::to_vec(message).expect("a message serializes"));
    outbox::insert(
        conn,
        &NewRow {
            created_at: now,
            kind: kind::MAIL,
            recipient: &message.to,
            subject: &message.subject,
            payload: Some(sealed),
            next_attempt_at: now,
        },
    )
}

/// A password reset asked for: who for, and who asked (for the mail's "from where").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetRequest {
    pub email: String,
    pub ip: String,
    pub user_agent: String,
    pub at: i64,
}

/// Queues a reset request (looked at by the worker, see `service::reset`).
pub fn enqueue_reset_request(
    conn: &mut DbConn,
    app: &App,
    request: &ResetRequest,
    now: i64,
) -> QueryResult<i64> {
    let sealed = app
        .mail_key
        .seal(&serde_json::to_vec(request).expect("a request serializes"));
    outbox::insert(
        conn,
        &NewRow {
            created_at: now,
            kind: kind::RESET_REQUEST,
            // Not the address: a row's recipient is shown by `gatehouse mail queue`, and a
            // request for an address without an account must not show it.
            recipient: "",
            subject: "",
            payload: Some(sealed),
            next_attempt_at: now,
        },
    )
}

/// Tells this instance's worker that something was queued.
pub fn wake(app: &App) {
    app.outbox_wake.notify_one();
}

/// Records a row as done (`Ok`) or given up on.
pub(crate) async fn finish(
    app: &App,
    id: i64,
    result: Result<(), SendError>,
) -> Result<(), AppError> {
    let now = app.clock.now();
    app.db
        .run(move |conn| {
            match result {
                Ok(()) => outbox::sent(conn, id, now)?,
                Err(e) => outbox::failed(conn, id, now, &e.to_string())?,
            }
            Ok(())
        })
        .await
}
