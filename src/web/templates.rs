//! Tera functions and filters for the templates.

use rocket_dyn_templates::tera::{self, Tera, Value};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::i18n;

/// `1764168000 | iso` -> `2025-11-26T14:40:00Z`, for `<time datetime=...>`.
fn iso(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let secs = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("expected a Unix timestamp"))?;
    let t =
        OffsetDateTime::from_unix_timestamp(secs).map_err(|e| tera::Error::msg(e.to_string()))?;
    Ok(Value::String(
        t.format(&Rfc3339)
            .map_err(|e| tera::Error::msg(e.to_string()))?,
    ))
}

pub fn register(tera: &mut Tera) {
    tera.register_function("t", i18n::TeraT::default());
    tera.register_filter("datetime", i18n::tera_datetime);
    tera.register_filter("iso", iso);
}
