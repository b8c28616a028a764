//! CSRF defence (SECURITY-BAR CS-2..CS-4): every POST must come from our origin and carry a
//! token that is an HMAC over what it is bound to: the session id when signed in, or before
//! sign-in the random value of the pre-session `__Host-csrf` cookie. An attacker can neither
//! read nor forge either, so a naive cookie/field double-submit is not what this is.

use std::path::Path;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rocket::data::{self, Data, FromData};
use rocket::form::name::NameView;
use rocket::form::{Form, FromForm, Strict, ValueField};
use rocket::http::{Cookie, RawStr, SameSite};
use rocket::outcome::Outcome;
use rocket::request::Request;

use super::guard::AuthUser;
use super::keys::{create_private_dir, write_private_file, KeyError};
use crate::error::AppError;
use crate::web::errors::fail;
use crate::App;

/// IV-2: auth forms are small; anything bigger is refused before it is read.
pub const FORM_LIMIT: u64 = 16 * 1024;

const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Sign-in and registration: bound to the pre-session cookie.
    PreSession,
    /// Everything a signed-in user does: bound to the session id.
    Session,
}

pub struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// `data_dir/csrf.key`, 32 random bytes made on first start and reused.
    pub fn load_or_create(data_dir: &Path) -> Result<CsrfKey, KeyError> {
        let path = data_dir.join("csrf.key");
        if !path.exists() {
            create_private_dir(data_dir).map_err(|source| KeyError::Write {
                path: data_dir.to_path_buf(),
                source,
            })?;
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret).map_err(|_| KeyError::Generate)?;
            match write_private_file(&path, format!("{}\n", STANDARD.encode(secret)).as_bytes()) {
                Ok(()) => {}
                // Another instance made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(KeyError::Write {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
        let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Read {
            path: path.clone(),
            source,
        })?;
        let secret = STANDARD
            .decode(text.trim())
            .ok()
            .filter(|s| s.len() >= 32)
            .ok_or_else(|| KeyError::Malformed {
                path: path.clone(),
                why: "expected at least 32 bytes in base64".into(),
            })?;
        Ok(CsrfKey(hmac::Key::new(hmac::HMAC_SHA256, &secret)))
    }

    fn message(binding: Binding, bound_to: &str, nonce: &[u8]) -> Vec<u8> {
        let kind: &[u8] = match binding {
            Binding::PreSession => b"pre-session",
            Binding::Session => b"session",
        };
        let mut m = Vec::with_capacity(32 + bound_to.len() + nonce.len());
        m.extend_from_slice(b"gatehouse-csrf-v1\0");
        m.extend_from_slice(kind);
        m.push(0);
        m.extend_from_slice(bound_to.as_bytes());
        m.push(0);
        m.extend_from_slice(nonce);
        m
    }

    /// An HMAC over length-prefixed `parts`, under a `label` that keeps uses apart (CSRF
    /// tokens, device cookies) although they share this key.
    pub fn mac(&self, label: &str, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(label.as_bytes());
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        ctx.sign()
    }

    /// Constant-time check of a tag made by [`CsrfKey::mac`].
    pub fn verify_mac(&self, label: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        let expected = self.mac(label, parts);
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), tag).is_ok()
    }

    /// A fresh token each call (a random nonce masks it, so pages never repeat one).
    pub fn token(&self, binding: Binding, bound_to: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system CSPRNG is available");
        let tag = hmac::sign(&self.0, &Self::message(binding, bound_to, &nonce));
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Constant-time check of `token` against what it must be bound to.
    pub fn verify(&self, binding: Binding, bound_to: &str, token: &str) -> bool {
        if token.len() > 128 {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if raw.len() != NONCE_LEN + TAG_LEN {
            return false;
        }
        let (nonce, tag) = raw.split_at(NONCE_LEN);
        hmac::verify(&self.0, &Self::message(binding, bound_to, nonce), tag).is_ok()
    }
}

/// The pre-session cookie's value, creating the cookie if the browser has none yet.
pub fn pre_session_value(req: &Request<'_>, app: &App) -> String {
    let name = app.settings.csrf_cookie_name();
    if let Some(c) = req.cookies().get(name) {
        if crate::ids::is_valid_id(c.value()) {
            return c.value().to_string();
        }
    }
    let value = crate::ids::new_id();
    req.cookies().add(
        Cookie::build((name, value.clone()))
            .path("/")
            .http_only(true)
            .secure(app.settings.secure_cookies)
            .same_site(SameSite::Lax),
    );
    value
}

/// A form that carries a `csrf_token`, and what that token must be bound to.
pub trait CsrfProtected {
    const BINDING: Binding;
    fn csrf_token(&self) -> &str;
}

/// A POSTed form that passed, in this order: the origin check (CS-3), the content type
/// (CS-4), the size limit (IV-2), strict parsing (IV-6: unknown or repeated fields are
/// refused) and the CSRF token (CS-2).
#[derive(Debug)]
pub struct CsrfForm<T> {
    form: T,
    /// The signed-in user the token was bound to (`Binding::Session` forms only).
    pub user: Option<AuthUser>,
}

impl<T> CsrfForm<T> {
    pub fn into_inner(self) -> T {
        self.form
    }
}

impl<T> std::ops::Deref for CsrfForm<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.form
    }
}

/// CS-3: a cross-site `Sec-Fetch-Site`, or an `Origin` other than ours, is refused.
pub fn check_origin(req: &Request<'_>, public_origin: &str) -> Result<(), AppError> {
    if req.headers().get_one("Sec-Fetch-Site") == Some("cross-site") {
        return Err(AppError::Forbidden("error-cross-site"));
    }
    if let Some(origin) = req.headers().get_one("Origin") {
        if !origin.eq_ignore_ascii_case(public_origin) {
            return Err(AppError::Forbidden("error-cross-origin"));
        }
    }
    Ok(())
}

#[rocket::async_trait]
impl<'r, T> FromData<'r> for CsrfForm<T>
where
    T: for<'a> FromForm<'a> + CsrfProtected + Send + 'r,
{
    type Error = AppError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match check(req, data).await {
            Ok(v) => Outcome::Success(v),
            Err(e) => Outcome::Error(fail(req, e)),
        }
    }
}

async fn check<'r, T>(req: &'r Request<'_>, data: Data<'r>) -> Result<CsrfForm<T>, AppError>
where
    T: for<'a> FromForm<'a> + CsrfProtected,
{
    let app = req.rocket().state::<App>().ok_or(AppError::Internal)?;
    check_origin(req, &app.settings.public_origin)?;
    if !req.content_type().is_some_and(|ct| ct.is_form()) {
        return Err(AppError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get_one("Content-Length")
        .and_then(|l| l.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > FORM_LIMIT) {
        return Err(AppError::PayloadTooLarge);
    }
    // A client that sends its head and then trickles the body would hold the connection
    // (and this task) for as long as it likes.
    let timeout = std::time::Duration::from_secs(app.settings.request_body_timeout);
    let body = rocket::tokio::time::timeout(
        timeout,
        data.open(rocket::data::ByteUnit::Byte(FORM_LIMIT))
            .into_string(),
    )
    .await
    .map_err(|_| AppError::RequestTimeout)?
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    if !body.is_complete() {
        return Err(AppError::PayloadTooLarge);
    }
    let body = body.into_inner();
    // application/x-www-form-urlencoded, decoded the way Rocket's own form parser does.
    let fields: Vec<(String, String)> = body
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                RawStr::new(name).url_decode_lossy().into_owned(),
                RawStr::new(value).url_decode_lossy().into_owned(),
            )
        })
        .collect();

    // The token is checked before the rest of the form is even parsed, so every POST without
    // a valid token is a 403, whatever else is wrong with it.
    let mut user = None;
    let bound_to = match T::BINDING {
        Binding::PreSession => req
            .cookies()
            .get(app.settings.csrf_cookie_name())
            .map(|c| c.value().to_string())
            .ok_or(AppError::Forbidden("error-no-csrf-cookie"))?,
        Binding::Session => match req.guard::<AuthUser>().await {
            Outcome::Success(u) => {
                let sid = u.claims.sid.clone();
                user = Some(u);
                sid
            }
            Outcome::Error((_, e)) => return Err(e),
            Outcome::Forward(_) => return Err(AppError::Unauthorized),
        },
    };
    let mut tokens = fields.iter().filter(|(name, _)| name == "csrf_token");
    let token = match (tokens.next(), tokens.next()) {
        (Some((_, t)), None) => t.as_str(),
        _ => "",
    };
    if !app.csrf.verify(T::BINDING, &bound_to, token) {
        return Err(AppError::Forbidden("error-csrf"));
    }
    let values = fields.iter().map(|(name, value)| ValueField {
        name: NameView::new(name.as_str()),
        value: value.as_str(),
    });
    let form = Form::<Strict<T>>::parse_iter(values)
        .map_err(|e| AppError::BadRequest(e.to_string()))?
        .into_inner();
    Ok(CsrfForm { form, user })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_and_unforgeable() {
        let dir = tempfile::tempdir().unwrap();
        let key = CsrfKey::load_or_create(dir.path()).unwrap();
        let t = key.token(Binding::Session, "sid-a");
        assert!(key.verify(Binding::Session, "sid-a", &t));
        assert!(!key.verify(Binding::Session, "sid-b", &t));
        assert!(!key.verify(Binding::PreSession, "sid-a", &t));
        assert_ne!(t, key.token(Binding::Session, "sid-a"), "tokens are masked");
        let mut tampered = t.clone().into_bytes();
        tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
        assert!(!key.verify(
            Binding::Session,
            "sid-a",
            std::str::from_utf8(&tampered).unwrap()
        ));
        assert!(!key.verify(Binding::Session, "sid-a", ""));
        assert!(!key.verify(Binding::Session, "sid-a", "sid-a"));
        // The key is reused, so tokens survive a restart.
        let again = CsrfKey::load_or_create(dir.path()).unwrap();
        assert!(again.verify(Binding::Session, "sid-a", &t));
    }
}
