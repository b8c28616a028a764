//! Rendering pages in the site's layout: the context every template gets (who is signed in,
//! CSRF tokens, the flash message, asset URLs) and a responder that pairs it with a status.

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FlashMessage, FromRequest, Request};
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder};
use rocket_dyn_templates::Template;
use serde_json::{json, Map, Value};

use crate::auth::csrf::{pre_session_value, Binding};
use crate::auth::guard::AuthUser;
use crate::error::AppError;
use crate::web::i18n::Lang;
use crate::App;

/// What every page needs to render its layout and forms.
pub struct Ctx {
    pub user: Option<AuthUser>,
    pub lang: Lang,
    /// For forms a signed-in user posts (bound to the session), or the pre-session token.
    pub csrf_token: String,
    /// For the sign-in and registration forms (always pre-session bound).
    pub form_csrf: String,
    flash: Option<(String, String)>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Ctx {
    type Error = AppError;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AppError> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, AppError::Internal));
        };
        let user = match req.guard::<AuthUser>().await {
            Outcome::Success(u) => Some(u),
            _ => None,
        };
        let pre = pre_session_value(req, app);
        let form_csrf = app.csrf.token(Binding::PreSession, &pre);
        let csrf_token = match &user {
            Some(u) => app.csrf.token(Binding::Session, u.sid()),
            None => form_csrf.clone(),
        };
        let flash = match req.guard::<Option<FlashMessage<'_>>>().await {
            Outcome::Success(Some(f)) => Some((f.kind().to_string(), f.message().to_string())),
            _ => None,
        };
        Outcome::Success(Ctx {
            user,
            lang: Lang::of(req),
            csrf_token,
            form_csrf,
            flash,
        })
    }
}

impl Ctx {
    pub fn page(&self, name: &'static str, status: Status, extra: Value) -> Page {
        let mut ctx = Map::new();
        if let Some(u) = &self.user {
            ctx.insert("user".into(), json!({"name": u.name()}));
        }
        ctx.insert("csrf_token".into(), json!(self.csrf_token));
        ctx.insert("form_csrf".into(), json!(self.form_csrf));
        if let Some((kind, message)) = &self.flash {
            let kind = if kind == "error" { "error" } else { "success" };
            ctx.insert("flash".into(), json!({"kind": kind, "message": message}));
        }
        if let Value::Object(extra) = extra {
            ctx.extend(extra);
        }
        Page { name, status, ctx }
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
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut ctx = base_context(req);
        ctx.insert("page".into(), json!(self.name));
        ctx.extend(self.ctx);
        let ctx = Value::Object(ctx);
        let lang = super::i18n::Lang::of(req);
        let html = Template::show(
            req.rocket(),
            super::templates::translated(lang, self.name),
            &ctx,
        )
        .or_else(|| Template::show(req.rocket(), self.name, &ctx))
        .ok_or(Status::InternalServerError)?;
        (self.status, RawHtml(html)).respond_to(req)
    }
}

/// The part of the context that needs nothing but the app: asset URLs, the site's name.
pub fn base_context(req: &Request<'_>) -> Map<String, Value> {
    let mut ctx = Map::new();
    if let Some(app) = req.rocket().state::<App>() {
        ctx.insert("assets".into(), app.assets.urls());
    }
    ctx.insert("site_name".into(), json!("gatehouse"));
    let lang = super::i18n::Lang::of(req);
    ctx.insert("lang".into(), json!(lang.code()));
    ctx.insert("lang_other".into(), json!(lang.other().code()));
    // Where the language switch returns to: this page, if it is a plain GET.
    let here = if req.method() == rocket::http::Method::Get {
        super::next::encode(&req.uri().to_string())
    } else {
        super::next::encode("/")
    };
    ctx.insert("here".into(), json!(here));
    ctx
}
