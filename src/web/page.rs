//! Rendering pages in the site's layout: the context every template gets (who is signed in,
//! CSRF tokens, the flash message, asset URLs) and a responder that pairs it with a status.

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FlashMessage, FromRequest, Request};
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::csrf::Binding;
use crate::error::AppError;
use crate::web::flash::Notice;
use crate::web::forms::pre_session_value;
use crate::web::guard::AuthUser;
use crate::web::i18n::Lang;

/// What every page needs to render its layout: who is signed in, the language, the flash.
pub struct Ctx {
    pub user: Option<AuthUser>,
    pub lang: Lang,
    /// The notice the flash cookie names (see `web::flash`: it never carries text).
    flash: Option<(String, Notice)>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Ctx {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AppError> {
        let user = match req.guard::<AuthUser>().await {
            Outcome::Success(u) => Some(u),
            _ => None,
        };
        let flash = match req.guard::<Option<FlashMessage<'_>>>().await {
            Outcome::Success(Some(f)) => {
                Notice::parse(f.message()).map(|n| (f.kind().to_string(), n))
            }
            _ => None,
        };
        Outcome::Success(Ctx {
            user,
            lang: Lang::of(req),
            flash,
        })
    }
}

impl Ctx {
    pub fn page(&self, name: &'static str, status: Status, extra: Value) -> Page {
        let mut ctx = Map::new();
        if let Some(u) = &self.user {
            ctx.insert("username".into(), json!(u.name()));
        }
        if let Some((kind, notice)) = &self.flash {
            let username = self.user.as_ref().map(|u| u.name());
            if let Some(message) = notice.text(self.lang, username) {
                let kind = if kind == "error" { "error" } else { "success" };
                ctx.insert("flash".into(), json!({"kind": kind, "message": message}));
            }
        }
        if let Value::Object(extra) = extra {
            ctx.extend(extra);
        }
        Page {
            name,
            status,
            ctx,
            sid: self.user.as_ref().map(|u| u.sid().to_string()),
        }
    }
}

/// A form's errors, field name -> message in the user's language.
pub type FieldErrors = std::collections::BTreeMap<&'static str, String>;

/// The errors in the order the fields appear, for the error summary at the top of a form.
pub fn error_list(errors: &FieldErrors, order: &[&str]) -> Value {
    Value::Array(
        order
            .iter()
            .filter_map(|f| errors.get(f).map(|m| json!({"field": f, "message": m})))
            .collect(),
    )
}

/// A template, its context and its status.
pub struct Page {
    name: &'static str,
    status: Status,
    ctx: Map<String, Value>,
    /// The signed-in session, whose id the page's CSRF tokens are bound to.
    sid: Option<String>,
}

impl Page {
    /// Shows `name` as signed in (the benchmark's public copy of the dashboard), with a
    /// token for its sign-out form like a real session's.
    #[cfg(feature = "bench")]
    pub fn set_user(&mut self, name: &str, sid: &str) {
        self.ctx.insert("username".into(), json!(name));
        self.sid = Some(sid.to_string());
    }
}

/// Pages with forms that post before sign-in (or to the strength meter): they need the
/// pre-session token (and cookie). Other pages neither make one nor set the cookie.
const PRE_SESSION_FORMS: &[&str] = &[
    "login",
    "register",
    "account",
    "forgot",
    "reset",
    "verify-required",
    "login-2fa",
];

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let lang = Lang::of(req);
        let mut ctx = super::templates::base_context(req, lang);
        ctx.insert("page".into(), json!(self.name));
        // CSRF tokens cost an HMAC each: only the ones this page's forms use.
        if let Some(app) = req.rocket().state::<App>() {
            let form = PRE_SESSION_FORMS.contains(&self.name).then(|| {
                app.csrf
                    .token(Binding::PreSession, &pre_session_value(req, app))
            });
            let session = self
                .sid
                .as_deref()
                .map(|sid| app.csrf.token(Binding::Session, sid));
            if let Some(t) = session.as_ref().or(form.as_ref()) {
                ctx.insert("csrf_token".into(), json!(t));
            }
            if let Some(t) = form {
                ctx.insert("form_csrf".into(), json!(t));
            }
        }
        ctx.extend(self.ctx);
        let ctx = Value::Object(ctx);
        let translated = super::templates::translated(lang, self.name);
        let html = req
            .rocket()
            .state::<super::templates::Renderer>()
            .ok_or(Status::InternalServerError)?
            .render(&translated, ctx)
            .ok_or(Status::InternalServerError)?;
        (self.status, RawHtml(html)).respond_to(req)
    }
}
