//! gatehouse: a self-hostable login service. `rocket()` builds the whole application from a
//! figment; everything handlers need is managed state built from that configuration, so
//! tests start isolated instances side by side.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod devices;
pub mod error;
pub mod files;
pub mod i18n;
pub mod ids;
pub mod mail;
pub mod routes;
pub mod seal;
pub mod service;
pub mod tasks;
pub mod validate;
pub mod web;

use std::sync::Arc;

use figment::Figment;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

pub use app::{App, StartupError};
use clock::{Clock, SystemClock};
use config::Settings;
use web::assets::Assets;
use web::forms::FORM_LIMIT;

/// The application, configured by `figment` (see [`config::figment`]).
pub fn rocket(figment: Figment) -> Result<Rocket<Build>, StartupError> {
    rocket_with_clock(figment, Arc::new(SystemClock))
}

/// As [`rocket`], with the clock injected (tests move time instead of sleeping).
pub fn rocket_with_clock(
    figment: Figment,
    clock: Arc<dyn Clock>,
) -> Result<Rocket<Build>, StartupError> {
    let settings = Settings::from_figment(&figment)?;
    let app = App::init(settings, clock)?;
    Ok(build(figment, app))
}

/// Mounts routes, catchers and fairings around a ready `App`.
pub fn build(figment: Figment, app: App) -> Rocket<Build> {
    let settings = app.settings.clone();
    let warnings = settings.warnings();
    let template_dir = settings.template_dir.clone();
    let max_connections = web::connections::effective_max_connections(
        settings.max_connections,
        settings.db_pool_size,
        web::connections::open_file_limit(),
    );
    if max_connections < settings.max_connections {
        log::warn!(
            "serving at most {max_connections} connections at once (max_connections is {}): \
             the open-file limit leaves no room for more; raise LimitNOFILE",
            settings.max_connections
        );
    }
    let figment = figment
        // Read by the patched Rocket listener (vendor/rocket/PATCHES.md).
        .merge(("max_connections", max_connections))
        .merge((
            "max_connections_per_client",
            settings.max_connections_per_client.min(max_connections),
        ))
        .merge(("request_header_timeout", settings.request_header_timeout))
        // LG-4: Rocket would otherwise believe any client's X-Real-IP.
        .merge(("ip_header", false))
        // HD-1: no `Server: Rocket` banner.
        .merge(("ident", false))
        .merge(("limits.form", FORM_LIMIT))
        .merge(("limits.data-form", FORM_LIMIT))
        .merge(("template_dir", settings.template_dir.clone()));
    let renderer = web::templates::Renderer::default();
    let loaded = renderer.clone();
    let static_files = Assets::new();
    let assets = static_files.urls();
    rocket::custom(figment)
        // Our own fairing sets every security header; an empty Shield replaces Rocket's default.
        .attach(rocket::shield::Shield::new())
        .manage(app)
        .manage(static_files)
        .manage(web::i18n::DateFormats::default())
        .manage(renderer)
        .mount("/", routes::all())
        .register("/", web::errors::catchers())
        .attach(Template::try_custom(move |engines| {
            web::templates::register(&mut engines.tera);
            web::templates::add_translations(&mut engines.tera, &template_dir, &assets)?;
            loaded.set(&engines.tera);
            Ok(())
        }))
        .attach(web::headers::SecurityHeaders::new(&settings))
        .attach(tasks::fairing())
        // The warnings `check-config` prints, also where an operator reads the start log.
        .attach(rocket::fairing::AdHoc::on_liftoff(
            "setting warnings",
            move |_| {
                Box::pin(async move {
                    for warning in warnings {
                        log::warn!("{warning}");
                    }
                })
            },
        ))
}
