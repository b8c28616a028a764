//! Tera filters for the templates.

use std::collections::HashMap;

use rocket_dyn_templates::tera::{self, Tera, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

fn timestamp(value: &Value) -> tera::Result<OffsetDateTime> {
    let secs = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("expected a Unix timestamp"))?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| tera::Error::msg(e.to_string()))
}

/// `1764168000 | datetime` -> `26 Nov 2025, 14:40 UTC`
fn datetime(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = timestamp(value)?;
    let f =
        format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
    Ok(Value::String(
        t.format(f).map_err(|e| tera::Error::msg(e.to_string()))?,
    ))
}

/// `1764168000 | iso` -> `2025-11-26T14:40:00Z`, for `<time datetime=...>`.
fn iso(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = timestamp(value)?;
    Ok(Value::String(
        t.format(&Rfc3339)
            .map_err(|e| tera::Error::msg(e.to_string()))?,
    ))
}

pub fn register(tera: &mut Tera) {
    tera.register_filter("datetime", datetime);
    tera.register_filter("iso", iso);
}
