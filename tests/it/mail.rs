//! Mail (issue #13): verification links, password reset, address change and notices, sent by
//! the outbox to a real SMTP server on loopback (`common::smtp::SmtpSink`), with the SMTP
//! server going away and coming back, gatehouse restarting, and two instances on one
//! database.

use std::time::Duration;

use crate::common::smtp::{Message, SmtpSink};
use crate::common::*;
use diesel::prelude::*;
use gatehouse::db::schema::{outbox, users};
use rocket::figment::Figment;
use rocket::http::Status;

const FROM: &str = "gatehouse <no-reply@gh.test>";
const NEW_PASSWORD: &str = "a fresh passphrase for ada";
/// Long enough for the worker to be woken and the sink to be told, however loaded the machine.
const WAIT: Duration = Duration::from_secs(20);

fn with_mail(sink: &SmtpSink) -> impl FnOnce(Figment) -> Figment {
    let url = sink.url();
    move |f| f.merge(("smtp_url", url)).merge(("mail_from", FROM))
}

fn mail_app() -> (SmtpSink, TestApp) {
    let sink = SmtpSink::start();
    let t = start_with(with_mail(&sink));
    (sink, t)
}

/// The path of the first `{ORIGIN}{prefix}TOKEN` link in the message (the link must be built
/// from `public_origin`).
fn link(message: &Message, prefix: &str) -> String {
    let body = message.text_body();
    let start = body
        .find(&format!("{ORIGIN}{prefix}"))
        .unwrap_or_else(|| panic!("no {ORIGIN}{prefix} link in:\n{body}"));
    let url: String = body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url[ORIGIN.len()..].to_string()
}

/// The messages to `address`, in the order they arrived.
fn to(messages: &[Message], address: &str) -> Vec<Message> {
    messages
        .iter()
        .filter(|m| m.to == [address.to_string()])
        .cloned()
        .collect()
}

/// An outbox row as the tests look at it: kind, recipient, sealed payload, when sent, attempts.
type OutboxRow = (String, String, Option<Vec<u8>>, Option<i64>, i32);

fn outbox_rows(t: &TestApp) -> Vec<OutboxRow> {
    let mut conn = t.app().db.get().unwrap();
    outbox::table
        .order(outbox::id.asc())
        .select((
            outbox::kind,
            outbox::recipient,
            outbox::payload,
            outbox::sent_at,
            outbox::attempts,
        ))
        .load(&mut *conn)
        .unwrap()
}

fn verified_at(t: &TestApp, username: &str) -> Option<i64> {
    let mut conn = t.app().db.get().unwrap();
    users::table
        .filter(users::username.eq(username))
        .select(users::email_verified_at)
        .first(&mut *conn)
        .unwrap()
}

fn email_status(t: &TestApp) -> String {
    let body = t.get("/account").into_string().unwrap();
    let start = body
        .find("data-testid=\"email-status\"")
        .expect("the account page shows the address's status");
    let end = body[start..].find("</p>").unwrap();
    body[start..start + end].to_string()
}

/// Asks for a reset link for `address` from the forgot page, in a browser of its own (from
/// the same client address as the test's); the page's status and body.
fn forgot(t: &TestApp, address: &str) -> (Status, String) {
    let browser = Browser::new("forgetful");
    let r = browser.submit(
        t,
        "/password/forgot",
        "/password/forgot",
        &[("email", address)],
    );
    (r.status(), r.into_string().unwrap_or_default())
}

backend_tests! {
    #[test]
    fn registration_mails_a_link_that_verifies_the_address() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        let mail = sink.wait_for(1, WAIT).remove(0);
        assert_eq!(mail.to, ["ada@example.com"]);
        assert_eq!(mail.from, "no-reply@gh.test");
        assert_eq!(mail.decoded_header("From").as_deref(), Some(FROM));
        assert_eq!(mail.header("To").as_deref(), Some("ada@example.com"));
        let id = mail.header("Message-ID").expect("a Message-ID");
        assert!(id.starts_with('<') && id.ends_with("@127.0.0.1>"), "{id}");
        let date = mail.header("Date").expect("a Date");
        assert!(chrono_like(&date), "{date}");
        assert!(mail.subject().to_lowercase().contains("confirm"), "{}", mail.subject());
        assert!(mail.header("Content-Type").unwrap().starts_with("text/plain"));
        let path = link(&mail, "/email/verify/");
        // 256 bits, base64url.
        assert_eq!(path.len(), "/email/verify/".len() + 43, "{path}");

        // Until the link is opened, the pages say the address is unverified and offer it again.
        assert!(email_status(&t).contains("unverified"));
        let dashboard = t.get("/dashboard").into_string().unwrap();
        assert!(dashboard.contains("data-testid=\"email-status\""));
        assert!(dashboard.contains("resend-verification"));
        assert_eq!(verified_at(&t, "ada"), None);

        // Opened signed out (another device): verified; again: the same page (idempotent).
        let phone = Browser::new("phone");
        for _ in 0..2 {
            let r = phone.get(&t, &path);
            assert_eq!(r.status(), Status::Ok);
            assert_eq!(r.headers().get_one("Referrer-Policy"), Some("no-referrer"));
            let body = r.into_string().unwrap();
            assert!(body.contains("data-testid=\"email-verified\""));
            assert!(body.contains("ada@example.com"));
        }
        assert!(verified_at(&t, "ada").is_some());
        let status = email_status(&t);
        assert!(status.contains("verified") && !status.contains("unverified"), "{status}");
        let dashboard = t.get("/dashboard").into_string().unwrap();
        assert!(!dashboard.contains("data-testid=\"email-status\""), "the banner goes");

        // Links that do not work: 400 with a way on, never a 500.
        for bad in [
            "/email/verify/nope".to_string(),
            format!("/email/verify/{}", "A".repeat(43)),
            format!("/email/verify/{}", "A".repeat(5000)),
            "/email/verify/%00%0d%0a".to_string(),
        ] {
            let r = phone.get(&t, &bad);
            assert_eq!(r.status(), Status::BadRequest, "{bad}");
            assert!(r.into_string().unwrap().contains("href=\"/account\""), "{bad}");
        }
    }

    #[test]
    fn the_verification_link_can_be_sent_again_but_not_too_often() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        let first = link(&sink.wait_for(1, WAIT)[0], "/email/verify/");
        for n in 2..=4 {
            let r = t.submit("/account", "/account/email/resend", &[]);
            assert_eq!(r.status(), Status::SeeOther);
            assert_eq!(r.headers().get_one("Location"), Some("/account"));
            sink.wait_for(n, WAIT);
        }
        // Three an hour: the fourth is refused, and nothing more is sent.
        let r = t.submit("/account", "/account/email/resend", &[]);
        assert_eq!(r.status(), Status::TooManyRequests);
        assert!(r.headers().get_one("Retry-After").is_some());
        let messages = sink.messages();
        assert_eq!(messages.len(), 4);
        // A newer link voids the older ones.
        assert_eq!(t.get(&first).status(), Status::BadRequest);
        let last = link(&messages[3], "/email/verify/");
        assert_eq!(t.get(&last).status(), Status::Ok);
        // Verified: asking again queues nothing (and is not refused).
        let rows = outbox_rows(&t).len();
        let r = t.submit("/account", "/account/email/resend", &[]);
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        assert_eq!(outbox_rows(&t).len(), rows);
    }

    #[test]
    fn verification_links_expire() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        let path = link(&sink.wait_for(1, WAIT)[0], "/email/verify/");
        let timeout = t.app().settings.email_verification_timeout;
        t.clock.advance(timeout);
        assert_eq!(t.get(&path).status(), Status::BadRequest);
        assert_eq!(verified_at(&t, "ada"), None);
    }

    #[test]
    fn require_verified_email_refuses_sign_in_until_the_link_is_opened() {
        let sink = SmtpSink::start();
        let url = sink.url();
        let t = start_with(move |f| {
            f.merge(("smtp_url", url)).merge(("require_verified_email", true))
        });
        // Registering is not signing in: whoever typed the address has not shown it is theirs.
        let r = t.register("ada", "ada@example.com", PASSWORD);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/login"));
        drop(r);
        assert_eq!(t.session_cookie(), None);
        let first = link(&sink.wait_for(1, WAIT)[0], "/email/verify/");

        let r = t.login("ada", PASSWORD);
        assert_eq!(r.status(), Status::Forbidden);
        let body = r.into_string().unwrap();
        assert!(body.contains("data-testid=\"verify-required\""));
        assert_eq!(t.session_cookie(), None);
        // A wrong password says nothing about verification.
        let r = t.login("ada", "not the password at all");
        assert_eq!(r.status(), Status::Unauthorized);
        assert!(!r.into_string().unwrap().contains("verify-required"));

        // The page offers the link again; it answers the same for any login.
        for login in ["ada", "nobody-here"] {
            let r = t.submit("/login", "/email/resend", &[("login", login)]);
            assert_eq!(r.status(), Status::SeeOther);
            assert_eq!(r.headers().get_one("Location"), Some("/login"));
        }
        let messages = sink.wait_for(2, WAIT);
        assert_eq!(outbox_rows(&t).len(), 2, "nothing for an unknown login");
        assert_eq!(t.get(&first).status(), Status::BadRequest, "the newer link voids it");
        assert_eq!(t.get(&link(&messages[1], "/email/verify/")).status(), Status::Ok);
        let r = t.login("ada", PASSWORD);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
    }

    #[test]
    fn changing_the_address_takes_effect_when_the_new_one_is_confirmed() {
        let (sink, t) = mail_app();
        let bob = Browser::new("bob");
        assert_eq!(bob.register(&t, "bob", "bob@example.com", PASSWORD).status(), Status::SeeOther);
        t.signed_up("ada");
        sink.wait_for(2, WAIT);
        sink.clear();
        let rows_before = outbox_rows(&t).len();

        // Refused, nothing queued: a wrong password, a taken address, header injection, too
        // long, not an address.
        let long = format!("{}@example.com", "a".repeat(250));
        let refusals: [(&str, &str, &str); 6] = [
            ("ada@new.example", "not my password!", "email_current_password"),
            ("bob@example.com", PASSWORD, "new_email"),
            ("BOB@example.com", PASSWORD, "new_email"),
            ("ada@new.example\r\nBcc: eve@evil.example", PASSWORD, "new_email"),
            (&long, PASSWORD, "new_email"),
            ("not an address", PASSWORD, "new_email"),
        ];
        for (address, password, field) in refusals {
            let r = t.submit(
                "/account",
                "/account/email",
                &[("email", address), ("current_password", password)],
            );
            let status = r.status();
            let body = r.into_string().unwrap();
            assert!(
                status == Status::UnprocessableEntity || status == Status::Unauthorized,
                "{address:?}: {status}"
            );
            assert!(body.contains(&format!("id=\"{field}-error\"")), "{address:?}: {body}");
        }
        assert_eq!(outbox_rows(&t).len(), rows_before, "nothing queued for a refusal");

        let r = t.submit(
            "/account",
            "/account/email",
            &[("email", "Ada@New.Example"), ("current_password", PASSWORD)],
        );
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/account"));
        let messages = sink.wait_for(2, WAIT);
        let to_new = to(&messages, "Ada@new.example");
        let to_old = to(&messages, "ada@example.com");
        assert_eq!((to_new.len(), to_old.len()), (1, 1), "{messages:?}");
        // The notice says what happened and what to do if it was not them, with no link.
        let notice = to_old[0].text_body();
        assert!(notice.contains("Ada@new.example"), "{notice}");
        assert!(!notice.contains("/email/verify/"), "{notice}");
        assert!(notice.to_lowercase().contains("not you") || notice.contains("wasn't you") || notice.contains("was not you"), "{notice}");
        // Nothing changes until the link is opened.
        assert!(email_status(&t).contains("ada@example.com"));
        let path = link(&to_new[0], "/email/verify/");
        let r = t.get(&path);
        assert_eq!(r.status(), Status::Ok);
        assert!(r.into_string().unwrap().contains("Ada@new.example"));
        let status = email_status(&t);
        assert!(status.contains("Ada@new.example") && !status.contains("unverified"), "{status}");
        // The account signs in with the new address; the old one is free.
        t.logout();
        assert_eq!(t.login("ada@new.example", PASSWORD).status(), Status::SeeOther);
        t.logout();
        let carol = Browser::new("carol");
        assert_eq!(carol.register(&t, "carol", "ada@example.com", PASSWORD).status(), Status::SeeOther);
    }

    #[test]
    fn an_address_someone_else_confirmed_first_cannot_be_taken() {
        let (sink, t) = mail_app();
        let bob = Browser::new("bob");
        assert_eq!(bob.register(&t, "bob", "bob@example.com", PASSWORD).status(), Status::SeeOther);
        t.signed_up("ada");
        sink.wait_for(2, WAIT);
        sink.clear();
        for (b, who) in [(&t.browser, "ada"), (&bob, "bob")] {
            let r = b.submit(
                &t,
                "/account",
                "/account/email",
                &[("email", "shared@example.com"), ("current_password", PASSWORD)],
            );
            assert_eq!(r.status(), Status::SeeOther, "{who}");
        }
        let messages = to(&sink.wait_for(4, WAIT), "shared@example.com");
        assert_eq!(messages.len(), 2);
        let links: Vec<String> = messages.iter().map(|m| link(m, "/email/verify/")).collect();
        // Whichever is opened first wins; the other link then fails (400), changing nothing.
        assert_eq!(t.get(&links[1]).status(), Status::Ok);
        let r = t.get(&links[0]);
        assert_eq!(r.status(), Status::BadRequest);
        let mut conn = t.app().db.get().unwrap();
        let owners: Vec<String> = users::table
            .filter(users::email.eq("shared@example.com"))
            .select(users::username)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(owners.len(), 1, "{owners:?}");
    }

    #[test]
    fn forgot_password_answers_the_same_whether_or_not_the_address_has_an_account() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        sink.wait_for(1, WAIT);
        t.logout();
        sink.clear();
        let login = t.get("/login").into_string().unwrap();
        assert!(login.contains("href=\"/password/forgot\""), "the sign-in page offers it");

        let (known_status, known) = forgot(&t, "ada@example.com");
        let (unknown_status, unknown) = forgot(&t, "nobody@example.com");
        assert_eq!((known_status, unknown_status), (Status::Ok, Status::Ok));
        assert!(known.contains("data-testid=\"forgot-sent\""));
        assert_eq!(without_csrf(&known), without_csrf(&unknown));
        // The page did no lookup-dependent work: both requests were only queued.
        let rows = outbox_rows(&t);
        let requests: Vec<_> = rows.iter().filter(|r| r.0 == "reset_request").collect();
        assert_eq!(requests.len(), 2);
        assert!(requests.iter().all(|r| r.1.is_empty()), "no address in the clear");

        let messages = sink.wait_for(1, WAIT);
        // Both requests looked at; a mail for ada only.
        wait_until(|| outbox_rows(&t).iter().all(|r| r.3.is_some()).then_some(()));
        let rows = outbox_rows(&t);
        // The registration's verification mail, and one reset link.
        assert_eq!(rows.iter().filter(|r| r.0 == "mail").count(), 2, "{rows:?}");
        assert_eq!(sink.messages().len(), 1, "nothing for an address without an account");
        assert_eq!(messages[0].to, ["ada@example.com"]);
        let path = link(&messages[0], "/password/reset/");
        assert_eq!(path.len(), "/password/reset/".len() + 43);

        // Bad input: 422, nothing queued.
        let before = outbox_rows(&t).len();
        for bad in ["ada@example.com\r\nBcc: eve@evil.example", "no", "a\u{200b}da@example.com", &format!("{}@example.com", "a".repeat(250))] {
            let (status, body) = forgot(&t, bad);
            assert_eq!(status, Status::UnprocessableEntity, "{bad:?}");
            assert!(body.contains("id=\"email-error\""), "{bad:?}");
        }
        assert_eq!(outbox_rows(&t).len(), before);

        // Throttled per address (3 an hour, same answer for any address) ...
        assert_eq!(forgot(&t, "ada@example.com").0, Status::Ok);
        assert_eq!(forgot(&t, "ada@example.com").0, Status::Ok);
        assert_eq!(forgot(&t, "ada@example.com").0, Status::TooManyRequests);
        assert_eq!(forgot(&t, "nobody@example.com").0, Status::Ok);
        assert_eq!(forgot(&t, "nobody@example.com").0, Status::Ok);
        assert_eq!(forgot(&t, "nobody@example.com").0, Status::TooManyRequests);
        // ... and per client (10 an hour, refusals included): a few more addresses, then 429.
        let mut more = 0;
        loop {
            let (status, _) = forgot(&t, &format!("x{more}@example.com"));
            if status == Status::TooManyRequests {
                break;
            }
            assert_eq!(status, Status::Ok);
            more += 1;
            assert!(more <= 10, "the client is never throttled");
        }
        assert!((1..=2).contains(&more), "{more} more before the client's limit");
        // Another client is not affected, and the limits pass.
        let other = Browser::new("other");
        let r = other.submit_from(&t, Some("198.51.100.7"), "/password/forgot", "/password/forgot", &[("email", "z@example.com")]);
        assert_eq!(r.status(), Status::Ok);
        drop(r);
        t.clock.advance(3600);
        assert_eq!(forgot(&t, "ada@example.com").0, Status::Ok);
    }

    #[test]
    fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        sink.wait_for(1, WAIT);
        // A second device stays signed in until the reset.
        let laptop = Browser::new("laptop");
        assert_eq!(laptop.login(&t, "ada", PASSWORD).status(), Status::SeeOther);
        t.logout();
        // Someone guessing has banned the account: even the right password is refused now.
        let guesser = Browser::new("guesser");
        for _ in 0..t.app().settings.login_max_failures {
            let r = guesser.login(&t, "ada", "guessing wrongly!!");
            assert_eq!(r.status(), Status::Unauthorized);
        }
        // (A browser ada signed in with before keeps its way in: the device cookie.)
        let newcomer = Browser::new("newcomer");
        assert_eq!(newcomer.login(&t, "ada", PASSWORD).status(), Status::Unauthorized, "banned");
        sink.clear();

        assert_eq!(forgot(&t, "ada@example.com").0, Status::Ok);
        let mail = sink.wait_for(1, WAIT).remove(0);
        let path = link(&mail, "/password/reset/");
        // Mail scanners open links: viewing never uses it up.
        let scanner = Browser::new("scanner");
        for _ in 0..3 {
            let r = scanner.get(&t, &path);
            assert_eq!(r.status(), Status::Ok);
            assert_eq!(r.headers().get_one("Referrer-Policy"), Some("no-referrer"));
            assert!(r.into_string().unwrap().contains("data-testid=\"reset\""));
        }
        // Bad passwords: 422, the link still works.
        for (new, confirm) in [("short", "short"), (NEW_PASSWORD, "something else entirely")] {
            let r = t.submit(&path, &path, &[("new_password", new), ("new_password_confirm", confirm)]);
            assert_eq!(r.status(), Status::UnprocessableEntity);
            assert!(r.into_string().unwrap().contains("data-testid=\"reset\""));
        }
        let r = t.submit(&path, &path, &[("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)]);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/login"));
        drop(r);
        assert_eq!(t.session_cookie(), None, "a reset does not sign anyone in");
        // Every session ended; the ban lifted; the old password gone.
        let r = laptop.get(&t, "/dashboard");
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        assert_eq!(t.login("ada", PASSWORD).status(), Status::Unauthorized);
        assert_eq!(newcomer.login(&t, "ada", NEW_PASSWORD).status(), Status::SeeOther, "the ban is lifted");
        // Used up: the page and the form both say so (400, with a way to ask again).
        for r in [
            scanner.get(&t, &path),
            scanner.submit(&t, "/password/forgot", &path, &[("new_password", "another passphrase, longer"), ("new_password_confirm", "another passphrase, longer")]),
        ] {
            assert_eq!(r.status(), Status::BadRequest);
            let body = r.into_string().unwrap();
            assert!(body.contains("data-testid=\"reset-invalid\""));
            assert!(body.contains("href=\"/password/forgot\""));
        }
        // A notice went to the owner.
        let messages = sink.wait_for(2, WAIT);
        let notice = messages[1].text_body();
        assert_eq!(messages[1].to, ["ada@example.com"]);
        assert!(messages[1].subject().to_lowercase().contains("password"), "{}", messages[1].subject());
        assert!(!notice.contains("/password/reset/"), "{notice}");
        // Audited.
        let mut conn = t.app().db.get().unwrap();
        let events: Vec<String> = gatehouse::db::schema::audit_events::table
            .select(gatehouse::db::schema::audit_events::event)
            .load(&mut *conn)
            .unwrap();
        assert!(events.iter().any(|e| e == "password_reset_mailed"), "{events:?}");
        assert!(events.iter().any(|e| e == "password_changed"), "{events:?}");
    }

    #[test]
    fn a_newer_link_or_a_password_change_voids_older_links_and_links_expire() {
        let (sink, t) = mail_app();
        t.signed_up("ada");
        sink.wait_for(1, WAIT);
        sink.clear();
        forgot(&t, "ada@example.com");
        let first = link(&sink.wait_for(1, WAIT)[0], "/password/reset/");
        forgot(&t, "ada@example.com");
        let second = link(&sink.wait_for(2, WAIT)[1], "/password/reset/");
        assert_eq!(t.get(&first).status(), Status::BadRequest);
        assert_eq!(t.get(&second).status(), Status::Ok);
        // A password change (on the account page) voids it too.
        let r = t.submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        );
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        assert_eq!(t.get(&second).status(), Status::BadRequest);

        // Expiry, with the injected clock: works until password_reset_timeout has passed.
        t.clock.advance(3600);
        forgot(&t, "ada@example.com");
        let messages = sink.wait_for(4, WAIT);
        let third = link(messages.last().unwrap(), "/password/reset/");
        let timeout = t.app().settings.password_reset_timeout;
        t.clock.advance(timeout - 2);
        assert_eq!(t.get(&third).status(), Status::Ok);
        t.clock.advance(2);
        assert_eq!(t.get(&third).status(), Status::BadRequest);
        let r = t.submit("/password/forgot", &third, &[("new_password", "yet another passphrase"), ("new_password_confirm", "yet another passphrase")]);
        assert_eq!(r.status(), Status::BadRequest);
    }

    #[test]
    fn mail_waits_while_the_smtp_server_is_down_and_goes_out_when_it_is_back() {
        let (sink, t) = mail_app();
        sink.stop();
        // No page fails or waits for SMTP.
        t.signed_up("ada");
        assert_eq!(forgot(&t, "ada@example.com").0, Status::Ok);
        // The worker tried (the verification mail; the reset request became a mail) and will
        // try again; nothing is lost.
        let rows = wait_until(|| {
            let rows = outbox_rows(&t);
            (rows.iter().filter(|r| r.0 == "mail" && r.4 >= 1).count() == 2).then_some(rows)
        });
        assert!(rows.iter().all(|r| r.3.is_none() || r.0 == "reset_request"), "{rows:?}");
        assert!(sink.messages().is_empty());
        // Back: the next retry (30 s later) delivers both.
        sink.restart();
        t.clock.advance(30);
        let messages = sink.wait_for(2, WAIT);
        assert_eq!(messages.len(), 2);
        assert!(messages.iter().any(|m| m.text_body().contains("/email/verify/")));
        assert!(messages.iter().any(|m| m.text_body().contains("/password/reset/")));

        // A 4xx answer is also tried again; a 5xx is given up on and kept for the CLI.
        sink.clear();
        sink.fail_next(1, 451);
        let r = t.submit("/account", "/account/email/resend", &[]);
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        wait_until(|| (outbox_rows(&t).last().unwrap().4 == 1).then_some(()));
        t.clock.advance(30);
        sink.wait_for(1, WAIT);
        sink.fail_next(1, 550);
        t.submit("/account", "/account/email/resend", &[]);
        let mut conn = t.app().db.get().unwrap();
        let failed = wait_until(|| {
            outbox::table
                .filter(outbox::failed_at.is_not_null())
                .select((outbox::recipient, outbox::last_error, outbox::payload))
                .first::<(String, Option<String>, Option<Vec<u8>>)>(&mut *conn)
                .ok()
        });
        assert_eq!(failed.0, "ada@example.com");
        assert!(failed.1.unwrap().contains("550"));
        assert_eq!(failed.2, None, "a given-up message is erased too");
    }

    #[test]
    fn mail_queued_before_a_restart_is_sent_after_it() {
        let (sink, t) = mail_app();
        sink.stop();
        t.signed_up("ada");
        wait_until(|| (outbox_rows(&t).iter().any(|r| r.4 >= 1)).then_some(()));
        sink.restart();
        // A new process: the mail waits in the database and goes when its retry falls due.
        let t = t.restart_with(with_mail(&sink));
        t.clock.advance(30);
        let messages = sink.wait_for(1, WAIT);
        assert_eq!(messages[0].to, ["ada@example.com"]);
        assert_eq!(t.get(&link(&messages[0], "/email/verify/")).status(), Status::Ok);
    }

    #[test]
    fn queued_mail_is_sealed_and_erased_once_sent() {
        let (sink, t) = mail_app();
        sink.stop();
        t.signed_up("ada");
        forgot(&t, "ada@example.com");
        let rows = wait_until(|| {
            let rows = outbox_rows(&t);
            (rows.iter().filter(|r| r.0 == "mail").count() == 2).then_some(rows)
        });
        for (kind, _, payload, _, _) in rows.iter().filter(|r| r.0 == "mail") {
            let payload = payload.as_ref().expect("a waiting message is kept");
            let text = String::from_utf8_lossy(payload);
            for clear in ["/email/verify/", "/password/reset/", "ada", "http"] {
                assert!(!text.contains(clear), "{kind}: {clear} in the clear");
            }
        }
        sink.restart();
        t.clock.advance(30);
        sink.wait_for(2, WAIT);
        wait_until(|| outbox_rows(&t).iter().all(|r| r.3.is_some()).then_some(()));
        assert!(outbox_rows(&t).iter().all(|r| r.2.is_none()), "sent: erased");
        // Another data_dir (a copy of the database alone) cannot open what is queued: checked in
        // src/mail (MailKey), and here: the key is a file in data_dir, not in the database.
        assert!(t.dir.path().join("data").join("mail.key").exists());
    }

    #[test]
    fn without_smtp_the_pages_say_so_and_nothing_is_queued() {
        let t = start();
        t.signed_up("ada");
        assert!(outbox_rows(&t).is_empty());
        let body = t.get("/account").into_string().unwrap();
        assert!(body.contains("sends no mail"), "the account page says so");
        assert!(!body.contains("resend-verification"));
        let dashboard = t.get("/dashboard").into_string().unwrap();
        assert!(!dashboard.contains("data-testid=\"email-status\""), "no nagging for what cannot be done");
        let r = t.submit("/account", "/account/email", &[("email", "ada@new.example"), ("current_password", PASSWORD)]);
        assert_eq!(r.status(), Status::UnprocessableEntity);
        assert!(r.into_string().unwrap().contains("sends no mail"));
        t.logout();
        let page = t.get("/password/forgot").into_string().unwrap();
        assert!(page.contains("passwords cannot be reset here"), "{page}");
        // The page has no form; a post made anyway (the token from the sign-in page) is
        // answered with the same explanation.
        let r = t.submit("/login", "/password/forgot", &[("email", "ada@example.com")]);
        assert_eq!(r.status(), Status::Ok);
        assert!(r.into_string().unwrap().contains("passwords cannot be reset here"));
        assert!(outbox_rows(&t).is_empty());
    }
}

/// On PostgreSQL: two instances drain one outbox, and each message goes out exactly once.
#[test]
fn two_instances_on_postgresql_send_each_message_once() {
    with_backend(TestBackend::Postgres, || {
        let (sink, a) = mail_app();
        let b = a.another_instance_with(with_mail(&sink));
        sink.stop();
        const N: usize = 12;
        for n in 0..N {
            let (t, browser) = if n % 2 == 0 {
                (&a, Browser::new("a"))
            } else {
                (&b, Browser::new("b"))
            };
            let r = browser.register(
                t,
                &format!("user{n}"),
                &format!("user{n}@example.com"),
                PASSWORD,
            );
            assert_eq!(r.status(), Status::SeeOther);
        }
        wait_until(|| (outbox_rows(&a).iter().filter(|r| r.4 >= 1).count() == N).then_some(()));
        sink.restart();
        // Both workers wake at the retry and race for the rows.
        a.clock.advance(30);
        let messages = sink.wait_for(N, WAIT);
        a.clock.advance(60);
        let messages_after = sink.messages();
        assert_eq!(messages_after.len(), N, "each once: {messages:?}");
        let mut recipients: Vec<String> = messages_after.iter().map(|m| m.to[0].clone()).collect();
        recipients.sort();
        recipients.dedup();
        assert_eq!(recipients.len(), N);
        assert!(
            outbox_rows(&a).iter().all(|r| r.3.is_some() && r.4 == 2),
            "sent on the second try"
        );
    });
}

/// Polls `check` (the outbox worker runs on its own) until it answers, for up to 20 s.
fn wait_until<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An RFC 5322 date as lettre writes it: `Sat, 28 Nov 2026 11:20:00 +0000`.
fn chrono_like(date: &str) -> bool {
    let parts: Vec<&str> = date.split_whitespace().collect();
    parts.len() == 6
        && parts[0].ends_with(',')
        && parts[1].parse::<u8>().is_ok()
        && parts[3].parse::<u16>().is_ok_and(|y| y >= 2024)
        && parts[4].matches(':').count() == 2
        && (parts[5].starts_with('+') || parts[5].starts_with('-'))
}
