//! Background upkeep: expired sessions, deny-list entries, old failure counts, expired mail
//! links, old outbox rows and audit events past `audit_retention` are pruned, so nothing grows without bound; refusals counted
//! in memory are written to their audit rows. Runs on every instance; the deletes are
//! idempotent.

use std::sync::{Arc, Mutex};

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::{tokio, Build, Orbit, Rocket};

use crate::app::App;
use crate::db::throttle;
use crate::db::{email_tokens, outbox, second_factor, sessions, write_tx};
use crate::error::AppError;

/// Seconds between upkeep passes.
pub const PRUNE_EVERY: u64 = 60;

/// How long sent and failed mail stays listed (`gatehouse mail queue`); a sent row's
/// message is erased at once, a failed one's (encrypted) with its row.
pub const OUTBOX_KEPT: i64 = 7 * 86_400;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: usize,
    pub deny_list_left: usize,
    /// Old failure counts and lifted bans.
    pub throttle_rows: usize,
    /// Audit events older than `audit_retention`.
    pub audit_rows: usize,
    /// Expired mail links and pending sign-ins, and outbox rows sent or given up on more than
    /// a week ago.
    pub mail_rows: usize,
    /// Refusals added to their audit rows.
    pub refusals: crate::service::audit::Flushed,
}

/// One pass of upkeep. Each step runs whatever became of the others (a failed flush, say on
/// a full disk, keeps its counts in memory for the next pass and must not stop the pruning
/// that frees space); the first error is reported once all have run.
pub async fn prune(app: &App) -> Result<Pruned, AppError> {
    let now = app.clock.now();
    let deny_list_left = app.denylist.prune(now);
    let oldest_window = app
        .settings
        .login_failure_window
        .max(app.settings.register_window);
    let main = app
        .db
        .run(move |conn| {
            Ok(write_tx(conn, |c| {
                Ok::<_, diesel::result::Error>((
                    sessions::prune(c, now)?,
                    throttle::prune(c, now, oldest_window)?,
                    email_tokens::prune(c, now)?
                        + outbox::prune(c, now - OUTBOX_KEPT)?
                        + second_factor::prune_pending(c, now)?,
                ))
            })?)
        })
        .await;
    let refusals = crate::service::audit::flush_refusals(app).await;
    let audit_rows = crate::service::audit::prune(app, now).await;
    let pruned = Pruned {
        sessions: main.as_ref().map_or(0, |m| m.0),
        deny_list_left,
        throttle_rows: main.as_ref().map_or(0, |m| m.1),
        mail_rows: main.as_ref().map_or(0, |m| m.2),
        audit_rows: *audit_rows.as_ref().unwrap_or(&0),
        refusals: *refusals.as_ref().unwrap_or(&Default::default()),
    };
    main?;
    refusals?;
    audit_rows?;
    Ok(pruned)
}

/// Picks up keys rotated elsewhere (the CLI, another instance) and retires verify-only keys
/// whose tokens have all expired. Runs every `session_revalidate_interval`.
pub fn refresh_keys(app: &App) -> Vec<String> {
    let now = app.clock.now();
    app.tokens.reload();
    let retired = crate::auth::keys::retire_expired(
        &app.tokens.keys(),
        now,
        app.tokens.acceptance_window(),
        app.settings.session_revalidate_interval,
    );
    if !retired.is_empty() {
        log::info!("retired signing keys whose tokens have expired: {retired:?}");
        app.tokens.reload();
    }
    retired
}

/// Starts upkeep at lift-off (see [`liftoff`]) and, at shutdown, writes the refusals counted
/// since the last pass; Rocket awaits that before the process exits.
pub fn fairing() -> Upkeep {
    Upkeep
}

pub struct Upkeep;

/// How many upkeep passes ran and how the last one ended. Tests read it (Rocket state) to see
/// that moving their clock ran a pass, and what it did.
#[derive(Debug, Default, Clone)]
pub struct Passes(Arc<Mutex<PassLog>>);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassLog {
    pub runs: u64,
    /// The last pass's result, its error as text.
    pub last: Option<Result<Pruned, String>>,
}

impl Passes {
    pub fn log(&self) -> PassLog {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, result: &Result<Pruned, AppError>) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.runs += 1;
        log.last = Some(result.as_ref().copied().map_err(|e| e.to_string()));
    }
}

#[rocket::async_trait]
impl Fairing for Upkeep {
    fn info(&self) -> Info {
        Info {
            name: "background upkeep",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        Ok(rocket.manage(Passes::default()))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        liftoff().on_liftoff(rocket).await
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let Some(app) = rocket.state::<App>() else {
            return;
        };
        match crate::service::audit::flush_refusals(app).await {
            Ok(f) if f.refusals > 0 => log::info!("wrote {} counted refusals", f.refusals),
            Ok(_) => {}
            Err(e) => log::warn!("refusal counts not written at shutdown: {e}"),
        }
    }
}

/// Starts upkeep and warms the dummy hash that unknown users are checked against, so the
/// first failed sign-in is not slower than the rest (LG-2).
///
/// Both loops wait on the app's clock, so a test's `ManualClock` runs them when it moves
/// past their time (and waits until they are done). Each next sleep is asked for before the
/// current wake ends: a clock moved again right away cannot slip between the two.
fn liftoff() -> AdHoc {
    AdHoc::on_liftoff("background upkeep", |rocket| {
        Box::pin(async move {
            let Some(app) = rocket.state::<App>() else {
                return;
            };
            // Only what tests look at is lost without the log: upkeep runs all the same.
            let passes = rocket.state::<Passes>().cloned().unwrap_or_default();
            let app = app.shared();
            tokio::spawn({
                let app = app.clone();
                async move {
                    if let Err(e) = app.hasher.dummy_hash().await {
                        log::error!("cannot prepare the dummy hash: {e}");
                    }
                }
            });
            // The keys were loaded a moment ago at start-up: the first reload is due one
            // interval later.
            let every = app.settings.session_revalidate_interval as u64;
            let mut next = app.clock.sleep(every);
            tokio::spawn({
                let app = app.clone();
                let shutdown = rocket.shutdown();
                async move {
                    tokio::pin!(shutdown);
                    loop {
                        tokio::select! {
                            _ = &mut shutdown => break,
                            awake = &mut next => {
                                let reload = app.clone();
                                let _ = tokio::task::spawn_blocking(move || refresh_keys(&reload)).await;
                                next = app.clock.sleep(every);
                                drop(awake);
                            }
                        }
                    }
                }
            });
            tokio::spawn(crate::service::delivery::worker(
                app.clone(),
                rocket.shutdown(),
            ));
            // Not at start-up: nothing is urgent then, and a prune racing the first requests
            // would only slow them (and make query counts in tests uncertain).
            let mut next = app.clock.sleep(PRUNE_EVERY);
            let shutdown = rocket.shutdown();
            tokio::spawn(async move {
                tokio::pin!(shutdown);
                loop {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        awake = &mut next => {
                            let result = prune(&app).await;
                            match &result {
                                Ok(p) => {
                                    if p.sessions > 0 {
                                        log::info!("pruned {} ended sessions", p.sessions);
                                    }
                                    if p.audit_rows > 0 {
                                        log::info!("pruned {} audit events past audit_retention", p.audit_rows);
                                    }
                                }
                                Err(e) => log::warn!("upkeep failed, will retry: {e}"),
                            }
                            passes.record(&result);
                            next = app.clock.sleep(PRUNE_EVERY);
                            drop(awake);
                        }
                    }
                }
            });
        })
    })
}
