//! One connection type for both backends, chosen from the URL scheme; a pool whose blocking
//! calls run off Rocket's async workers; per-backend embedded migrations.

pub mod audit;
pub mod email_tokens;
pub mod groups;
pub mod outbox;
pub mod schema;
pub mod second_factor;
pub mod sessions;
pub mod throttle;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Instrumentation, InstrumentationEvent, SimpleConnection,
    TransactionManager,
};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, Outage};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    /// `postgres://` and `postgresql://` are PostgreSQL; `sqlite://PATH` or a bare path is SQLite.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(format!(
                "{:?} is neither sqlite://PATH nor postgres://...",
                mask_url(url)
            ));
        }
        Ok(Backend::Sqlite(PathBuf::from(path)))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// The URL with any password replaced, for logs and `check-config`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:****@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(String),
}

/// Counts statements, so tests (and the benchmark) can prove the hot path does not query.
#[derive(Debug, Default)]
struct QueryCounter(AtomicU64);

struct CountQueries(Arc<QueryCounter>);

impl Instrumentation for CountQueries {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0 .0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct Manager {
    backend: Backend,
    counter: Arc<QueryCounter>,
}

impl Manager {
    fn open(&self) -> Result<DbConn, r2d2::Error> {
        let mut conn = match &self.backend {
            Backend::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    r2d2::Error::ConnectionError(ConnectionError::BadConnection(
                        "database path is not UTF-8".into(),
                    ))
                })?;
                let mut c =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; busy_timeout makes writers queue
                // instead of failing with "database is locked".
                c.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                DbConn::Sqlite(c)
            }
            Backend::Postgres(url) => {
                DbConn::Pg(PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?)
            }
        };
        conn.set_instrumentation(CountQueries(self.counter.clone()));
        Ok(conn)
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    /// Diesel marks a connection whose server went away as broken (its transaction manager
    /// enters an error state), so dead connections leave the pool on their first failure
    /// (tests/outage.rs cuts PostgreSQL mid-run).
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// A connection checked out of the pool; derefs to [`DbConn`].
pub struct DbGuard(PooledConnection<Manager>);

impl std::ops::Deref for DbGuard {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0
    }
}

impl std::ops::DerefMut for DbGuard {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0
    }
}

/// The database as managed state: cheap to clone, every call runs on the blocking pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Arc<Backend>,
    counter: Arc<QueryCounter>,
    /// The last write probe (see [`Db::health`]).
    probe: Arc<Mutex<Option<Probe>>>,
}

/// Seconds between two write probes of one instance: a burst of health checks (several load
/// balancers, an attacker) costs at most one write per interval.
pub const WRITE_PROBE_EVERY: i64 = 5;

#[derive(Debug, Clone, Copy)]
struct Probe {
    at: i64,
    writable: bool,
}

/// What `/healthz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The database answers but takes no writes (full disk, read-only): nobody can sign in.
    NotWritable,
    /// The database does not answer.
    Unreachable,
}

impl Db {
    pub fn connect(url: &str, pool_size: u32, connect_timeout: u64) -> Result<Db, DbError> {
        let backend = Backend::from_url(url).map_err(|reason| DbError::Open {
            url: mask_url(url),
            reason,
        })?;
        if let Backend::Sqlite(path) = &backend {
            prepare_sqlite_file(path).map_err(|e| DbError::Open {
                url: mask_url(url),
                reason: e.to_string(),
            })?;
        }
        let counter = Arc::new(QueryCounter::default());
        let manager = Manager {
            backend: backend.clone(),
            counter: counter.clone(),
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(connect_timeout))
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build_unchecked(manager);
        let db = Db {
            pool,
            backend: Arc::new(backend),
            counter,
            probe: Arc::new(Mutex::new(None)),
        };
        // Fail the start now, with the reason, rather than on the first request.
        db.get().map_err(|e| DbError::Open {
            url: mask_url(url),
            reason: e.to_string(),
        })?;
        Ok(db)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Statements run so far through this pool.
    pub fn query_count(&self) -> u64 {
        self.counter.0.load(Ordering::Relaxed)
    }

    /// A connection, for the CLI and start-up; request handlers use [`Db::run`].
    pub fn get(&self) -> Result<DbGuard, r2d2::PoolError> {
        self.pool.get().map(DbGuard)
    }

    pub fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.get().map_err(|e| DbError::Migrate(e.to_string()))?;
        let result = match &mut *conn {
            DbConn::Sqlite(c) => {
                c.batch_execute("PRAGMA journal_mode = WAL;")
                    .map_err(|e| DbError::Migrate(e.to_string()))?;
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ())
            }
            DbConn::Pg(c) => {
                // Several instances may start at once: one migrates, the others wait for it.
                c.batch_execute("SELECT pg_advisory_lock(7365434242)")
                    .map_err(|e| DbError::Migrate(e.to_string()))?;
                let r = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
                let _ = c.batch_execute("SELECT pg_advisory_unlock(7365434242)");
                r
            }
        };
        result.map_err(|e| DbError::Migrate(e.to_string()))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, so a slow database never
    /// stalls the async workers. No connection within the timeout means the database is down.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        rocket::tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| {
                log::error!("database unavailable: {e}");
                AppError::Unavailable
            })?;
            f(&mut conn)
        })
        .await
        .map_err(|e| {
            log::error!("database task failed: {e}");
            AppError::Internal
        })?
    }
}

impl Db {
    /// Whether the database answers and takes writes. The write (one row of `health_probe`
    /// rewritten, which goes through the same journal and pages as a sign-in) runs at most
    /// once every [`WRITE_PROBE_EVERY`] seconds of `now`; in between a read answers, and the
    /// last write's outcome stands.
    pub async fn health(&self, now: i64) -> Health {
        let due = {
            let mut probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
            match *probe {
                Some(p) if (p.at..p.at + WRITE_PROBE_EVERY).contains(&now) => Err(p),
                last => {
                    // Claimed: requests arriving while this probe runs use the last outcome.
                    *probe = Some(Probe {
                        at: now,
                        writable: last.is_none_or(|p| p.writable),
                    });
                    Ok(last)
                }
            }
        };
        let previous = match due {
            Ok(last) => return self.probe_write(now, last).await,
            Err(previous) => previous,
        };
        match self.run(|conn| Ok(ping(conn)?)).await {
            Err(_) => Health::Unreachable,
            Ok(()) if !previous.writable => Health::NotWritable,
            Ok(()) => Health::Ok,
        }
    }

    async fn probe_write(&self, now: i64, last: Option<Probe>) -> Health {
        let written = self.run(move |conn| Ok(write_probe(conn, now)?)).await;
        let (health, writable) = match &written {
            Ok(()) => (Health::Ok, Some(true)),
            Err(AppError::Database(e)) if crate::error::outage(e) == Some(Outage::Storage) => {
                log::error!("health check: the database takes no writes: {e}");
                (Health::NotWritable, Some(false))
            }
            // No answer says nothing about writes: the next check probes again.
            Err(_) => (Health::Unreachable, None),
        };
        let mut probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        *probe = match writable {
            Some(writable) => Some(Probe { at: now, writable }),
            None => last,
        };
        health
    }
}

fn write_probe(conn: &mut DbConn, now: i64) -> QueryResult<()> {
    use schema::health_probe;
    let updated = diesel::update(health_probe::table.find("probe"))
        .set(health_probe::checked_at.eq(now))
        .execute(conn)?;
    // The row is made by the migration; if someone removed it, an insert proves as much.
    if updated == 0 {
        diesel::insert_into(health_probe::table)
            .values((
                health_probe::id.eq("probe"),
                health_probe::checked_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Makes the SQLite file's directory and the file itself private before SQLite opens it:
/// SQLite would create the file 0644 (and gives `-wal`/`-shm` the main file's mode), so any
/// local user could read every password hash. New directories are 0700 and the file 0600
/// whatever the umask; an existing file (and its `-wal`/`-shm`) readable by others is
/// tightened, and said so. Existing directories are left alone: the database may live in a
/// directory that is not gatehouse's (`/var/lib`).
fn prepare_sqlite_file(path: &Path) -> std::io::Result<()> {
    let name = path.to_string_lossy();
    // An in-memory database: nothing on disk to prepare. A URI filename (`file:PATH?...`)
    // names its file after `file:` (and `//` with an empty or `localhost` authority).
    if name == ":memory:" || name.contains("mode=memory") {
        return Ok(());
    }
    if let Some(uri) = name.strip_prefix("file:") {
        let path = uri.split(['?', '#']).next().unwrap_or("");
        let path = path
            .strip_prefix("//localhost")
            .or_else(|| path.strip_prefix("//"))
            .unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            return Ok(());
        }
        return prepare_sqlite_file(Path::new(path));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::files::create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{name}{suffix}"));
        crate::files::make_private(&file)?;
    }
    Ok(())
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so the write lock is
/// taken up front and a concurrent writer waits (busy_timeout) instead of failing midway
/// with "database is locked".
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) =
                <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                log::error!("rollback failed: {rollback}");
            }
            Err(e)
        }
    }
}

/// Is this error a unique-index violation (a duplicate username or email)?
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// One round trip: is the database there?
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_uri_filename_is_made_private_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/g.db");
        prepare_sqlite_file(Path::new(&format!("file:{}?mode=rwc", file.display()))).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // In memory: nothing to make.
        prepare_sqlite_file(Path::new("file::memory:?cache=shared")).unwrap();
        prepare_sqlite_file(Path::new(":memory:")).unwrap();
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(
            Backend::from_url("sqlite://data/g.db").unwrap(),
            Backend::Sqlite("data/g.db".into())
        );
        assert_eq!(
            Backend::from_url("sqlite:///var/lib/g.db").unwrap(),
            Backend::Sqlite("/var/lib/g.db".into())
        );
        assert_eq!(
            Backend::from_url("g.db").unwrap(),
            Backend::Sqlite("g.db".into())
        );
        assert!(matches!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres(_)
        ));
        assert!(Backend::from_url("mysql://h/db").is_err());
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db:5432/gh"),
            "postgres://app:****@db:5432/gh"
        );
        assert_eq!(mask_url("postgres://app@db/gh"), "postgres://app@db/gh");
        assert_eq!(mask_url("sqlite://data/g.db"), "sqlite://data/g.db");
    }
}
