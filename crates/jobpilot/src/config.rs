//! Configuration: environment first (`JOBPILOT_*`), then an optional TOML file, then defaults.
//!
//! Every secret may also come from a file named by `<NAME>_FILE` (Docker and Kubernetes secrets),
//! is held in a [`SecretString`] and is never printed. A bad value is reported with the variable
//! that holds it; all problems are reported at once.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

pub const ENV_PREFIX: &str = "JOBPILOT_";

/// Every setting: (key, environment variable, is a secret, what it is).
pub const SETTINGS: &[(&str, &str, bool, &str)] = &[
    ("mode", "JOBPILOT_MODE", false, "development | production"),
    (
        "listen",
        "JOBPILOT_LISTEN",
        false,
        "host:port the HTTP server binds",
    ),
    (
        "data_dir",
        "JOBPILOT_DATA_DIR",
        false,
        "where the SQLite database, files and generated secrets live",
    ),
    (
        "database_url",
        "JOBPILOT_DATABASE_URL",
        true,
        "sqlite://… or postgres://…",
    ),
    (
        "pool_size",
        "JOBPILOT_POOL_SIZE",
        false,
        "database connections per process",
    ),
    (
        "migrate_on_start",
        "JOBPILOT_MIGRATE_ON_START",
        false,
        "apply migrations when `serve` starts",
    ),
    (
        "redis_url",
        "JOBPILOT_REDIS_URL",
        true,
        "optional Redis for shared rate limits, cache and events",
    ),
    (
        "encryption_keys",
        "JOBPILOT_ENCRYPTION_KEYS",
        true,
        "key ring: id:base64key,… (first is active)",
    ),
    (
        "jwt_secret",
        "JOBPILOT_JWT_SECRET",
        true,
        "access-token signing keys, ≥ 32 bytes each, comma-separated: the first signs, all verify",
    ),
    (
        "public_url",
        "JOBPILOT_PUBLIC_URL",
        false,
        "the URL users reach jobpilot at (the tokens' issuer)",
    ),
    (
        "audit_retention_days",
        "JOBPILOT_AUDIT_RETENTION_DAYS",
        false,
        "days audit entries are kept before pruning (a sealed checkpoint keeps the chain verifiable)",
    ),
    (
        "job_retention_days",
        "JOBPILOT_JOB_RETENTION_DAYS",
        false,
        "days a closed job posting is kept before it is deleted (0: kept for ever)",
    ),
    (
        "sources_config",
        "JOBPILOT_SOURCES_CONFIG",
        false,
        "TOML file naming the job boards to follow ([hh], [adzuna], [remoteok], [greenhouse], [lever], [arbeitnow])",
    ),
    (
        "sources_sync_cron",
        "JOBPILOT_SOURCES_SYNC_CRON",
        false,
        "when every source syncs (cron, UTC)",
    ),
    (
        "alerts_cron",
        "JOBPILOT_ALERTS_CRON",
        false,
        "when match alerts look for new postings (cron, UTC)",
    ),
    (
        "adzuna_app_key",
        "JOBPILOT_ADZUNA_APP_KEY",
        true,
        "Adzuna app_key (overrides the sources file)",
    ),
    (
        "hh_app_token",
        "JOBPILOT_HH_APP_TOKEN",
        true,
        "HH.ru application token (overrides the sources file)",
    ),
    (
        "internal_api_key",
        "JOBPILOT_INTERNAL_API_KEY",
        true,
        "key scrapers send as X-Internal-API-Key to push jobs (≥ 32 characters)",
    ),
    (
        "ingest_body_limit",
        "JOBPILOT_INGEST_BODY_LIMIT",
        false,
        "largest push-ingestion body in bytes",
    ),
    (
        "max_open_postings",
        "JOBPILOT_MAX_OPEN_POSTINGS",
        false,
        "open job postings one recruiter may have published at once",
    ),
    (
        "search_dir",
        "JOBPILOT_SEARCH_DIR",
        false,
        "where this replica keeps its job search index (rebuilt from the database when missing; default <data_dir>/search)",
    ),
    (
        "s3_bucket",
        "JOBPILOT_S3_BUCKET",
        false,
        "keep uploaded files (sealed) in this S3-compatible bucket instead of <data_dir>/files",
    ),
    (
        "s3_endpoint",
        "JOBPILOT_S3_ENDPOINT",
        false,
        "the S3 service's URL for services other than AWS (MinIO, Ceph, R2…); path-style requests",
    ),
    (
        "s3_region",
        "JOBPILOT_S3_REGION",
        false,
        "the bucket's region (default us-east-1)",
    ),
    (
        "s3_prefix",
        "JOBPILOT_S3_PREFIX",
        false,
        "a folder in the bucket for this deployment's files",
    ),
    (
        "s3_access_key_id",
        "JOBPILOT_S3_ACCESS_KEY_ID",
        false,
        "the S3 access key id (with the secret key; neither: the usual AWS credential sources)",
    ),
    (
        "s3_secret_access_key",
        "JOBPILOT_S3_SECRET_ACCESS_KEY",
        true,
        "the S3 secret access key",
    ),
    (
        "llm_base_url",
        "JOBPILOT_LLM_BASE_URL",
        false,
        "an OpenAI-compatible server (OpenAI, llama.cpp, Ollama, vLLM…) that writes cover letters and interview questions; unset: a template writes them",
    ),
    (
        "llm_model",
        "JOBPILOT_LLM_MODEL",
        false,
        "the chat model's name on that server",
    ),
    (
        "llm_api_key",
        "JOBPILOT_LLM_API_KEY",
        true,
        "the key the language-model server wants (sent as a bearer token)",
    ),
    (
        "llm_timeout_seconds",
        "JOBPILOT_LLM_TIMEOUT_SECONDS",
        false,
        "how long one language-model request may take",
    ),
    (
        "embeddings_model",
        "JOBPILOT_EMBEDDINGS_MODEL",
        false,
        "an embedding model on the language-model server: text similarity joins resume matches (weight `semantic`)",
    ),
    (
        "embeddings_model_dir",
        "JOBPILOT_EMBEDDINGS_MODEL_DIR",
        false,
        "a local sentence model (a folder with config.json, model.safetensors, tokenizer.json; BERT family) run in-process instead: text similarity joins resume matches",
    ),
    (
        "smtp_host",
        "JOBPILOT_SMTP_HOST",
        false,
        "the SMTP server applications are e-mailed through; unset: no e-mail channel",
    ),
    (
        "smtp_port",
        "JOBPILOT_SMTP_PORT",
        false,
        "its port (default 587, or 465 with smtp_security = tls)",
    ),
    (
        "smtp_security",
        "JOBPILOT_SMTP_SECURITY",
        false,
        "starttls (default), tls, or none (loopback or a trusted relay only)",
    ),
    (
        "smtp_username",
        "JOBPILOT_SMTP_USERNAME",
        false,
        "the SMTP login (with the password)",
    ),
    (
        "smtp_password",
        "JOBPILOT_SMTP_PASSWORD",
        true,
        "the SMTP password",
    ),
    (
        "smtp_from",
        "JOBPILOT_SMTP_FROM",
        false,
        "the sender of application e-mails, e.g. \"jobpilot <apply@example.org>\"",
    ),
    (
        "smtp_allow_plain",
        "JOBPILOT_SMTP_ALLOW_PLAIN",
        false,
        "allow smtp_security = none to a host that is not loopback (a relay on a trusted network)",
    ),
    (
        "apply_daily_cap_email",
        "JOBPILOT_APPLY_DAILY_CAP_EMAIL",
        false,
        "applications a user may e-mail per day (UTC); more wait for the next day",
    ),
    (
        "apply_daily_cap_link",
        "JOBPILOT_APPLY_DAILY_CAP_LINK",
        false,
        "applications a user may confirm through board links per day (UTC)",
    ),
    (
        "apply_daily_cap_hh",
        "JOBPILOT_APPLY_DAILY_CAP_HH",
        false,
        "applications a user may send through HH.ru per day (UTC; HH.ru's own limit is 200)",
    ),
    (
        "hh_apply",
        "JOBPILOT_HH_APPLY",
        false,
        "let users connect HH.ru and apply through it (needs an HH.ru application with applicant access)",
    ),
    (
        "hh_client_id",
        "JOBPILOT_HH_CLIENT_ID",
        false,
        "the HH.ru application's client id (dev.hh.ru)",
    ),
    (
        "hh_client_secret",
        "JOBPILOT_HH_CLIENT_SECRET",
        true,
        "the HH.ru application's client secret",
    ),
    (
        "hh_redirect_uri",
        "JOBPILOT_HH_REDIRECT_URI",
        false,
        "where HH.ru sends users back (default <public_url>/api/v1/hh/callback)",
    ),
    (
        "hh_user_agent",
        "JOBPILOT_HH_USER_AGENT",
        false,
        "the HH-User-Agent HH.ru wants: the application's name and a contact, e.g. \"jobpilot/1.0 (ops@example.org)\"",
    ),
    (
        "hh_api_base",
        "JOBPILOT_HH_API_BASE",
        false,
        "HH.ru's API address (default https://api.hh.ru)",
    ),
    (
        "hh_authorize_url",
        "JOBPILOT_HH_AUTHORIZE_URL",
        false,
        "HH.ru's authorisation page (default https://hh.ru/oauth/authorize)",
    ),
    (
        "pdf_helper",
        "JOBPILOT_PDF_HELPER",
        false,
        "the program run (as `<program> pdf-sandbox`) to read PDFs in a sandbox; default this jobpilot binary",
    ),
    (
        "ocr",
        "JOBPILOT_OCR",
        false,
        "text of scanned PDF resumes by OCR (tesseract and pdftoppm): `auto` (default: on when both are installed, English and Russian as tesseract has them), `off`, or tesseract languages such as `eng+deu`",
    ),
    (
        "match_weights",
        "JOBPILOT_MATCH_WEIGHTS",
        false,
        "how much each feature counts when matching resumes to jobs: skills=0.5,title=0.15,seniority=0.1,location=0.1,salary=0.05,recency=0.1",
    ),
    (
        "currency_rates",
        "JOBPILOT_CURRENCY_RATES",
        false,
        "US dollars per unit of each currency, for comparing salaries: EUR=1.08,RUB=0.011,… (built-in approximations otherwise)",
    ),
    (
        "google_client_id",
        "JOBPILOT_GOOGLE_CLIENT_ID",
        false,
        "OAuth client id for \"Sign in with Google\" (with the secret below)",
    ),
    (
        "google_client_secret",
        "JOBPILOT_GOOGLE_CLIENT_SECRET",
        true,
        "OAuth client secret for \"Sign in with Google\"",
    ),
    (
        "oidc_issuer",
        "JOBPILOT_OIDC_ISSUER",
        false,
        "issuer URL of another OpenID Connect provider (discovery is read from it)",
    ),
    (
        "oidc_client_id",
        "JOBPILOT_OIDC_CLIENT_ID",
        false,
        "client id at that provider",
    ),
    (
        "oidc_client_secret",
        "JOBPILOT_OIDC_CLIENT_SECRET",
        true,
        "client secret at that provider",
    ),
    (
        "oidc_name",
        "JOBPILOT_OIDC_NAME",
        false,
        "what the sign-in button for that provider says",
    ),
    (
        "oidc_scopes",
        "JOBPILOT_OIDC_SCOPES",
        false,
        "space-separated scopes asked of identity providers (openid is always asked)",
    ),
    (
        "oidc_signup",
        "JOBPILOT_OIDC_SIGNUP",
        false,
        "whether signing in with a provider may create an account (true/false)",
    ),
    (
        "access_token_ttl",
        "JOBPILOT_ACCESS_TOKEN_TTL",
        false,
        "seconds an access token lives (60–3600)",
    ),
    (
        "refresh_token_ttl",
        "JOBPILOT_REFRESH_TOKEN_TTL",
        false,
        "seconds a refresh token lives",
    ),
    (
        "lockout_threshold",
        "JOBPILOT_LOCKOUT_THRESHOLD",
        false,
        "failed sign-ins in a row before an account is locked",
    ),
    (
        "lockout_seconds",
        "JOBPILOT_LOCKOUT_SECONDS",
        false,
        "how long such a lock lasts",
    ),
    (
        "rate_limit",
        "JOBPILOT_RATE_LIMIT",
        false,
        "requests per minute per client address, all routes",
    ),
    (
        "auth_rate_limit",
        "JOBPILOT_AUTH_RATE_LIMIT",
        false,
        "sign-in/registration/refresh attempts per minute per address and per account",
    ),
    (
        "cookie_secure",
        "JOBPILOT_COOKIE_SECURE",
        false,
        "mark browser-session cookies Secure (set false only for plain-HTTP development)",
    ),
    (
        "redis_prefix",
        "JOBPILOT_REDIS_PREFIX",
        false,
        "prefix of every Redis key and channel (several deployments can share one Redis)",
    ),
    (
        "worker_concurrency",
        "JOBPILOT_WORKER_CONCURRENCY",
        false,
        "tasks this process runs at once (0: no workers, HTTP only)",
    ),
    (
        "task_retention_days",
        "JOBPILOT_TASK_RETENTION_DAYS",
        false,
        "days finished tasks are kept",
    ),
    (
        "trusted_proxies",
        "JOBPILOT_TRUSTED_PROXIES",
        false,
        "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed",
    ),
    (
        "metrics_token",
        "JOBPILOT_METRICS_TOKEN",
        true,
        "bearer token /metrics requires, if set",
    ),
    ("log_format", "JOBPILOT_LOG_FORMAT", false, "pretty | json"),
    (
        "log",
        "JOBPILOT_LOG",
        false,
        "log filter, e.g. info or jobpilot=debug,info",
    ),
    (
        "otlp_endpoint",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        false,
        "OTLP/HTTP collector, e.g. http://localhost:4318",
    ),
    (
        "body_limit",
        "JOBPILOT_BODY_LIMIT",
        false,
        "largest request body in bytes",
    ),
    (
        "request_timeout",
        "JOBPILOT_REQUEST_TIMEOUT",
        false,
        "seconds a request may take",
    ),
    (
        "shutdown_delay",
        "JOBPILOT_SHUTDOWN_DELAY",
        false,
        "seconds between readiness going false and the listener closing",
    ),
    (
        "shutdown_timeout",
        "JOBPILOT_SHUTDOWN_TIMEOUT",
        false,
        "seconds in-flight requests get to finish",
    ),
    (
        "ready_waits_for_search_index",
        "JOBPILOT_READY_WAITS_FOR_SEARCH_INDEX",
        false,
        "readiness is 503 while this replica's search index is rebuilt (set with several replicas)",
    ),
    (
        "cors_origins",
        "JOBPILOT_CORS_ORIGINS",
        false,
        "comma-separated origins allowed to call the API from browsers",
    ),
    (
        "hsts",
        "JOBPILOT_HSTS",
        false,
        "send Strict-Transport-Security (set when served over HTTPS)",
    ),
];

const JWT_SECRET_MIN_BYTES: usize = 32;
const ENCRYPTION_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where uploaded files are kept: `<data_dir>/files` or an S3 bucket.
    pub files: web::files::Files,
    pub database: DatabaseConfig,
    pub migrate_on_start: bool,
    pub redis_url: Option<SecretString>,
    pub encryption_keys: Option<SecretString>,
    pub jwt_secret: Option<SecretString>,
    pub metrics_token: Option<SecretString>,
    pub log_format: LogFormat,
    pub log: String,
    pub otlp_endpoint: Option<String>,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub shutdown_delay: Duration,
    pub shutdown_timeout: Duration,
    pub ready_waits_for_search_index: bool,
    pub cors_origins: Vec<String>,
    pub hsts: bool,
    pub public_url: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub lockout_threshold: u32,
    pub lockout: Duration,
    pub rate_limit: u32,
    pub auth_rate_limit: u32,
    pub trusted_proxies: Vec<web::IpRange>,
    pub worker_concurrency: usize,
    pub task_retention: Duration,
    pub redis_prefix: String,
    pub cookie_secure: bool,
    pub audit_retention: Duration,
    /// How long closed postings are kept; `None`: for ever.
    pub job_retention: Option<Duration>,
    /// The job boards this deployment follows.
    pub sources: sources::catalog::SourcesConfig,
    pub sources_sync_cron: String,
    /// When match alerts look for new postings.
    pub alerts_cron: String,
    pub internal_api_key: Option<SecretString>,
    pub ingest_body_limit: usize,
    pub max_open_postings: u64,
    /// This replica's search index folder.
    pub search_dir: PathBuf,
    pub currency_rates: search::money::Rates,
    pub match_weights: search::index::matching::Weights,
    /// The PDF sandbox program; `None`: this binary.
    pub pdf_helper: Option<PathBuf>,
    /// OCR for scanned PDFs: `None` for auto, `Some(empty)` for off, else the languages.
    pub ocr_languages: Option<Vec<String>>,
    /// Identity providers users may sign in with.
    pub oidc_providers: Vec<auth::oidc::ProviderConfig>,
    pub oidc_signup: bool,
    /// The language model that writes application documents; `None`: a template does.
    pub llm: Option<ai::LlmSettings>,
    /// The embedding model on the `llm` server, fused into resume matches.
    pub embeddings_model: Option<String>,
    /// A local sentence model's folder (instead of `embeddings_model`).
    pub embeddings_model_dir: Option<PathBuf>,
    /// The SMTP server applications are e-mailed through; `None`: no e-mail channel.
    pub smtp: Option<notify::SmtpSettings>,
    pub apply_caps: web::applications::DailyCaps,
    /// Applying through HH.ru (`hh_apply`), when on.
    pub hh_apply: Option<sources::hh_apply::HhOAuthSettings>,
    /// `JOBPILOT_*` variables that name no setting (likely typos).
    pub unknown_variables: Vec<String>,
    /// Settings that work but are unwise, e.g. a production database without TLS.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub kind: DatabaseKind,
    /// The URL is the default one under the data directory, so the first run may create it.
    pub is_default: bool,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// One or more bad settings, each naming where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    origin: String,
}

impl Config {
    /// Reads the process environment and, if given, a TOML file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_sources(std::env::vars(), file)
    }

    /// Reads the given variables (not the process environment) and, if given, a TOML file.
    pub fn from_sources(
        env: impl IntoIterator<Item = (String, String)>,
        file: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut raw: BTreeMap<&'static str, Raw> = BTreeMap::new();
        if let Some(path) = file {
            read_file(path, &mut raw, &mut problems);
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut unknown_variables = Vec::new();
        for name in env.keys().filter(|name| name.starts_with(ENV_PREFIX)) {
            let base = name.strip_suffix("_FILE").unwrap_or(name);
            if !SETTINGS.iter().any(|(_, var, _, _)| *var == base) && name != "JOBPILOT_CONFIG" {
                unknown_variables.push(name.clone());
            }
        }
        for (key, var, secret, _) in SETTINGS {
            if let Some(value) = env.get(*var) {
                raw.insert(
                    key,
                    Raw {
                        value: value.clone(),
                        origin: (*var).to_owned(),
                    },
                );
            } else if let Some(path) = env.get(&format!("{var}_FILE")) {
                let origin = format!("{var}_FILE");
                if !secret {
                    problems.push(format!("{origin}: only secrets can be read from files"));
                    continue;
                }
                match std::fs::read_to_string(path) {
                    Ok(value) => {
                        raw.insert(
                            key,
                            Raw {
                                value: value.trim_end_matches(['\n', '\r']).to_owned(),
                                origin,
                            },
                        );
                    }
                    Err(e) => problems.push(format!("{origin}: cannot read {path:?}: {e}")),
                }
            }
        }
        let config = Parser {
            raw,
            problems: &mut problems,
            warnings: Vec::new(),
        }
        .parse(unknown_variables);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError { problems }),
        }
    }

    /// The web layer's share of the configuration.
    pub fn web_settings(&self) -> web::WebSettings {
        web::WebSettings {
            body_limit: self.body_limit,
            request_timeout: self.request_timeout,
            cors_origins: self.cors_origins.clone(),
            hsts: self.hsts,
            ready_waits_for_search_index: self.ready_waits_for_search_index,
            metrics_token: self
                .metrics_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            password_hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            jwt_secrets: self
                .jwt_secret
                .as_ref()
                .map(|s| jwt_secrets(s.expose_secret()))
                .unwrap_or_default(),
            token_issuer: self
                .public_url
                .clone()
                .unwrap_or_else(|| "jobpilot".to_owned()),
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            lockout: domain::LockoutPolicy {
                max_failures: self.lockout_threshold,
                lock_for: chrono::Duration::from_std(self.lockout)
                    .unwrap_or(chrono::Duration::minutes(15)),
            },
            rate_limit_per_minute: self.rate_limit,
            auth_rate_limit_per_minute: self.auth_rate_limit,
            trusted_proxies: self.trusted_proxies.clone(),
            key_ring: self.key_ring(),
            cookie_secure: self.cookie_secure,
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen)),
            oidc_providers: self.oidc_providers.clone(),
            oidc_signup: self.oidc_signup,
            internal_api_key: self
                .internal_api_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
            ingest_body_limit: self.ingest_body_limit,
            max_open_postings: self.max_open_postings,
            sources: self.source_names(),
            files: self.files.clone(),
            match_weights: self.match_weights.clone(),
            semantic: self.semantic(),
            apply: web::applications::ApplySettings {
                email: self.smtp.is_some(),
                hh: self.hh_apply_client(),
                daily_caps: self.apply_caps,
            },
            ..web::WebSettings::default()
        }
    }

    /// The local embedding model, loaded (once per process: it is tens of megabytes).
    pub fn local_semantic(
        &self,
    ) -> anyhow::Result<Option<std::sync::Arc<web::semantic::Semantic>>> {
        let Some(dir) = &self.embeddings_model_dir else {
            return Ok(None);
        };
        #[cfg(feature = "local-embeddings")]
        {
            let model = embed::LocalModel::load(dir).map_err(|e| {
                anyhow::anyhow!("JOBPILOT_EMBEDDINGS_MODEL_DIR ({}): {e}", dir.display())
            })?;
            tracing::info!(
                model = model.name(),
                dimensions = model.dimensions(),
                "local embedding model loaded"
            );
            Ok(Some(std::sync::Arc::new(web::semantic::Semantic::local(
                model,
            ))))
        }
        #[cfg(not(feature = "local-embeddings"))]
        anyhow::bail!(
            "JOBPILOT_EMBEDDINGS_MODEL_DIR ({}): this build runs no local models",
            dir.display()
        )
    }

    /// The remote embedding model for resume matches, when one is named and its client can be
    /// built.
    pub fn semantic(&self) -> Option<std::sync::Arc<web::semantic::Semantic>> {
        let model = self.embeddings_model.clone()?;
        match ai::LlmClient::new(self.llm.clone()?) {
            Ok(client) => Some(std::sync::Arc::new(web::semantic::Semantic::new(
                client, model,
            ))),
            Err(error) => {
                tracing::error!(%error, "the embedding model is not used: matches rank without it");
                None
            }
        }
    }

    /// The HH.ru applicant client, when `hh_apply` is on and it can be built.
    pub fn hh_apply_client(&self) -> Option<sources::hh_apply::HhApplyClient> {
        let settings = self.hh_apply.clone()?;
        match sources::hh_apply::HhApplyClient::new(settings) {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "HH.ru applications are off on this replica");
                None
            }
        }
    }

    /// The configured key ring, if any.
    pub fn key_ring(&self) -> Option<std::sync::Arc<auth::KeyRing>> {
        self.encryption_keys
            .as_ref()
            .and_then(|keys| parse_key_ring(keys.expose_secret()).ok())
            .and_then(auth::KeyRing::new)
            .map(std::sync::Arc::new)
    }

    /// The names of the sources the configuration follows.
    pub fn source_names(&self) -> Vec<String> {
        self.sources.names()
    }

    /// The effective configuration as text, every secret redacted.
    pub fn redacted(&self) -> String {
        let secret = |value: &Option<SecretString>| match value {
            Some(_) => "(set, redacted)".to_owned(),
            None => "(not set)".to_owned(),
        };
        let generated = |value: &Option<SecretString>| match (value, self.mode) {
            (None, Mode::Development) => format!(
                "(not set: development mode keeps a generated one in {})",
                crate::secrets::secrets_path(&self.data_dir).display()
            ),
            _ => secret(value),
        };
        let lines: Vec<(&str, String)> = vec![
            ("mode", format!("{:?}", self.mode).to_lowercase()),
            ("listen", self.listen.to_string()),
            ("data_dir", self.data_dir.display().to_string()),
            (
                "database_url",
                redact_url(self.database.url.expose_secret()),
            ),
            ("pool_size", self.database.pool_size.to_string()),
            ("migrate_on_start", self.migrate_on_start.to_string()),
            (
                "redis_url",
                self.redis_url
                    .as_ref()
                    .map(|u| redact_url(u.expose_secret()))
                    .unwrap_or_else(|| "(not set)".to_owned()),
            ),
            ("encryption_keys", generated(&self.encryption_keys)),
            ("jwt_secret", generated(&self.jwt_secret)),
            ("metrics_token", secret(&self.metrics_token)),
            (
                "log_format",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            ("log", self.log.clone()),
            (
                "otlp_endpoint",
                self.otlp_endpoint
                    .clone()
                    .unwrap_or_else(|| "(not set)".to_owned()),
            ),
            ("body_limit", self.body_limit.to_string()),
            (
                "request_timeout",
                self.request_timeout.as_secs().to_string(),
            ),
            ("shutdown_delay", self.shutdown_delay.as_secs().to_string()),
            (
                "shutdown_timeout",
                self.shutdown_timeout.as_secs().to_string(),
            ),
            (
                "ready_waits_for_search_index",
                self.ready_waits_for_search_index.to_string(),
            ),
            ("cors_origins", self.cors_origins.join(",")),
            ("hsts", self.hsts.to_string()),
            (
                "public_url",
                self.public_url
                    .clone()
                    .unwrap_or_else(|| "(not set)".to_owned()),
            ),
            (
                "access_token_ttl",
                self.access_token_ttl.as_secs().to_string(),
            ),
            (
                "refresh_token_ttl",
                self.refresh_token_ttl.as_secs().to_string(),
            ),
            ("lockout_threshold", self.lockout_threshold.to_string()),
            ("lockout_seconds", self.lockout.as_secs().to_string()),
            ("rate_limit", self.rate_limit.to_string()),
            ("auth_rate_limit", self.auth_rate_limit.to_string()),
            (
                "trusted_proxies",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("redis_prefix", self.redis_prefix.clone()),
            ("cookie_secure", self.cookie_secure.to_string()),
            (
                "oidc_providers",
                self.oidc_providers
                    .iter()
                    .map(|p| format!("{} ({}, client {})", p.id, p.issuer, p.client_id))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("oidc_signup", self.oidc_signup.to_string()),
            (
                "audit_retention_days",
                (self.audit_retention.as_secs() / 86_400).to_string(),
            ),
            (
                "job_retention_days",
                self.job_retention
                    .map_or(0, |d| d.as_secs() / 86_400)
                    .to_string(),
            ),
            ("sources", self.source_names().join(",")),
            ("sources_sync_cron", self.sources_sync_cron.clone()),
            ("alerts_cron", self.alerts_cron.clone()),
            ("internal_api_key", secret(&self.internal_api_key)),
            ("ingest_body_limit", self.ingest_body_limit.to_string()),
            ("max_open_postings", self.max_open_postings.to_string()),
            ("search_dir", self.search_dir.display().to_string()),
            ("files", self.files.describe()),
            (
                "embeddings_model",
                self.embeddings_model
                    .clone()
                    .unwrap_or_else(|| "none".to_owned()),
            ),
            (
                "embeddings_model_dir",
                self.embeddings_model_dir
                    .as_ref()
                    .map_or("none".to_owned(), |d| d.display().to_string()),
            ),
            (
                "llm",
                self.llm.as_ref().map_or("none (template)".to_owned(), |l| {
                    format!(
                        "{} model {}, key {}",
                        l.base_url,
                        l.model,
                        secret(&l.api_key)
                    )
                }),
            ),
            (
                "smtp",
                self.smtp.as_ref().map_or("none".to_owned(), |m| {
                    format!(
                        "{}:{} ({:?}), from {}, user {}, password {}",
                        m.host,
                        m.port,
                        m.security,
                        m.from,
                        m.username.as_deref().unwrap_or("none"),
                        secret(&m.password)
                    )
                }),
            ),
            (
                "apply_daily_caps",
                format!(
                    "email {}, link {}, hh {}",
                    self.apply_caps.email, self.apply_caps.link, self.apply_caps.hh
                ),
            ),
            (
                "hh_apply",
                self.hh_apply.as_ref().map_or("off".to_owned(), |h| {
                    format!(
                        "on: client {}, secret (set, redacted), api {}, redirect {}",
                        h.client_id, h.api_base, h.redirect_uri
                    )
                }),
            ),
            ("worker_concurrency", self.worker_concurrency.to_string()),
            (
                "task_retention_days",
                (self.task_retention.as_secs() / 86_400).to_string(),
            ),
        ];
        lines
            .into_iter()
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect()
    }
}

fn read_file(path: &Path, raw: &mut BTreeMap<&'static str, Raw>, problems: &mut Vec<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            problems.push(format!("config file {}: {e}", path.display()));
            return;
        }
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(table) => table,
        Err(e) => {
            problems.push(format!("config file {}: {}", path.display(), e.message()));
            return;
        }
    };
    for (key, value) in table {
        let Some((known, _, _, _)) = SETTINGS.iter().find(|(k, _, _, _)| *k == key) else {
            problems.push(format!(
                "config file {}: unknown setting {key:?}",
                path.display()
            ));
            continue;
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        raw.insert(
            known,
            Raw {
                value,
                origin: format!("{} ({key})", path.display()),
            },
        );
    }
}

struct Parser<'a> {
    raw: BTreeMap<&'static str, Raw>,
    problems: &'a mut Vec<String>,
    /// Settings that work but are unwise (reported, not refused).
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn origin(key: &str) -> String {
        SETTINGS
            .iter()
            .find(|(k, _, _, _)| *k == key)
            .map(|(_, var, _, _)| (*var).to_owned())
            .unwrap_or_else(|| key.to_owned())
    }

    /// Parses one setting with `parse`, or returns `default` when it is not set.
    fn get<T>(
        &mut self,
        key: &str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let Some(raw) = self.raw.get(key) else {
            return Some(default);
        };
        let value = raw.value.trim();
        match parse(value) {
            Some(parsed) => Some(parsed),
            None => {
                let shown = if SETTINGS.iter().any(|(k, _, s, _)| *k == key && *s) {
                    "(secret value hidden)".to_owned()
                } else {
                    format!("{value:?}")
                };
                self.problems.push(format!(
                    "{}: invalid value {shown}: expected {expected}",
                    raw.origin
                ));
                None
            }
        }
    }

    fn secret(&mut self, key: &str) -> Option<SecretString> {
        self.raw
            .get(key)
            .map(|raw| raw.value.trim())
            .filter(|value| !value.is_empty())
            .map(|value| SecretString::from(value.to_owned()))
    }

    fn seconds(&mut self, key: &str, default: u64) -> Option<Duration> {
        self.get(
            key,
            Duration::from_secs(default),
            "a whole number of seconds",
            |v| v.parse::<u64>().ok().map(Duration::from_secs),
        )
    }

    fn parse(mut self, unknown_variables: Vec<String>) -> Option<Config> {
        let mode = self.get(
            "mode",
            Mode::Development,
            "development or production",
            |v| match v {
                "development" => Some(Mode::Development),
                "production" => Some(Mode::Production),
                _ => None,
            },
        );
        let listen = self.get(
            "listen",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "host:port such as 127.0.0.1:8080 or 0.0.0.0:8080",
            |v| v.parse().ok(),
        );
        let data_dir = self.get(
            "data_dir",
            PathBuf::from("./data"),
            "a directory path",
            |v| (!v.is_empty()).then(|| PathBuf::from(v)),
        );
        let pool_size = self.get(
            "pool_size",
            None,
            "a number of connections from 1 to 1000",
            |v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .map(Some)
            },
        );
        let migrate_on_start = self.get("migrate_on_start", true, "true or false", parse_bool);
        let hsts = self.get("hsts", false, "true or false", parse_bool);
        let ready_waits_for_search_index = self.get(
            "ready_waits_for_search_index",
            false,
            "true or false",
            parse_bool,
        );
        let log_format_default = match mode {
            Some(Mode::Production) => LogFormat::Json,
            _ => LogFormat::Pretty,
        };
        let log_format = self.get(
            "log_format",
            log_format_default,
            "pretty or json",
            |v| match v {
                "pretty" => Some(LogFormat::Pretty),
                "json" => Some(LogFormat::Json),
                _ => None,
            },
        );
        let log = self.get("log", "info".to_owned(), "a log filter", |v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .ok()
                .map(|_| v.to_owned())
        });
        let otlp_endpoint = self.get("otlp_endpoint", None, "an http:// or https:// URL", |v| {
            if v.is_empty() {
                Some(None)
            } else {
                (v.starts_with("http://") || v.starts_with("https://"))
                    .then(|| Some(v.trim_end_matches('/').to_owned()))
            }
        });
        let body_limit = self.get(
            "body_limit",
            1024 * 1024,
            "a size in bytes from 1024 to 104857600",
            |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1024..=100 * 1024 * 1024).contains(n))
            },
        );
        let request_timeout = self.seconds("request_timeout", 30);
        let shutdown_delay_default = match mode {
            Some(Mode::Production) => 5,
            _ => 0,
        };
        let shutdown_delay = self.seconds("shutdown_delay", shutdown_delay_default);
        let shutdown_timeout = self.seconds("shutdown_timeout", 30);
        let cors_origins = self.get(
            "cors_origins",
            Vec::new(),
            "comma-separated origins such as https://app.example.org",
            |v| {
                let origins: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect();
                origins.iter().all(|o| is_origin(o)).then_some(origins)
            },
        );

        let public_url = self.get("public_url", None, "an http:// or https:// URL", |v| {
            if v.is_empty() {
                Some(None)
            } else {
                (v.starts_with("http://") || v.starts_with("https://"))
                    .then(|| Some(v.trim_end_matches('/').to_owned()))
            }
        });
        let access_token_ttl = self.get(
            "access_token_ttl",
            Duration::from_secs(900),
            "seconds from 60 to 3600",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (60..=3600).contains(n))
                    .map(Duration::from_secs)
            },
        );
        let refresh_token_ttl = self.get(
            "refresh_token_ttl",
            Duration::from_secs(30 * 24 * 3600),
            "seconds from 300 to 31536000",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (300..=365 * 24 * 3600).contains(n))
                    .map(Duration::from_secs)
            },
        );
        let lockout_threshold = self.get(
            "lockout_threshold",
            5,
            "a number of attempts from 1 to 100",
            |v| v.parse::<u32>().ok().filter(|n| (1..=100).contains(n)),
        );
        let lockout = self.seconds("lockout_seconds", 15 * 60);
        let rate_limit = self.get("rate_limit", 1000, "requests per minute, at least 1", |v| {
            v.parse::<u32>().ok().filter(|n| *n >= 1)
        });
        let auth_rate_limit = self.get(
            "auth_rate_limit",
            5,
            "attempts per minute, at least 1",
            |v| v.parse::<u32>().ok().filter(|n| *n >= 1),
        );
        let trusted_proxies = self.get(
            "trusted_proxies",
            Vec::new(),
            "comma-separated addresses or CIDR ranges such as 10.0.0.0/8",
            |v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(web::IpRange::parse)
                    .collect::<Option<Vec<web::IpRange>>>()
            },
        );

        let cookie_secure = self.get("cookie_secure", true, "true or false", parse_bool);
        let redis_prefix = self.get(
            "redis_prefix",
            "jobpilot".to_owned(),
            "1 to 64 letters, digits, '-', '_' or ':'",
            |v| {
                let ok = !v.is_empty()
                    && v.len() <= 64
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'));
                ok.then(|| v.to_owned())
            },
        );
        let worker_concurrency = self.get(
            "worker_concurrency",
            10,
            "a number of tasks from 0 to 1000",
            |v| v.parse::<usize>().ok().filter(|n| *n <= 1000),
        );
        let task_retention = self.get(
            "task_retention_days",
            crate::workers::DEFAULT_RETENTION,
            "a number of days from 1 to 3650",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=3650).contains(n))
                    .map(|days| Duration::from_secs(days * 86_400))
            },
        );

        let database_url = self.secret("database_url");
        let redis_url = self.secret("redis_url");
        let encryption_keys = self.secret("encryption_keys");
        let jwt_secret = self.secret("jwt_secret");
        let metrics_token = self.secret("metrics_token");

        // Later checks run even when these failed, so every problem is reported at once.
        let mode_or_default = mode.unwrap_or(Mode::Development);
        let data_dir_or_default = data_dir.clone().unwrap_or_else(|| PathBuf::from("./data"));
        let database = self.database(
            database_url,
            &data_dir_or_default,
            pool_size.unwrap_or(None),
        );
        if let Some(url) = &redis_url {
            let url = url.expose_secret();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                self.problems.push(format!(
                    "{}: invalid value: expected redis:// or rediss:// URL",
                    Self::origin("redis_url")
                ));
            }
        }
        if let Some(keys) = &encryption_keys
            && let Err(problem) = parse_key_ring(keys.expose_secret())
        {
            self.problems
                .push(format!("{}: {problem}", Self::origin("encryption_keys")));
        }
        if let Some(secret) = &jwt_secret
            && jwt_secrets(secret.expose_secret())
                .iter()
                .any(|s| s.len() < JWT_SECRET_MIN_BYTES)
        {
            self.problems.push(format!(
                "{}: too weak: at least {JWT_SECRET_MIN_BYTES} bytes are required \
                 (generate one with `openssl rand -base64 48`)",
                Self::origin("jwt_secret")
            ));
        }
        let sources = self.sources();
        let llm = self.llm();
        let embeddings_model = self.optional_text("embeddings_model");
        if embeddings_model.is_some() && matches!(llm, Some(None)) {
            self.problems.push(format!(
                "{}: an embedding model needs the server of JOBPILOT_LLM_BASE_URL",
                Self::origin("embeddings_model")
            ));
        }
        let embeddings_model_dir = self.embeddings_model_dir(embeddings_model.is_some());
        let smtp = self.smtp();
        let apply_caps = self.apply_caps();
        let hh_apply = self.hh_apply(public_url.as_ref().and_then(Option::as_deref));
        let audit_retention = self.get(
            "audit_retention_days",
            Duration::from_secs(365 * 86_400),
            "a number of days from 1 to 36500",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=36_500).contains(n))
                    .map(|days| Duration::from_secs(days * 86_400))
            },
        );
        let job_retention = self.get(
            "job_retention_days",
            Some(Duration::from_secs(90 * 86_400)),
            "a number of days from 0 (kept for ever) to 36500",
            |v| match v.parse::<u64>().ok()? {
                0 => Some(None),
                days @ 1..=36_500 => Some(Some(Duration::from_secs(days * 86_400))),
                _ => None,
            },
        );
        let cron = |v: &str| {
            tasks::cron::Schedule::new(
                "check",
                v,
                tasks::NewTask::new("check", serde_json::Value::Null),
            )
            .ok()
            .map(|_| v.to_owned())
        };
        let sources_sync_cron = self.get(
            "sources_sync_cron",
            "0 2 * * *".to_owned(),
            "a cron expression such as \"0 2 * * *\"",
            cron,
        );
        let alerts_cron = self.get(
            "alerts_cron",
            "*/5 * * * *".to_owned(),
            "a cron expression such as \"*/5 * * * *\"",
            cron,
        );
        let internal_api_key = self.secret("internal_api_key");
        if internal_api_key
            .as_ref()
            .is_some_and(|k| k.expose_secret().len() < JWT_SECRET_MIN_BYTES)
        {
            self.problems.push(format!(
                "{}: too weak: at least {JWT_SECRET_MIN_BYTES} characters are required",
                Self::origin("internal_api_key")
            ));
        }
        let ingest_body_limit = self.get(
            "ingest_body_limit",
            64 * 1024 * 1024,
            "a size in bytes from 1048576 to 1073741824",
            |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1024 * 1024..=1024 * 1024 * 1024).contains(n))
            },
        );
        let max_open_postings = self.get(
            "max_open_postings",
            1_000,
            "a whole number from 1 to 1000000",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
            },
        );
        let files = self.files(&data_dir_or_default, mode_or_default);
        let search_dir = self.get("search_dir", None, "a directory path", |v| {
            (!v.is_empty()).then(|| Some(PathBuf::from(v)))
        });
        let currency_rates = match self.raw.get("currency_rates").cloned() {
            None => Some(search::money::Rates::default()),
            Some(raw) => match search::money::Rates::parse(&raw.value) {
                Ok(rates) => Some(rates),
                Err(e) => {
                    self.problems.push(format!("{}: {e}", raw.origin));
                    None
                }
            },
        };
        let ocr_languages = self.get(
            "ocr",
            None,
            "auto, off, or tesseract languages joined by + (e.g. eng+rus)",
            |v| match v.trim() {
                "" | "auto" => Some(None),
                "off" => Some(Some(Vec::new())),
                languages => {
                    let list: Vec<String> = languages.split('+').map(str::to_owned).collect();
                    list.iter()
                        .all(|l| {
                            (1..=32).contains(&l.len())
                                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        })
                        .then_some(Some(list))
                }
            },
        );
        let pdf_helper = self.get("pdf_helper", None, "a program path", |v| {
            (!v.is_empty()).then(|| Some(PathBuf::from(v)))
        });
        let match_weights = match self.raw.get("match_weights").cloned() {
            None => Some(search::index::matching::Weights::default()),
            Some(raw) => match search::index::matching::Weights::parse(&raw.value) {
                Ok(weights) => Some(weights),
                Err(e) => {
                    self.problems.push(format!("{}: {e}", raw.origin));
                    None
                }
            },
        };
        let oidc_providers = self.oidc_providers(public_url.as_ref().and_then(Option::as_ref));
        let oidc_signup = self.get("oidc_signup", true, "true or false", parse_bool);
        if mode_or_default == Mode::Production
            && let Some(database) = &database
            && database.kind == DatabaseKind::Postgres
            && !database_tls_ok(database.url.expose_secret())
        {
            self.warnings.push(format!(
                "{}: the PostgreSQL connection does not require TLS; add sslmode=verify-full \
                 (or require) unless the database is on a private network you trust",
                Self::origin("database_url")
            ));
        }
        if mode_or_default == Mode::Production {
            for (key, present) in [
                ("jwt_secret", jwt_secret.is_some()),
                ("encryption_keys", encryption_keys.is_some()),
            ] {
                if !present {
                    self.problems.push(format!(
                        "{}: required in production mode (development mode generates one)",
                        Self::origin(key)
                    ));
                }
            }
        }

        Some(Config {
            mode: mode?,
            listen: listen?,
            search_dir: search_dir?.unwrap_or_else(|| data_dir_or_default.join("search")),
            currency_rates: currency_rates?,
            match_weights: match_weights?,
            pdf_helper: pdf_helper?,
            ocr_languages: ocr_languages?,
            data_dir: data_dir?,
            files: files?,
            database: database?,
            migrate_on_start: migrate_on_start?,
            redis_url,
            encryption_keys,
            jwt_secret,
            metrics_token,
            log_format: log_format?,
            log: log?,
            otlp_endpoint: otlp_endpoint?,
            body_limit: body_limit?,
            request_timeout: request_timeout?,
            shutdown_delay: shutdown_delay?,
            shutdown_timeout: shutdown_timeout?,
            ready_waits_for_search_index: ready_waits_for_search_index?,
            cors_origins: cors_origins?,
            hsts: hsts?,
            public_url: public_url?,
            access_token_ttl: access_token_ttl?,
            refresh_token_ttl: refresh_token_ttl?,
            lockout_threshold: lockout_threshold?,
            lockout: lockout?,
            rate_limit: rate_limit?,
            auth_rate_limit: auth_rate_limit?,
            trusted_proxies: trusted_proxies?,
            worker_concurrency: worker_concurrency?,
            redis_prefix: redis_prefix?,
            cookie_secure: cookie_secure?,
            task_retention: task_retention?,
            audit_retention: audit_retention?,
            job_retention: job_retention?,
            sources,
            sources_sync_cron: sources_sync_cron?,
            alerts_cron: alerts_cron?,
            internal_api_key,
            ingest_body_limit: ingest_body_limit?,
            max_open_postings: max_open_postings?,
            oidc_providers,
            oidc_signup: oidc_signup?,
            llm: llm?,
            embeddings_model,
            embeddings_model_dir,
            smtp: smtp?,
            apply_caps: apply_caps?,
            hh_apply: hh_apply?,
            unknown_variables,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    /// The local embedding model's folder: it must hold the model's three files, in a build
    /// that can run it, and not beside a remote embedding model.
    fn embeddings_model_dir(&mut self, remote_model: bool) -> Option<PathBuf> {
        let dir = self
            .get("embeddings_model_dir", None, "a folder path", |v| {
                Some((!v.is_empty()).then(|| PathBuf::from(v)))
            })
            .flatten()?;
        let origin = Self::origin("embeddings_model_dir");
        if remote_model {
            self.problems.push(format!(
                "{origin}: choose one embedding model, JOBPILOT_EMBEDDINGS_MODEL (on the \
                 language-model server) or this local one"
            ));
        }
        if !cfg!(feature = "local-embeddings") {
            self.problems.push(format!(
                "{origin}: this build runs no local models (built without the \
                 `local-embeddings` feature)"
            ));
        }
        let missing: Vec<&str> = ["config.json", "model.safetensors", "tokenizer.json"]
            .into_iter()
            .filter(|file| !dir.join(file).is_file())
            .collect();
        if !missing.is_empty() {
            self.problems.push(format!(
                "{origin}: the folder {} lacks {}",
                dir.display(),
                missing.join(", ")
            ));
        }
        Some(dir)
    }

    fn optional_text(&mut self, key: &str) -> Option<String> {
        self.get(key, None, "text", |v| {
            Some((!v.is_empty()).then(|| v.to_owned()))
        })
        .flatten()
    }

    /// The language model, when a server is named. `None` inside: bad settings (reported).
    fn llm(&mut self) -> Option<Option<ai::LlmSettings>> {
        let base_url = self.optional_text("llm_base_url");
        let model = self.optional_text("llm_model");
        let key = self.secret("llm_api_key");
        let timeout = self.seconds("llm_timeout_seconds", 90)?;
        let Some(base_url) = base_url else {
            if model.is_some() || key.is_some() {
                self.problems.push(format!(
                    "{}: a model or key is given but no server",
                    Self::origin("llm_base_url")
                ));
                return None;
            }
            return Some(None);
        };
        let url = match url::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => {
                self.problems.push(format!(
                    "{}: expected an http:// or https:// URL",
                    Self::origin("llm_base_url")
                ));
                return None;
            }
        };
        let Some(model) = model else {
            self.problems.push(format!(
                "{}: the server needs a model name",
                Self::origin("llm_model")
            ));
            return None;
        };
        let mut settings = ai::LlmSettings::new(url, model);
        settings.api_key = key;
        settings.timeout = timeout;
        Some(Some(settings))
    }

    /// The SMTP server, when a host is named. `None` inside: bad settings (reported).
    fn smtp(&mut self) -> Option<Option<notify::SmtpSettings>> {
        let host = self.optional_text("smtp_host");
        let from = self.optional_text("smtp_from");
        let username = self.optional_text("smtp_username");
        let password = self.secret("smtp_password");
        let security = self.get(
            "smtp_security",
            notify::SmtpSecurity::StartTls,
            "starttls, tls or none",
            |v| match v {
                "starttls" => Some(notify::SmtpSecurity::StartTls),
                "tls" => Some(notify::SmtpSecurity::Tls),
                "none" => Some(notify::SmtpSecurity::None),
                _ => None,
            },
        )?;
        let default_port = if security == notify::SmtpSecurity::Tls {
            465
        } else {
            587
        };
        let port = self.get("smtp_port", default_port, "a port from 1 to 65535", |v| {
            v.parse::<u16>().ok().filter(|p| *p > 0)
        })?;
        let allow_plain = self.get("smtp_allow_plain", false, "true or false", parse_bool)?;
        let Some(host) = host else {
            if from.is_some() || username.is_some() || password.is_some() {
                self.problems.push(format!(
                    "{}: SMTP settings are given but no host",
                    Self::origin("smtp_host")
                ));
                return None;
            }
            return Some(None);
        };
        let Some(from) = from else {
            self.problems.push(format!(
                "{}: the sender address is required with an SMTP host",
                Self::origin("smtp_from")
            ));
            return None;
        };
        let mut settings = notify::SmtpSettings::new(host, port, security, from);
        settings.username = username;
        settings.password = password;
        settings.allow_plain = allow_plain;
        // Checked now, so a bad setting stops the start rather than the first application.
        if let Err(e) = notify::Mailer::new(settings.clone()) {
            self.problems
                .push(format!("{}: {e}", Self::origin("smtp_host")));
            return None;
        }
        Some(Some(settings))
    }

    fn apply_caps(&mut self) -> Option<web::applications::DailyCaps> {
        let defaults = web::applications::DailyCaps::default();
        let cap = |v: &str| v.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n));
        let email = self.get(
            "apply_daily_cap_email",
            defaults.email,
            "a number from 1 to 10000",
            cap,
        );
        let link = self.get(
            "apply_daily_cap_link",
            defaults.link,
            "a number from 1 to 10000",
            cap,
        );
        let hh = self.get(
            "apply_daily_cap_hh",
            defaults.hh,
            "a number from 1 to 10000",
            cap,
        );
        Some(web::applications::DailyCaps {
            email: email?,
            link: link?,
            hh: hh?,
        })
    }

    /// HH.ru applications, when the feature is on. `None` inside: off; `None`: bad settings.
    fn hh_apply(
        &mut self,
        public_url: Option<&str>,
    ) -> Option<Option<sources::hh_apply::HhOAuthSettings>> {
        let on = self.get("hh_apply", false, "true or false", parse_bool)?;
        let client_id = self.optional_text("hh_client_id");
        let secret = self.secret("hh_client_secret");
        let redirect = self.optional_text("hh_redirect_uri");
        let user_agent = self.optional_text("hh_user_agent");
        let mut url = |key: &str| match self.optional_text(key) {
            None => Some(None),
            Some(raw) => match url::Url::parse(&raw) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(Some(url)),
                _ => {
                    self.problems.push(format!(
                        "{}: expected an http:// or https:// URL",
                        Self::origin(key)
                    ));
                    None
                }
            },
        };
        let api_base = url("hh_api_base")?;
        let authorize = url("hh_authorize_url")?;
        if !on {
            return Some(None);
        }
        let (Some(client_id), Some(secret)) = (client_id, secret) else {
            self.problems.push(format!(
                "{}: HH.ru applications need the application's client id and secret \
                 (JOBPILOT_HH_CLIENT_ID, JOBPILOT_HH_CLIENT_SECRET)",
                Self::origin("hh_apply")
            ));
            return None;
        };
        let redirect = redirect.unwrap_or_else(|| {
            public_url.map_or_else(String::new, |base| {
                format!("{}/api/v1/hh/callback", base.trim_end_matches('/'))
            })
        });
        let user_agent = user_agent.unwrap_or_else(|| {
            format!(
                "jobpilot/{} ({})",
                env!("CARGO_PKG_VERSION"),
                public_url.unwrap_or("self-hosted")
            )
        });
        let mut settings =
            sources::hh_apply::HhOAuthSettings::new(client_id, secret, redirect, user_agent);
        if let Some(base) = api_base {
            settings.api_base = base;
        }
        if let Some(authorize) = authorize {
            settings.authorize_url = authorize;
        }
        Some(Some(settings))
    }

    /// Local files under the data directory, or the S3 bucket when one is named.
    fn files(&mut self, data_dir: &Path, mode: Mode) -> Option<web::files::Files> {
        let mut text = |key: &str| {
            self.get(key, None, "text", |v| {
                Some((!v.is_empty()).then(|| v.to_owned()))
            })
            .flatten()
        };
        let (bucket, endpoint, region, prefix, key_id) = (
            text("s3_bucket"),
            text("s3_endpoint"),
            text("s3_region"),
            text("s3_prefix"),
            text("s3_access_key_id"),
        );
        let secret = self.secret("s3_secret_access_key");
        let Some(bucket) = bucket else {
            if endpoint.is_some() || prefix.is_some() || key_id.is_some() || secret.is_some() {
                self.problems.push(format!(
                    "{}: S3 settings are given but no bucket",
                    Self::origin("s3_bucket")
                ));
                return None;
            }
            return Some(web::files::Files::local(data_dir.join("files")));
        };
        if let Some(endpoint) = &endpoint {
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                self.problems.push(format!(
                    "{}: expected an http:// or https:// URL",
                    Self::origin("s3_endpoint")
                ));
                return None;
            }
            if endpoint.starts_with("http://") && mode == Mode::Production {
                self.warnings.push(format!(
                    "{}: plain HTTP; the files are sealed, but credentials and metadata travel \
                     in the clear",
                    Self::origin("s3_endpoint")
                ));
            }
        }
        let settings = web::files::S3Settings {
            bucket,
            endpoint,
            region: region.unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: key_id,
            secret_access_key: secret.map(|s| s.expose_secret().to_owned()),
            prefix: prefix.unwrap_or_default(),
        };
        match web::files::Files::s3(&settings) {
            Ok(files) => Some(files),
            Err(e) => {
                self.problems
                    .push(format!("{}: {e}", Self::origin("s3_bucket")));
                None
            }
        }
    }

    /// The sources file, with secrets from the environment added; problems name the file and
    /// the key.
    fn sources(&mut self) -> sources::catalog::SourcesConfig {
        let Some(raw) = self.raw.get("sources_config").cloned() else {
            return sources::catalog::SourcesConfig::default();
        };
        let path = raw.value.trim();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.problems
                    .push(format!("{}: cannot read {path:?}: {e}", raw.origin));
                return sources::catalog::SourcesConfig::default();
            }
        };
        let mut document: toml::Value = match toml::from_str(&text) {
            Ok(document) => document,
            Err(e) => {
                self.problems.push(format!("{}: {path}: {e}", raw.origin));
                return sources::catalog::SourcesConfig::default();
            }
        };
        for (key, table, field) in [
            ("adzuna_app_key", "adzuna", "app_key"),
            ("hh_app_token", "hh", "app_token"),
        ] {
            if let Some(secret) = self.secret(key)
                && let Some(table) = document.get_mut(table).and_then(toml::Value::as_table_mut)
            {
                table.insert(
                    field.to_owned(),
                    toml::Value::String(secret.expose_secret().to_owned()),
                );
            }
        }
        match sources::catalog::SourcesConfig::from_value(document) {
            Ok(config) => config,
            Err(problem) => {
                self.problems
                    .push(format!("{}: {path}: {problem}", raw.origin));
                sources::catalog::SourcesConfig::default()
            }
        }
    }

    /// Google and a generic OpenID Connect provider, each when its client id and secret are set.
    fn oidc_providers(&mut self, public_url: Option<&String>) -> Vec<auth::oidc::ProviderConfig> {
        let scopes: Vec<String> = self
            .get(
                "oidc_scopes",
                "openid email profile".to_owned(),
                "scopes",
                |v| Some(v.to_owned()),
            )
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let generic_issuer = self.get("oidc_issuer", None, "an https:// issuer URL", |v| {
            if v.is_empty() {
                Some(None)
            } else {
                auth::oidc::is_acceptable_url(v).then(|| Some(v.trim_end_matches('/').to_owned()))
            }
        });
        let generic_name = self
            .get("oidc_name", "Single sign-on".to_owned(), "a name", |v| {
                (!v.is_empty() && v.len() <= 64).then(|| v.to_owned())
            })
            .unwrap_or_default();
        let candidates = [
            (
                "google",
                "Google".to_owned(),
                Some(auth::oidc::GOOGLE_ISSUER.to_owned()),
                "google_client_id",
                "google_client_secret",
            ),
            (
                "oidc",
                generic_name,
                generic_issuer.flatten(),
                "oidc_client_id",
                "oidc_client_secret",
            ),
        ];
        let mut providers = Vec::new();
        for (id, display_name, issuer, id_key, secret_key) in candidates {
            let client_id = self
                .raw
                .get(id_key)
                .map(|r| r.value.trim().to_owned())
                .filter(|v| !v.is_empty());
            let client_secret = self.secret(secret_key);
            let (client_id, client_secret) = match (client_id, client_secret) {
                (None, None) => continue,
                (Some(client_id), Some(secret)) => (client_id, secret),
                (Some(_), None) | (None, Some(_)) => {
                    self.problems.push(format!(
                        "{} and {}: set both or neither",
                        Self::origin(id_key),
                        Self::origin(secret_key)
                    ));
                    continue;
                }
            };
            let Some(issuer) = issuer else {
                self.problems.push(format!(
                    "{}: required with {}",
                    Self::origin("oidc_issuer"),
                    Self::origin(id_key)
                ));
                continue;
            };
            if public_url.is_none() {
                self.problems.push(format!(
                    "{}: required when signing in with {display_name} is configured \
                     (the provider sends users back to it)",
                    Self::origin("public_url")
                ));
            }
            providers.push(auth::oidc::ProviderConfig {
                id: id.to_owned(),
                display_name,
                issuer,
                client_id,
                client_secret,
                scopes: scopes.clone(),
            });
        }
        providers
    }

    fn database(
        &mut self,
        url: Option<SecretString>,
        data_dir: &Path,
        pool_size: Option<u32>,
    ) -> Option<DatabaseConfig> {
        let (url, is_default) = match url {
            Some(url) => (url, false),
            None => (
                SecretString::from(format!(
                    "sqlite://{}",
                    data_dir.join("jobpilot.db").display()
                )),
                true,
            ),
        };
        let kind = {
            let text = url.expose_secret();
            if text.starts_with("sqlite:") {
                DatabaseKind::Sqlite
            } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                DatabaseKind::Postgres
            } else {
                self.problems.push(format!(
                    "{}: unsupported database URL {}: expected sqlite://PATH or postgres://…",
                    Self::origin("database_url"),
                    redact_url(text)
                ));
                return None;
            }
        };
        let pool_size = pool_size.unwrap_or(match kind {
            DatabaseKind::Postgres => 20,
            // SQLite has one writer; a few readers beside it is all WAL mode can use.
            DatabaseKind::Sqlite => 8,
        });
        Some(DatabaseConfig {
            url,
            kind,
            is_default,
            pool_size,
        })
    }
}

/// The signing keys in `JOBPILOT_JWT_SECRET`: comma-separated, the first signs.
fn jwt_secrets(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn is_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && !rest.contains('/')
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// A key ring as configured: `id:base64key[,id:base64key…]`; the first key is the active one.
pub fn parse_key_ring(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((id, key)) = entry.split_once(':') else {
            return Err("expected id:base64key entries separated by commas".to_owned());
        };
        let id_ok = !id.is_empty()
            && id.len() <= 32
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(format!(
                "key id {id:?} must be 1–32 letters, digits, '-' or '_'"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .map_err(|_| format!("key {id:?} is not valid base64"))?;
        if bytes.len() != ENCRYPTION_KEY_BYTES {
            return Err(format!(
                "key {id:?} is {} bytes; keys must be {ENCRYPTION_KEY_BYTES} random bytes",
                bytes.len()
            ));
        }
        if keys.iter().any(|(other, _)| other == id) {
            return Err(format!("key id {id:?} appears twice"));
        }
        keys.push((id.to_owned(), bytes));
    }
    if keys.is_empty() {
        return Err("no keys given".to_owned());
    }
    Ok(keys)
}

/// Hides the passwords in a URL: in its userinfo (`postgres://user:***@host/db`) and in a
/// `password=` query parameter.
/// Whether a PostgreSQL URL insists on TLS (`sslmode=require`, `verify-ca` or `verify-full`);
/// a database on this machine needs none.
pub fn database_tls_ok(url: &str) -> bool {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let insists = query.split('&').any(|pair| {
        matches!(
            pair.split_once('='),
            Some(("sslmode", "require" | "verify-ca" | "verify-full"))
        )
    });
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map_or("", |h| &h[1..])
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    // An empty host is a Unix socket on this machine.
    let local = matches!(host, "" | "localhost" | "127.0.0.1" | "::1");
    insists || local
}

pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn remote_postgres_without_tls_is_flagged() {
        use super::database_tls_ok;
        assert!(database_tls_ok(
            "postgres://u:p@db.internal/app?sslmode=verify-full"
        ));
        assert!(database_tls_ok(
            "postgres://u:p@db.internal/app?x=1&sslmode=require"
        ));
        assert!(database_tls_ok("postgres://u:p@127.0.0.1:5432/app"));
        assert!(!database_tls_ok("postgres://u:p@db.internal/app"));
        assert!(!database_tls_ok(
            "postgres://u:p@db.internal/app?sslmode=prefer"
        ));
        assert!(!database_tls_ok(
            "postgres://u:p@localhost.evil.example/app"
        ));
    }

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            None,
        )
    }

    const KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn files_go_to_a_bucket_when_one_is_named() {
        let local = load(&[("JOBPILOT_DATA_DIR", "/srv/jp")]).unwrap();
        assert_eq!(local.files.describe(), "local disk at /srv/jp/files");
        let secret = "s3-secret-key-never-printed";
        let s3 = load(&[
            ("JOBPILOT_S3_BUCKET", "resumes"),
            ("JOBPILOT_S3_ENDPOINT", "https://minio.internal:9000"),
            ("JOBPILOT_S3_PREFIX", "prod"),
            ("JOBPILOT_S3_ACCESS_KEY_ID", "jobpilot"),
            ("JOBPILOT_S3_SECRET_ACCESS_KEY", secret),
        ])
        .unwrap();
        assert_eq!(s3.files.describe(), "s3://resumes/prod");
        let shown = s3.redacted();
        assert!(shown.contains("files = s3://resumes/prod"), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!format!("{s3:?}").contains(secret));

        for (vars, named) in [
            (
                vec![("JOBPILOT_S3_ENDPOINT", "https://minio:9000")],
                "JOBPILOT_S3_BUCKET",
            ),
            (
                vec![
                    ("JOBPILOT_S3_BUCKET", "b"),
                    ("JOBPILOT_S3_ENDPOINT", "minio:9000"),
                ],
                "JOBPILOT_S3_ENDPOINT",
            ),
            (
                vec![
                    ("JOBPILOT_S3_BUCKET", "b"),
                    ("JOBPILOT_S3_ACCESS_KEY_ID", "only-half"),
                ],
                "JOBPILOT_S3_BUCKET",
            ),
            (
                vec![
                    ("JOBPILOT_S3_BUCKET", "b"),
                    ("JOBPILOT_S3_PREFIX", "../elsewhere"),
                ],
                "JOBPILOT_S3_BUCKET",
            ),
        ] {
            let error = load(&vars).unwrap_err().to_string();
            assert!(error.contains(named), "{vars:?}: {error}");
        }
    }

    #[cfg(feature = "local-embeddings")]
    #[test]
    fn a_local_embedding_model_is_a_complete_folder_and_the_only_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let error = load(&[("JOBPILOT_EMBEDDINGS_MODEL_DIR", path)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("JOBPILOT_EMBEDDINGS_MODEL_DIR")
                && error.contains("config.json, model.safetensors, tokenizer.json"),
            "{error}"
        );
        embed::fixture::write_tiny_model(dir.path()).unwrap();
        let config = load(&[("JOBPILOT_EMBEDDINGS_MODEL_DIR", path)]).unwrap();
        assert!(config.local_semantic().unwrap().is_some());
        let both = load(&[
            ("JOBPILOT_EMBEDDINGS_MODEL_DIR", path),
            ("JOBPILOT_LLM_BASE_URL", "http://127.0.0.1:8081/v1"),
            ("JOBPILOT_LLM_MODEL", "qwen2.5-7b"),
            ("JOBPILOT_EMBEDDINGS_MODEL", "nomic-embed-text"),
        ])
        .unwrap_err()
        .to_string();
        assert!(both.contains("choose one embedding model"), "{both}");
        // Files that are there but do not load stop the server at start.
        std::fs::write(dir.path().join("model.safetensors"), b"not weights").unwrap();
        let config = load(&[("JOBPILOT_EMBEDDINGS_MODEL_DIR", path)]).unwrap();
        let error = config.local_semantic().unwrap_err().to_string();
        assert!(error.contains("model.safetensors"), "{error}");
    }

    #[test]
    fn ocr_is_automatic_off_or_named_languages() {
        assert_eq!(load(&[]).unwrap().ocr_languages, None);
        assert_eq!(
            load(&[("JOBPILOT_OCR", "auto")]).unwrap().ocr_languages,
            None
        );
        assert_eq!(
            load(&[("JOBPILOT_OCR", "off")]).unwrap().ocr_languages,
            Some(Vec::new())
        );
        assert_eq!(
            load(&[("JOBPILOT_OCR", "eng+rus")]).unwrap().ocr_languages,
            Some(vec!["eng".to_owned(), "rus".to_owned()])
        );
        for bad in ["eng+", "eng;rm -rf", "../eng"] {
            let error = load(&[("JOBPILOT_OCR", bad)]).unwrap_err().to_string();
            assert!(error.contains("JOBPILOT_OCR"), "{bad}: {error}");
        }
    }

    #[test]
    fn application_channels_are_configured_whole_or_not_at_all() {
        let plain = load(&[]).unwrap();
        assert!(plain.llm.is_none() && plain.smtp.is_none() && plain.hh_apply.is_none());
        assert_eq!(plain.apply_caps, web::applications::DailyCaps::default());

        let (llm_key, smtp_password, hh_secret) = (
            "llm-key-never-shown",
            "smtp-password-never-shown",
            "hh-secret-never-shown",
        );
        let full = load(&[
            ("JOBPILOT_LLM_BASE_URL", "http://127.0.0.1:8081/v1"),
            ("JOBPILOT_LLM_MODEL", "qwen2.5-7b"),
            ("JOBPILOT_LLM_API_KEY", llm_key),
            ("JOBPILOT_SMTP_HOST", "smtp.example.org"),
            ("JOBPILOT_SMTP_FROM", "jobpilot <apply@example.org>"),
            ("JOBPILOT_SMTP_USERNAME", "apply"),
            ("JOBPILOT_SMTP_PASSWORD", smtp_password),
            ("JOBPILOT_HH_APPLY", "true"),
            ("JOBPILOT_HH_CLIENT_ID", "client"),
            ("JOBPILOT_HH_CLIENT_SECRET", hh_secret),
            ("JOBPILOT_PUBLIC_URL", "https://jobs.example.org"),
            ("JOBPILOT_APPLY_DAILY_CAP_EMAIL", "5"),
        ])
        .unwrap();
        assert_eq!(full.llm.as_ref().unwrap().model, "qwen2.5-7b");
        let smtp = full.smtp.as_ref().unwrap();
        assert_eq!(
            (smtp.port, smtp.security),
            (587, notify::SmtpSecurity::StartTls)
        );
        assert_eq!(
            full.hh_apply.as_ref().unwrap().redirect_uri,
            "https://jobs.example.org/api/v1/hh/callback"
        );
        assert_eq!(full.apply_caps.email, 5);
        assert_eq!(full.apply_caps.hh, 200);
        let shown = full.redacted();
        for secret in [llm_key, smtp_password, hh_secret] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!format!("{full:?}").contains(secret));
        }

        for (vars, named) in [
            (vec![("JOBPILOT_LLM_MODEL", "m")], "JOBPILOT_LLM_BASE_URL"),
            (
                vec![("JOBPILOT_LLM_BASE_URL", "http://127.0.0.1:8081")],
                "JOBPILOT_LLM_MODEL",
            ),
            (
                vec![
                    ("JOBPILOT_LLM_BASE_URL", "ftp://x"),
                    ("JOBPILOT_LLM_MODEL", "m"),
                ],
                "JOBPILOT_LLM_BASE_URL",
            ),
            (
                vec![("JOBPILOT_SMTP_HOST", "smtp.example.org")],
                "JOBPILOT_SMTP_FROM",
            ),
            (
                vec![("JOBPILOT_SMTP_FROM", "a@example.org")],
                "JOBPILOT_SMTP_HOST",
            ),
            (
                vec![
                    ("JOBPILOT_SMTP_HOST", "smtp.example.org"),
                    ("JOBPILOT_SMTP_FROM", "a@example.org"),
                    ("JOBPILOT_SMTP_SECURITY", "none"),
                ],
                "JOBPILOT_SMTP_HOST",
            ),
            (
                vec![("JOBPILOT_SMTP_SECURITY", "ssl3")],
                "JOBPILOT_SMTP_SECURITY",
            ),
            (vec![("JOBPILOT_HH_APPLY", "true")], "JOBPILOT_HH_APPLY"),
            (
                vec![("JOBPILOT_APPLY_DAILY_CAP_EMAIL", "0")],
                "JOBPILOT_APPLY_DAILY_CAP_EMAIL",
            ),
        ] {
            let error = load(&vars).unwrap_err().to_string();
            assert!(error.contains(named), "{vars:?}: {error}");
        }
    }

    #[test]
    fn job_retention_is_days_or_zero_for_ever() {
        let days = |config: Config| config.job_retention.map(|d| d.as_secs() / 86_400);
        assert_eq!(days(load(&[]).unwrap()), Some(90));
        let set = |v: &str| load(&[("JOBPILOT_JOB_RETENTION_DAYS", v)]);
        assert_eq!(days(set("30").unwrap()), Some(30));
        assert_eq!(days(set("0").unwrap()), None);
        for bad in ["-1", "36501", "soon", ""] {
            let error = set(bad).unwrap_err().to_string();
            assert!(
                error.contains("JOBPILOT_JOB_RETENTION_DAYS"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn defaults_run_on_sqlite_under_the_data_dir() {
        let config = load(&[]).unwrap();
        assert_eq!(config.mode, Mode::Development);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.kind, DatabaseKind::Sqlite);
        assert!(config.database.is_default);
        // A lone replica keeps serving while its search index is rebuilt.
        assert!(!config.ready_waits_for_search_index);
        assert_eq!(
            config.database.url.expose_secret(),
            "sqlite://./data/jobpilot.db"
        );
        assert_eq!(config.database.pool_size, 8);
        assert_eq!(config.body_limit, 1024 * 1024);
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn postgres_urls_pick_postgres_with_a_pool_of_20() {
        let config = load(&[("JOBPILOT_DATABASE_URL", "postgres://u:p@h/db")]).unwrap();
        assert_eq!(config.database.kind, DatabaseKind::Postgres);
        assert!(!config.database.is_default);
        assert_eq!(config.database.pool_size, 20);
        let config = load(&[
            ("JOBPILOT_DATABASE_URL", "postgresql://h/db"),
            ("JOBPILOT_POOL_SIZE", "5"),
        ])
        .unwrap();
        assert_eq!(config.database.pool_size, 5);
    }

    #[test]
    fn every_problem_is_reported_with_its_variable() {
        let error = load(&[
            ("JOBPILOT_LISTEN", "8080"),
            ("JOBPILOT_MODE", "prod"),
            ("JOBPILOT_POOL_SIZE", "-1"),
            ("JOBPILOT_DATABASE_URL", "mysql://root:pw@h/db"),
            ("JOBPILOT_REQUEST_TIMEOUT", "soon"),
            (
                "JOBPILOT_CORS_ORIGINS",
                "https://ok.example, javascript:alert(1)",
            ),
            ("JOBPILOT_HSTS", "maybe"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
        ])
        .unwrap_err();
        let text = error.to_string();
        for variable in [
            "JOBPILOT_LISTEN",
            "JOBPILOT_MODE",
            "JOBPILOT_POOL_SIZE",
            "JOBPILOT_DATABASE_URL",
            "JOBPILOT_REQUEST_TIMEOUT",
            "JOBPILOT_CORS_ORIGINS",
            "JOBPILOT_HSTS",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ] {
            assert!(text.contains(variable), "{variable} missing from:\n{text}");
        }
        assert!(!text.contains("pw@"), "a password leaked:\n{text}");
    }

    #[test]
    fn production_requires_strong_secrets() {
        let error = load(&[("JOBPILOT_MODE", "production")]).unwrap_err();
        assert_eq!(error.problems.len(), 2, "{error}");
        let error = load(&[
            ("JOBPILOT_MODE", "production"),
            ("JOBPILOT_JWT_SECRET", "tooshort"),
            ("JOBPILOT_ENCRYPTION_KEYS", "k1:c2hvcnQ="),
        ])
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("JOBPILOT_JWT_SECRET: too weak"), "{text}");
        assert!(text.contains("keys must be 32 random bytes"), "{text}");
        assert!(!text.contains("tooshort"));
        let config = load(&[
            ("JOBPILOT_MODE", "production"),
            ("JOBPILOT_JWT_SECRET", &"s".repeat(40)),
            ("JOBPILOT_ENCRYPTION_KEYS", KEY),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.shutdown_delay, Duration::from_secs(5));
    }

    #[test]
    fn secrets_can_come_from_files_but_settings_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt");
        std::fs::write(&path, format!("{}\n", "f".repeat(40))).unwrap();
        let config = load(&[("JOBPILOT_JWT_SECRET_FILE", path.to_str().unwrap())]).unwrap();
        assert_eq!(
            config.jwt_secret.unwrap().expose_secret(),
            "f".repeat(40).as_str()
        );
        let error = load(&[("JOBPILOT_LISTEN_FILE", path.to_str().unwrap())]).unwrap_err();
        assert!(error.to_string().contains("only secrets"), "{error}");
        let error = load(&[("JOBPILOT_JWT_SECRET_FILE", "/nonexistent/jwt")]).unwrap_err();
        assert!(
            error.to_string().contains("JOBPILOT_JWT_SECRET_FILE"),
            "{error}"
        );
    }

    #[test]
    fn environment_overrides_the_file_and_the_file_rejects_typos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobpilot.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\npool_size = 3\ncors_origins = [\"https://a.example\", \"https://b.example\"]\n",
        )
        .unwrap();
        let config = Config::from_sources(
            [("JOBPILOT_POOL_SIZE".to_owned(), "7".to_owned())],
            Some(&path),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.database.pool_size, 7);
        assert_eq!(
            config.cors_origins,
            ["https://a.example", "https://b.example"]
        );
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let error = Config::from_sources(Vec::new(), Some(&path)).unwrap_err();
        assert!(
            error.to_string().contains("unknown setting \"lisen\""),
            "{error}"
        );
        std::fs::write(&path, "listen = \n").unwrap();
        assert!(Config::from_sources(Vec::new(), Some(&path)).is_err());
    }

    #[test]
    fn unknown_jobpilot_variables_are_noticed() {
        let config = load(&[("JOBPILOT_LISTN", "x"), ("HOME", "/root")]).unwrap();
        assert_eq!(config.unknown_variables, ["JOBPILOT_LISTN"]);
    }

    #[test]
    fn key_rings_are_validated() {
        assert_eq!(parse_key_ring(KEY).unwrap().len(), 1);
        let two = format!("{KEY},k2:{}", KEY.trim_start_matches("k1:"));
        assert_eq!(parse_key_ring(&two).unwrap()[1].0, "k2");
        assert!(
            parse_key_ring(&format!("{KEY},{KEY}"))
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_key_ring("nocolon").is_err());
        assert!(parse_key_ring("k1:!!!").unwrap_err().contains("base64"));
        assert!(parse_key_ring("bad id:AAAA").is_err());
        assert!(parse_key_ring("").is_err());
    }

    #[test]
    fn redaction_hides_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://user:secret@host:5432/db?sslmode=require"),
            "postgres://user:***@host:5432/db?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=secret"),
            "postgres://host/db?user=u&password=***"
        );
        assert_eq!(
            redact_url("redis://:secret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }

    #[test]
    fn redacted_output_holds_no_secret() {
        let config = load(&[
            ("JOBPILOT_DATABASE_URL", "postgres://u:dbpass@h/db"),
            ("JOBPILOT_REDIS_URL", "redis://:redispass@cache:6379"),
            ("JOBPILOT_JWT_SECRET", &"j".repeat(40)),
            ("JOBPILOT_ENCRYPTION_KEYS", KEY),
            ("JOBPILOT_METRICS_TOKEN", "metricstoken"),
        ])
        .unwrap();
        let text = config.redacted();
        for secret in [
            "dbpass",
            "redispass",
            "jjjjjjjj",
            "AAECAwQF",
            "metricstoken",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            text.contains("database_url = postgres://u:***@h/db"),
            "{text}"
        );
    }
}
