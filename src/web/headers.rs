//! Security headers on every response, error pages included (SECURITY-BAR HD-1, HD-2).

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

pub struct SecurityHeaders {
    hsts: bool,
    csp: String,
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

impl SecurityHeaders {
    pub fn new(settings: &crate::config::Settings) -> Self {
        // Browsers apply form-action to the redirect after a form post too: with a shared
        // cookie domain, sign-in may send people back to an app on a sibling host.
        let csp = match &settings.cookie_domain {
            Some(d) => {
                let scheme = if settings.secure_cookies {
                    "https"
                } else {
                    "http"
                };
                format!("{CSP} {scheme}://{d} {scheme}://*.{d}")
            }
            None => CSP.to_string(),
        };
        SecurityHeaders {
            hsts: settings.secure_cookies,
            csp,
        }
    }
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new("Content-Security-Policy", self.csp.clone()));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new(
            "Referrer-Policy",
            referrer_policy(req.uri().path().as_str()),
        ));
        res.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        res.set_header(Header::new("Cross-Origin-Resource-Policy", "same-origin"));
        res.set_header(Header::new(
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ));
        // Only static assets and public metadata opt into caching; everything else may carry
        // a session, a CSRF token or a Set-Cookie, so nothing stores it (HD-2).
        if !res.headers().contains("Cache-Control") {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
        if self.hsts {
            res.set_header(Header::new(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            ));
        }
        res.remove_header("Server");
    }
}

/// A mailed link's page sends no Referer at all, not even to its own assets: the token in
/// its path would otherwise reach whatever logs those requests (a proxy's access log).
fn referrer_policy(path: &str) -> &'static str {
    if path.starts_with("/password/reset/") || path.starts_with("/email/verify/") {
        "no-referrer"
    } else {
        "same-origin"
    }
}
