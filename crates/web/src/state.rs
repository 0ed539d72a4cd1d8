//! What every handler can reach.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use auth::PasswordHasher;
use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::routes::health::ReadinessCache;

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
    /// When set, `/metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// How many password hashes may run at once.
    pub password_hash_concurrency: usize,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            hsts: false,
            metrics_token: None,
            password_hash_concurrency: 2,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    settings: WebSettings,
    passwords: PasswordHasher,
    metrics: PrometheusHandle,
    shutting_down: AtomicBool,
    readiness: ReadinessCache,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: WebSettings) -> Self {
        let passwords = PasswordHasher::new(settings.password_hash_concurrency);
        Self {
            inner: Arc::new(Inner {
                store,
                passwords,
                metrics: crate::routes::metrics::recorder(),
                shutting_down: AtomicBool::new(false),
                readiness: ReadinessCache::default(),
                settings,
            }),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
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
