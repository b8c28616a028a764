//! Two-step sign-in (issue #14): enrolment with a code computed here from the secret the page
//! shows, the second step, replays, recovery codes, the ban, expiry with the injected clock,
//! turning it off, forward-auth's `require_2fa` and `Remote-Amr`, and the secret at rest.

use std::time::Duration;

use crate::common::smtp::SmtpSink;
use crate::common::*;
use diesel::prelude::*;
use gatehouse::auth::totp;
use gatehouse::clock::Clock;
use gatehouse::db::schema::users;
use rocket::http::{Header, Status};

/// Text between the first `marker` and the next `<`.
fn text_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    let rest = &rest[rest.find('>')? + 1..];
    Some(unescape(rest[..rest.find('<')?].trim()))
}

/// The recovery codes a page shows (each in an `<li>` under `data-testid="recovery-codes"`).
fn recovery_codes(html: &str) -> Vec<String> {
    let start = html
        .find("data-testid=\"recovery-codes\"")
        .expect("the page shows recovery codes");
    let list = &html[start..start + html[start..].find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap()].to_string())
        .collect()
}

/// The secret `b` is offered on the 2FA page, and the sealed setup field.
fn offered(t: &TestApp, b: &Browser) -> (Vec<u8>, String) {
    let r = b.get(t, "/account/2fa");
    assert_eq!(r.status(), Status::Ok);
    let html = r.into_string().unwrap();
    assert!(html.contains("data-testid=\"2fa\""));
    assert!(html.contains("<svg"), "a QR code drawn on the server");
    let text = text_after(&html, "data-testid=\"totp-secret\"").expect("the secret as text");
    let secret = totp::secret_from_text(&text).expect("base32");
    assert_eq!(secret.len(), 20, "160 bits");
    (
        secret,
        field_value(&html, "setup").expect("the setup field"),
    )
}

fn code(t: &TestApp, secret: &[u8]) -> String {
    totp::code_at(secret, t.clock.now())
}

/// Turns TOTP on for the account `b` is signed in to; the secret and the recovery codes.
fn enrol(t: &TestApp, b: &Browser) -> (Vec<u8>, Vec<String>) {
    let (secret, setup) = offered(t, b);
    let now_code = code(t, &secret);
    let r = b.submit(
        t,
        "/account/2fa",
        "/account/2fa/totp",
        &[
            ("setup", &setup),
            ("code", &now_code),
            ("current_password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), Status::Ok);
    let html = r.into_string().unwrap();
    let codes = recovery_codes(&html);
    assert_eq!(codes.len(), 10);
    assert!(html.contains("download=\"gatehouse-recovery-codes.txt\""));
    (secret, codes)
}

/// Password step: the status and where it leads.
fn password_step(t: &TestApp, b: &Browser, name: &str) -> (Status, Option<String>) {
    let r = b.login(t, name, PASSWORD);
    (
        r.status(),
        r.headers().get_one("Location").map(str::to_string),
    )
}

/// The second step's post (the token from the sign-in page: the same pre-session binding,
/// and there even when the browser has no pending sign-in left).
fn second_step(t: &TestApp, b: &Browser, code: &str) -> (Status, Option<String>) {
    let r = b.submit(t, "/login", "/login/2fa", &[("code", code)]);
    (
        r.status(),
        r.headers().get_one("Location").map(str::to_string),
    )
}

fn pending_cookie(t: &TestApp, b: &Browser) -> Option<String> {
    b.cookie(gatehouse::web::cookies::pending_cookie_name(
        &t.app().settings,
    ))
}

fn session(t: &TestApp, b: &Browser) -> Option<String> {
    b.cookie(t.app().settings.session_cookie_name())
}

backend_tests! {
    #[test]
    fn signing_in_takes_the_password_then_a_code() {
        let t = start();
        t.signed_up("ada");
        let (secret, _) = enrol(&t, &t.browser);
        // The account page says it is on.
        let account = t.get("/account").into_string().unwrap();
        assert!(account.contains("data-testid=\"2fa-summary\""));
        let page = t.get("/account/2fa").into_string().unwrap();
        assert!(page.contains("10 recovery codes left"), "{page}");
        assert!(!page.contains("data-testid=\"totp-secret\""), "no new secret while on");
        t.logout();

        let b = Browser::new("laptop");
        let r = b.submit(
            &t,
            "/login",
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("remember", "on"),
                ("next", "/account/sessions"),
            ],
        );
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/login/2fa"));
        drop(r);
        // Not a session: it opens nothing else.
        assert_eq!(session(&t, &b), None);
        assert!(pending_cookie(&t, &b).is_some());
        let r = b.get(&t, "/dashboard");
        assert_eq!(r.status(), Status::SeeOther);
        drop(r);
        let r = b.get(&t, "/login/2fa");
        assert_eq!(r.status(), Status::Ok);
        assert!(r.into_string().unwrap().contains("data-testid=\"login-2fa\""));

        t.clock.advance(30);
        // A wrong code: 401, the form again.
        let (status, _) = second_step(&t, &b, "000000");
        let wrong_is_right = code(&t, &secret) == "000000";
        if !wrong_is_right {
            assert_eq!(status, Status::Unauthorized);
        }
        // Spaces and dashes are fine; `next` and "remember me" survived the step.
        let c = code(&t, &secret);
        let typed = format!("{} {}", &c[..3], &c[3..]);
        let r = b.submit(&t, "/login/2fa", "/login/2fa", &[("code", &typed)]);
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/account/sessions"));
        let cookie = set_cookie_named(&r, t.app().settings.session_cookie_name()).unwrap();
        assert!(cookie.contains("Max-Age="), "remember me: {cookie}");
        drop(r);
        assert_eq!(pending_cookie(&t, &b), None, "the pending cookie goes");
        let token = session(&t, &b).unwrap();
        assert_eq!(t.claims(&token).amr, ["pwd", "otp", "mfa"]);

        // The second step did no bcrypt work (the password step did one).
        let bcrypt = t.app().hasher.verifications();
        let timing = Browser::new("timing");
        password_step(&t, &timing, "ada");
        assert_eq!(t.app().hasher.verifications(), bcrypt + 1);
        t.clock.advance(30);
        assert_eq!(second_step(&t, &timing, &code(&t, &secret)).0, Status::SeeOther);
        assert_eq!(t.app().hasher.verifications(), bcrypt + 1, "no bcrypt in the second step");
        let c = code(&t, &secret);

        // The same code again (same step), on this instance or another: refused.
        let other = t.another_instance();
        let again = Browser::new("again");
        assert_eq!(password_step(&other, &again, "ada").0, Status::SeeOther);
        assert_eq!(second_step(&other, &again, &c).0, Status::Unauthorized);
        // The next step's code works there.
        t.clock.advance(30);
        let (status, location) = second_step(&other, &again, &code(&t, &secret));
        assert_eq!((status, location.as_deref()), (Status::SeeOther, Some("/dashboard")));
    }

    #[test]
    fn recovery_codes_work_once_and_a_new_set_voids_the_old() {
        let t = start();
        t.signed_up("ada");
        let (_, codes) = enrol(&t, &t.browser);
        t.logout();
        let b = Browser::new("phone lost");
        password_step(&t, &b, "ada");
        // Typed in capitals with spaces: still the code.
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert_eq!(second_step(&t, &b, &typed).0, Status::SeeOther);
        assert_eq!(t.claims(&session(&t, &b).unwrap()).amr, ["pwd", "otp", "mfa"]);
        let page = b.get(&t, "/account/2fa").into_string().unwrap();
        assert!(page.contains("9 recovery codes left"), "{page}");
        b.submit(&t, "/dashboard", "/logout", &[]);
        // Used once ever.
        password_step(&t, &b, "ada");
        assert_eq!(second_step(&t, &b, &codes[3]).0, Status::Unauthorized);
        assert_eq!(second_step(&t, &b, &codes[4]).0, Status::SeeOther);

        // A new set: the old ones stop working. Wrong password: 401, nothing changes.
        let r = b.submit(&t, "/account/2fa", "/account/2fa/recovery-codes", &[("current_password", "not it at all")]);
        assert_eq!(r.status(), Status::Unauthorized);
        drop(r);
        let r = b.submit(&t, "/account/2fa", "/account/2fa/recovery-codes", &[("current_password", PASSWORD)]);
        assert_eq!(r.status(), Status::Ok);
        let fresh = recovery_codes(&r.into_string().unwrap());
        assert_eq!(fresh.len(), 10);
        assert!(fresh.iter().all(|c| !codes.contains(c)));
        b.submit(&t, "/dashboard", "/logout", &[]);
        password_step(&t, &b, "ada");
        assert_eq!(second_step(&t, &b, &codes[5]).0, Status::Unauthorized);
        assert_eq!(second_step(&t, &b, &fresh[0]).0, Status::SeeOther);
    }

    #[test]
    fn wrong_codes_count_towards_the_accounts_ban() {
        let t = start();
        t.signed_up("ada");
        let (secret, _) = enrol(&t, &t.browser);
        t.logout();
        let attacker = Browser::new("attacker knows the password");
        assert_eq!(password_step(&t, &attacker, "ada").1.as_deref(), Some("/login/2fa"));
        let limit = t.app().settings.login_max_failures;
        for guess in 0..limit {
            let guess = format!("{:06}", 100_000 + guess);
            if guess == code(&t, &secret) {
                continue;
            }
            assert_eq!(second_step(&t, &attacker, &guess).0, Status::Unauthorized);
        }
        // Banned now: even the right code is refused, and the password step does not reset
        // the count (it fails too).
        assert_eq!(second_step(&t, &attacker, &code(&t, &secret)).0, Status::Unauthorized);
        let again = Browser::new("attacker again");
        assert_eq!(password_step(&t, &again, "ada").0, Status::Unauthorized);
        // Once the ban has passed, the owner signs in.
        t.clock.advance(t.app().settings.login_ban_time + 30);
        let owner = Browser::new("owner");
        assert_eq!(password_step(&t, &owner, "ada").1.as_deref(), Some("/login/2fa"));
        assert_eq!(second_step(&t, &owner, &code(&t, &secret)).0, Status::SeeOther);
    }

    #[test]
    fn a_pending_sign_in_expires_and_cannot_be_replayed() {
        let t = start();
        t.signed_up("ada");
        let (secret, _) = enrol(&t, &t.browser);
        t.logout();
        let b = Browser::new("slow");
        password_step(&t, &b, "ada");
        t.clock.advance(301);
        let (status, location) = second_step(&t, &b, &code(&t, &secret));
        assert_eq!((status, location.as_deref()), (Status::SeeOther, Some("/login")));
        assert_eq!(session(&t, &b), None);
        // Its page sends a browser without one back to /login.
        let r = Browser::new("none").get(&t, "/login/2fa");
        assert_eq!(r.headers().get_one("Location"), Some("/login"));
        drop(r);

        // A copy of a pending cookie is worthless once the sign-in is complete.
        password_step(&t, &b, "ada");
        let copied = pending_cookie(&t, &b).unwrap();
        t.clock.advance(30);
        assert_eq!(second_step(&t, &b, &code(&t, &secret)).0, Status::SeeOther);
        let thief = Browser::new("thief");
        thief.set_cookie(gatehouse::web::cookies::pending_cookie_name(&t.app().settings), &copied);
        t.clock.advance(30);
        let (status, location) = second_step(&t, &thief, &code(&t, &secret));
        assert_eq!((status, location.as_deref()), (Status::SeeOther, Some("/login")));
        assert_eq!(session(&t, &thief), None);
        // A forged or oversized cookie is the same: start again, never a 500.
        for forged in ["x", &"A".repeat(5000)] {
            thief.set_cookie(gatehouse::web::cookies::pending_cookie_name(&t.app().settings), forged);
            assert_eq!(second_step(&t, &thief, "123456").1.as_deref(), Some("/login"));
        }
    }

    #[test]
    fn enrolment_needs_the_password_a_current_code_and_its_own_setup() {
        let t = start();
        t.signed_up("ada");
        let (secret, setup) = offered(&t, &t.browser);
        let post = |setup: &str, code: &str, password: &str| {
            let r = t.submit(
                "/account/2fa",
                "/account/2fa/totp",
                &[("setup", setup), ("code", code), ("current_password", password)],
            );
            (r.status(), r.into_string().unwrap_or_default())
        };
        let good = code(&t, &secret);
        assert_eq!(post(&setup, &good, "wrong password!").0, Status::Unauthorized);
        for bad in ["12345", "abcdef", "1234567", ""] {
            let (status, body) = post(&setup, bad, PASSWORD);
            assert_eq!(status, Status::UnprocessableEntity, "{bad:?}");
            assert!(body.contains("id=\"code-error\""));
        }
        // A setup field that was tampered with, or made for someone else: start again.
        let mut tampered = setup.clone();
        tampered.replace_range(10..11, if &setup[10..11] == "A" { "B" } else { "A" });
        assert_eq!(post(&tampered, &good, PASSWORD).0, Status::UnprocessableEntity);
        let bob = Browser::new("bob");
        bob.register(&t, "bob", "bob@example.com", PASSWORD);
        let (_, bobs_setup) = offered(&t, &bob);
        assert_eq!(post(&bobs_setup, &good, PASSWORD).0, Status::UnprocessableEntity);
        // Too old.
        t.clock.advance(gatehouse::service::second_factor::SETUP_VALID_FOR);
        let late = code(&t, &secret);
        assert_eq!(post(&setup, &late, PASSWORD).0, Status::UnprocessableEntity);
        // Nothing was turned on by any of it.
        t.logout();
        assert_eq!(t.login("ada", PASSWORD).headers().get_one("Location"), Some("/dashboard"));
        // The secret at rest is sealed: neither its bytes nor its text are in the database.
        let (secret, _) = enrol(&t, &t.browser);
        let mut conn = t.app().db.get().unwrap();
        let stored: Option<Vec<u8>> = users::table
            .filter(users::username.eq("ada"))
            .select(users::totp_secret)
            .first(&mut *conn)
            .unwrap();
        let stored = stored.expect("stored");
        assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
        let text = totp::secret_text(&secret);
        assert!(!String::from_utf8_lossy(&stored).contains(&text));
        // The enrolment code itself cannot sign in (its step is used).
    }

    #[test]
    fn turning_it_off_needs_the_password_and_a_code() {
        let t = start();
        t.signed_up("ada");
        let (secret, codes) = enrol(&t, &t.browser);
        let off = |password: &str, code: &str| {
            let r = t.submit(
                "/account/2fa",
                "/account/2fa/disable",
                &[("current_password", password), ("code", code)],
            );
            (r.status(), r.headers().get_one("Location").map(str::to_string))
        };
        t.clock.advance(30);
        assert_eq!(off("wrong password!", &code(&t, &secret)).0, Status::Unauthorized);
        assert_eq!(off(PASSWORD, "not a code").0, Status::Unauthorized);
        assert_eq!(off(PASSWORD, &codes[0]), (Status::SeeOther, Some("/account/2fa".into())));
        let page = t.get("/account/2fa").into_string().unwrap();
        assert!(page.contains("data-testid=\"totp-secret\""), "off: a new secret on offer");
        t.logout();
        let r = t.login("ada", PASSWORD);
        assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
        drop(r);
        assert_eq!(t.claims(&t.session_cookie().unwrap()).amr, ["pwd"]);
        // Audited.
        let events: Vec<String> = {
            use gatehouse::db::schema::audit_events;
            let mut conn = t.app().db.get().unwrap();
            audit_events::table
                .select(audit_events::event)
                .load(&mut *conn)
                .unwrap()
        };
        for e in ["second_factor_enabled", "second_factor_disabled"] {
            assert!(events.iter().any(|x| x == e), "{e}: {events:?}");
        }
    }
}

/// Notices go out by mail, and a password reset does not skip the second step.
#[test]
fn changes_are_mailed_and_a_reset_still_asks_for_the_code() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let t = start_with(move |f| f.merge(("smtp_url", url)));
    t.signed_up("ada");
    let (secret, _) = enrol(&t, &t.browser);
    let mails = sink.wait_for(2, Duration::from_secs(20));
    let notice = mails
        .iter()
        .find(|m| m.subject().contains("Two-step sign-in was turned on"))
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert_eq!(notice.to, ["ada@example.com"]);
    t.logout();
    sink.clear();
    let r = t.submit(
        "/password/forgot",
        "/password/forgot",
        &[("email", "ada@example.com")],
    );
    assert_eq!(r.status(), Status::Ok);
    drop(r);
    let mail = sink.wait_for(1, Duration::from_secs(20)).remove(0);
    let body = mail.text_body();
    let start = body.find("/password/reset/").unwrap();
    let path: String = body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let fresh = "a whole new passphrase for ada";
    let r = t.submit(
        &path,
        &path,
        &[("new_password", fresh), ("new_password_confirm", fresh)],
    );
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = t.login("ada", fresh);
    assert_eq!(r.headers().get_one("Location"), Some("/login/2fa"));
    drop(r);
    t.clock.advance(30);
    assert_eq!(
        second_step(&t, &t.browser, &code(&t, &secret)).0,
        Status::SeeOther
    );
}

/// Forward-auth: `require_2fa` rules, and `Remote-Amr`.
#[test]
fn forward_auth_can_require_a_second_factor() {
    let t = start_with(|f| {
        f.merge(("trusted_proxies", vec!["10.0.0.0/8"])).merge((
            "access_rules",
            serde_json::json!([
                {"host": "admin.example.com", "users": ["ada"], "require_2fa": true},
                {"host": "wiki.example.com", "users": ["ada"]}
            ]),
        ))
    });
    t.signed_up("ada");
    let ask = |b: &Browser, host: &str| {
        let req = t
            .client
            .get("/auth/verify")
            .remote("10.0.0.2:40000".parse().unwrap())
            .header(Header::new("X-Original-URL", format!("https://{host}/")));
        let r = b.send(req);
        (
            r.status(),
            r.headers().get_one("Remote-Amr").map(str::to_string),
        )
    };
    assert_eq!(
        ask(&t.browser, "wiki.example.com"),
        (Status::Ok, Some("pwd".into()))
    );
    assert_eq!(ask(&t.browser, "admin.example.com").0, Status::Forbidden);
    let (secret, _) = enrol(&t, &t.browser);
    // This session began with a password only: still refused.
    assert_eq!(ask(&t.browser, "admin.example.com").0, Status::Forbidden);
    t.logout();
    password_step(&t, &t.browser, "ada");
    t.clock.advance(30);
    assert_eq!(
        second_step(&t, &t.browser, &code(&t, &secret)).0,
        Status::SeeOther
    );
    assert_eq!(
        ask(&t.browser, "admin.example.com"),
        (Status::Ok, Some("pwd,otp,mfa".into()))
    );
}

/// LG-6 holds across two steps: the session a browser came with ends when the new one starts.
#[test]
fn a_two_step_sign_in_ends_the_session_the_browser_came_with() {
    let t = start();
    t.signed_up("ada");
    let (secret, _) = enrol(&t, &t.browser);
    t.logout();
    let b = Browser::new("shared computer");
    assert_eq!(
        b.register(&t, "bob", "bob@example.com", PASSWORD).status(),
        Status::SeeOther
    );
    let bobs = session(&t, &b).unwrap();
    // The sign-in page redirects a signed-in browser, so the form is posted as it was left
    // open in another tab (with the pre-session token, which the account page also holds).
    let account = b.get(&t, "/account").into_string().unwrap();
    let marker = "data-strength-csrf=\"";
    let start = account.find(marker).unwrap() + marker.len();
    let token = unescape(&account[start..start + account[start..].find('"').unwrap()]);
    let r = b.post(
        &t,
        "/login",
        &[
            ("username", "ada"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    );
    assert_eq!(r.headers().get_one("Location"), Some("/login/2fa"));
    drop(r);
    t.clock.advance(30);
    let r = b.post(
        &t,
        "/login/2fa",
        &[("code", &code(&t, &secret)), ("csrf_token", &token)],
    );
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_ne!(session(&t, &b).unwrap(), bobs);
    let r = t.get_with_token("/dashboard", &bobs);
    assert_eq!(r.status(), Status::SeeOther, "bob's session ended");
}
