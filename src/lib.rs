//! gatehouse: a self-hostable login service. `rocket()` builds the whole application from a
//! figment; everything handlers need is managed state built from that configuration, so
//! tests start isolated instances side by side.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod routes;
pub mod tasks;
pub mod validate;
pub mod web;

use std::ops::Deref;
use std::sync::Arc;

use figment::Figment;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

use auth::csrf::{CsrfKey, FORM_LIMIT};
use auth::denylist::DenyList;
use auth::keys::{KeyError, KeyRing};
use auth::password::Hasher;
use auth::profiles::Profiles;
use auth::session_views::SessionViews;
use auth::throttle::Throttle;
use auth::token::TokenService;
use clock::{Clock, SystemClock};
use config::{ConfigError, Settings};
use db::{Db, DbError};
use web::assets::Assets;

/// Why gatehouse could not start. Each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot start the bcrypt threads: {0}")]
    Threads(#[from] std::io::Error),
}

/// Everything the handlers share. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct App(Arc<Services>);

pub struct Services {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub tokens: TokenService,
    pub csrf: CsrfKey,
    pub hasher: Hasher,
    pub denylist: DenyList,
    pub throttle: Throttle,
    pub profiles: Profiles,
    pub session_views: SessionViews,
    /// Sign-in refusals counted between two upkeep passes (`audit.rs`).
    pub refusals: audit::Refusals,
    pub dates: web::i18n::DateFormats,
    pub clock: Arc<dyn Clock>,
    pub assets: Assets,
    /// Tokens minted before this moment are revalidated on first use, so a restart (which
    /// empties the deny list) never brings back a session revoked before it.
    pub started_at: i64,
}

impl Deref for App {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Most `sid`s a deny list holds; see `auth::denylist` for why it stays far below this.
const DENY_LIST_CAP: usize = 1_000_000;
/// Most user profiles cached for forward-auth.
const PROFILE_CACHE_CAP: usize = 100_000;
/// Most (address, account) pairs whose refusals are counted apart; a few MB at most.
const REFUSAL_TALLY_CAP: usize = 10_000;

impl App {
    /// Opens the database (running migrations) and loads or makes the keys in `data_dir`.
    pub fn init(settings: Settings, clock: Arc<dyn Clock>) -> Result<App, StartupError> {
        let now = clock.now();
        let db = Db::connect(
            &settings.database_url,
            settings.db_pool_size,
            settings.db_connect_timeout,
        )?;
        db.migrate()?;
        let keys = KeyRing::load_or_create(&settings.data_dir, settings.jwt_algorithm, now)?;
        let csrf = CsrfKey::load_or_create(&settings.data_dir)?;
        let max_lifetime = settings
            .session_idle_timeout
            .max(settings.remember_me_timeout);
        let tokens = TokenService::new(
            keys,
            &settings.data_dir,
            &settings.public_origin,
            &settings.public_origin,
            max_lifetime,
        );
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = Hasher::new(
            settings.bcrypt_cost,
            permits,
            settings.bcrypt_max_queue,
            settings.bcrypt_nice,
        )?;
        Ok(App(Arc::new(Services {
            settings: Arc::new(settings),
            db,
            tokens,
            csrf,
            hasher,
            denylist: DenyList::new(DENY_LIST_CAP),
            throttle: Throttle::new(),
            profiles: Profiles::new(PROFILE_CACHE_CAP),
            session_views: SessionViews::new(PROFILE_CACHE_CAP),
            refusals: audit::Refusals::new(REFUSAL_TALLY_CAP),
            dates: web::i18n::DateFormats::default(),
            clock,
            assets: Assets::new(),
            started_at: now,
        })))
    }

    pub fn shared(&self) -> App {
        self.clone()
    }
}

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
    let assets = app.assets.urls();
    rocket::custom(figment)
        // Our own fairing sets every security header; an empty Shield replaces Rocket's default.
        .attach(rocket::shield::Shield::new())
        .manage(app)
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
