//! A real nginx (the Debian package) in front of a tiny upstream app, configured with the
//! block from docs/nginx.md: signed-out visitors are sent to sign in, signed-in ones reach
//! the app as themselves, a Remote-User the client sends never gets through, access rules
//! hold whatever the request line or the client's forwarding headers say, logout works.

use std::path::Path;

use crate::common::net::*;
use crate::common::{field_value, test_dir, PASSWORD};

/// The nginx configuration block of docs/nginx.md, moved onto loopback without TLS, plus a
/// second protected app, `admin.gh.test`: the docs' app block under another name.
fn documented_config(nginx_port: u16, gatehouse_port: u16, app_port: u16) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nginx.md"))
        .unwrap();
    let start = doc
        .find("```nginx\n")
        .expect("docs/nginx.md has an nginx block")
        + 9;
    let end = start + doc[start..].find("```").unwrap();
    let servers = doc[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_certificate"))
        .map(|l| {
            l.replace(
                "listen 443 ssl http2;",
                &format!("listen 127.0.0.1:{nginx_port};"),
            )
        })
        .map(|l| {
            l.replace("login.example.com", "login.gh.test")
                .replace("app.example.com", "app.gh.test")
        })
        // The block's own name as the browser sees it: on this port, not 443.
        .map(|l| {
            if l.trim_start()
                .starts_with("proxy_set_header X-Forwarded-Host ")
            {
                l.replace(".gh.test;", &format!(".gh.test:{nginx_port};"))
            } else {
                l
            }
        })
        .map(|l| l.replace("127.0.0.1:8000", &format!("127.0.0.1:{gatehouse_port}")))
        .map(|l| l.replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}")))
        .collect::<Vec<_>>()
        .join("\n");
    let app_block = &servers[servers
        .find("server_name app.gh.test;")
        .and_then(|i| servers[..i].rfind("server {"))
        .expect("the docs' app block")..];
    assert_eq!(
        app_block.matches("server {").count(),
        1,
        "the app block is the last one in docs/nginx.md"
    );
    let admin_block = app_block.replace("app.gh.test", "admin.gh.test");
    format!("{servers}\n{admin_block}")
}

#[test]
fn nginx_forward_auth_end_to_end() {
    let dir = test_dir();
    let (np, gp) = (free_port(), free_port());
    let up = start_upstream();
    let login_origin = format!("http://login.gh.test:{np}");
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
    let _nginx = start_nginx(dir.path(), &documented_config(np, gp, up), np);
    let app_host = format!("app.gh.test:{np}");
    let admin_host = format!("admin.gh.test:{np}");
    let login_host = format!("login.gh.test:{np}");

    // 1. Not signed in: redirected to sign in, and the app never sees the request, even one
    //    that claims to be someone.
    let r = http(
        np,
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
            "{login_origin}/login?next=http%3A%2F%2Fapp.gh.test%3A{np}%2Fprivate%2Fpage%3Fx%3D1"
        )
    );
    assert!(!r.body.contains("UPSTREAM"));

    // 2. Register through nginx, then sign in from the redirect's page.
    let login = Site::new(np, &login_host);
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
    assert_eq!(next, format!("http://app.gh.test:{np}/private/page?x=1"));
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
    let session = r.set_cookie("session").unwrap();
    assert!(session.contains("Domain=gh.test"), "{session}");
    // 3. Signed in: the app sees who it is, and a forged Remote-User is overwritten.
    for spoof in ["Remote-User", "remote-user", "REMOTE-USER"] {
        let r = http(
            np,
            "GET",
            &app_host,
            "/private/page?x=1",
            &[
                ("Cookie", &jar.header()),
                // Values no token, id or cookie (base64url) can contain by chance.
                (spoof, "Spoofed Admin!"),
                ("Remote-Email", "spoofed!@evil.example"),
                ("Remote-Email-Verified", "spoofed-true"),
                ("Remote-Amr", "spoofed,mfa"),
            ],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.starts_with("UPSTREAM"));
        let lower = r.body.to_ascii_lowercase();
        assert!(lower.contains("remote-user: nina\r\n"), "{}", r.body);
        assert!(
            lower.contains("remote-email: nina@example.com\r\n"),
            "{}",
            r.body
        );
        assert!(
            lower.contains("remote-email-verified: false\r\n"),
            "{}",
            r.body
        );
        assert!(lower.contains("remote-amr: pwd\r\n"), "{}", r.body);
        assert!(
            !lower.contains("spoofed"),
            "a client-sent header reached the app: {}",
            r.body
        );
    }
    // Underscore spellings are dropped by nginx.
    let r = http(
        np,
        "GET",
        &app_host,
        "/",
        &[("Cookie", &jar.header()), ("Remote_User", "Spoofed Admin!")],
        None,
    );
    assert!(
        !r.body.to_ascii_lowercase().contains("spoofed"),
        "{}",
        r.body
    );
    // 3b. Access rules: nina may not use the admin app, however she asks.
    let cookie = jar.header();
    let tries: Vec<(String, Vec<(&str, String)>)> = vec![
        // Plainly.
        ("/secret".into(), vec![("Host", admin_host.clone())]),
        // Issue #11: nginx picks the admin block from the absolute URL in the request
        // line, while the Host header names the app she may use.
        (
            format!("http://admin.gh.test:{np}/secret"),
            vec![("Host", app_host.clone())],
        ),
        // Her own forwarding headers, naming the app.
        (
            "/secret".into(),
            vec![
                ("Host", admin_host.clone()),
                ("X-Original-URL", format!("http://app.gh.test:{np}/")),
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
            format!("http://admin.gh.test:{np}/secret"),
            vec![
                ("Host", app_host.clone()),
                ("X-Original-URL", format!("http://app.gh.test:{np}/")),
                ("X-Forwarded-Host", app_host.clone()),
            ],
        ),
    ];
    for (target, headers) in &tries {
        let host = &headers[0].1;
        let mut all: Vec<(&str, &str)> = vec![("Cookie", &cookie)];
        all.extend(headers[1..].iter().map(|(k, v)| (*k, v.as_str())));
        let r = http(np, "GET", host, target, &all, None);
        assert_eq!(r.status, 403, "{target} {headers:?}: {}", r.body);
        assert!(
            !r.body.contains("UPSTREAM"),
            "the admin app saw nina: {target} {headers:?}: {}",
            r.body
        );
    }
    // The same tricks in reverse still land her in the app she may use, as herself.
    let r = http(
        np,
        "GET",
        &admin_host,
        &format!("http://app.gh.test:{np}/page"),
        &[
            ("Cookie", &cookie),
            ("X-Original-URL", &format!("http://admin.gh.test:{np}/")),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("UPSTREAM"));
    assert!(r
        .body
        .to_ascii_lowercase()
        .contains("remote-user: nina\r\n"));
    // Asking gatehouse directly through its own block proves nothing either: nginx clears
    // the client's forwarding headers there, so no host is known and the rules deny.
    let r = http(
        np,
        "GET",
        &login_host,
        "/auth/verify",
        &[
            ("Cookie", &cookie),
            ("X-Original-URL", &format!("http://app.gh.test:{np}/")),
        ],
        None,
    );
    assert_eq!(r.status, 403);
    let r = http(
        np,
        "GET",
        &login_host,
        "/auth/verify",
        &[("Cookie", &cookie), ("X-Forwarded-Host", &app_host)],
        None,
    );
    assert_eq!(r.status, 403);

    // The verify endpoint itself is internal to nginx.
    let r = http(
        np,
        "GET",
        &app_host,
        "/_gatehouse/verify",
        &[("Cookie", &jar.header())],
        None,
    );
    assert_eq!(r.status, 404);

    // 4. Logout: redirected again.
    let stolen = jar.header();
    let r = login.submit(&mut jar, "/dashboard", "/logout", &[]);
    assert_eq!(r.status, 303);
    let r = http(
        np,
        "GET",
        &app_host,
        "/private/page",
        &[("Cookie", &jar.header())],
        None,
    );
    assert_eq!(r.status, 302);
    // Even the old cookie, replayed, no longer opens the app.
    let r = http(
        np,
        "GET",
        &app_host,
        "/private/page",
        &[("Cookie", &stolen)],
        None,
    );
    assert_eq!(r.status, 302);
    assert!(!r.body.contains("UPSTREAM"));
}
