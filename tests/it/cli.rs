//! The admin CLI, run as the real binary against a temporary database.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use rocket::http::Status;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn gatehouse(t: &TestApp, args: &[&str], stdin: Option<&str>) -> Run {
    gatehouse_with(t, args, stdin, &[])
}

/// [`gatehouse`] with settings of its own (`ROCKET_*` variables).
fn gatehouse_with(t: &TestApp, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let dir = t.dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", crate::common::database_url(dir))
        .env("ROCKET_DATA_DIR", dir.join("data"))
        .env("ROCKET_BCRYPT_COST", "4")
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_PUBLIC_ORIGIN", ORIGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // A command that refuses its arguments exits without reading its input: a closed
        // pipe here is that, and its answer is what the test checks.
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// What a change left of an account: its audit rows (event, reason, client address, whether
/// a session is named) and its sessions (id, why each ended, if it did).
type Trail = (
    Vec<(String, String, String, bool)>,
    Vec<(String, Option<String>)>,
);

fn trail(t: &TestApp, user_id: &str) -> Trail {
    use diesel::prelude::*;
    use gatehouse::db::schema::{audit_events, sessions};
    let mut conn = t.app().db.get().unwrap();
    let events = audit_events::table
        .filter(audit_events::user_id.eq(user_id))
        .filter(audit_events::event.ne("registered"))
        .filter(audit_events::event.ne("login_succeeded"))
        .order(audit_events::id.asc())
        .select((
            audit_events::event,
            audit_events::reason,
            audit_events::client_ip,
            audit_events::session_id.is_not_null(),
        ))
        .load(&mut *conn)
        .unwrap();
    let ended = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order(sessions::created_at.asc())
        .select((sessions::id, sessions::revoked_reason))
        .load(&mut *conn)
        .unwrap();
    (events, ended)
}

fn user_id(t: &TestApp, name: &str) -> String {
    use diesel::prelude::*;
    use gatehouse::db::schema::users;
    let mut conn = t.app().db.get().unwrap();
    users::table
        .filter(users::username.eq(name))
        .select(users::id)
        .first(&mut *conn)
        .unwrap()
}

/// An account with two signed-in browsers: the test's own, and a second one.
fn two_sessions(t: &TestApp, name: &str) -> (String, Browser) {
    let b = Browser::default();
    assert_eq!(
        b.register(t, name, &format!("{name}@example.com"), PASSWORD)
            .status(),
        Status::SeeOther
    );
    let other = Browser::default();
    assert_eq!(other.login(t, name, PASSWORD).status(), Status::SeeOther);
    (user_id(t, name), other)
}

backend_tests! {
    #[test]
    fn add_a_user_with_a_password_from_stdin_and_sign_in() {
        let t = start();
        let r = gatehouse(
            &t,
            &["user", "add", "admin1", "--email", "admin1@example.com"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("created user admin1"));
        assert_eq!(t.login("admin1", PASSWORD).status(), Status::SeeOther);
        // Nothing secret was printed.
        assert!(!r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD));
    }

    #[test]
    fn bad_input_gets_a_clear_message_and_exit_code_1() {
        let t = start();
        t.signed_up("taken");
        let cases: Vec<(Vec<&str>, Option<String>, &str)> = vec![
            (
                vec!["user", "add", "taken", "--email", "new@example.com"],
                Some(format!("{PASSWORD}\n")),
                "is taken",
            ),
            (
                vec!["user", "add", "fresh", "--email", "taken@example.com"],
                Some(format!("{PASSWORD}\n")),
                "is taken",
            ),
            (
                vec!["user", "add", "fresh", "--email", "fresh@example.com"],
                Some("password1\n".into()),
                "too easy to guess",
            ),
            (
                vec!["user", "add", "fresh", "--email", "fresh@example.com"],
                Some("short\n".into()),
                "at least 8",
            ),
            (
                vec!["user", "add", "x", "--email", "fresh@example.com"],
                Some(format!("{PASSWORD}\n")),
                "username",
            ),
            (
                vec!["user", "add", "fresh", "--email", "nope"],
                Some(format!("{PASSWORD}\n")),
                "email",
            ),
            (
                vec![
                    "user",
                    "add",
                    "fresh",
                    "--email",
                    "f@example.com",
                    "--bcrypt-hash",
                    "md5:abc",
                ],
                None,
                "bcrypt",
            ),
            (vec!["user", "show", "ghost"], None, "no user \"ghost\""),
            (vec!["user", "disable", "ghost"], None, "no user"),
            (vec!["user", "delete", "ghost@example.com"], None, "no user"),
            (vec!["sessions", "list", "--user", "ghost"], None, "no user"),
            (
                vec![
                    "sessions",
                    "revoke",
                    "--user",
                    "taken",
                    "AAAAAAAAAAAAAAAAAAAAAA",
                ],
                None,
                "no live session",
            ),
            (
                vec!["bans", "clear", "--ip", "not-an-ip"],
                None,
                "not an IP address",
            ),
            (vec!["bans", "clear"], None, "say which bans"),
        ];
        for (args, stdin, expect) in cases {
            let r = gatehouse(&t, &args, stdin.as_deref());
            assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.starts_with("gatehouse: "),
                "{args:?}: {}",
                r.stderr
            );
            assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        }
        // Usage errors come from clap, with its own exit code 2.
        assert_eq!(gatehouse(&t, &["user", "add"], None).code, 2);
        assert_eq!(gatehouse(&t, &["frobnicate"], None).code, 2);
    }

    #[test]
    fn list_and_show() {
        let t = start();
        t.signed_up("alpha");
        t.logout();
        t.signed_up("beta");
        let r = gatehouse(&t, &["user", "list"], None);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("alpha") && r.stdout.contains("beta@example.com"));
        assert!(r.stdout.contains("2 user(s)"));
        let r = gatehouse(&t, &["user", "show", "BETA"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("email:          beta@example.com"));
        assert!(r.stdout.contains("live sessions:  1"));
        assert!(!r.stdout.contains("$2b$"), "no hash printed");
    }

    #[test]
    fn disabling_a_user_ends_their_sessions_and_sign_ins() {
        let t = start();
        t.signed_up("carla");
        let r = gatehouse(&t, &["user", "disable", "carla"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("ended 1 session(s)"));
        // The server learns at its next revalidation.
        t.clock.advance(61);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
        assert_eq!(t.login("carla", PASSWORD).status(), Status::Unauthorized);
        assert_eq!(gatehouse(&t, &["user", "enable", "carla"], None).code, 0);
        assert_eq!(t.login("carla", PASSWORD).status(), Status::SeeOther);
    }

    #[test]
    fn set_password_and_delete() {
        let t = start();
        t.signed_up("dora");
        let new = "a completely different passphrase";
        let r = gatehouse(
            &t,
            &["user", "set-password", "dora"],
            Some(&format!("{new}\n")),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        t.clock.advance(61);
        assert_eq!(
            t.get("/dashboard").status(),
            Status::SeeOther,
            "sessions ended"
        );
        assert_eq!(t.login("dora", PASSWORD).status(), Status::Unauthorized);
        assert_eq!(t.login("dora", new).status(), Status::SeeOther);
        let r = gatehouse(&t, &["user", "delete", "dora"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        t.clock.advance(61);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
        assert_eq!(t.login("dora", new).status(), Status::Unauthorized);
    }

    #[test]
    fn sessions_list_and_revoke() {
        let t = start();
        t.signed_up("erik");
        let laptop =
            Browser::new("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
        laptop.login(&t, "erik", PASSWORD);
        let r = gatehouse(&t, &["sessions", "list", "--user", "erik"], None);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("2 live session(s)"));
        assert!(r.stdout.contains("Firefox 128 on Linux"));
        let laptop_sid = {
            use gatehouse::clock::Clock;
            t.app()
                .tokens
                .verify(&laptop.session().unwrap(), t.clock.now())
                .unwrap()
                .sid
                .clone()
        };
        let r = gatehouse(
            &t,
            &["sessions", "revoke", "--user", "erik", &laptop_sid],
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        t.clock.advance(61);
        assert_eq!(laptop.get(&t, "/dashboard").status(), Status::SeeOther);
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        let r = gatehouse(&t, &["sessions", "revoke", "--user", "erik", "--all"], None);
        assert!(r.stdout.contains("ended 1 session(s)"));
        t.clock.advance(61);
        assert_eq!(t.get("/dashboard").status(), Status::SeeOther);
    }

    #[test]
    fn bans_list_and_clear() {
        let t = start();
        let owner = Browser::default();
        owner.register(&t, "fritz", "fritz@example.com", PASSWORD);
        for _ in 0..5 {
            t.login("fritz", "wrong wrong wrong");
        }
        assert_eq!(
            t.login("fritz", PASSWORD).status(),
            Status::Unauthorized,
            "banned"
        );
        let r = gatehouse(&t, &["bans", "list"], None);
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains("account") && r.stdout.contains("fritz"),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("1 ban(s) in force"));
        let r = gatehouse(&t, &["bans", "clear", "--user", "fritz"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("lifted 1 ban(s)"));
        // This instance trusts its cached ban for at most the revalidate interval.
        t.clock.advance(61);
        assert_eq!(t.login("fritz", PASSWORD).status(), Status::SeeOther);
        let r = gatehouse(&t, &["bans", "list"], None);
        assert!(r.stdout.contains("0 ban(s) in force"));
    }

    #[test]
    fn an_ipv6_ban_is_lifted_by_naming_any_address_of_its_network() {
        let t = start_with(|f| f.merge(("login_ip_max_failures", 2)));
        let owner = Browser::default();
        owner.register(&t, "gina", "gina@example.com", PASSWORD);
        let from = |ip: &str, pw: &str| {
            let csrf = t.csrf("/login");
            let addr = std::net::SocketAddr::new(ip.parse().unwrap(), 40000);
            t.send(
                t.client
                    .post("/login")
                    .remote(addr)
                    .header(rocket::http::ContentType::Form)
                    .header(rocket::http::Header::new("Origin", ORIGIN))
                    .body(encode(&[
                        ("username", "nobody"),
                        ("password", pw),
                        ("csrf_token", &csrf),
                    ])),
            )
            .status()
        };
        from("2001:db8:9:9::1", "wrong wrong wrong");
        from("2001:db8:9:9::2", "wrong wrong wrong");
        assert_eq!(from("2001:db8:9:9::3", "anything"), Status::TooManyRequests);
        let r = gatehouse(&t, &["bans", "list"], None);
        assert!(r.stdout.contains("2001:db8:9:9::/64"), "{}", r.stdout);
        // Another address of the same /64, as an administrator would copy it from a log.
        let r = gatehouse(&t, &["bans", "clear", "--ip", "2001:db8:9:9:abcd::42"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("lifted 1 ban(s)"), "{}", r.stdout);
        t.clock.advance(61);
        assert_eq!(from("2001:db8:9:9::3", "anything"), Status::Unauthorized);
        // The network as `bans list` shows it works too; anything else is refused clearly.
        let r = gatehouse(&t, &["bans", "clear", "--ip", "2001:db8:9:9::/64"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = gatehouse(&t, &["bans", "clear", "--ip", "2001:db8::/32"], None);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("/64"), "{}", r.stderr);
    }

    #[test]
    fn a_hash_made_by_pythons_bcrypt_can_sign_in_and_is_upgraded() {
        let t = start();
        // Made with Python's bcrypt 5.0.0:
        //   bcrypt.hashpw(b"imported from python", bcrypt.gensalt(rounds=10, prefix=b"2a"))
        let python_hash = "$2a$10$lwjo4RiuDFLC2XXmHEiNmOBbiofsreiioNsG24mE7oHUI3VptVtN6";
        let r = gatehouse(
            &t,
            &[
                "user",
                "add",
                "legacy",
                "--email",
                "legacy@example.com",
                "--bcrypt-hash",
                python_hash,
            ],
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let show = gatehouse(&t, &["user", "show", "legacy"], None);
        assert!(show.stdout.contains("imported bcrypt"));
        assert_eq!(
            t.login("legacy", "imported from python").status(),
            Status::SeeOther
        );
        let show = gatehouse(&t, &["user", "show", "legacy"], None);
        assert!(
            show.stdout.contains("bcrypt-sha384"),
            "upgraded at sign-in: {}",
            show.stdout
        );
        t.logout();
        assert_eq!(
            t.login("legacy", "imported from python").status(),
            Status::SeeOther
        );
        // And the $2b$ form Python makes by default.
        let python_2b = "$2b$04$5GZrLAhXtu5ZzS1/LkR/6.qiOOiWCuMJ5fpC2w7b1J5QopzQxCIDy";
        t.logout();
        gatehouse(
            &t,
            &[
                "user",
                "add",
                "legacy2",
                "--email",
                "legacy2@example.com",
                "--bcrypt-hash",
                python_2b,
            ],
            None,
        );
        assert_eq!(
            t.login("legacy2", "imported from python").status(),
            Status::SeeOther
        );
    }

    #[test]
    fn mail_test_sends_now_and_mail_queue_shows_what_waits_or_failed() {
        let sink = crate::common::smtp::SmtpSink::start();
        let url = sink.url();
        let t = start();
        let smtp = [("ROCKET_SMTP_URL", url.as_str())];
        let r = gatehouse_with(&t, &["mail", "test", "ops@example.com"], None, &smtp);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("the server answered: 250"), "{}", r.stdout);
        let got = sink.wait_for(1, std::time::Duration::from_secs(10));
        assert_eq!(got[0].to, ["ops@example.com"]);
        assert!(got[0].text_body().contains("gatehouse"), "{}", got[0].raw());

        // Refused by the server: its answer, exit 2.
        sink.fail_next(1, 550);
        let r = gatehouse_with(&t, &["mail", "test", "ops@example.com"], None, &smtp);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("550"), "{}", r.stderr);
        // Not an address, or a header injection: exit 1, nothing sent.
        for bad in ["not an address", "ops@example.com\r\nBcc: eve@evil.example"] {
            let r = gatehouse_with(&t, &["mail", "test", bad], None, &smtp);
            assert_eq!(r.code, 1, "{bad:?}: {}", r.stderr);
            assert!(r.stderr.contains("not an address mail can be sent to"), "{}", r.stderr);
        }
        // TLS is required where the URL asks for it: a server that offers no STARTTLS (or
        // speaks no TLS) gets nothing, credentials included, in the clear.
        for tls in [
            format!("smtp+starttls://mailer:s3cret@127.0.0.1:{}", sink.port()),
            format!("smtps://mailer:s3cret@127.0.0.1:{}", sink.port()),
        ] {
            let r = gatehouse_with(
                &t,
                &["mail", "test", "ops@example.com"],
                None,
                &[("ROCKET_SMTP_URL", tls.as_str())],
            );
            assert_eq!(r.code, 2, "{tls}: {}", r.stdout);
            assert!(r.stderr.contains("not sent"), "{}", r.stderr);
            assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
        }
        assert_eq!(sink.messages().len(), 1, "nothing sent without TLS");
        // Down: a clear message, exit 2.
        sink.stop();
        let r = gatehouse_with(&t, &["mail", "test", "ops@example.com"], None, &smtp);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("not sent"), "{}", r.stderr);
        // No smtp_url: says so.
        let r = gatehouse(&t, &["mail", "test", "ops@example.com"], None);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("smtp_url is not set"), "{}", r.stderr);
        assert_eq!(sink.messages().len(), 1);

        // The queue: a mail that waits (SMTP down), and one given up on.
        let for_restart = url.clone();
        let t = t.restart_with(move |f| f.merge(("smtp_url", for_restart)));
        t.signed_up("ada");
        let r = gatehouse_with(&t, &["mail", "queue"], None, &smtp);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("ada@example.com"), "{}", r.stdout);
        assert!(r.stdout.contains("1 waiting, 0 failed"), "{}", r.stdout);
        {
            use diesel::prelude::*;
            use gatehouse::db::schema::outbox;
            let mut conn = t.app().db.get().unwrap();
            diesel::update(outbox::table)
                .set((
                    outbox::failed_at.eq(Some(1)),
                    outbox::last_error.eq(Some("550 no such user")),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        let r = gatehouse_with(&t, &["mail", "queue"], None, &smtp);
        assert!(r.stdout.contains("0 waiting, 1 failed"), "{}", r.stdout);
        assert!(r.stdout.contains("550 no such user"), "{}", r.stdout);
        assert!(r.stdout.contains("failed"), "{}", r.stdout);
    }

    #[test]
    fn export_and_import_keep_verified_addresses_and_two_step_sign_in() {
        use diesel::prelude::*;
        use gatehouse::db::schema::users;
        let old = start();
        old.signed_up("ada");
        let codes = enrol_totp(&old);
        {
            let mut conn = old.app().db.get().unwrap();
            diesel::update(users::table)
                .set(users::email_verified_at.eq(Some(1_700_000_000_i64)))
                .execute(&mut *conn)
                .unwrap();
        }
        // One recovery code used before the move stays used after it.
        old.logout();
        let b = Browser::new("before the move");
        assert_eq!(b.login(&old, "ada", PASSWORD).headers().get_one("Location"), Some("/login/2fa"));
        let r = b.submit(&old, "/login", "/login/2fa", &[("code", &codes[0])]);
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        let export = gatehouse(&old, &["export"], None);
        assert_eq!(export.code, 0, "{}", export.stderr);
        assert!(export.stdout.contains("\"totp\""), "{}", export.stdout);
        for code in &codes {
            assert!(!export.stdout.contains(code.as_str()), "codes are never exported");
        }
        // The new database keeps the data dir (its keys); here, a copy of the TOTP key.
        let new = start();
        std::fs::copy(
            old.dir.path().join("data/totp.key"),
            new.dir.path().join("data/totp.key"),
        )
        .unwrap();
        let new = new.restart();
        let r = gatehouse(&new, &["import"], Some(&export.stdout));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let b = Browser::new("after the move");
        assert_eq!(b.login(&new, "ada", PASSWORD).headers().get_one("Location"), Some("/login/2fa"));
        let r = b.submit(&new, "/login", "/login/2fa", &[("code", &codes[0])]);
        assert_eq!(r.status(), Status::Unauthorized, "used before the move");
        drop(r);
        let r = b.submit(&new, "/login", "/login/2fa", &[("code", &codes[1])]);
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        let page = b.get(&new, "/account").into_string().unwrap();
        let status = &page[page.find("data-testid=\"email-status\"").unwrap()..];
        assert!(!status[..status.find("</p>").unwrap()].contains("unverified"));
    }

    #[test]
    fn reset_2fa_turns_a_locked_out_users_second_factor_off() {
        let t = start();
        t.signed_up("ada");
        enrol_totp(&t);
        let r = gatehouse(&t, &["user", "show", "ada"], None);
        assert!(r.stdout.contains("two-step:       on since"), "{}", r.stdout);
        let r = gatehouse(&t, &["user", "reset-2fa", "ada"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("two-step sign-in is off for ada"), "{}", r.stdout);
        // Not on any more: a clear message, exit 1; an unknown user likewise.
        let r = gatehouse(&t, &["user", "reset-2fa", "ada"], None);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("no two-step sign-in"), "{}", r.stderr);
        assert_eq!(gatehouse(&t, &["user", "reset-2fa", "nobody"], None).code, 1);
        // The password alone signs in again; the reset is audited as the administrator's.
        t.logout();
        let r = t.login("ada", PASSWORD);
        assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
        drop(r);
        let (events, _) = trail(&t, &t.claims(&t.session_cookie().unwrap()).sub);
        assert!(
            events
                .iter()
                .any(|(e, reason, ip, _)| e == "second_factor_disabled"
                    && reason == "by an administrator"
                    && ip == "cli"),
            "{events:?}"
        );
    }

    #[test]
    fn migrate_and_check_config() {
        let t = start();
        let r = gatehouse(&t, &["migrate"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("up to date"));
        let r = gatehouse(&t, &["check-config"], None);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("jwt_algorithm               = EdDSA"));
        assert!(
            r.stderr.contains("bcrypt_cost 4 is for tests only"),
            "{}",
            r.stderr
        );
        let bad = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("check-config")
            .env("ROCKET_JWT_ALGORITHM", "none")
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2));
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains("`jwt_algorithm`"), "{err}");
    }

    #[test]
    fn keys_list_rotate_retire() {
        let t = start();
        t.signed_up("kira");
        let old_token = t.session_cookie().unwrap();
        let old_kid = t.app().tokens.keys().active().kid.clone();
        let r = gatehouse(&t, &["keys", "list"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(&old_kid) && r.stdout.contains("active"));
        let r = gatehouse(&t, &["keys", "retire", &old_kid], None);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("active signing key"), "{}", r.stderr);
        let r = gatehouse(&t, &["keys", "rotate"], None);

        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = gatehouse(&t, &["keys", "list"], None);
        assert!(
            r.stdout.contains("verify-only, retires after"),
            "{}",
            r.stdout
        );
        gatehouse::tasks::refresh_keys(t.app());
        assert_ne!(t.app().tokens.keys().active().kid, old_kid);
        assert_eq!(
            t.get_with_token("/dashboard", &old_token).status(),
            Status::Ok,
            "nobody signed out"
        );
        let r = gatehouse(&t, &["keys", "retire", &old_kid], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        gatehouse::tasks::refresh_keys(t.app());
        assert_eq!(
            t.get_with_token("/dashboard", &old_token).status(),
            Status::SeeOther
        );
        assert_eq!(
            gatehouse(&t, &["keys", "retire", "no-such-kid"], None).code,
            1
        );
    }

    #[test]
    fn groups_add_remove_list() {
        let t = start();
        t.signed_up("gina");
        let r = gatehouse(&t, &["group", "add", "gina", "staff"], None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("added gina to staff"));
        assert!(gatehouse(&t, &["group", "add", "gina", "staff"], None)
            .stdout
            .contains("already"));
        assert!(gatehouse(&t, &["group", "list"], None)
            .stdout
            .contains("staff"));
        let r = gatehouse(&t, &["group", "add", "gina", "bad group!"], None);
        assert_eq!(r.code, 1);
        assert_eq!(
            gatehouse(&t, &["group", "add", "ghost", "staff"], None).code,
            1
        );
        // Forward-auth reports the group.
        t.clock.advance(61);
        let r = t.get("/auth/verify");
        assert_eq!(r.headers().get_one("Remote-Groups"), Some("staff"));
        drop(r);
        assert_eq!(
            gatehouse(&t, &["group", "remove", "gina", "staff"], None).code,
            0
        );
        assert_eq!(
            gatehouse(&t, &["group", "remove", "gina", "staff"], None).code,
            1
        );
    }

    #[test]
    fn export_and_import_move_users_without_password_resets() {
        let t = start();
        let (_old, export) = export_from_sqlite();
        assert_eq!(export.lines().count(), 2);
        assert!(!export.contains(PASSWORD));
        let r = gatehouse(&t, &["import"], Some(&export));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("imported 2 user(s)"));
        // Same passwords, same groups, same disabled state.
        assert_eq!(t.login("mover", PASSWORD).status(), Status::SeeOther);
        let r = t.get("/auth/verify");
        assert_eq!(r.headers().get_one("Remote-Groups"), Some("staff"));
        drop(r);
        let other = Browser::default();
        assert_eq!(other.login(&t, "imported", "imported from python").status(), Status::Unauthorized);
        gatehouse(&t, &["user", "enable", "imported"], None);
        assert_eq!(other.login(&t, "imported", "imported from python").status(), Status::SeeOther);
        // A second import of the same users changes nothing and says why.
        let r = gatehouse(&t, &["import"], Some(&export));
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("already exists"), "{}", r.stderr);
        let list = gatehouse(&t, &["user", "list"], None);
        assert!(list.stdout.contains("2 user(s)"));
    }

    #[test]
    fn a_bad_export_imports_nothing() {
        let t = start();
        let (_old, export) = export_from_sqlite();
        let mut lines: Vec<String> = export.lines().map(str::to_string).collect();
        lines[1] = lines[1].replace("\"password_hash\":\"", "\"password_hash\":\"md5:");
        let r = gatehouse(&t, &["import"], Some(&lines.join("\n")));
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("line 2") && r.stderr.contains("bcrypt"), "{}", r.stderr);
        let r = gatehouse(&t, &["import"], Some("{not json\n"));
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("line 1"));
        assert!(gatehouse(&t, &["user", "list"], None).stdout.contains("0 user(s)"), "all or nothing");
    }
}

/// The same users, moved from a SQLite deployment to this test's backend.
fn export_from_sqlite() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("ROCKET_DATA_DIR", dir.path().join("data"))
            .env("ROCKET_BCRYPT_COST", "4")
            .env("ROCKET_PROFILE", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(
        &["user", "add", "mover", "--email", "mover@example.com"],
        Some(&format!("{PASSWORD}\n")),
    );
    run(
        &[
            "user",
            "add",
            "imported",
            "--email",
            "imp@example.com",
            "--bcrypt-hash",
            "$2b$04$5GZrLAhXtu5ZzS1/LkR/6.qiOOiWCuMJ5fpC2w7b1J5QopzQxCIDy",
        ],
        None,
    );
    run(&["group", "add", "mover", "staff"], None);
    run(&["user", "disable", "imported"], None);
    let export = run(&["export"], None);
    (dir, export)
}

// check-config reads settings and touches no database, so these run once rather than once
// per backend.

/// `gatehouse check-config` run in `cwd` with exactly `env` (nothing inherited, so neither a
/// developer's `ROCKET_*` nor `DATABASE_URL` leaks in).
fn check_config(cwd: &std::path::Path, env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `key = value` lines, keys as printed.
fn listed(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once(" = ")
                .unwrap_or_else(|| panic!("not `key = value`: {l:?}"));
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// The keys `Settings` reads, as serde's derived `Deserialize` lists them (its `FIELDS`): taken
/// from the declaration itself, so a setting added there is expected here without anyone
/// writing it down.
fn declared_keys() -> &'static [&'static str] {
    use serde::de::{self, Deserialize, Deserializer, Visitor};
    use std::cell::Cell;

    struct Recorder<'a>(&'a Cell<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for Recorder<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only a struct's field list is recorded"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(fields);
            Err(de::Error::custom("recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let fields = Cell::new(&[][..]);
    let _ = gatehouse::config::Settings::deserialize(Recorder(&fields));
    let keys = fields.get();
    assert!(
        keys.contains(&"database_url") && keys.len() > 20,
        "{keys:?}"
    );
    keys
}

#[test]
fn check_config_prints_every_declared_setting_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let r = check_config(
        env!("CARGO_MANIFEST_DIR").as_ref(),
        &[
            ("ROCKET_PROFILE", "release"),
            (
                "DATABASE_URL",
                "postgres://gatehouse:hunter2-secret@db.invalid/gh",
            ),
            ("ROCKET_DATA_DIR", dir.path().to_str().unwrap()),
            ("ROCKET_PUBLIC_ORIGIN", "HTTPS://Login.Example.com/"),
            ("ROCKET_COOKIE_DOMAIN", ".Example.com"),
            ("ROCKET_TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"192.0.2.1\"]"),
            (
                "ROCKET_ACCESS_RULES",
                "[{host=\"Grafana.Example.com\", users=[\"erik\"], groups=[\"ops\"]}]",
            ),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = listed(&r.stdout);
    let keys: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    for key in declared_keys() {
        assert!(
            keys.contains(key),
            "check-config leaves out `{key}`:\n{}",
            r.stdout
        );
    }
    // Nothing but the settings and the profile they were read with.
    assert_eq!(keys.len(), declared_keys().len() + 1, "{}", r.stdout);
    assert_eq!(keys[0], "profile");
    let value = |key: &str| &lines.iter().find(|(k, _)| k == key).unwrap().1;
    assert_eq!(value("profile"), "release");
    // Effective means as used: normalised, with the profile's defaults applied.
    assert_eq!(
        value("database_url"),
        "postgres://gatehouse:****@db.invalid/gh"
    );
    assert_eq!(value("public_origin"), "https://login.example.com");
    assert_eq!(value("cookie_domain"), "example.com");
    assert_eq!(value("secure_cookies"), "true");
    assert_eq!(value("trusted_proxies"), r#"["10.0.0.0/8","192.0.2.1/32"]"#);
    assert_eq!(
        value("access_rules"),
        r#"[{"host":"grafana.example.com","users":["erik"],"groups":["ops"]}]"#
    );
    assert_eq!(value("template_dir"), "templates");
    assert!(
        !r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

const NO_TRUSTED_PROXY: &str = "access_rules are set but trusted_proxies is empty";

#[test]
fn check_config_warns_when_access_rules_have_no_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let rules = "[{host=\"app.example.com\", users=[\"erik\"]}]";
    let base = [
        ("ROCKET_PROFILE", "debug"),
        ("ROCKET_DATA_DIR", data),
        ("ROCKET_ACCESS_RULES", rules),
    ];
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &base);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(NO_TRUSTED_PROXY)),
        "{}",
        r.stderr
    );
    // Listing the proxy is the fix; rules are not needed for the warning's absence either.
    let with_proxy = [&base[..], &[("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.1\"]")]].concat();
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &with_proxy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains(NO_TRUSTED_PROXY), "{}", r.stderr);
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &base[..2]);
    assert!(!r.stderr.contains(NO_TRUSTED_PROXY), "{}", r.stderr);
}

#[test]
fn the_start_log_shows_the_setting_warnings() {
    use std::io::BufRead;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", "normal")
        .env("ROCKET_CLI_COLORS", "false")
        .env("ROCKET_DATA_DIR", dir.path().join("data"))
        .env("DATABASE_URL", url)
        .env(
            "ROCKET_ACCESS_RULES",
            "[{host=\"app.example.com\", users=[\"erik\"]}]",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Rocket runs lift-off fairings, then announces the launch: by then the log has them.
    let mut log = Vec::new();
    let launched = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let done = line.contains("Rocket has launched");
                log.push(line);
                if done {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(launched, "no launch:\n{}", log.join("\n"));
    assert!(
        log.iter()
            .any(|l| l.starts_with("Warning: ") && l.contains(NO_TRUSTED_PROXY)),
        "{}",
        log.join("\n")
    );
}

/// The defaults README.md's settings tables give, by key, in the tables' order.
fn readme_defaults() -> Vec<(String, String)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Settings\n")
        .nth(1)
        .expect("README has a Settings section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let key = cells[1].trim_matches('`').to_string();
            (key, cells[2].trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn readme_lists_every_setting_with_its_declared_default() {
    let readme = readme_defaults();
    for key in declared_keys() {
        assert!(
            readme.iter().any(|(k, _)| k == key),
            "README.md's settings tables leave out `{key}`"
        );
    }
    // The defaults as declared (no Rocket.toml above a fresh directory) and as shipped in
    // Rocket.toml must both be what README says.
    let fresh = tempfile::tempdir().unwrap();
    for cwd in [fresh.path(), env!("CARGO_MANIFEST_DIR").as_ref()] {
        for profile in ["debug", "release"] {
            let r = check_config(cwd, &[("ROCKET_PROFILE", profile)]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            let printed = listed(&r.stdout);
            assert_eq!(printed[0].0, "profile");
            let keys: Vec<&str> = printed[1..].iter().map(|(k, _)| k.as_str()).collect();
            let documented: Vec<&str> = readme.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, documented, "printed in README's order");
            for ((key, printed), (_, documented)) in printed[1..].iter().zip(&readme) {
                let expected = match (key.as_str(), documented.as_str()) {
                    ("secure_cookies", _) => (profile == "release").to_string(),
                    // Filled in from public_origin's host.
                    ("mail_from", _) => "gatehouse <no-reply@127.0.0.1>".to_string(),
                    (_, "unset") => "(unset)".to_string(),
                    _ => documented.clone(),
                };
                assert_eq!(
                    *printed,
                    expected,
                    "{key} in {profile} from {}",
                    cwd.display()
                );
            }
        }
    }
}

/// The web and the command line run the same flows (`service/`).
mod parity {
    use super::*;

    backend_tests! {
        #[test]
        fn the_web_and_the_cli_change_accounts_through_the_same_flows() {
            // Each change is one flow in the service layer, whichever door it comes through: the
            // change, the sessions it ends and its audit row, written together. The owner acts
            // from a session (which they keep); an administrator from the command line.
            let t = start();
            const NEW: &str = "a brand new passphrase for everyone";

            // Password change (web) and password set (CLI).
            let (web_id, _) = two_sessions(&t, "webby");
            let owner = Browser::default();
            assert_eq!(owner.login(&t, "webby", PASSWORD).status(), Status::SeeOther);
            let r = owner.submit(
                &t,
                "/account",
                "/account/password",
                &[("current_password", PASSWORD), ("new_password", NEW), ("new_password_confirm", NEW)],
            );
            assert_eq!(r.status(), Status::SeeOther);
            let (cli_id, _) = two_sessions(&t, "clio");
            let r = gatehouse(&t, &["user", "set-password", "clio"], Some(&format!("{NEW}\n")));
            assert_eq!(r.code, 0, "{}", r.stderr);
            let (web_events, web_sessions) = trail(&t, &web_id);
            let (cli_events, cli_sessions) = trail(&t, &cli_id);
            assert_eq!(web_events.len(), 1, "{web_events:?}");
            let (event, reason, address, from_session) = &web_events[0];
            assert_eq!(
                (event.as_str(), reason.as_str(), *from_session),
                ("password_changed", "ok", true)
            );
            assert_ne!(address, "cli");
            assert_eq!(
                cli_events,
                vec![(
                    "password_changed".to_string(),
                    "set by an administrator".to_string(),
                    "cli".to_string(),
                    false
                )]
            );
            // The owner keeps the session they changed it from; every other one ends, for the
            // same reason as on the other side.
            let ended = |s: &[(String, Option<String>)]| {
                s.iter().filter_map(|(_, r)| r.clone()).collect::<Vec<_>>()
            };
            assert_eq!(ended(&web_sessions), vec!["password changed"; 2]);
            assert_eq!(web_sessions.iter().filter(|(_, r)| r.is_none()).count(), 1);
            assert_eq!(ended(&cli_sessions), vec!["password set by an administrator"; 2]);
            for name in ["webby", "clio"] {
                assert_eq!(Browser::default().login(&t, name, PASSWORD).status(), Status::Unauthorized);
                assert_eq!(Browser::default().login(&t, name, NEW).status(), Status::SeeOther);
            }

            // Delete: the account, every session and one audit row, from either door.
            let r = owner.submit(&t, "/account", "/account/delete", &[("current_password", NEW)]);
            assert_eq!(r.status(), Status::SeeOther);
            let r = gatehouse(&t, &["user", "delete", "clio"], None);
            assert_eq!(r.code, 0, "{}", r.stderr);
            let (web_events, web_sessions) = trail(&t, &web_id);
            let (cli_events, cli_sessions) = trail(&t, &cli_id);
            assert!(web_sessions.is_empty() && cli_sessions.is_empty());
            let last = |e: &[(String, String, String, bool)]| e.last().cloned().unwrap();
            assert_eq!((last(&web_events).0, last(&web_events).1), ("account_deleted".into(), "deleted by its owner".into()));
            assert_eq!((last(&cli_events).0, last(&cli_events).1), ("account_deleted".into(), "deleted by an administrator".into()));

            // Disable: the command line and any other caller of the flow (the admin pages) alike.
            let (a_id, _) = two_sessions(&t, "alma");
            let (b_id, _) = two_sessions(&t, "bert");
            let r = gatehouse(&t, &["user", "disable", "alma"], None);
            assert_eq!(r.code, 0, "{}", r.stderr);
            let rt = rocket::tokio::runtime::Runtime::new().unwrap();
            let bert = rt
                .block_on(gatehouse::service::signin::find_user(t.app(), "bert"))
                .unwrap()
                .unwrap();
            let origin = gatehouse::service::Origin::cli();
            rt.block_on(gatehouse::service::account::disable(t.app(), &bert, &origin)).unwrap();
            let (a, b) = (trail(&t, &a_id), trail(&t, &b_id));
            assert_eq!(a.0, b.0, "the same audit rows");
            assert_eq!(ended(&a.1), ended(&b.1), "the same sessions ended");
            assert_eq!(ended(&a.1), vec!["account disabled"; 2]);
        }

        #[test]
        fn a_change_and_its_audit_row_land_together_from_either_door() {
            // With the audit table gone, no change can be recorded: it must not happen either,
            // whichever door it came through (the web used to write its row after the commit).
            let t = start();
            let (web_id, _) = two_sessions(&t, "wanda");
            let (cli_id, _) = two_sessions(&t, "carl");
            let owner = Browser::default();
            assert_eq!(owner.login(&t, "wanda", PASSWORD).status(), Status::SeeOther);
            let csrf = owner.csrf(&t, "/account");
            {
                use diesel::connection::SimpleConnection;
                let mut conn = t.app().db.get().unwrap();
                conn.batch_execute("ALTER TABLE audit_events RENAME TO audit_events_gone").unwrap();
            }
            const NEW: &str = "a brand new passphrase for everyone";
            let r = owner.post(
                &t,
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", NEW),
                    ("new_password_confirm", NEW),
                    ("csrf_token", &csrf),
                ],
            );
            assert_eq!(r.status(), Status::InternalServerError);
            drop(r);
            let r = gatehouse(&t, &["user", "set-password", "carl"], Some(&format!("{NEW}\n")));
            assert_eq!(r.code, 2, "{}", r.stdout);
            {
                use diesel::connection::SimpleConnection;
                let mut conn = t.app().db.get().unwrap();
                conn.batch_execute("ALTER TABLE audit_events_gone RENAME TO audit_events").unwrap();
            }
            for (id, name) in [(&web_id, "wanda"), (&cli_id, "carl")] {
                let (_, sessions) = trail(&t, id);
                assert!(sessions.iter().all(|(_, r)| r.is_none()), "{name}: sessions ended");
                assert_eq!(Browser::default().login(&t, name, PASSWORD).status(), Status::SeeOther, "{name}");
            }
        }
    }
}

#[test]
fn check_config_warns_without_smtp_and_masks_the_smtp_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let base = [("ROCKET_PROFILE", "debug"), ("ROCKET_DATA_DIR", data)];
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &base);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("smtp_url is not set"), "{}", r.stderr);
    let mut with = base.to_vec();
    with.push((
        "ROCKET_SMTP_URL",
        "smtps://mailer:s3cret-pass@smtp.example.com:465",
    ));
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &with);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("smtp_url is not set"), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("smtps://mailer:****@smtp.example.com:465"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("s3cret") && !r.stderr.contains("s3cret"));
    // require_verified_email without mail would lock everyone out: refused.
    let mut bad = base.to_vec();
    bad.push(("ROCKET_REQUIRE_VERIFIED_EMAIL", "true"));
    let r = check_config(env!("CARGO_MANIFEST_DIR").as_ref(), &bad);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("require_verified_email"), "{}", r.stderr);
}

/// Turns TOTP on for the account `t`'s browser is signed in to, through the pages; the
/// recovery codes.
fn enrol_totp(t: &TestApp) -> Vec<String> {
    use gatehouse::clock::Clock;
    let page = t.get("/account/2fa").into_string().unwrap();
    let setup = field_value(&page, "setup").unwrap();
    let marker = "data-testid=\"totp-secret\">";
    let start = page.find(marker).unwrap() + marker.len();
    let text = &page[start..start + page[start..].find('<').unwrap()];
    let secret = gatehouse::auth::totp::secret_from_text(text).unwrap();
    let code = gatehouse::auth::totp::code_at(&secret, t.clock.now());
    let r = t.submit(
        "/account/2fa",
        "/account/2fa/totp",
        &[
            ("setup", &setup),
            ("code", &code),
            ("current_password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), Status::Ok);
    let html = r.into_string().unwrap();
    html.split("<li><code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap()].to_string())
        .collect()
}
