//! The database's storage: a full disk or a read-only database is a 503 (never a 500), and
//! `/healthz` says so, so a load balancer stops sending users to an instance that cannot
//! sign anyone in; the files gatehouse makes are private whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::net::*;
use crate::common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use gatehouse::db::schema::{health_probe, sessions};
use gatehouse::db::WRITE_PROBE_EVERY;
use rocket::http::Status;

/// Makes the instance's only pooled connection refuse writes, as a read-only database file
/// (SQLITE_READONLY) or a read-only PostgreSQL server (SQLSTATE 25006) does.
fn set_read_only(t: &TestApp, on: bool) {
    let mut conn = t.app().db.get().unwrap();
    let sql = match backend() {
        TestBackend::Sqlite => format!("PRAGMA query_only = {}", if on { "ON" } else { "OFF" }),
        TestBackend::Postgres => format!(
            "SET default_transaction_read_only = {}",
            if on { "on" } else { "off" }
        ),
    };
    conn.batch_execute(&sql).unwrap();
}

fn session_rows(t: &TestApp) -> i64 {
    let mut conn = t.app().db.get().unwrap();
    sessions::table.count().get_result(&mut *conn).unwrap()
}

fn healthz(t: &TestApp) -> (Status, serde_json::Value) {
    let r = t.get("/healthz");
    let status = r.status();
    (
        status,
        serde_json::from_str(&r.into_string().unwrap()).unwrap(),
    )
}

fn probed_at(t: &TestApp) -> i64 {
    let mut conn = t.app().db.get().unwrap();
    health_probe::table
        .select(health_probe::checked_at)
        .first(&mut *conn)
        .unwrap()
}

backend_tests! {
    #[test]
    fn a_read_only_database_answers_503_and_healthz_says_so() {
        let t = start_with(|f| f.merge(("db_pool_size", 1)));
        t.signed_up("rhea");
        t.logout();
        assert_eq!(healthz(&t), (Status::Ok, serde_json::json!({"status": "ok"})));
        let sessions_before = session_rows(&t);

        set_read_only(&t, true);
        t.clock.advance(WRITE_PROBE_EVERY);
        assert_eq!(
            healthz(&t),
            (
                Status::ServiceUnavailable,
                serde_json::json!({"status": "unavailable", "database": "not writable"})
            )
        );

        // Sign-in reads fine, then cannot write: 503 with Retry-After, in the site's layout,
        // no session cookie, no session row.
        let other = Browser::default();
        let r = other.login(&t, "rhea", PASSWORD);
        assert_eq!(r.status(), Status::ServiceUnavailable);
        assert!(r.headers().get_one("Retry-After").is_some());
        assert!(set_cookie_named(&r, t.app().settings.session_cookie_name()).is_none());
        let page = r.into_string().unwrap();
        assert!(page.contains("data-testid=\"error\""), "{page}");
        assert!(page.contains("Temporarily unavailable"), "{page}");
        assert_eq!(session_rows(&t), sessions_before, "nothing half-written");
        // So does every other write: registration, and a failed sign-in's count.
        assert_eq!(
            Browser::default().register(&t, "sven", "sven@example.com", PASSWORD).status(),
            Status::ServiceUnavailable
        );
        assert_eq!(
            Browser::default().login(&t, "rhea", "wrong wrong wrong").status(),
            Status::ServiceUnavailable
        );

        // Writable again: healthz recovers at its next write probe, sign-in works.
        set_read_only(&t, false);
        t.clock.advance(WRITE_PROBE_EVERY);
        assert_eq!(healthz(&t).0, Status::Ok);
        assert_eq!(other.login(&t, "rhea", PASSWORD).status(), Status::SeeOther);
        assert_eq!(session_rows(&t), sessions_before + 1);
    }

    #[test]
    fn healthz_writes_at_most_once_per_interval() {
        let t = start();
        let now = t.app().clock.now();
        for _ in 0..20 {
            assert_eq!(healthz(&t).0, Status::Ok);
        }
        assert_eq!(probed_at(&t), now, "the first check wrote");
        t.clock.advance(WRITE_PROBE_EVERY - 1);
        for _ in 0..20 {
            assert_eq!(healthz(&t).0, Status::Ok);
        }
        assert_eq!(probed_at(&t), now, "a burst of checks is one write");
        t.clock.advance(1);
        assert_eq!(healthz(&t).0, Status::Ok);
        assert_eq!(probed_at(&t), now + WRITE_PROBE_EVERY);
    }

    #[test]
    fn a_refusal_flood_on_a_read_only_database_writes_nothing_and_is_counted_later() {
        let t = start_with(|f| f.merge(("db_pool_size", 1)).merge(("login_ip_max_failures", 2)));
        for _ in 0..2 {
            assert_eq!(Browser::default().login(&t, "nobody", "whatever whatever").status(), Status::Unauthorized);
        }
        set_read_only(&t, true);
        // The address is banned (known in memory): every refusal is a 429, and only the
        // first tries to write its audit row.
        let before = t.app().db.query_count();
        for _ in 0..50 {
            assert_eq!(
                Browser::default().login(&t, "nobody", "whatever whatever").status(),
                Status::TooManyRequests
            );
        }
        assert!(t.app().db.query_count() - before <= 1, "{}", t.app().db.query_count() - before);
        // Upkeep cannot write them yet, and keeps them for its next pass.
        assert!(t.run_upkeep().is_err(), "still read-only");
        set_read_only(&t, false);
        let pruned = t.run_upkeep().unwrap();
        assert_eq!(pruned.refusals.inserted, 1);
        assert_eq!(pruned.refusals.refusals, 50);
        let mut conn = t.app().db.get().unwrap();
        use gatehouse::db::schema::audit_events;
        let counts: Vec<i64> = audit_events::table
            .filter(audit_events::event.eq("login_throttled"))
            .select(audit_events::count)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(counts, vec![50]);
    }

    #[test]
    fn quick_start_files_are_private_whatever_the_umask() {
        let dir = test_dir();
        let data = dir.path().join("data");
        let port = free_port();
        let log = dir.path().join("serve.log");
        let gh = serve(&[], "umask 000", dir.path(), &data, port, &log);
        assert_eq!(register(port, "umaskuser").status, 303);
        // While it runs (the -wal and -shm files exist only then), nothing is readable by
        // anyone else.
        assert_eq!(mode(&data), 0o700, "data_dir");
        for p in paths(&data) {
            let want = if p.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode(&p), want, "{}", p.display());
        }
        drop(gh);

        // The admin CLI makes the same files the same way.
        let dir = test_dir();
        let data = dir.path().join("nested").join("data");
        let log = dir.path().join("cli.log");
        let mut cli = spawn(&[], "umask 000", dir.path(), &data, 0, &log, &["migrate"]);
        assert!(cli.0.wait().unwrap().success(), "{}", std::fs::read_to_string(&log).unwrap());
        if backend() == TestBackend::Sqlite {
            assert_eq!(mode(&data), 0o700);
            assert_eq!(mode(&dir.path().join("nested")), 0o700, "new parents too");
            assert_eq!(mode(&data.join("gatehouse.db")), 0o600);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The real binary in a shell: `script` runs first (`umask 000`, a mount), then gatehouse
/// replaces the shell (same pid). Its output goes to `log`.
fn spawn(
    prefix: &[&str],
    script: &str,
    dir: &Path,
    data: &Path,
    port: u16,
    log: &Path,
    args: &[&str],
) -> Reaper {
    let log_file = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(prefix.first().copied().unwrap_or("sh"));
    let mut rest: Vec<&str> = prefix.iter().skip(1).copied().collect();
    if !prefix.is_empty() {
        rest.push("sh");
    }
    cmd.args(rest)
        .arg("-c")
        .arg(format!("{script}\nexec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_BCRYPT_COST", "4")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_PUBLIC_ORIGIN", format!("http://127.0.0.1:{port}"))
        .env("ROCKET_DATA_DIR", data)
        .env(
            "DATABASE_URL",
            match backend() {
                TestBackend::Sqlite => format!("sqlite://{}", data.join("gatehouse.db").display()),
                TestBackend::Postgres => database_url(dir),
            },
        )
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
    Reaper(cmd.spawn().unwrap())
}

fn serve(prefix: &[&str], script: &str, dir: &Path, data: &Path, port: u16, log: &Path) -> Reaper {
    let mut gh = spawn(prefix, script, dir, data, port, log, &["serve"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = gh.0.try_wait().unwrap() {
            panic!(
                "gatehouse exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap()
            );
        }
        assert!(Instant::now() < deadline, "gatehouse did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    gh
}

fn register(port: u16, name: &str) -> Reply {
    Site::local(port).register(&mut Jar::default(), name)
}

fn sign_in(port: u16, name: &str) -> Reply {
    Site::local(port).sign_in(&mut Jar::default(), name, PASSWORD)
}

fn paths(data: &Path) -> Vec<PathBuf> {
    let mut p = vec![data.join("keys"), data.join("csrf.key")];
    for entry in std::fs::read_dir(data.join("keys")).unwrap() {
        p.push(entry.unwrap().path());
    }
    if backend() == TestBackend::Sqlite {
        for f in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
            p.push(data.join(f));
        }
    }
    p
}

#[test]
fn an_existing_install_is_made_private_at_start() {
    with_backend(TestBackend::Sqlite, || {
        let dir = test_dir();
        let data = dir.path().join("data");
        let port = free_port();
        let log = dir.path().join("first.log");
        // An install made by an older gatehouse: the database and its WAL files 0644.
        let gh = serve(&[], "umask 022", dir.path(), &data, port, &log);
        assert_eq!(register(port, "olduser").status, 303);
        drop(gh);
        let db = data.join("gatehouse.db");
        // The server was killed, so its WAL (holding the registration) is still there.
        assert!(data.join("gatehouse.db-wal").exists());
        for f in ["gatehouse.db", "gatehouse.db-wal"] {
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();

        let log = dir.path().join("second.log");
        let _gh = serve(&[], "umask 022", dir.path(), &data, port, &log);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("gatehouse.db-wal")), 0o600);
        assert_eq!(mode(&data.join("gatehouse.db-shm")), 0o600);
        let said = std::fs::read_to_string(&log).unwrap();
        assert!(
            said.contains(&format!(
                "{} was readable by other users (mode 644); it is now 600",
                db.display()
            )),
            "{said}"
        );
        // A directory that already existed is the operator's: left as it was.
        assert_eq!(mode(&data), 0o755);
        assert_eq!(sign_in(port, "olduser").status, 303, "the data survived");
    });
}

/// The database on a 4 MiB tmpfs of its own (a mount namespace, so nothing outside sees it),
/// filled to the last byte from outside through `/proc/PID/root`.
#[test]
fn a_full_disk_answers_503_and_healthz_says_so_until_there_is_room() {
    with_backend(TestBackend::Sqlite, || {
        let dir = test_dir();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let data = mnt.join("data");
        let port = free_port();
        let log = dir.path().join("serve.log");
        let mount = format!(
            "mount -t tmpfs -o size=4m tmpfs '{}' || exit 97",
            mnt.display()
        );
        let gh = {
            let mut gh = spawn(
                &["unshare", "-rm"],
                &mount,
                dir.path(),
                &data,
                port,
                &log,
                &["serve"],
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = gh.0.try_wait().unwrap() {
                    panic!(
                        "gatehouse in a mount namespace did not start ({status}): this test needs \
                         root or unprivileged user namespaces (`unshare -rm`).\n{}",
                        std::fs::read_to_string(&log).unwrap()
                    );
                }
                assert!(Instant::now() < deadline, "gatehouse did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            gh
        };
        assert_eq!(register(port, "tessa").status, 303);
        assert_eq!(sign_in(port, "tessa").status, 303);

        // Fill the file system as gatehouse sees it.
        let filler = PathBuf::from(format!("/proc/{}/root{}/filler", gh.0.id(), mnt.display()));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&filler).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            while f.write_all(&chunk).is_ok() {}
            let byte = [0u8; 1];
            while f.write_all(&byte).is_ok() {}
        }

        let host = format!("127.0.0.1:{port}");
        let r = sign_in(port, "tessa");
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.header("Retry-After").is_some());
        assert!(
            r.body.contains("data-testid=\"error\"") && r.body.contains("Temporarily unavailable")
        );
        assert!(
            r.header("Set-Cookie")
                .is_none_or(|c| !c.starts_with("session=")),
            "no session"
        );
        let r = http(port, "GET", &host, "/healthz", &[], None);
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.body.contains("unavailable"));

        // Room again: healthz recovers at its next write probe (a few seconds of real time:
        // this is another process, whose clock cannot be moved), and sign-in works.
        std::fs::remove_file(&filler).unwrap();
        let deadline = Instant::now() + Duration::from_secs(WRITE_PROBE_EVERY as u64 + 10);
        loop {
            let r = http(port, "GET", &host, "/healthz", &[], None);
            if r.status == 200 {
                assert_eq!(r.body, r#"{"status":"ok"}"#);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "healthz still {} with room on the disk",
                r.status
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(sign_in(port, "tessa").status, 303);
        assert!(!std::fs::read_to_string(&log).unwrap().contains("panicked"));
    });
}
