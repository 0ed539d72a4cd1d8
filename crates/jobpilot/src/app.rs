//! Opening the store and running the server.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use store::Store;
use store_postgres::{PostgresSettings, PostgresStore};
use store_sqlite::{SqliteSettings, SqliteStore};
use tokio::net::TcpListener;
use web::AppState;

use crate::config::{Config, DatabaseKind, redact_url};

/// The database: the store, and the task queue that lives beside it.
#[derive(Debug, Clone)]
pub struct Database {
    pub store: Arc<dyn Store>,
    pub tasks: tasks::TaskDb,
}

/// Connects to the database the URL names.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_database(config).await?.store)
}

/// [`open_store`] for a process that loads many postings at once (`jobs import`): on SQLite its
/// connections keep a larger page cache and checkpoint less often (see
/// [`SqliteSettings::bulk`]).
pub async fn open_bulk_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(connect(config, true).await?.store)
}

/// Connects to the database the URL names, for the store and the task queue.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    connect(config, false).await
}

async fn connect(config: &Config, bulk: bool) -> anyhow::Result<Database> {
    let url = config.database.url.expose_secret();
    let shown = redact_url(url);
    match config.database.kind {
        DatabaseKind::Sqlite => {
            if config.database.is_default {
                create_private_dir(&config.data_dir)?;
            }
            let store = SqliteStore::connect(&SqliteSettings {
                url: url.to_owned(),
                create_if_missing: config.database.is_default,
                pool_size: config.database.pool_size,
                bulk,
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the SQLite database {shown}: {}{}",
                    error_chain(&e),
                    if config.database.is_default {
                        ""
                    } else {
                        " (to create a new database file, add ?mode=rwc to the URL)"
                    }
                )
            })?;
            if config.database.is_default {
                restrict_to_owner(&config.data_dir.join("jobpilot.db"))?;
            }
            Ok(Database {
                tasks: tasks::TaskDb::Sqlite(store.pool().clone()),
                store: Arc::new(store),
            })
        }
        DatabaseKind::Postgres => {
            let store = PostgresStore::connect(&PostgresSettings {
                url: url.to_owned(),
                pool_size: config.database.pool_size,
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to PostgreSQL at {shown}: {}",
                    error_chain(&e)
                )
            })?;
            Ok(Database {
                tasks: tasks::TaskDb::Postgres(store.pool().clone()),
                store: Arc::new(store),
            })
        }
    }
}

/// The data directory holds the database and secrets: only its owner may enter it.
pub(crate) fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// SQLite creates its files with the process umask; the database holds personal data. (Its
/// -wal and -shm files take the database file's permissions.)
fn restrict_to_owner(file: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict the permissions of {}", file.display()))?;
    }
    Ok(())
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    web::error::ErrorChain(error).to_string()
}

/// How often the search index looks for jobs written by other replicas or processes.
const SEARCH_POLL: Duration = Duration::from_secs(1);

/// Opens this replica's search index (created, or rebuilt when of another version, as needed;
/// the follower fills it from the database).
pub async fn open_search_index(config: &Config) -> anyhow::Result<Arc<search::index::JobIndex>> {
    let dir = config.search_dir.clone();
    let rates = config.currency_rates.clone();
    let index = tokio::task::spawn_blocking(move || search::index::JobIndex::open(&dir, rates))
        .await?
        .with_context(|| {
            format!(
                "cannot open the search index in {}",
                config.search_dir.display()
            )
        })?;
    Ok(Arc::new(index))
}

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    worker: Option<tasks::WorkerHandle>,
    shutdown_delay: Duration,
    shutdown_timeout: Duration,
}

impl Server {
    /// Binds the listener (port 0 picks a free port) and builds the application.
    pub async fn bind(config: &Config, database: Database) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let shared = match &config.redis_url {
            Some(url) => Some(
                web::Shared::connect(url.expose_secret(), &config.redis_prefix)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot connect to Redis at {}: {e}",
                            redact_url(url.expose_secret())
                        )
                    })?,
            ),
            None => None,
        };
        let index = open_search_index(config).await?;
        let mut settings = config.web_settings();
        if let Some(local) = config.local_semantic()? {
            settings.semantic = Some(local);
        }
        Ok(Self {
            listener,
            state: AppState::new(database.store, database.tasks, settings, shared, index),
            worker: None,
            shutdown_delay: config.shutdown_delay,
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs the task queue's workers beside the server; they stop after the HTTP drain.
    pub fn with_worker(mut self, worker: tasks::WorkerHandle) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Serves until `shutdown` completes, then drains: readiness turns false at once, the
    /// listener closes after the shutdown delay, and in-flight requests get the shutdown
    /// timeout to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server {
            listener,
            state,
            worker,
            shutdown_delay,
            shutdown_timeout,
        } = self;
        let app = web::router(state.clone());
        let (stop_following, following_stopped) = tokio::sync::oneshot::channel::<()>();
        let follower = tokio::spawn(search::index::follow::follow(
            Arc::clone(state.search()),
            state.store_arc(),
            Arc::clone(state.search_wake()),
            SEARCH_POLL,
            async move {
                let _ = following_stopped.await;
            },
        ));
        let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
        let drain_state = state.clone();
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            drain_state.begin_shutdown();
            tracing::info!(
                delay_s = shutdown_delay.as_secs(),
                "shutting down: readiness is now false"
            );
            tokio::time::sleep(shutdown_delay).await;
            let _ = draining_tx.send(());
        });
        let deadline = async move {
            if draining_rx.await.is_ok() {
                tokio::time::sleep(shutdown_timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = serve => result.context("the HTTP server failed")?,
            () = deadline => tracing::warn!(
                timeout_s = shutdown_timeout.as_secs(),
                "in-flight requests did not finish in time; closing them"
            ),
        }
        if let Some(worker) = worker {
            // Stops claiming, lets running tasks finish within its grace, hands the rest back.
            match worker.shutdown().await {
                Ok(report) => tracing::info!(?report, "task worker stopped"),
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "task worker stopped uncleanly")
                }
            }
        }
        let _ = stop_following.send(());
        let _ = follower.await;
        state.release_connections().await;
        state.store().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
