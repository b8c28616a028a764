//! The application's shared state, built once from the settings: what the service layer's
//! flows run on, for the web server and the CLI alike.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::csrf::CsrfKey;
use crate::auth::keys::{KeyError, KeyRing};
use crate::auth::password::Hasher;
use crate::auth::token::TokenService;
use crate::cache::denylist::DenyList;
use crate::cache::known_bans::KnownBans;
use crate::cache::profiles::Profiles;
use crate::cache::refusals::Refusals;
use crate::cache::session_views::SessionViews;
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::db::{Db, DbError};
use crate::mail::{MailKey, Outgoing};
use crate::seal::SealKey;

/// Why gatehouse could not start. Each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("mail or TOTP key: {0}")]
    SealKey(#[from] crate::files::SecretError),
    #[error("cannot start the bcrypt threads: {0}")]
    Threads(#[from] std::io::Error),
}

/// Everything the flows share: settings, database, keys, bcrypt, the caches and the clock.
/// Built from the settings alone, so tests start isolated instances side by side; the web
/// server and the CLI both run on one. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct App(Arc<Services>);

pub struct Services {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub tokens: TokenService,
    pub csrf: CsrfKey,
    pub hasher: Hasher,
    pub denylist: DenyList,
    /// Bans this instance has seen (`service::throttle`).
    pub known_bans: KnownBans,
    pub profiles: Profiles,
    pub session_views: SessionViews,
    /// Queued mail is sealed with it (`mail::MailKey`).
    pub mail_key: MailKey,
    /// TOTP secrets are sealed with it, at rest and in the enrolment form (`auth::totp`).
    pub totp_key: SealKey,
    /// Where mail goes; `None` without `smtp_url` (then no mail is queued at all).
    pub mail: Option<Outgoing>,
    /// Wakes the outbox worker when a row is queued, so mail leaves at once.
    pub outbox_wake: rocket::tokio::sync::Notify,
    /// Sign-in refusals counted between two upkeep passes (`service::audit`).
    pub refusals: Refusals,
    pub clock: Arc<dyn Clock>,
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

/// Most `sid`s a deny list holds; see `cache::denylist` for why it stays far below this.
const DENY_LIST_CAP: usize = 1_000_000;
/// Most user profiles cached for forward-auth.
const PROFILE_CACHE_CAP: usize = 100_000;
/// Most (address, account) pairs whose refusals are counted apart; a few MB at most.
const REFUSAL_TALLY_CAP: usize = 10_000;

impl App {
    /// Whether this deployment sends mail at all (`smtp_url`).
    pub fn sends_mail(&self) -> bool {
        self.mail.is_some()
    }

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
        let mail_key = MailKey::load_or_create(&settings.data_dir, crate::mail::MAIL_KEY_FILE)?;
        let totp_key = SealKey::load_or_create(&settings.data_dir, crate::auth::totp::KEY_FILE)?;
        let mail = settings.smtp_url.as_deref().map(|url| {
            let from = settings
                .mail_from
                .as_deref()
                .unwrap_or("gatehouse <no-reply@localhost>");
            let domain = crate::config::origin_host(&settings.public_origin);
            Outgoing::new(url, from, domain)
        });
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
            known_bans: KnownBans::default(),
            profiles: Profiles::new(PROFILE_CACHE_CAP),
            session_views: SessionViews::new(PROFILE_CACHE_CAP),
            refusals: Refusals::new(REFUSAL_TALLY_CAP),
            mail_key,
            totp_key,
            mail,
            outbox_wake: rocket::tokio::sync::Notify::new(),
            clock,
            started_at: now,
        })))
    }

    pub fn shared(&self) -> App {
        self.clone()
    }
}
