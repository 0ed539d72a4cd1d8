//! What every handler can reach.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use auth::{KeyRing, PasswordHasher, TokenIssuer};
use domain::LockoutPolicy;
use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::{
    authn::{ApiKeyUsage, SessionCache},
    client::IpRange,
    error::ApiResult,
    rate_limit::Decision,
    rate_limit::RateLimiter,
    routes::auth::rate_limited,
    routes::health::ReadinessCache,
    shared::{Shared, SharedDecision},
};

const MINUTE: Duration = Duration::from_secs(60);

/// The rate-limit rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Every request of a client address, all routes but the probes.
    Global,
    /// Sign-in, registration, refresh and second-factor attempts of a client address.
    AuthByIp,
    /// Sign-in and sensitive attempts on one account.
    AuthByAccount,
}

/// The rate limiters, one per rule.
#[derive(Debug)]
pub(crate) struct Limits {
    pub global: RateLimiter,
    pub auth_by_ip: RateLimiter,
    pub auth_by_account: RateLimiter,
}

fn token_issuer(settings: &WebSettings) -> TokenIssuer {
    let ttl = chrono::Duration::from_std(settings.access_token_ttl)
        .unwrap_or(chrono::Duration::minutes(15));
    let configured = TokenIssuer::new(
        settings.jwt_secrets.iter().map(String::as_str),
        &settings.token_issuer,
        AUDIENCE,
        ttl,
    );
    // No key configured (tests, embedding): a random one, valid for this process only.
    configured.unwrap_or_else(|| TokenIssuer::ephemeral(&settings.token_issuer, AUDIENCE, ttl))
}

fn oidc_clients(settings: &WebSettings) -> Vec<Arc<auth::oidc::OidcClient>> {
    settings
        .oidc_providers
        .iter()
        .filter_map(|config| match auth::oidc::OidcClient::new(config.clone()) {
            Ok(client) => Some(Arc::new(client)),
            Err(error) => {
                tracing::error!(%error, provider = %config.id, "identity provider left out");
                None
            }
        })
        .collect()
}

/// The `aud` claim of every access token.
pub const AUDIENCE: &str = "jobpilot-api";
/// The `aud` claim of second-factor challenges.
pub const CHALLENGE_AUDIENCE: &str = "jobpilot-2fa";

/// The HTTP layer's settings (the binary maps its configuration onto this).
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Origins allowed to call the API from a browser; empty: same-origin only.
    pub cors_origins: Vec<String>,
    /// Send HSTS (only when users reach the service over HTTPS).
    pub hsts: bool,
    /// Readiness is 503 while the search index is rebuilt (replicas behind a load balancer
    /// then take traffic only once their index is complete).
    pub ready_waits_for_search_index: bool,
    /// When set, `/metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// How many password hashes may run at once.
    pub password_hash_concurrency: usize,
    /// Access-token signing keys: the first signs, all verify. Empty: a random key per process.
    pub jwt_secrets: Vec<String>,
    /// The `iss` claim of access tokens (the service's public URL when configured).
    pub token_issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Failed sign-ins before an account is locked, and for how long.
    pub lockout: LockoutPolicy,
    /// Requests a client address may make per minute, all routes together.
    pub rate_limit_per_minute: u32,
    /// Sign-in, registration and refresh attempts per minute, per address and per account.
    pub auth_rate_limit_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpRange>,
    /// How long "this session is open" is remembered before the database is asked again.
    pub session_cache_ttl: Duration,
    /// Seals secrets at rest (TOTP secrets). `None`: a random key per process.
    pub key_ring: Option<Arc<KeyRing>>,
    /// Mark session cookies `Secure` (off only for plain-HTTP development).
    pub cookie_secure: bool,
    /// The URL users reach the service at (identity providers redirect back to it).
    pub public_url: String,
    /// Identity providers users may sign in with.
    pub oidc_providers: Vec<auth::oidc::ProviderConfig>,
    /// Whether signing in with a provider may create a new account.
    pub oidc_signup: bool,
    /// The key scrapers present to push jobs in (`X-Internal-API-Key`); `None`: only
    /// administrators can.
    pub internal_api_key: Option<String>,
    /// Largest push-ingestion body, in bytes.
    pub ingest_body_limit: usize,
    /// Open postings one recruiter may have published at once.
    pub max_open_postings: u64,
    /// The sources this deployment follows.
    pub sources: Vec<String>,
    /// Where uploaded files (sealed) are kept.
    pub files: crate::files::Files,
    /// How much each feature counts when matching resumes to jobs.
    pub match_weights: search::index::matching::Weights,
    /// The embedding model fused into resume matches; `None`: matches without it.
    pub semantic: Option<Arc<crate::semantic::Semantic>>,
    /// Which apply channels are open, and their daily caps.
    pub apply: crate::applications::ApplySettings,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            hsts: false,
            ready_waits_for_search_index: false,
            metrics_token: None,
            password_hash_concurrency: 2,
            jwt_secrets: Vec::new(),
            token_issuer: "jobpilot".to_owned(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            lockout: LockoutPolicy {
                max_failures: 5,
                lock_for: chrono::Duration::minutes(15),
            },
            rate_limit_per_minute: 1000,
            auth_rate_limit_per_minute: 5,
            trusted_proxies: Vec::new(),
            session_cache_ttl: Duration::from_secs(5),
            key_ring: None,
            cookie_secure: true,
            public_url: "http://localhost:8080".to_owned(),
            oidc_providers: Vec::new(),
            oidc_signup: true,
            internal_api_key: None,
            ingest_body_limit: 64 * 1024 * 1024,
            max_open_postings: 1_000,
            sources: Vec::new(),
            files: crate::files::Files::local("./data/files"),
            match_weights: search::index::matching::Weights::default(),
            semantic: None,
            apply: crate::applications::ApplySettings::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    tasks: tasks::TaskDb,
    task_events: crate::routes::task_events::TaskEvents,
    settings: WebSettings,
    passwords: PasswordHasher,
    tokens: TokenIssuer,
    /// Short-lived tokens that stand between the password and the second factor.
    challenges: TokenIssuer,
    key_ring: Arc<KeyRing>,
    sessions: Arc<SessionCache>,
    api_key_usage: ApiKeyUsage,
    shared: Option<Shared>,
    limits: Limits,
    /// Verified against when an account does not exist, so that costs the same time.
    dummy_hash: String,
    metrics: PrometheusHandle,
    shutting_down: AtomicBool,
    readiness: ReadinessCache,
    oidc: Vec<Arc<auth::oidc::OidcClient>>,
    audit: crate::audit_writer::AuditWriter,
    search: Arc<search::index::JobIndex>,
    /// Wakes the search index's follower after a local job write.
    search_wake: Arc<tokio::sync::Notify>,
    matches: crate::match_cache::MatchCache,
    events: crate::events::EventHub,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        tasks: tasks::TaskDb,
        settings: WebSettings,
        shared: Option<Shared>,
        search: Arc<search::index::JobIndex>,
    ) -> Self {
        let audit = crate::audit_writer::AuditWriter::start(store.clone());
        let passwords = PasswordHasher::new(settings.password_hash_concurrency);
        let tokens = token_issuer(&settings);
        let limits = Limits {
            global: RateLimiter::new(settings.rate_limit_per_minute, MINUTE),
            auth_by_ip: RateLimiter::new(settings.auth_rate_limit_per_minute, MINUTE),
            auth_by_account: RateLimiter::new(settings.auth_rate_limit_per_minute, MINUTE),
        };
        let events = crate::events::EventHub::new(store.clone());
        let state = Self {
            inner: Arc::new(Inner {
                store,
                task_events: crate::routes::task_events::TaskEvents::new(tasks.clone()),
                tasks,
                dummy_hash: passwords.dummy_hash(),
                passwords,
                challenges: tokens.with_audience(CHALLENGE_AUDIENCE, chrono::Duration::minutes(5)),
                tokens,
                key_ring: settings
                    .key_ring
                    .clone()
                    .unwrap_or_else(|| Arc::new(KeyRing::ephemeral())),
                sessions: Arc::new(SessionCache::new(settings.session_cache_ttl)),
                matches: crate::match_cache::MatchCache::new(crate::match_cache::CAPACITY),
                events,
                api_key_usage: ApiKeyUsage::default(),
                shared,
                limits,
                metrics: crate::routes::metrics::recorder(),
                shutting_down: AtomicBool::new(false),
                readiness: ReadinessCache::default(),
                oidc: oidc_clients(&settings),
                audit,
                settings,
                search,
                search_wake: Arc::new(tokio::sync::Notify::new()),
            }),
        };
        if let Some(shared) = &state.inner.shared {
            shared.follow_revocations(Arc::downgrade(&state.inner.sessions));
        }
        state
    }

    /// The identity providers users may sign in with.
    pub(crate) fn oidc_providers(&self) -> &[Arc<auth::oidc::OidcClient>] {
        &self.inner.oidc
    }

    pub(crate) fn oidc_provider(&self, id: &str) -> Option<&auth::oidc::OidcClient> {
        self.inner
            .oidc
            .iter()
            .find(|p| p.config().id == id)
            .map(AsRef::as_ref)
    }

    pub(crate) fn audit_log(&self) -> &crate::audit_writer::AuditWriter {
        &self.inner.audit
    }

    /// Live per-user events for the WebSockets.
    pub fn events(&self) -> &crate::events::EventHub {
        &self.inner.events
    }

    /// Which apply channels are open, and their daily caps.
    pub fn apply_settings(&self) -> &crate::applications::ApplySettings {
        &self.inner.settings.apply
    }

    /// Uploaded files.
    pub fn files(&self) -> &crate::files::Files {
        &self.inner.settings.files
    }

    /// Resumes' ranked matches, while neither the resume nor the index changes.
    pub(crate) fn match_cache(&self) -> &crate::match_cache::MatchCache {
        &self.inner.matches
    }

    /// This replica's job search index.
    pub fn search(&self) -> &Arc<search::index::JobIndex> {
        &self.inner.search
    }

    /// Rung after jobs are written here, so the index picks them up at once rather than at
    /// the next poll.
    pub fn search_wake(&self) -> &Arc<tokio::sync::Notify> {
        &self.inner.search_wake
    }

    /// The store as shared ownership (for background work that outlives a request).
    pub fn store_arc(&self) -> Arc<dyn Store> {
        Arc::clone(&self.inner.store)
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The task queue, in the same database as the store.
    pub fn tasks(&self) -> &tasks::TaskDb {
        &self.inner.tasks
    }

    /// Hands back the connections held for the life of the process (the task-change
    /// listener), so the pools can close; call after the HTTP server has stopped.
    pub async fn release_connections(&self) {
        self.inner.task_events.stop().await;
        self.inner.events.stop();
    }

    pub(crate) fn task_events(&self) -> &crate::routes::task_events::TaskEvents {
        &self.inner.task_events
    }

    pub fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    pub(crate) fn challenges(&self) -> &TokenIssuer {
        &self.inner.challenges
    }

    pub fn key_ring(&self) -> &KeyRing {
        &self.inner.key_ring
    }

    pub(crate) fn sessions(&self) -> &SessionCache {
        &self.inner.sessions
    }

    /// Counts a request against a rate-limit rule: in Redis when replicas share one (falling
    /// back to this process's own count if Redis fails), in process otherwise.
    pub(crate) async fn check_limit(&self, rule: Rule, key: &str) -> ApiResult<()> {
        let settings = &self.inner.settings;
        let limits = &self.inner.limits;
        let (limiter, name, limit) = match rule {
            Rule::Global => (&limits.global, "global", settings.rate_limit_per_minute),
            Rule::AuthByIp => (
                &limits.auth_by_ip,
                "auth-ip",
                settings.auth_rate_limit_per_minute,
            ),
            Rule::AuthByAccount => (
                &limits.auth_by_account,
                "auth-account",
                settings.auth_rate_limit_per_minute,
            ),
        };
        if let Some(shared) = &self.inner.shared {
            match shared.check(name, key, limit, MINUTE).await {
                Ok(SharedDecision::Allowed) => return Ok(()),
                Ok(SharedDecision::Limited { retry_after }) => {
                    return Err(rate_limited(limit, retry_after));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Redis rate limit unavailable; counting locally");
                }
            }
        }
        match limiter.check(key) {
            Decision::Allowed { .. } => Ok(()),
            Decision::Limited { limit, retry_after } => Err(rate_limited(limit, retry_after)),
        }
    }

    /// A session ended (`None`: possibly several): forget it here and tell the other replicas.
    pub(crate) async fn session_ended(&self, session: Option<domain::SessionId>) {
        match session {
            Some(id) => self.inner.sessions.forget_locally(id),
            None => self.inner.sessions.forget_all_locally(),
        }
        if let Some(shared) = &self.inner.shared {
            shared.publish_revocation(session).await;
        }
    }

    pub(crate) fn api_key_usage(&self) -> &ApiKeyUsage {
        &self.inner.api_key_usage
    }

    pub(crate) fn dummy_hash(&self) -> &str {
        &self.inner.dummy_hash
    }

    pub(crate) fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    pub(crate) fn readiness_cache(&self) -> &ReadinessCache {
        &self.inner.readiness
    }

    /// From now on readiness answers 503, so load balancers stop sending new requests while the
    /// ones in flight finish.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }
}
