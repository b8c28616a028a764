//! A real Caddy (the Debian package) in front of a tiny upstream app, configured with the
//! Caddyfile from docs/caddy.md: signed-out visitors are sent to sign in, signed-in ones reach
//! the app as themselves, identity headers the client sends never get through, access rules
//! hold whatever the request line or the client's forwarding headers say, logout works.

use std::path::Path;

use crate::common::net::*;
use crate::common::{field_value, test_dir, PASSWORD};

/// The Caddyfile of docs/caddy.md on loopback without TLS, plus a second protected app,
/// `admin.gh.test`: the docs' app site under another name.
fn documented_caddyfile(caddy_port: u16, gatehouse_port: u16, app_port: u16) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/caddy.md"))
        .unwrap();
    let start = doc
        .find("```caddyfile\n")
        .expect("docs/caddy.md has a Caddyfile block")
        + 13;
    let end = start + doc[start..].find("```").unwrap();
    let sites = doc[start..end]
        .replace(
            "login.example.com {",
            &format!("http://login.gh.test:{caddy_port} {{"),
        )
        .replace(
            "app.example.com {",
            &format!("http://app.gh.test:{caddy_port} {{"),
        )
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{gatehouse_port}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}"));
    let app_site = &sites[sites
        .find(&format!("http://app.gh.test:{caddy_port} {{"))
        .expect("the docs' app site")..];
    let admin_site = app_site.replace("app.gh.test", "admin.gh.test");
    // No admin API, no certificates, and nothing but loopback.
    format!(
        "{{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}}\n\n{sites}\n{admin_site}"
    )
}

/// nina (signed in with `cookie`) asks the Caddy on port `cp` for the admin app every way she can
/// think of; every way ends in a 403 that never reached the app.
fn nina_cannot_reach_the_admin_app(cp: u16, cookie: &str) {
    let app_host = format!("app.gh.test:{cp}");
    let admin_host = format!("admin.gh.test:{cp}");
    let tries: Vec<(String, Vec<(&str, String)>)> = vec![
        ("/secret".into(), vec![("Host", admin_host.clone())]),
        // The request line of issue #11: Caddy serves (and names) the admin site.
        (
            format!("http://admin.gh.test:{cp}/secret"),
            vec![("Host", app_host.clone())],
        ),
        // Her own forwarding headers, naming the app.
        (
            "/secret".into(),
            vec![
                ("Host", admin_host.clone()),
                ("X-Original-URL", format!("http://app.gh.test:{cp}/")),
            ],
        ),
        (
            "/secret".into(),
            vec![
                ("Host", admin_host.clone()),
                ("X-Forwarded-Host", app_host.clone()),
                ("X-Forwarded-Proto", "http".into()),
                ("X-Forwarded-Uri", "/".into()),
            ],
        ),
        (
            format!("http://admin.gh.test:{cp}/secret"),
            vec![
                ("Host", app_host.clone()),
                ("X-Original-URL", format!("http://app.gh.test:{cp}/")),
                ("X-Forwarded-Host", app_host.clone()),
            ],
        ),
    ];
    for (target, headers) in &tries {
        let host = &headers[0].1;
        let mut all: Vec<(&str, &str)> = vec![("Cookie", cookie)];
        all.extend(headers[1..].iter().map(|(k, v)| (*k, v.as_str())));
        let r = http(cp, "GET", host, target, &all, None);
        assert_eq!(r.status, 403, "{target} {headers:?}: {}", r.body);
        assert!(
            !r.body.contains("UPSTREAM"),
            "the admin app saw nina: {target} {headers:?}: {}",
            r.body
        );
    }
}

#[test]
fn caddy_forward_auth_end_to_end() {
    let dir = test_dir();
    let (cp, cp2, gp) = (free_port(), free_port(), free_port());
    let up = start_upstream();
    let login_origin = format!("http://login.gh.test:{cp}");
    let _gatehouse = start_gatehouse(
        dir.path(),
        gp,
        &[
            ("ROCKET_PUBLIC_ORIGIN", login_origin.clone()),
            ("ROCKET_COOKIE_DOMAIN", "gh.test".into()),
            ("ROCKET_TRUSTED_PROXIES", "[\"127.0.0.1\"]".into()),
            // nina may use the app, only root the admin app.
            (
                "ROCKET_ACCESS_RULES",
                "[{host=\"app.gh.test\",users=[\"nina\"]},{host=\"admin.gh.test\",users=[\"root\"]}]"
                    .into(),
            ),
        ],
    );
    let _caddy = start_caddy(dir.path(), &documented_caddyfile(cp, gp, up), cp);
    let app_host = format!("app.gh.test:{cp}");
    let admin_host = format!("admin.gh.test:{cp}");
    let login_host = format!("login.gh.test:{cp}");

    // 1. Not signed in: redirected to sign in (a 302 the browser follows, not gatehouse's
    //    401), and the app never sees the request, even one that claims to be someone.
    let r = http(
        cp,
        "GET",
        &app_host,
        "/private/page?x=1",
        &[("Remote-User", "admin")],
        None,
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("Location").unwrap().to_string();
    assert_eq!(
        location,
        format!(
            "{login_origin}/login?next=http%3A%2F%2Fapp.gh.test%3A{cp}%2Fprivate%2Fpage%3Fx%3D1"
        )
    );
    assert!(!r.body.contains("UPSTREAM"));

    // 2. Register through Caddy, sign out, then sign in from the redirect's page.
    let login = Site::new(cp, &login_host);
    assert_eq!(login.origin.as_deref(), Some(login_origin.as_str()));
    let mut jar = Jar::default();
    let r = login.register(&mut jar, "nina");
    assert_eq!(r.status, 303, "{}", r.body);
    let r = login.submit(&mut jar, "/dashboard", "/logout", &[]);
    assert_eq!(r.status, 303);

    let login_path = location.strip_prefix(&login_origin).unwrap();
    let page = login.get(login_path, &jar);
    assert_eq!(page.status, 200);
    let next = field_value(&page.body, "next").unwrap();
    assert_eq!(next, format!("http://app.gh.test:{cp}/private/page?x=1"));
    let r = login.submit(
        &mut jar,
        login_path,
        "/login",
        &[
            ("username", "nina"),
            ("password", PASSWORD),
            ("next", &next),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("Location"), Some(next.as_str()), "back to the app");
    let cookie = jar.header();

    // 3. Signed in: the app sees who it is; identity headers the client made up never get
    //    through, in any spelling, including the ones gatehouse leaves empty (nina is in
    //    no group).
    let r = http(
        cp,
        "GET",
        &app_host,
        "/private/page?x=1",
        &[
            ("Cookie", &cookie),
            // Values no token, id or cookie (base64url) can contain by chance.
            ("Remote-User", "Spoofed Admin!"),
            ("remote-email", "spoofed!@evil.example"),
            ("REMOTE-GROUPS", "spoofed!admins"),
            ("Remote_User", "Spoofed Admin!"),
            ("remote_groups", "spoofed!admins"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("UPSTREAM"), "{}", r.body);
    let lower = r.body.to_ascii_lowercase();
    assert!(lower.contains("remote-user: nina\r\n"), "{}", r.body);
    assert!(
        lower.contains("remote-email: nina@example.com\r\n"),
        "{}",
        r.body
    );
    assert!(
        !lower.contains("spoofed"),
        "a client-sent header reached the app: {}",
        r.body
    );

    // 4. Access rules: nina may not use the admin app, however she asks.
    nina_cannot_reach_the_admin_app(cp, &cookie);
    // The same tricks in reverse still land her in the app she may use, as herself.
    let r = http(
        cp,
        "GET",
        &admin_host,
        &format!("http://app.gh.test:{cp}/page"),
        &[
            ("Cookie", &cookie),
            ("X-Original-URL", &format!("http://admin.gh.test:{cp}/")),
            ("X-Forwarded-Host", &admin_host),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("UPSTREAM"));
    assert!(r
        .body
        .to_ascii_lowercase()
        .contains("remote-user: nina\r\n"));
    // Asking gatehouse directly through its own site proves nothing: Caddy names the
    // login host, which no rule lets anyone at.
    let r = http(
        cp,
        "GET",
        &login_host,
        "/auth/verify",
        &[
            ("Cookie", &cookie),
            ("X-Original-URL", &format!("http://app.gh.test:{cp}/")),
            ("X-Forwarded-Host", &app_host),
        ],
        None,
    );
    assert_eq!(r.status, 403);

    // A Caddyfile that lets a client's X-Original-URL through to gatehouse (Caddy's own
    // forward_auth example does): gatehouse itself refuses it, as it disagrees with the
    // X-Forwarded-Host Caddy set.
    let documented = documented_caddyfile(cp2, gp, up);
    let plain = documented
        .lines()
        .filter(|l| l.trim() != "header_up -X-Original-URL")
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plain.lines().count() < documented.lines().count());
    let _plain_caddy = start_caddy(&dir.path().join("plain"), &plain, cp2);
    nina_cannot_reach_the_admin_app(cp2, &cookie);

    // 5. Logout: redirected again, and the old cookie replayed no longer opens the app.
    assert_eq!(jar.header(), cookie);
    let r = login.submit(&mut jar, "/dashboard", "/logout", &[]);
    assert_eq!(r.status, 303);
    for c in [jar.header(), cookie] {
        let r = http(
            cp,
            "GET",
            &app_host,
            "/private/page",
            &[("Cookie", &c)],
            None,
        );
        assert_eq!(r.status, 302, "{}", r.body);
        assert!(!r.body.contains("UPSTREAM"));
    }
}
