//! Tera functions and filters for the templates.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rocket_dyn_templates::tera::{self, Map, Tera, Value};

use super::i18n;
use crate::auth::password::SITE_NAME;

/// `1764168000 | iso` -> `2025-11-26T14:40:00Z`, for `<time datetime=...>`.
fn iso(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let secs = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("expected a Unix timestamp"))?;
    Ok(Value::String(i18n::iso(secs)))
}

pub fn register(tera: &mut Tera) {
    tera.register_function("t", i18n::tera_t);
    tera.register_filter("datetime", i18n::TeraDatetime::default());
    tera.register_filter("iso", iso);
}

/// The templates rocket_dyn_templates loaded (and re-loads in debug builds), rendered
/// from a context we hand over whole: `Template::show` would first copy every value of it
/// through serde, which cost a page as much as a third of its rendering.
#[derive(Clone, Default)]
pub struct Renderer(Arc<RwLock<Option<Arc<Tera>>>>);

impl Renderer {
    pub fn set(&self, tera: &Tera) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(tera.clone()));
    }

    /// `None` if the templates are not loaded or rendering fails (logged).
    pub fn render(&self, name: &str, context: Value) -> Option<String> {
        let tera = self.0.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        let context = tera::Context::from_value(context)
            .map_err(|e| log::error!("template context for {name}: {e}"))
            .ok()?;
        tera.render(name, &context)
            .map_err(|e| log::error!("rendering {name}: {e:?}"))
            .ok()
    }
}

/// The name of `template` translated into `lang` (see [`add_translations`]).
pub fn translated(lang: i18n::Lang, template: &str) -> String {
    format!("{}/{template}.html", lang.code())
}

/// Adds every template again per language, with each argument-less message already in
/// place: `{{ t(key="login-title", lang=lang) }}` becomes the (escaped) text. A page then
/// looks up no messages while it renders, only those with arguments. The names end in
/// `.html`, so Tera auto-escapes them like the originals.
pub fn add_translations(
    tera: &mut Tera,
    dir: &Path,
    assets: &Map<String, Value>,
) -> Result<(), String> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".html.tera"))
        else {
            continue;
        };
        let source =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        sources.push((name.to_string(), source));
    }
    let mut raw = Vec::new();
    for lang in i18n::ALL {
        for (name, source) in &sources {
            raw.push((
                translated(lang, name),
                bake(&translate(source, lang), lang, assets),
            ));
        }
    }
    tera.add_raw_templates(raw).map_err(|e| e.to_string())
}

/// Puts the context's constants in place: per language (`lang`, `lang_other`), per process
/// (asset URLs, the site's name). Each variable Tera looks up costs a page about 2k
/// instructions (its path is re-escaped on every lookup); these are a third of a page's.
fn bake(source: &str, lang: i18n::Lang, assets: &Map<String, Value>) -> String {
    let mut out = source
        .replace("{{ lang }}", lang.code())
        .replace("{{ lang_other }}", lang.other().code())
        .replace("{{ site_name }}", &tera::escape_html(SITE_NAME));
    for (name, url) in assets {
        if let Some(url) = url.as_str() {
            out = out.replace(&format!("{{{{ assets.{name} }}}}"), &tera::escape_html(url));
        }
    }
    out
}

fn translate(source: &str, lang: i18n::Lang) -> String {
    const OPEN: &str = "{{ t(key=\"";
    const CLOSE: &str = "\", lang=lang) }}";
    // The site's name is a constant of every page's context, so these are plain too.
    const CLOSE_SITE: &str = "\", lang=lang, site=site_name) }}";
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let key_end = after.find('"').unwrap_or(0);
        if after[key_end..].starts_with(CLOSE) {
            out.push_str(&tera::escape_html(&lang.t(&after[..key_end])));
            rest = &after[key_end + CLOSE.len()..];
        } else if after[key_end..].starts_with(CLOSE_SITE) {
            let text = lang.t_args(&after[..key_end], &[("site", SITE_NAME.into())]);
            out.push_str(&tera::escape_html(&text));
            rest = &after[key_end + CLOSE_SITE.len()..];
        } else {
            // A message with arguments: left for render time.
            out.push_str(OPEN);
            rest = after;
        }
    }
    out.push_str(rest);
    let code = lang.code();
    out.replace(
        "{% extends \"base\" %}",
        &format!("{{% extends \"{code}/base.html\" %}}"),
    )
    .replace(
        "{% import \"macros\" as",
        &format!("{{% import \"{code}/macros.html\" as"),
    )
}

/// The part of every page's context that the templates cannot have baked in (see
/// `templates::bake`): the language for messages with arguments, this page's address.
pub fn base_context(req: &rocket::Request<'_>, lang: i18n::Lang) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("lang".into(), serde_json::json!(lang.code()));
    // Where the language switch returns to: this page, if it is a plain GET.
    let here = if req.method() == rocket::http::Method::Get {
        super::next::encode(&req.uri().to_string())
    } else {
        super::next::encode("/")
    };
    ctx.insert("here".into(), serde_json::json!(here));
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    #[test]
    fn plain_messages_are_put_in_place_escaped() {
        let src = r#"{% extends "base" %}{% import "macros" as m %}<h1>{{ t(key="login-title", lang=lang) }}</h1><p>{{ t(key="advice-repeats-simple", lang=lang) }}</p><p>{{ t(key="dashboard-welcome", lang=lang, name=user.name) }}</p>"#;
        let ko = translate(src, Lang::Ko);
        assert!(
            ko.starts_with(r#"{% extends "ko/base.html" %}{% import "ko/macros.html" as m %}"#),
            "{ko}"
        );
        assert!(ko.contains("<h1>로그인</h1>"));
        assert!(ko.contains("&quot;aaa&quot;"), "escaped: {ko}");
        assert!(
            ko.contains(r#"{{ t(key="dashboard-welcome", lang=lang, name=user.name) }}"#),
            "with arguments: left as is"
        );
    }

    #[test]
    fn constants_are_baked_in_escaped_and_the_rest_left_for_render_time() {
        let mut assets = Map::new();
        assets.insert(
            "app_js".into(),
            Value::String("/static/app.js?v=1&x".into()),
        );
        let src = r#"<html lang="{{ lang }}"><a hreflang="{{ lang_other }}">{{ site_name }}</a><script src="{{ assets.app_js }}"></script>{{ here }}{{ assets.missing }}"#;
        let ko = bake(src, Lang::Ko, &assets);
        assert!(
            ko.starts_with(r#"<html lang="ko"><a hreflang="en">gatehouse</a>"#),
            "{ko}"
        );
        assert!(
            ko.contains("&#x2F;static&#x2F;app.js?v=1&amp;x"),
            "escaped: {ko}"
        );
        assert!(
            ko.ends_with("{{ here }}{{ assets.missing }}"),
            "per-request values and unknown names stay (Tera then refuses the unknown one)"
        );
    }

    #[test]
    fn every_template_gets_a_variant_per_language() {
        let mut tera = Tera::default();
        register(&mut tera);
        let assets = crate::web::assets::Assets::new().urls();
        add_translations(
            &mut tera,
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")),
            &assets,
        )
        .unwrap();
        for lang in i18n::ALL {
            for name in [
                "base",
                "login",
                "register",
                "dashboard",
                "account",
                "sessions",
                "error",
                "macros",
            ] {
                assert!(
                    tera.get_template(&translated(lang, name)).is_ok(),
                    "{} {name}",
                    lang.code()
                );
            }
        }
    }
}
