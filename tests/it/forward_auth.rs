//! Forward-auth (`GET /auth/verify`) and the redirect allowlist with `cookie_domain`.
//!
//! gatehouse believes the forwarding headers (which request the proxy asks about) only from
//! `trusted_proxies`; most tests here send them from `PROXY`, an address in that range, the
//! way a reverse proxy on the same network would.

use crate::common::*;
use figment::Figment;
use rocket::http::{Header, Status};

/// The reverse proxy's address, as gatehouse sees it.
const PROXY: &str = "10.0.0.2";

fn behind_proxy(f: Figment) -> Figment {
    f.merge(("trusted_proxies", vec!["10.0.0.0/8"]))
}

/// bob may use the wiki; only root may use the admin app.
fn wiki_and_admin(f: Figment) -> Figment {
    behind_proxy(f).merge((
        "access_rules",
        serde_json::json!([
            {"host": "wiki.example.com", "users": ["bob"]},
            {"host": "admin.example.com", "users": ["root"]}
        ]),
    ))
}

/// `/auth/verify` as asked by `peer` (None: no socket address, as a client Rocket cannot
/// place), with `headers`, in `b`'s name (its cookies and User-Agent).
fn verify_from<'c>(
    t: &'c TestApp,
    b: &Browser,
    peer: Option<&str>,
    headers: &[(&str, &str)],
) -> rocket::local::blocking::LocalResponse<'c> {
    let mut req = t.client.get("/auth/verify");
    if let Some(ip) = peer {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        req = req.remote((ip, 40000).into());
    }
    for (k, v) in headers {
        req = req.header(Header::new(k.to_string(), v.to_string()));
    }
    b.send(req)
}

/// `/auth/verify` as asked by the trusted proxy.
fn verify<'c>(
    t: &'c TestApp,
    b: &Browser,
    headers: &[(&str, &str)],
) -> rocket::local::blocking::LocalResponse<'c> {
    verify_from(t, b, Some(PROXY), headers)
}

/// A proxy in front of `https://HOST/secret`: the headers it sets on its question to
/// gatehouse, and the ones it removes. It passes every other header of the client's through.
struct Proxy {
    name: &'static str,
    sets: fn(&str) -> Vec<(&'static str, String)>,
    clears: &'static [&'static str],
}

const PROXIES: &[Proxy] = &[
    // forwardAuth with trustForwardHeader false: overwrites X-Forwarded-*, copies the rest of
    // the client's headers (authRequestHeaders empty).
    Proxy {
        name: "Traefik",
        sets: |host| {
            vec![
                ("X-Forwarded-For", "198.51.100.7".into()),
                ("X-Forwarded-Method", "GET".into()),
                ("X-Forwarded-Proto", "https".into()),
                ("X-Forwarded-Host", host.into()),
                ("X-Forwarded-Uri", "/secret".into()),
                ("X-Forwarded-Port", "443".into()),
                ("X-Forwarded-Server", "traefik-1".into()),
                ("X-Real-Ip", "198.51.100.7".into()),
            ]
        },
        clears: &[],
    },
    // forward_auth: reverse_proxy's X-Forwarded-For/-Proto/-Host plus -Method and -Uri.
    Proxy {
        name: "Caddy",
        sets: |host| {
            vec![
                ("X-Forwarded-For", "198.51.100.7".into()),
                ("X-Forwarded-Proto", "https".into()),
                ("X-Forwarded-Host", host.into()),
                ("X-Forwarded-Method", "GET".into()),
                ("X-Forwarded-Uri", "/secret".into()),
            ]
        },
        clears: &[],
    },
    // docs/nginx.md: the server block's own name, and X-Original-URL cleared.
    Proxy {
        name: "nginx",
        sets: |host| {
            vec![
                ("X-Forwarded-Host", host.into()),
                ("X-Forwarded-Proto", "https".into()),
                ("X-Forwarded-Uri", "/secret".into()),
                ("X-Forwarded-Method", "GET".into()),
                ("X-Forwarded-For", "198.51.100.7".into()),
            ]
        },
        clears: &["X-Original-URL"],
    },
    // An nginx block made from the docs before issue #11: X-Original-URL only, so a client's
    // X-Forwarded-* got through.
    Proxy {
        name: "nginx (older docs)",
        sets: |host| {
            vec![
                ("X-Original-URL", format!("https://{host}/secret")),
                ("X-Forwarded-For", "198.51.100.7".into()),
            ]
        },
        clears: &[],
    },
];

impl Proxy {
    /// The question this proxy asks gatehouse when a client sends `client` to `host`.
    fn question(
        &self,
        host: &str,
        client: &[(&'static str, &'static str)],
    ) -> Vec<(String, String)> {
        let sets = (self.sets)(host);
        let mut out: Vec<(String, String)> = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for (k, v) in client {
            let overwritten = sets.iter().any(|(s, _)| s.eq_ignore_ascii_case(k))
                || self.clears.iter().any(|c| c.eq_ignore_ascii_case(k));
            if !overwritten {
                out.push((k.to_string(), v.to_string()));
            }
        }
        out
    }
}

backend_tests! {
    #[test]
    fn signed_in_users_get_200_with_remote_headers() {
        let t = start_with(behind_proxy);
        t.signed_up("uli");
        let r = verify(
            &t,
            &t.browser,
            &[("X-Original-URL", "http://127.0.0.1:8000/app/page")],
        );
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Remote-User"), Some("uli"));
        assert_eq!(r.headers().get_one("Remote-Name"), Some("uli"));
        assert_eq!(r.headers().get_one("Remote-Email"), Some("uli@example.com"));
        // Nobody opened a link mailed to it: apps must not match accounts on it.
        assert_eq!(r.headers().get_one("Remote-Email-Verified"), Some("false"));
        assert_eq!(r.headers().get_one("Remote-Groups"), Some(""));
        // Signed in with a password alone.
        assert_eq!(r.headers().get_one("Remote-Amr"), Some("pwd"));
        assert_eq!(r.headers().get_one("Cache-Control"), Some("no-store"));
        drop(r);
        // Without access_rules the host does not matter, so a client that is not our proxy
        // is answered too (from its cookie alone).
        let r = verify_from(&t, &t.browser, None, &[]);
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Remote-User"), Some("uli"));
    }

    #[test]
    fn a_revoked_session_is_refused_at_once() {
        let t = start();
        t.signed_up("vic");
        let token = t.session_cookie().unwrap();
        t.logout();
        assert_eq!(
            t.get_with_token("/auth/verify", &token).status(),
            Status::Unauthorized
        );
    }

    #[test]
    fn access_rules_deny_by_default_and_allow_users_and_groups() {
        let t = start_with(|f| {
            behind_proxy(f).merge((
                "access_rules",
                serde_json::json!([
                    {"host": "admin.example.com", "users": ["wanda"]},
                    {"host": "*.example.com", "groups": ["staff"]}
                ]),
            ))
        });
        t.signed_up("wanda");
        let xavier = Browser::default();
        xavier.register(&t, "xavier", "xavier@example.com", PASSWORD);
        let at = |b: &Browser, host: &str| {
            verify(&t, b, &[("X-Original-URL", &format!("https://{host}/"))]).status()
        };
        assert_eq!(at(&t.browser, "admin.example.com"), Status::Ok);
        assert_eq!(at(&xavier, "admin.example.com"), Status::Forbidden);
        assert_eq!(at(&xavier, "wiki.example.com"), Status::Forbidden);
        assert_eq!(
            at(&t.browser, "unlisted.org"),
            Status::Forbidden,
            "no rule: denied"
        );
        // Groups come from the database (the CLI's `group add`), seen within the revalidate interval.
        {
            let app = t.app();
            let mut conn = app.db.get().unwrap();
            let id = gatehouse::db::users::find_by_username_key(&mut conn, "xavier")
                .unwrap()
                .unwrap()
                .id;
            gatehouse::db::groups::add(&mut conn, &id, "staff", 0).unwrap();
        }
        t.clock.advance(61);
        let r = verify(
            &t,
            &xavier,
            &[("X-Original-URL", "https://wiki.example.com/")],
        );
        assert_eq!(r.status(), Status::Ok);
        assert_eq!(r.headers().get_one("Remote-Groups"), Some("staff"));
        assert_eq!(
            at(&xavier, "admin.example.com"),
            Status::Forbidden,
            "the first matching rule decides"
        );
    }
}

#[test]
fn signed_out_visitors_get_401_and_where_to_sign_in() {
    let t = start_with(behind_proxy);
    let nobody = Browser::default();
    let r = verify(
        &t,
        &nobody,
        &[("X-Original-URL", "http://127.0.0.1:8000/app/page?x=1")],
    );
    assert_eq!(r.status(), Status::Unauthorized);
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://127.0.0.1:8000/login?next=%2Fapp%2Fpage%3Fx%3D1")
    );
    assert!(r.headers().get_one("Remote-User").is_none());
    // The X-Forwarded-* form (Traefik, Caddy).
    let r = verify(
        &t,
        &nobody,
        &[
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "127.0.0.1:8000"),
            ("X-Forwarded-Uri", "/wiki"),
        ],
    );
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://127.0.0.1:8000/login?next=%2Fwiki")
    );
    // Garbage, tampered and foreign tokens are all just "not signed in".
    for token in ["garbage", "a.b.c", ""] {
        let r = t.get_with_token("/auth/verify", token);
        assert_eq!(r.status(), Status::Unauthorized, "{token}");
    }
    // Without cookie_domain, another host is no redirect target: plain login URL.
    let r = verify(
        &t,
        &nobody,
        &[("X-Original-URL", "https://evil.example/steal")],
    );
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://127.0.0.1:8000/login")
    );
}

#[test]
fn forwarding_headers_count_only_from_trusted_proxies() {
    let t = start_with(wiki_and_admin);
    t.signed_up("bob");
    let wiki_url = [("X-Original-URL", "https://wiki.example.com/page")];
    let wiki_set = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "wiki.example.com"),
        ("X-Forwarded-Uri", "/page"),
    ];
    // From the proxy (either address form): believed.
    for peer in [PROXY, "::ffff:10.0.0.2"] {
        for headers in [&wiki_url[..], &wiki_set[..]] {
            let r = verify_from(&t, &t.browser, Some(peer), headers);
            assert_eq!(r.status(), Status::Ok, "{peer} {headers:?}");
            assert_eq!(r.headers().get_one("Remote-User"), Some("bob"));
        }
    }
    // From anyone else (a client reaching gatehouse directly, or a neighbour outside the
    // trusted range) the same words prove nothing: no host is known, the rules deny.
    for peer in [None, Some("192.0.2.1"), Some("11.0.0.2")] {
        for headers in [&wiki_url[..], &wiki_set[..]] {
            let r = verify_from(&t, &t.browser, peer, headers);
            assert_eq!(r.status(), Status::Forbidden, "{peer:?} {headers:?}");
            assert!(r.headers().get_one("Remote-User").is_none());
        }
    }
    // Signed out: sent to sign in, but not back to a place an untrusted peer named.
    let nobody = Browser::default();
    let here = [("X-Original-URL", "http://127.0.0.1:8000/app/page")];
    let r = verify_from(&t, &nobody, Some("192.0.2.1"), &here);
    assert_eq!(r.status(), Status::Unauthorized);
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://127.0.0.1:8000/login")
    );
    let r = verify_from(&t, &nobody, Some(PROXY), &here);
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://127.0.0.1:8000/login?next=%2Fapp%2Fpage")
    );
}

#[test]
fn no_client_header_gets_past_access_rules_through_any_documented_proxy() {
    let t = start_with(wiki_and_admin);
    t.signed_up("bob");
    // What a signed-in bob adds to his request for https://admin.example.com/secret,
    // hoping to be judged as if he had asked for the wiki.
    let spoofs: &[&[(&str, &str)]] = &[
        &[],
        &[("X-Original-URL", "https://wiki.example.com/")],
        &[("X-Forwarded-Host", "wiki.example.com")],
        &[
            ("X-Forwarded-Host", "wiki.example.com"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Uri", "/"),
        ],
        &[
            ("X-Original-URL", "https://wiki.example.com/"),
            ("X-Forwarded-Host", "wiki.example.com"),
        ],
        &[("X-Forwarded-Host", "wiki.example.com, admin.example.com")],
        &[("Remote-User", "root"), ("X-Remote-User", "root")],
    ];
    let browser_headers = [("Accept", "text/html"), ("Accept-Language", "en")];
    for proxy in PROXIES {
        for spoof in spoofs {
            let client: Vec<_> = browser_headers
                .iter()
                .chain(spoof.iter())
                .copied()
                .collect();
            let question = proxy.question("admin.example.com", &client);
            let headers: Vec<(&str, &str)> = question
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = verify(&t, &t.browser, &headers);
            assert_eq!(
                r.status(),
                Status::Forbidden,
                "{} with {spoof:?}: {headers:?}",
                proxy.name
            );
            assert!(r.headers().get_one("Remote-User").is_none());
        }
        // The honest question about the wiki still gets bob in.
        let question = proxy.question("wiki.example.com", &browser_headers);
        let headers: Vec<(&str, &str)> = question
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = verify(&t, &t.browser, &headers);
        assert_eq!(r.status(), Status::Ok, "{}", proxy.name);
        assert_eq!(r.headers().get_one("Remote-User"), Some("bob"));
    }
}

#[test]
fn traefik_sends_signed_out_visitors_to_sign_in_and_back() {
    // docs/traefik.md: forwardAuth to /auth/verify?redirect=true. Traefik hands any answer
    // but a 2xx to the browser as it is, so the way to sign in must be a 302.
    let t = start_with(|f| {
        wiki_and_admin(f)
            .merge(("cookie_domain", "example.com"))
            .merge(("public_origin", "https://login.example.com"))
    });
    let traefik = &PROXIES[0];
    assert_eq!(traefik.name, "Traefik");
    let question = traefik.question(
        "wiki.example.com",
        &[("Accept", "text/html"), ("User-Agent", "Firefox")],
    );
    let headers: Vec<(&str, &str)> = question
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ask = |b: &Browser, query: &str| {
        let mut req = t
            .client
            .get(format!("/auth/verify{query}"))
            .remote((PROXY.parse::<std::net::IpAddr>().unwrap(), 40000).into());
        for (k, v) in &headers {
            req = req.header(Header::new(k.to_string(), v.to_string()));
        }
        b.send(req)
    };
    let nobody = Browser::default();
    let expected = "https://login.example.com/login?next=https%3A%2F%2Fwiki.example.com%2Fsecret";
    let r = ask(&nobody, "?redirect=true");
    assert_eq!(r.status(), Status::Found);
    assert_eq!(r.headers().get_one("Location"), Some(expected));
    // Without it (nginx), or with anything but true: the 401 nginx expects.
    for query in ["", "?redirect=false", "?redirect=maybe", "?other=1"] {
        let r = ask(&nobody, query);
        assert_eq!(r.status(), Status::Unauthorized, "{query}");
        assert_eq!(r.headers().get_one("Location"), Some(expected), "{query}");
    }
    // Signed in, the flag changes nothing.
    let bob = Browser::default();
    bob.register(&t, "bob", "bob@example.com", PASSWORD);
    let r = ask(&bob, "?redirect=true");
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.headers().get_one("Remote-User"), Some("bob"));
}

#[test]
fn contradictory_repeated_or_malformed_forwarding_headers_are_never_a_200() {
    // No rules: a signed-in user would get 200 for any host, so only the refusal itself
    // can make these fail.
    let t = start_with(behind_proxy);
    t.signed_up("cleo");
    let nobody = Browser::default();
    let cases: &[&[(&str, &str)]] = &[
        &[
            ("X-Forwarded-Host", "admin.example.com"),
            ("X-Original-URL", "https://wiki.example.com/"),
        ],
        &[
            ("X-Forwarded-Host", "admin.example.com"),
            ("X-Forwarded-Host", "wiki.example.com"),
        ],
        &[("X-Forwarded-Host", "wiki.example.com, admin.example.com")],
        &[
            ("X-Original-URL", "https://admin.example.com/"),
            ("X-Original-URL", "https://wiki.example.com/"),
        ],
        &[
            ("X-Forwarded-Host", "admin.example.com"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Proto", "http"),
        ],
        &[("X-Forwarded-Host", "wiki.example.com/x")],
        &[("X-Forwarded-Host", "bob@wiki.example.com")],
        &[("X-Original-URL", "https://bob@wiki.example.com/")],
        &[("X-Original-URL", "/no/host")],
    ];
    for headers in cases {
        let r = verify(&t, &t.browser, headers);
        assert_eq!(r.status(), Status::Forbidden, "{headers:?}");
        assert!(r.headers().get_one("Remote-User").is_none());
        // Signed out too: refused, not sent to sign in and back to a made-up place.
        let r = verify(&t, &nobody, headers);
        assert_eq!(r.status(), Status::Forbidden, "{headers:?}");
        assert!(r.headers().get_one("Location").is_none());
    }
    // Both present and agreeing is fine (a client echoing the real host changes nothing).
    let r = verify(
        &t,
        &t.browser,
        &[
            ("X-Forwarded-Host", "wiki.example.com"),
            ("X-Original-URL", "https://WIKI.example.com:443/"),
        ],
    );
    assert_eq!(r.status(), Status::Ok);
}

#[test]
fn cookie_domain_shares_the_session_and_allows_redirects_within_it_only() {
    let t = start_with(|f| {
        behind_proxy(f)
            .merge(("cookie_domain", "127.0.0.1.nip.io"))
            .merge(("public_origin", "http://login.127.0.0.1.nip.io:8000"))
    });
    let r = t.get("/login");
    assert!(r
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .contains("form-action 'self' http://127.0.0.1.nip.io http://*.127.0.0.1.nip.io"));
    drop(r);
    let r = t.register("yara", "yara@example.com", PASSWORD);
    let c = set_cookie_named(&r, "session").unwrap();
    assert!(c.contains("Domain=127.0.0.1.nip.io"), "{c}");
    drop(r);
    let nobody = Browser::default();
    let r = verify(
        &t,
        &nobody,
        &[("X-Original-URL", "http://app.127.0.0.1.nip.io:9000/x?y=1")],
    );
    assert_eq!(
        r.headers().get_one("Location"),
        Some("http://login.127.0.0.1.nip.io:8000/login?next=http%3A%2F%2Fapp.127.0.0.1.nip.io%3A9000%2Fx%3Fy%3D1")
    );
    // Sign-in sends people back to the app: absolute URLs within the domain only.
    t.logout();
    let cases = [
        (
            "http://app.127.0.0.1.nip.io:9000/x",
            "http://app.127.0.0.1.nip.io:9000/x",
        ),
        ("http://127.0.0.1.nip.io/", "http://127.0.0.1.nip.io/"),
        ("http://evil.example/", "/dashboard"),
        ("http://127.0.0.1.nip.io.evil.example/", "/dashboard"),
        ("http://evil127.0.0.1.nip.io/", "/dashboard"),
        ("http://user@app.127.0.0.1.nip.io/", "/dashboard"),
        (
            "javascript://app.127.0.0.1.nip.io/%0aalert(1)",
            "/dashboard",
        ),
        ("ftp://app.127.0.0.1.nip.io/", "/dashboard"),
        ("http://app.127.0.0.1.nip.io\\@evil.example/", "/dashboard"),
        ("http://app.127.0.0.1.nip.io//\\evil", "/dashboard"),
        // A browser decodes `%2f` in a host and lands on evil.com.
        ("http://evil.com%2f.127.0.0.1.nip.io/", "/dashboard"),
    ];
    for (next, expected) in cases {
        let r = t.submit(
            "/login",
            "/login",
            &[("username", "yara"), ("password", PASSWORD), ("next", next)],
        );
        assert_eq!(r.status(), Status::SeeOther, "{next}");
        assert_eq!(r.headers().get_one("Location"), Some(expected), "{next}");
        drop(r);
        t.logout();
    }
}

#[test]
fn secure_cookie_domain_uses_the_secure_prefix_and_https_targets() {
    let t = start_with(|f| {
        behind_proxy(f)
            .merge(("cookie_domain", "example.com"))
            .merge(("public_origin", "https://login.example.com"))
            .merge(("secure_cookies", true))
    });
    let r = t.register("zoe", "zoe@example.com", PASSWORD);
    let c = set_cookie_named(&r, "__Secure-session").expect("__Secure- cookie");
    assert!(
        c.contains("Domain=example.com") && c.contains("Secure") && c.contains("HttpOnly"),
        "{c}"
    );
    drop(r);
    let nobody = Browser::default();
    let r = verify(
        &t,
        &nobody,
        &[("X-Original-URL", "http://app.example.com/")],
    );
    assert_eq!(
        r.headers().get_one("Location"),
        Some("https://login.example.com/login"),
        "plain http target refused"
    );
}

#[test]
fn cookie_domain_must_contain_the_public_origin() {
    let dir = test_dir();
    let f = figment(dir.path()).merge(("cookie_domain", "example.com"));
    let e = gatehouse::rocket(f).expect_err("refused").to_string();
    assert!(e.contains("`cookie_domain`"), "{e}");
}
