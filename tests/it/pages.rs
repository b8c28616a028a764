//! Public pages, error pages and the headers on every response.

use crate::common::*;
use rocket::http::{ContentType, Header, Status};

fn assert_security_headers(r: &rocket::local::blocking::LocalResponse<'_>, what: &str) {
    let h = r.headers();
    let csp = h
        .get_one("Content-Security-Policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP lacks {directive}");
    }
    assert!(
        !csp.contains("unsafe-inline"),
        "{what}: CSP allows inline code"
    );
    assert_eq!(h.get_one("X-Frame-Options"), Some("DENY"), "{what}");
    assert_eq!(
        h.get_one("X-Content-Type-Options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(h.get_one("Referrer-Policy"), Some("same-origin"), "{what}");
    assert_eq!(h.get_one("Server"), None, "{what}: Server banner");
    assert!(
        h.get_one("Access-Control-Allow-Origin").is_none(),
        "{what}: CORS"
    );
}

backend_tests! {
    #[test]
    fn healthz_reports_the_database() {
        let t = start();
        let r = t.get("/healthz");
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.content_type(), Some(ContentType::JSON));
        assert_eq!(r.into_string().unwrap(), r#"{"status":"ok"}"#);
    }

    #[test]
    fn healthz_and_pages_are_503_when_the_database_does_not_answer() {
        let t = start_with(|f| {
            f.merge(("db_pool_size", 1))
                .merge(("db_connect_timeout", 1))
        });
        t.signed_up("dora");
        // Hold the only connection: to the app the database is gone.
        let held = t.app().db.get().unwrap();
        let r = t.get("/healthz");
        assert_eq!(r.status(), Status::ServiceUnavailable);
        assert_eq!(r.into_string().unwrap(), r#"{"status":"unavailable"}"#);
        // A token due for revalidation cannot be checked: 503, not the dashboard.
        t.clock.advance(61);
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::ServiceUnavailable);
        assert!(r.headers().get_one("Retry-After").is_some());
        let body = r.into_string().unwrap();
        assert!(body.contains("Temporarily unavailable"));
        assert!(
            !body.contains("dora"),
            "no dashboard while the database is down"
        );
        // It recovers by itself.
        drop(held);
        assert_eq!(t.get("/healthz").status(), Status::Ok);
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
    }

    #[test]
    fn signed_in_visitors_skip_login_and_register() {
        let t = start();
        t.signed_up("erin");
        let r = t.get("/login");
        assert_eq!(r.status(), Status::SeeOther);
        assert_eq!(r.headers().get_one("Location"), Some("/dashboard"));
        assert_eq!(t.get("/register").status(), Status::SeeOther);
        assert_eq!(t.get("/").headers().get_one("Location"), Some("/dashboard"));
    }
}

#[test]
fn root_sends_visitors_to_login() {
    let t = start();
    let r = t.get("/");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/login"));
}

#[test]
fn login_and_register_pages_render_with_markers_and_tokens() {
    let t = start();
    for (uri, marker) in [("/login", "login"), ("/register", "register")] {
        let r = t.get(uri);
        assert_eq!(r.status(), Status::Ok);
        assert_security_headers(&r, uri);
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
        let body = r.into_string().unwrap();
        assert!(body.contains(&format!(
            "<main id=\"main\" class=\"main\" data-testid=\"{marker}\""
        )));
        let token = field_value(&body, "csrf_token").unwrap();
        assert!(token.len() >= 43, "token {token:?}");
        // Password managers: PW-6.
        assert!(body.contains("autocomplete=\"username\""));
        assert!(!body.contains("onpaste"));
        // No inline script or style anywhere.
        // Scripts only from our own files, never inline.
        for tag in body.split("<script").skip(1) {
            let tag = tag.split("</script>").next().unwrap();
            assert!(
                tag.starts_with(" src=\"") && tag.ends_with("defer>"),
                "{uri}: inline script {tag}"
            );
        }
        assert!(!body.contains("style=\""), "{uri} has inline style");
        assert!(!body.contains("<style"), "{uri} has a style element");
    }
    let body = t.get("/login").into_string().unwrap();
    assert!(body.contains("autocomplete=\"current-password\""));
    let body = t.get("/register").into_string().unwrap();
    assert!(body.contains("autocomplete=\"new-password\""));
}

#[test]
fn login_page_sets_a_pre_session_csrf_cookie() {
    let t = start();
    let r = t.get("/login");
    let c = set_cookie_named(&r, "csrf").expect("csrf cookie");
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Lax"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
}

#[test]
fn protected_pages_redirect_to_login_with_next() {
    let t = start();
    let r = t.get("/dashboard");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location"),
        Some("/login?next=%2Fdashboard")
    );
    // The login page carries `next` into its form.
    let body = t.get("/login?next=%2Fdashboard").into_string().unwrap();
    assert_eq!(field_value(&body, "next").as_deref(), Some("/dashboard"));
    // An unsafe `next` never reaches the form.
    let body = t
        .get("/login?next=%2F%2Fevil.example")
        .into_string()
        .unwrap();
    assert_eq!(field_value(&body, "next").as_deref(), Some("/dashboard"));
}

#[test]
fn unknown_pages_are_404_pages_in_the_layout() {
    let t = start();
    let r = t.get("/no/such/page");
    assert_eq!(r.status(), Status::NotFound);
    assert_eq!(r.content_type(), Some(ContentType::HTML));
    assert_security_headers(&r, "404");
    let body = r.into_string().unwrap();
    assert!(body.contains("data-testid=\"error\""));
    assert!(body.contains("Page not found"));
    assert!(
        body.contains("style.css"),
        "error page uses the site's layout"
    );
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let t = start();
    let r = t.get("/logout");
    assert_eq!(r.status(), Status::MethodNotAllowed);
    assert_eq!(r.headers().get_one("Allow"), Some("POST"));
    assert_security_headers(&r, "405");
    assert!(r.into_string().unwrap().contains("Method not allowed"));
    let r = t.client.delete("/login").dispatch();
    assert_eq!(r.status(), Status::MethodNotAllowed);
    assert_eq!(r.headers().get_one("Allow"), Some("GET, POST, HEAD"));
    let r = t
        .client
        .post("/dashboard")
        .header(ContentType::Form)
        .dispatch();
    assert_eq!(r.status(), Status::MethodNotAllowed);
}

#[test]
fn static_assets_are_versioned_and_cacheable() {
    let t = start();
    let body = t.get("/login").into_string().unwrap();
    let at = body
        .find("/static/style.css?v=")
        .or_else(|| body.find("&#x2F;static&#x2F;style.css?v="))
        .unwrap();
    let href: String = unescape(&body[at..])
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let r = t.get(&href);
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(ContentType::CSS));
    assert_eq!(
        r.headers().get_one("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = r.headers().get_one("ETag").unwrap().to_string();
    let r = t
        .client
        .get("/static/style.css")
        .header(Header::new("If-None-Match", etag))
        .dispatch();
    assert_eq!(r.status(), Status::NotModified);
    assert_eq!(t.get("/static/../Cargo.toml").status(), Status::NotFound);
    assert_eq!(t.get("/static/nope.css").status(), Status::NotFound);
}

#[test]
fn a_planted_flash_cookie_cannot_put_text_on_a_page() {
    // Anyone who can set a cookie for this host (a sibling subdomain, a network attacker
    // before HSTS) can plant `_flash`; Rocket's format is `<kind length>:<kind><message>`.
    let t = start();
    for planted in [
        "5:errorYour account is locked. Call +1 555 0100.",
        "7:successWelcome back! Verify at evil.example",
        "5:error<b>markup</b>",
        "5:errorwelcome",
    ] {
        let r = t
            .client
            .get("/login")
            .cookie(rocket::http::Cookie::new("_flash", planted))
            .dispatch();
        assert_eq!(r.status(), Status::Ok);
        let body = r.into_string().unwrap();
        assert!(
            !body.contains("class=\"flash"),
            "{planted:?} showed a notice:\n{body}"
        );
        assert!(
            !body.contains("555 0100")
                && !body.contains("evil.example")
                && !body.contains("markup")
        );
    }
    // What a planted cookie can name is one of our own sentences, nothing more.
    let r = t
        .client
        .get("/login")
        .cookie(rocket::http::Cookie::new("_flash", "7:successsigned-out"))
        .dispatch();
    let body = r.into_string().unwrap();
    assert!(body.contains("You have been signed out."), "{body}");
    // The welcome names the signed-in user from the session, never from the cookie.
    t.signed_up("fiona");
    let r = t.send(
        t.client
            .get("/dashboard")
            .cookie(rocket::http::Cookie::new("_flash", "7:successwelcome")),
    );
    assert!(r.into_string().unwrap().contains("Welcome, fiona!"));
}
