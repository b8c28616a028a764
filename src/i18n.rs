//! Languages: every user-facing string (pages, mail, the CLI's messages) comes from the
//! Fluent catalogs in `locales/`, compiled into the binary. English is the fallback. Which
//! language a request gets is `web::i18n`'s business.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{langid, LanguageIdentifier, Loader};

fluent_templates::static_loader! {
    // Immutable catalog data compiled into the binary, like `include_str!`.
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they would show up in HTML and logs.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

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
