//! A request's language: the `lang` cookie (set by the switch link), else the best match in
//! `Accept-Language`, else English; and the catalog's functions for templates. The catalog
//! itself is `crate::i18n`.

use std::collections::HashMap;
use std::convert::Infallible;

use fluent_templates::fluent_bundle::FluentValue;
use rocket::request::{self, FromRequest, Request};
use rocket_dyn_templates::tera::{self, Value};

use crate::auth::password::{PasswordProblem, MAX_LEN, MIN_LEN};
pub use crate::i18n::{iso, negotiate, DateFormat, DateFormats, Lang, ALL};

pub const COOKIE: &str = "lang";

impl Lang {
    /// The request's language: the cookie, else `Accept-Language`, else English.
    pub fn of(req: &Request<'_>) -> Lang {
        *req.local_cache(|| {
            let cookie = req.cookies().get(COOKIE).map(|c| c.value().to_string());
            negotiate(cookie.as_deref(), req.headers().get_one("Accept-Language"))
        })
    }

    /// Why a password was refused, in this language, with the strength estimate's advice.
    pub fn password_problem(self, problem: &PasswordProblem) -> String {
        match problem {
            PasswordProblem::TooShort => {
                self.t_args("error-password-short", &[("min", (MIN_LEN as f64).into())])
            }
            PasswordProblem::TooLong => {
                self.t_args("error-password-long", &[("max", (MAX_LEN as f64).into())])
            }
            PasswordProblem::ControlCharacter => self.t("error-password-control"),
            PasswordProblem::TooWeak(advice) => self.t_args(
                "error-password-weak",
                &[("advice", self.t(advice.0).into())],
            ),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Lang {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(Lang::of(req))
    }
}

fn lang_arg(args: &HashMap<String, Value>) -> Lang {
    args.get("lang")
        .and_then(Value::as_str)
        .and_then(Lang::from_code)
        .unwrap_or(Lang::En)
}

/// Tera: `{{ t(key="login-title", lang=lang) }}`, other named arguments become Fluent
/// arguments (`{{ t(key="dashboard-welcome", lang=lang, name=username) }}`). Templates are
/// pre-translated at start-up (`templates::add_translations`), so only messages with
/// arguments get here while a page renders.
pub fn tera_t(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let key = args
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| tera::Error::msg("t() needs key=\"...\""))?;
    let fluent: Vec<(&str, FluentValue)> = args
        .iter()
        .filter(|(k, _)| k.as_str() != "key" && k.as_str() != "lang")
        .map(|(k, v)| {
            let value = match v {
                Value::Number(n) => n.as_f64().map_or(FluentValue::None, FluentValue::from),
                Value::String(s) => FluentValue::from(s.clone()),
                other => FluentValue::from(other.to_string()),
            };
            (k.as_str(), value)
        })
        .collect();
    Ok(Value::String(lang_arg(args).t_args(key, &fluent)))
}

/// Tera filter: `{{ ts | datetime(lang=lang) }}`.
#[derive(Default)]
pub struct TeraDatetime(DateFormats);

impl tera::Filter for TeraDatetime {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let secs = value
            .as_i64()
            .ok_or_else(|| tera::Error::msg("datetime needs a Unix timestamp"))?;
        Ok(Value::String(self.0.format(lang_arg(args), secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, None), Lang::En);
        assert_eq!(
            negotiate(None, Some("ko-KR,ko;q=0.9,en-US;q=0.8")),
            Lang::Ko
        );
        assert_eq!(negotiate(None, Some("fr-FR, en;q=0.5, ko;q=0.7")), Lang::Ko);
        assert_eq!(negotiate(None, Some("de, fr")), Lang::En);
        assert_eq!(negotiate(None, Some("ko;q=0, en")), Lang::En);
        assert_eq!(
            negotiate(Some("en"), Some("ko")),
            Lang::En,
            "the cookie wins"
        );
        assert_eq!(negotiate(Some("xx"), Some("ko")), Lang::Ko);
    }

    #[test]
    fn password_refusals_say_why_in_both_languages() {
        let e = crate::auth::password::check_policy("password1", "u", "u@x.io").unwrap_err();
        let english = Lang::En.password_problem(&e);
        assert!(
            english.starts_with("This password is too easy to guess. ") && english.len() > 40,
            "{english}"
        );
        let korean = Lang::Ko.password_problem(&e);
        assert!(korean.starts_with("너무 쉽게"), "{korean}");
    }

    #[test]
    fn messages_and_dates() {
        assert_eq!(Lang::Ko.t("login-title"), "로그인");
        assert_eq!(
            Lang::En.t_args("register-welcome", &[("name", "kim".into())]),
            "Welcome, kim! Your account is ready."
        );
        assert_eq!(
            DateFormat::new(Lang::En).format(1_795_707_000),
            "26 Nov 2026, 15:30 UTC"
        );
        assert_eq!(
            DateFormat::new(Lang::Ko).format(1_795_707_000),
            "2026년 11월 26일 15:30 UTC"
        );
    }
}
