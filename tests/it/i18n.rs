//! English and Korean: complete catalogs, negotiation, the switch link, translated errors.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;
use rocket::http::{Header, Status};

/// Every message of a language, over all its files (pages and mail).
fn keys_of(lang: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("locales/{lang}"));
    let mut keys = BTreeSet::new();
    for file in ["main.ftl", "mail.ftl"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        keys.extend(
            text.lines()
                .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_string())),
        );
    }
    keys
}

/// Every string literal in `dir` (recursively, files ending in `ext`) that looks like a key.
fn used_keys(dir: &Path, ext: &str, out: &mut BTreeSet<String>) {
    const PREFIXES: &[&str] = &[
        "error-",
        "twofa-",
        "advice-",
        "event-",
        "device-",
        "account-",
        "sessions-",
        "register-",
        "login-",
        "logout-",
        "dashboard-",
        "strength-",
        "nav-",
        "footer-",
        "language-",
        "skip-",
        "show-",
        "hide-",
        "date-",
        "month-",
        "forgot-",
        "reset-",
        "email-",
        "verify-",
        "mail-",
    ];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // The command line speaks English only: its strings are not catalog keys.
        if path.ends_with("src/cli") {
            continue;
        }
        if path.is_dir() {
            used_keys(&path, ext, out);
        } else if path.to_string_lossy().ends_with(ext) {
            let text = std::fs::read_to_string(&path).unwrap();
            // In templates only `key="..."` arguments are keys; elsewhere ids and classes abound.
            let literals: Vec<&str> = if ext == ".tera" {
                text.split("key=\"")
                    .skip(1)
                    .filter_map(|s| s.split('"').next())
                    .collect()
            } else {
                text.split('"').skip(1).step_by(2).collect()
            };
            for literal in literals {
                let looks_like_key = PREFIXES.iter().any(|p| literal.starts_with(p))
                    && literal.len() > 5
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !literal.ends_with('-');
                if looks_like_key {
                    out.insert(literal.to_string());
                }
            }
        }
    }
}

#[test]
fn both_languages_have_every_key_and_every_used_key_exists() {
    let (en, ko) = (keys_of("en"), keys_of("ko"));
    assert!(en.len() > 150, "{}", en.len());
    let only_en: Vec<_> = en.difference(&ko).collect();
    let only_ko: Vec<_> = ko.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in Korean: {only_en:?}");
    assert!(only_ko.is_empty(), "missing in English: {only_ko:?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    used_keys(&root.join("src"), ".rs", &mut used);
    used_keys(&root.join("templates"), ".tera", &mut used);
    // Keys built at run time.
    for i in 0..=4 {
        used.insert(format!("strength-{i}"));
    }
    for m in 1..=12 {
        used.insert(format!("month-{m}"));
    }
    // Page names share the prefixes; mail keys are prefixes of a subject and a body.
    used.retain(|k| !root.join(format!("templates/{k}.html.tera")).exists());
    for k in used.clone() {
        if !en.contains(&k) && k.starts_with("mail-") {
            used.remove(&k);
            used.insert(format!("{k}-subject"));
            used.insert(format!("{k}-body"));
        }
    }
    let missing: Vec<_> = used.iter().filter(|k| !en.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "used but not in the catalogs: {missing:?}"
    );
    assert!(used.len() > 100, "the scan found the keys ({})", used.len());
}

#[test]
fn accept_language_picks_korean_and_the_html_says_so() {
    let t = start();
    let r = t
        .client
        .get("/login")
        .header(Header::new("Accept-Language", "ko-KR,ko;q=0.9,en;q=0.5"))
        .dispatch();
    let body = r.into_string().unwrap();
    assert!(body.contains("<html lang=\"ko\">"));
    assert!(body.contains("<h1 id=\"login-title\">로그인</h1>"));
    assert!(body.contains("비밀번호"));
    let body = t
        .client
        .get("/login")
        .header(Header::new("Accept-Language", "fr, de"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(body.contains("<html lang=\"en\">") && body.contains(">Sign in</h1>"));
}

#[test]
fn the_switch_link_sets_a_cookie_that_wins() {
    let t = start();
    let body = t.get("/login").into_string().unwrap();
    assert!(
        body.contains("href=\"/language/ko?next=%2Flogin\""),
        "the switch link returns to this page"
    );
    let r = t.get("/language/ko?next=%2Flogin");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/login"));
    let c = set_cookie_named(&r, "lang").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Max-Age="),
        "{c}"
    );
    drop(r);
    // The cookie beats the browser's Accept-Language.
    let r = t.send(
        t.client
            .get("/login")
            .header(Header::new("Accept-Language", "en")),
    );
    assert!(r.into_string().unwrap().contains("<html lang=\"ko\">"));
    // Unknown languages and foreign targets are refused.
    assert_eq!(t.get("/language/xx").status(), Status::NotFound);
    assert_eq!(
        t.get("/language/en?next=https%3A%2F%2Fevil.example")
            .headers()
            .get_one("Location"),
        Some("/dashboard")
    );
    // The language lives in its cookie, never in the session token.
    t.signed_up("minji");
    let token = t.session_cookie().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert!(claims.keys().all(|k| !k.contains("lang")), "{claims:?}");
    assert!(claims.values().all(|v| v != "ko"), "{claims:?}");
}

#[test]
fn the_switch_returns_to_this_site_only_even_with_a_cookie_domain() {
    // With cookie_domain, sign-in may send people back to an app on a sibling host; the
    // language switch has no reason to, and must not be a redirector to those hosts.
    let t = start_with(|f| {
        f.merge(("public_origin", "http://login.gh.test:8000"))
            .merge(("cookie_domain", "gh.test"))
    });
    for target in [
        "http%3A%2F%2Fapp.gh.test%2Fpage",
        "http%3A%2F%2Fevil.gh.test%3A8000%2F",
        "%2F%2Fapp.gh.test%2F",
    ] {
        let r = t.get(&format!("/language/ko?next={target}"));
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(
            r.headers().get_one("Location"),
            Some("/dashboard"),
            "{target}"
        );
    }
    let r = t.get("/language/ko?next=%2Faccount%3Ftab%3D1");
    assert_eq!(r.headers().get_one("Location"), Some("/account?tab=1"));
    // Sign-in itself still goes back to the app (forward-auth needs it).
    let r = t.get("/login?next=http%3A%2F%2Fapp.gh.test%2Fpage");
    let body = r.into_string().unwrap();
    assert_eq!(
        field_value(&body, "next").as_deref(),
        Some("http://app.gh.test/page")
    );
}

#[test]
fn errors_validation_and_dates_are_translated() {
    let t = start();
    t.get("/language/ko");
    let r = t.get("/no/such/page");
    assert_eq!(r.status(), Status::NotFound);
    let body = r.into_string().unwrap();
    assert!(
        body.contains("페이지를 찾을 수 없음") && body.contains("오류 404"),
        "{body}"
    );
    let r = t.submit(
        "/register",
        "/register",
        &[
            ("username", "x"),
            ("email", "nope"),
            ("password", "password1"),
            ("password_confirm", "password1"),
        ],
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let body = r.into_string().unwrap();
    assert!(body.contains("3자 이상 입력하세요."), "username");
    assert!(
        body.contains("name@example.com 같은 주소를 입력하세요."),
        "email"
    );
    assert!(
        body.contains("너무 쉽게 추측할 수 있는 비밀번호입니다."),
        "password"
    );
    assert!(body.contains("다음 항목을 고쳐 주세요"), "error summary");
    t.register("minsu", "minsu@example.com", PASSWORD);
    let body = t.get("/dashboard").into_string().unwrap();
    assert!(body.contains("minsu님, 환영합니다"), "{body}");
    assert!(
        body.contains("년 ") && body.contains("월 ") && body.contains("일 "),
        "Korean dates"
    );
    let body = t.get("/account/sessions").into_string().unwrap();
    assert!(body.contains("로그인된 기기"));
    // A wrong password in Korean, same generic message for everyone.
    t.logout();
    let r = t.login("minsu", "wrong wrong wrong");
    assert!(r
        .into_string()
        .unwrap()
        .contains("사용자 이름 또는 비밀번호가 올바르지 않습니다."));
}

#[test]
fn the_strength_endpoint_answers_in_the_users_language_and_needs_a_token() {
    let t = start();
    let r = t.submit(
        "/register",
        "/password/strength",
        &[
            ("password", "password1"),
            ("username", "kim"),
            ("email", "kim@example.com"),
        ],
    );
    assert_eq!(r.status(), Status::Ok);
    let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["score"].as_u64().unwrap() < 3);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("This password is too easy to guess."));
    let r = t.submit("/register", "/password/strength", &[("password", PASSWORD)]);
    let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["label"], "Very strong");
    t.get("/language/ko");
    let r = t.submit("/register", "/password/strength", &[("password", PASSWORD)]);
    let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    assert_eq!(v["label"], "매우 강함");
    assert_eq!(
        t.post_form("/password/strength", &[("password", PASSWORD)])
            .status(),
        Status::Forbidden
    );
}
