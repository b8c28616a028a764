//! Many writers at once: no "database is locked", no 500, nothing half-written. And the
//! races of issue #11, made deterministic by holding the bcrypt threads
//! (`Hasher::hold`) until every request is in flight: bursts of guesses (the limits must
//! hold, on one instance or several sharing the database), and a password change landing
//! between a sign-in's lookup and its session.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use diesel::prelude::*;
use figment::Figment;
use gatehouse::clock::ManualClock;
use gatehouse::db::schema::{audit_events, sessions, users};
use gatehouse::App;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};

fn runtime() -> rocket::tokio::runtime::Runtime {
    rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// An instance on `dir`'s database and keys (another server of the same deployment when one
/// runs there already). `tracked`: it keeps cookies like one browser; otherwise every request
/// carries only the cookies given to it.
async fn instance(
    dir: &Path,
    clock: &Arc<ManualClock>,
    tracked: bool,
    configure: impl FnOnce(Figment) -> Figment,
) -> Client {
    let f = configure(figment(dir).merge(("bcrypt_max_queue", 256)));
    let rocket = gatehouse::rocket_with_clock(f, clock.clone()).expect("gatehouse starts");
    let client = match tracked {
        true => Client::tracked(rocket).await,
        false => Client::untracked(rocket).await,
    }
    .expect("valid rocket");
    // Made at lift-off; it must exist before a test holds the bcrypt threads.
    app(&client).hasher.dummy_hash().await.unwrap();
    client
}

fn app(c: &Client) -> &App {
    c.rocket().state::<App>().unwrap()
}

/// A pre-session CSRF cookie and a token for it: tokens may be reused, and every instance on
/// the same data holds the same key, so one pair serves every request of a test.
struct PreSession {
    cookie: String,
    token: String,
}

async fn pre_session(c: &Client) -> PreSession {
    let r = c.get("/login").dispatch().await;
    let cookie = r.cookies().get("csrf").unwrap().value().to_string();
    let token = field_value(&r.into_string().await.unwrap(), "csrf_token").unwrap();
    PreSession { cookie, token }
}

/// A sign-in from `address`, carrying no cookie but the pre-session one.
fn sign_in<'c>(
    c: &'c Client,
    pre: &PreSession,
    address: &str,
    user: &str,
    password: &str,
) -> impl Future<Output = LocalResponse<'c>> + 'c {
    let body = encode(&[
        ("username", user),
        ("password", password),
        ("csrf_token", &pre.token),
    ]);
    let ip: IpAddr = address.parse().unwrap();
    c.post("/login")
        .remote(SocketAddr::new(ip, 40000))
        .header(ContentType::Form)
        .header(Header::new("Origin", ORIGIN))
        .cookie(Cookie::new("csrf", pre.cookie.clone()))
        .body(body)
        .dispatch()
}

/// Posts a form of the page at `page` from a tracked client (its cookies, its CSRF token).
async fn submit<'c>(
    c: &'c Client,
    page: &str,
    uri: &str,
    fields: &[(&str, &str)],
) -> LocalResponse<'c> {
    let html = c.get(page.to_string()).dispatch().await.into_string().await;
    let csrf = field_value(&html.unwrap(), "csrf_token").unwrap();
    let mut all = fields.to_vec();
    all.push(("csrf_token", &csrf));
    c.post(uri.to_string())
        .header(ContentType::Form)
        .header(Header::new("Origin", ORIGIN))
        .body(encode(&all))
        .dispatch()
        .await
}

fn signed_in(r: &LocalResponse<'_>) -> bool {
    let cookies: Vec<String> = r.headers().get("Set-Cookie").map(str::to_string).collect();
    sets_session(&cookies, "session")
}

fn pending(apps: &[&App]) -> usize {
    apps.iter().map(|a| a.hasher.pending()).sum()
}

/// Polls a condition that other tasks make true (never a fixed sleep standing in for it).
async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        rocket::tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs `requests` together, with the bcrypt threads of every instance held until each
/// request has either queued its password check or answered: every request is in flight at
/// once, the worst case for a limit.
async fn all_in_flight<'c, F>(apps: &[&App], requests: Vec<F>) -> Vec<LocalResponse<'c>>
where
    F: Future<Output = LocalResponse<'c>>,
{
    let holds: Vec<_> = apps.iter().map(|a| a.hasher.hold()).collect();
    let n = requests.len();
    let answered = AtomicUsize::new(0);
    let requests = requests.into_iter().map(|r| async {
        let response = r.await;
        answered.fetch_add(1, Ordering::SeqCst);
        response
    });
    let release = async {
        wait_until("every request is in flight", || {
            pending(apps) + answered.load(Ordering::SeqCst) == n
        })
        .await;
        drop(holds);
    };
    rocket::tokio::join!(rocket::futures::future::join_all(requests), release).0
}

fn audit_count(app: &App, event: &str, reason: &str) -> i64 {
    let mut conn = app.db.get().unwrap();
    audit_events::table
        .filter(audit_events::event.eq(event))
        .filter(audit_events::reason.eq(reason))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

/// Runs the admin CLI against the test's data (as `tests/cli.rs` does), off the async workers.
async fn cli(dir: &Path, args: &[&str], stdin: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (url, data) = (database_url(dir), dir.join("data"));
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.to_string();
    let out = rocket::tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(&args)
            .env("DATABASE_URL", url)
            .env("ROCKET_DATA_DIR", data)
            .env("ROCKET_BCRYPT_COST", "4")
            .env("ROCKET_PROFILE", "debug")
            .env("ROCKET_PUBLIC_ORIGIN", ORIGIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How the password changes (or the account closes) in the middle of someone's sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The owner, on the account page of another instance.
    AccountPage,
    /// An administrator: `gatehouse user set-password`.
    CliSetPassword,
    /// An administrator: `gatehouse user disable`.
    CliDisable,
}

const NEW_PASSWORD: &str = "a brand new passphrase here";

/// Someone signs in to olga's account with her password (when `imported`, one stored as a
/// plain cost-4 hash, which a sign-in upgrades), and `change` lands after the sign-in read the
/// account but before it made its session. Returns the sign-in's answer.
fn sign_in_racing(change: Change, imported: bool) {
    let dir = test_dir();
    let clock = Arc::new(ManualClock::new());
    let cost_5 = |f: Figment| f.merge(("bcrypt_cost", 5));
    runtime().block_on(async {
        let here = instance(dir.path(), &clock, false, cost_5).await;
        let owner = instance(dir.path(), &clock, true, cost_5).await;
        let r = submit(
            &owner,
            "/register",
            "/register",
            &[
                ("username", "olga"),
                ("email", "olga@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
        assert_eq!(r.status(), Status::SeeOther);
        if imported {
            let plain = bcrypt::hash(PASSWORD, 4).unwrap();
            let mut conn = app(&here).db.get().unwrap();
            diesel::update(users::table.filter(users::username_key.eq("olga")))
                .set(users::password_hash.eq(plain))
                .execute(&mut *conn)
                .unwrap();
        }
        let pre = pre_session(&here).await;
        let hold = app(&here).hasher.hold();
        let attempt = sign_in(&here, &pre, "198.51.100.9", "olga", PASSWORD);
        let meanwhile = async {
            // The sign-in has read olga's row and waits for bcrypt: change it now.
            wait_until("the sign-in's password check is queued", || {
                app(&here).hasher.pending() == 1
            })
            .await;
            match change {
                Change::AccountPage => {
                    let r = submit(
                        &owner,
                        "/account",
                        "/account/password",
                        &[
                            ("current_password", PASSWORD),
                            ("new_password", NEW_PASSWORD),
                            ("new_password_confirm", NEW_PASSWORD),
                        ],
                    )
                    .await;
                    assert_eq!(r.status(), Status::SeeOther, "the owner's change");
                }
                Change::CliSetPassword => {
                    let stdin = format!("{NEW_PASSWORD}\n");
                    cli(dir.path(), &["user", "set-password", "olga"], &stdin).await
                }
                Change::CliDisable => cli(dir.path(), &["user", "disable", "olga"], "").await,
            }
            drop(hold);
        };
        let (r, ()) = rocket::tokio::join!(attempt, meanwhile);
        assert_eq!(r.status(), Status::Unauthorized, "{change:?}");
        assert!(!signed_in(&r), "{change:?}: a session cookie was set");
        drop(r);
        let mut conn = app(&here).db.get().unwrap();
        let made: i64 = sessions::table
            .filter(sessions::client_ip.eq("198.51.100.9"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(made, 0, "{change:?}: the sign-in made a session");
        drop(conn);
        // The change stands: the sign-in did not write the old password back (a rehash).
        let (old, new) = (
            sign_in(&here, &pre, "192.0.2.1", "olga", PASSWORD)
                .await
                .status(),
            sign_in(&here, &pre, "192.0.2.2", "olga", NEW_PASSWORD)
                .await
                .status(),
        );
        let expected_new = match change {
            Change::CliDisable => Status::Unauthorized,
            _ => Status::SeeOther,
        };
        assert_eq!(
            (old, new),
            (Status::Unauthorized, expected_new),
            "{change:?}: old and new password"
        );
    });
}

/// What the laptop does with the old password while the phone changes it.
#[derive(Debug, Clone, Copy)]
enum LaptopDoes {
    ChangePassword,
    DeleteAccount,
}

/// pia is signed in on a laptop and a phone. The laptop's form (checked against her old
/// password) is held at bcrypt while the phone changes the password: the laptop's change or
/// deletion must then be refused, and the phone's change stand.
fn laptop_races_a_password_change_on_the_phone(does: LaptopDoes) {
    let dir = test_dir();
    let clock = Arc::new(ManualClock::new());
    runtime().block_on(async {
        let laptop = instance(dir.path(), &clock, true, |f| f).await;
        let phone = instance(dir.path(), &clock, true, |f| f).await;
        let r = submit(
            &phone,
            "/register",
            "/register",
            &[
                ("username", "pia"),
                ("email", "pia@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        let login = [("username", "pia"), ("password", PASSWORD)];
        assert_eq!(
            submit(&laptop, "/login", "/login", &login).await.status(),
            Status::SeeOther
        );
        let change = |c, new: &'static str| async move {
            let fields = [
                ("current_password", PASSWORD),
                ("new_password", new),
                ("new_password_confirm", new),
            ];
            submit(c, "/account", "/account/password", &fields).await
        };
        let laptops = "the laptop's new passphrase";
        let phones = "the phone's own new passphrase";
        let hold = app(&laptop).hasher.hold();
        let on_laptop = async {
            match does {
                LaptopDoes::ChangePassword => change(&laptop, laptops).await,
                LaptopDoes::DeleteAccount => {
                    let fields = [("current_password", PASSWORD)];
                    submit(&laptop, "/account", "/account/delete", &fields).await
                }
            }
        };
        let on_phone = async {
            wait_until("the laptop's check is queued", || {
                app(&laptop).hasher.pending() == 1
            })
            .await;
            let status = change(&phone, phones).await.status();
            drop(hold);
            status
        };
        let (laptop_answer, phone_status) = rocket::tokio::join!(on_laptop, on_phone);
        assert_eq!(phone_status, Status::SeeOther);
        // The laptop checked the old password, but it is no longer the current one.
        assert_eq!(
            laptop_answer.status(),
            Status::UnprocessableEntity,
            "{does:?}"
        );
        drop(laptop_answer);
        let stranger = instance(dir.path(), &clock, false, |f| f).await;
        let pre = pre_session(&stranger).await;
        for (pw, expected) in [
            (phones, Status::SeeOther),
            (laptops, Status::Unauthorized),
            (PASSWORD, Status::Unauthorized),
        ] {
            let r = sign_in(&stranger, &pre, "192.0.2.3", "pia", pw).await;
            assert_eq!(
                r.status(),
                expected,
                "{does:?}, {pw}: the phone's change stands"
            );
        }
    });
}

backend_tests! {
    #[test]
    fn concurrent_registrations_and_sign_ins_all_succeed() {
        let dir = test_dir();
        let f = figment(dir.path()).merge(("register_ip_max", 1000));
        runtime().block_on(async {
            let client = Client::untracked(gatehouse::rocket(f).unwrap()).await.unwrap();
            // One pre-session cookie and token, shared by all the concurrent forms.
            let r = client.get("/register").dispatch().await;
            let cookie = r.cookies().get("csrf").unwrap().value().to_string();
            let csrf = field_value(&r.into_string().await.unwrap(), "csrf_token").unwrap();
            let n = 24;
            let registrations = (0..n).map(|i| {
                let name = format!("user{i:02}");
                let body = encode(&[
                    ("username", &name),
                    ("email", &format!("{name}@example.com")),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("csrf_token", &csrf),
                ]);
                client
                    .post("/register")
                    .header(ContentType::Form)
                    .header(Header::new("Origin", ORIGIN))
                    .cookie(rocket::http::Cookie::new("csrf", cookie.clone()))
                    .body(body)
                    .dispatch()
            });
            let statuses: Vec<Status> = rocket::futures::future::join_all(registrations)
                .await
                .iter()
                .map(|r| r.status())
                .collect();
            assert!(statuses.iter().all(|s| *s == Status::SeeOther), "{statuses:?}");
            // And everyone signs in at once, each sign-in writing a session, a throttle reset
            // and an audit row.
            let logins = (0..n).map(|i| {
                let body = encode(&[("username", &format!("user{i:02}")), ("password", PASSWORD), ("csrf_token", &csrf)]);
                client
                    .post("/login")
                    .header(ContentType::Form)
                    .header(Header::new("Origin", ORIGIN))
                    .cookie(rocket::http::Cookie::new("csrf", cookie.clone()))
                    .body(body)
                    .dispatch()
            });
            let statuses: Vec<Status> = rocket::futures::future::join_all(logins)
                .await
                .iter()
                .map(|r| r.status())
                .collect();
            assert!(statuses.iter().all(|s| *s == Status::SeeOther), "{statuses:?}");
            let app = client.rocket().state::<gatehouse::App>().unwrap();
            let mut conn = app.db.get().unwrap();
            use diesel::prelude::*;
            use gatehouse::db::schema::{sessions, users};
            let u: i64 = users::table.count().get_result(&mut *conn).unwrap();
            let s: i64 = sessions::table.count().get_result(&mut *conn).unwrap();
            assert_eq!((u, s), (n, 2 * n));
        });
    }

    #[test]
    fn a_burst_from_one_address_gets_no_more_guesses_than_its_limit_on_any_instance() {
        let dir = test_dir();
        let clock = Arc::new(ManualClock::new());
        runtime().block_on(async {
            let one = instance(dir.path(), &clock, false, |f| f).await;
            let two = instance(dir.path(), &clock, false, |f| f).await;
            let pre = pre_session(&one).await;
            let apps = [app(&one), app(&two)];
            let before: u64 = apps.iter().map(|a| a.hasher.verifications()).sum();
            // 60 guesses from one address, half to each instance, all in flight at once;
            // the limit (login_ip_max_failures) is 30.
            let guesses = (0..60)
                .map(|i| {
                    let to = if i % 2 == 0 { &one } else { &two };
                    sign_in(to, &pre, "198.51.100.7", &format!("nobody{i}"), "a guess at it")
                })
                .collect();
            let answers = all_in_flight(&apps, guesses).await;
            let statuses: Vec<Status> = answers.iter().map(|r| r.status()).collect();
            let count = |s: Status| statuses.iter().filter(|x| **x == s).count();
            assert_eq!(
                (count(Status::Unauthorized), count(Status::TooManyRequests)),
                (30, 30),
                "{statuses:?}"
            );
            for r in answers.iter().filter(|r| r.status() == Status::TooManyRequests) {
                let retry: u64 = r.headers().get_one("Retry-After").unwrap().parse().unwrap();
                assert!((1..=300).contains(&retry), "{retry}");
            }
            // Only the 30 admitted guesses were hashed.
            let after: u64 = apps.iter().map(|a| a.hasher.verifications()).sum();
            assert_eq!(after - before, 30);
            drop(answers);
            // The address is banned now, on both instances.
            for c in [&one, &two] {
                let r = sign_in(c, &pre, "198.51.100.7", "nobody", "a guess at it").await;
                assert_eq!(r.status(), Status::TooManyRequests);
            }
        });
    }

    #[test]
    fn a_burst_of_guesses_at_one_account_gets_no_more_than_its_limit() {
        let dir = test_dir();
        let clock = Arc::new(ManualClock::new());
        runtime().block_on(async {
            let one = instance(dir.path(), &clock, false, |f| f).await;
            let two = instance(dir.path(), &clock, false, |f| f).await;
            let owner = instance(dir.path(), &clock, true, |f| f).await;
            let r = submit(
                &owner,
                "/register",
                "/register",
                &[
                    ("username", "vera"),
                    ("email", "vera@example.com"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
            assert_eq!(r.status(), Status::SeeOther);
            drop(r);
            let pre = pre_session(&one).await;
            let apps = [app(&one), app(&two)];
            let holds: Vec<_> = apps.iter().map(|a| a.hasher.hold()).collect();
            // 19 wrong guesses from 19 addresses over two instances, all in flight at once,
            // then the right password while they still are (login_max_failures is 5).
            let guesses = rocket::futures::future::join_all((0..19).map(|i| {
                let to = if i % 2 == 0 { &one } else { &two };
                let from = format!("198.51.100.{}", i + 1);
                sign_in(to, &pre, &from, "vera", &format!("wrong guess {i}"))
            }));
            let right = async {
                wait_until("the guesses are in flight", || pending(&apps) == 19).await;
                sign_in(&two, &pre, "192.0.2.77", "vera", PASSWORD).await
            };
            let release = async {
                wait_until("the right password is in flight too", || {
                    pending(&apps) == 20
                })
                .await;
                drop(holds);
            };
            let (guesses, right, ()) = rocket::tokio::join!(guesses, right, release);
            assert!(guesses.iter().all(|r| r.status() == Status::Unauthorized));
            assert_eq!(right.status(), Status::Unauthorized, "the burst got in");
            assert!(!signed_in(&right));
            // Five guesses were checked against vera's hash; the other 15 attempts only
            // against the dummy, yet every one cost a full bcrypt (LG-2).
            assert_eq!(audit_count(apps[0], "login_failed", "wrong password"), 5);
            assert_eq!(audit_count(apps[0], "login_throttled", "account banned"), 15);
            let full: u64 = apps.iter().map(|a| a.hasher.full_cost_verifications()).sum();
            assert_eq!(full, 20);
            drop((guesses, right));
            // And the account is banned now.
            let r = sign_in(&one, &pre, "192.0.2.78", "vera", PASSWORD).await;
            assert_eq!(r.status(), Status::Unauthorized);
        });
    }

    #[test]
    fn a_burst_of_registrations_gets_no_more_than_the_cap() {
        let dir = test_dir();
        let clock = Arc::new(ManualClock::new());
        runtime().block_on(async {
            let config = |f: Figment| f.merge(("register_ip_max", 3));
            let one = instance(dir.path(), &clock, false, config).await;
            let two = instance(dir.path(), &clock, false, config).await;
            let pre = pre_session(&one).await;
            let apps = [app(&one), app(&two)];
            // Ten sign-ups from one /64, over two instances, all in flight at once.
            let sign_ups = (0..10)
                .map(|i| {
                    let to = if i % 2 == 0 { &one } else { &two };
                    let name = format!("burst{i}");
                    let body = encode(&[
                        ("username", &name),
                        ("email", &format!("{name}@example.com")),
                        ("password", PASSWORD),
                        ("password_confirm", PASSWORD),
                        ("csrf_token", &pre.token),
                    ]);
                    let ip: IpAddr = format!("2001:db8:4:4::{i}").parse().unwrap();
                    to.post("/register")
                        .remote(SocketAddr::new(ip, 40000))
                        .header(ContentType::Form)
                        .header(Header::new("Origin", ORIGIN))
                        .cookie(Cookie::new("csrf", pre.cookie.clone()))
                        .body(body)
                        .dispatch()
                })
                .collect();
            let answers = all_in_flight(&apps, sign_ups).await;
            let statuses: Vec<Status> = answers.iter().map(|r| r.status()).collect();
            let count = |s: Status| statuses.iter().filter(|x| **x == s).count();
            assert_eq!(
                (count(Status::SeeOther), count(Status::TooManyRequests)),
                (3, 7),
                "{statuses:?}"
            );
        });
    }

    #[test]
    fn a_password_change_wins_over_a_sign_in_that_checked_the_old_one() {
        sign_in_racing(Change::AccountPage, false);
    }

    #[test]
    fn an_administrators_new_password_wins_over_a_sign_in_that_checked_the_old_one() {
        sign_in_racing(Change::CliSetPassword, false);
    }

    #[test]
    fn disabling_wins_over_a_sign_in_in_progress() {
        sign_in_racing(Change::CliDisable, false);
    }

    #[test]
    fn a_hash_upgrade_never_writes_an_old_password_back() {
        sign_in_racing(Change::CliSetPassword, true);
        sign_in_racing(Change::AccountPage, true);
    }

    #[test]
    fn of_two_racing_password_changes_only_one_wins() {
        laptop_races_a_password_change_on_the_phone(LaptopDoes::ChangePassword);
    }

    #[test]
    fn a_deletion_checked_with_the_old_password_does_not_survive_a_change() {
        laptop_races_a_password_change_on_the_phone(LaptopDoes::DeleteAccount);
    }
}
