//! Languages: every user-facing string comes from the Fluent catalogs in `locales/` (compiled
//! into the binary). The language is the `lang` cookie (set by the switch link) or else the
//! best match in `Accept-Language`; English is the fallback.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{langid, LanguageIdentifier, Loader};
use rocket::request::{self, FromRequest, Request};
use rocket_dyn_templates::tera::{self, Value};

use crate::auth::password::{PasswordProblem, MAX_LEN, MIN_LEN};

fluent_templates::static_loader! {
    // Immutable catalog data compiled into the binary, like `include_str!`.
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they would show up in HTML and logs.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

pub const COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
}

pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::Ko => langid!("ko"),
        }
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ko,
            Lang::Ko => Lang::En,
        }
    }

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

    /// The message `key`, in this language.
    pub fn t(self, key: &str) -> String {
        self.t_args(key, &[])
    }

    pub fn t_args(self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_string()), v.clone().into_owned()))
            .collect();
        let args = (!args.is_empty()).then_some(&args);
        LOCALES
            .try_lookup_complete(&self.id(), key, args)
            .or_else(|| LOCALES.try_lookup_complete(&Lang::En.id(), key, args))
            .unwrap_or_else(|| {
                log::error!("missing message {key:?}");
                key.to_string()
            })
    }
}

/// `lang` cookie first; then the highest-weighted supported language in `Accept-Language`.
pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(l) = cookie.and_then(Lang::from_code) {
        return l;
    }
    let mut best: Option<(f32, Lang)> = None;
    for part in accept_language.unwrap_or("").split(',') {
        let mut pieces = part.split(';');
        let Some(lang) = pieces.next().and_then(Lang::from_code) else {
            continue;
        };
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::En, |(_, l)| l)
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

/// A language's date pattern and month names ("26 Nov 2026, 14:40 UTC", "2026년 11월 26일
/// 14:40 UTC"), looked up once: pages show several dates
/// and a Fluent lookup with arguments per date would dominate their rendering.
pub struct DateFormat {
    parts: Vec<DatePart>,
    months: Vec<String>,
}

/// The pattern, split once at its placeholders: formatting is then a few pushes.
enum DatePart {
    Text(String),
    Day,
    Month,
    Year,
    Time,
}

impl DateFormat {
    pub fn new(lang: Lang) -> Self {
        let slot = |s: &str| FluentValue::from(format!("\u{1}{s}\u{1}"));
        let pattern = lang.t_args(
            "date-format",
            &[
                ("day", slot("D")),
                ("month", slot("M")),
                ("year", slot("Y")),
                ("time", slot("T")),
            ],
        );
        // Between \u{1} marks: odd pieces are placeholders, even ones text.
        let parts = pattern
            .split('\u{1}')
            .enumerate()
            .filter(|(_, piece)| !piece.is_empty())
            .map(|(i, piece)| match (i % 2, piece) {
                (1, "D") => DatePart::Day,
                (1, "M") => DatePart::Month,
                (1, "Y") => DatePart::Year,
                (1, "T") => DatePart::Time,
                _ => DatePart::Text(piece.to_string()),
            })
            .collect();
        DateFormat {
            parts,
            months: (1..=12).map(|m| lang.t(&format!("month-{m}"))).collect(),
        }
    }

    pub fn format(&self, secs: i64) -> String {
        use std::fmt::Write;
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
            return secs.to_string();
        };
        let mut out = String::with_capacity(32);
        for part in &self.parts {
            // Writing to a String cannot fail.
            let _ = match part {
                DatePart::Text(s) => out.write_str(s),
                DatePart::Day => write!(out, "{}", t.day()),
                DatePart::Month => {
                    out.write_str(&self.months[usize::from(u8::from(t.month())) - 1])
                }
                DatePart::Year => write!(out, "{}", t.year()),
                DatePart::Time => write!(out, "{:02}:{:02}", t.hour(), t.minute()),
            };
        }
        out
    }
}

/// Every language's date format, ready (for Rust code and the `datetime` filter).
pub struct DateFormats(Vec<(Lang, DateFormat)>);

impl Default for DateFormats {
    fn default() -> Self {
        DateFormats(ALL.iter().map(|l| (*l, DateFormat::new(*l))).collect())
    }
}

impl DateFormats {
    pub fn format(&self, lang: Lang, secs: i64) -> String {
        self.0
            .iter()
            .find(|(l, _)| *l == lang)
            .map_or_else(|| secs.to_string(), |(_, f)| f.format(secs))
    }
}

/// `<time datetime="...">`: RFC 3339 in UTC.
pub fn iso(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
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
