//! Forms posted to gatehouse (SECURITY-BAR CS-2..CS-4, IV-2, IV-6): the origin check, the
//! content type, the size and time limits, strict parsing, and the CSRF token checked against
//! what it is bound to (see `auth::csrf` for the token itself).

use rocket::data::{self, Data, FromData};
use rocket::form::name::NameView;
use rocket::form::{Form, FromForm, Strict, ValueField};
use rocket::http::{Cookie, RawStr, SameSite};
use rocket::outcome::Outcome;
use rocket::request::Request;

use super::errors::fail;
use super::guard::AuthUser;
use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;

/// IV-2: auth forms are small; anything bigger is refused before it is read.
pub const FORM_LIMIT: u64 = 16 * 1024;

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
        // Pages sent with `Referrer-Policy: no-referrer` (the mailed links' pages, which keep
        // their token out of every Referer) make the browser send `Origin: null` on their
        // own posts. `Sec-Fetch-Site`, which no page can set, still says where the post came
        // from: same-origin is ours. Without it, `null` is refused like any other origin.
        let ours_masked =
            origin == "null" && req.headers().get_one("Sec-Fetch-Site") == Some("same-origin");
        if !ours_masked && !origin.eq_ignore_ascii_case(public_origin) {
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
