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
    let dir = t.dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
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
