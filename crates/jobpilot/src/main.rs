//! The `jobpilot` command.

mod extract_cli;
mod jobs_cli;
mod search_cli;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use jobpilot::{
    app::{Server, open_database, open_store, shutdown_signal},
    config::{Config, SETTINGS},
    secrets, telemetry,
};

/// jobpilot: a self-hostable, security-first job-search platform server.
///
/// Configuration comes from JOBPILOT_* environment variables (see `jobpilot config check`), then
/// from the optional TOML file given by --config or JOBPILOT_CONFIG. With nothing set, jobpilot
/// runs in development mode on SQLite under ./data.
#[derive(Debug, Parser)]
#[command(
    name = "jobpilot",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// A TOML file with settings (environment variables take precedence).
    #[arg(long, global = true, env = "JOBPILOT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first unless told not to).
    Serve {
        /// Do not apply migrations at start-up (the server reports not-ready until they are).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The background task queue.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// The job boards jobpilot follows.
    Sources {
        #[command(subcommand)]
        command: jobs_cli::SourcesCommand,
    },
    /// Stored job postings: import and export.
    Jobs {
        #[command(subcommand)]
        command: jobs_cli::JobsCommand,
    },
    /// This replica's job search index.
    Search {
        #[command(subcommand)]
        command: search_cli::SearchCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Internal: the server runs itself with this to read one PDF under resource limits.
    #[command(hide = true, name = "pdf-sandbox")]
    PdfSandbox(extract_cli::PdfSandboxArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first entry that was edited, deleted or moved.
    Verify,
    /// Delete entries older than the retention period (after verifying them), leaving a sealed
    /// checkpoint the chain is verified from.
    Prune {
        /// Days to keep (default: JOBPILOT_AUDIT_RETENTION_DAYS).
        #[arg(long)]
        older_than_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum TasksCommand {
    /// List tasks, newest first.
    List {
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// scheduled, available, executing, retryable, completed, discarded or cancelled.
        #[arg(long)]
        state: Option<tasks::TaskState>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Task counts by queue and state.
    Stats,
    /// Run a failed, discarded or cancelled task again.
    Retry { id: tasks::TaskId },
    /// Make sure a waiting task never runs.
    Cancel { id: tasks::TaskId },
    /// Give up a waiting or failed task.
    Discard { id: tasks::TaskId },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create an account. The password is read from standard input (one line) with
    /// --password-stdin; otherwise a strong one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// seeker, recruiter or admin.
        #[arg(long, default_value = "seeker")]
        role: domain::Role,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lock an account: it cannot sign in, and its sessions end.
    Lock { email: String },
    /// Unlock an account (also lifts a lockout after failed sign-ins).
    Unlock { email: String },
    /// List accounts.
    List,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it with every secret redacted.
    Check,
    /// List every setting with its environment variable.
    Vars,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a fresh key-ring entry (id:base64key) for JOBPILOT_ENCRYPTION_KEYS.
    Generate {
        /// The new key's id.
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// How many stored values each key seals, and whether the ring holds them all.
    Status,
    /// Re-seal every stored value with the active (first) key, while the service runs; safe to
    /// run again after an interruption. Afterwards old keys can be removed from the ring.
    Rotate {
        /// Values re-sealed per transaction.
        #[arg(long, default_value_t = web::keys::DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for the whole process (database, OTLP and, later, outbound HTTP).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Commands that need no configuration run even when it is invalid (`keys generate` is how
    // an operator makes the keys that production mode insists on).
    match &cli.command {
        Command::Config {
            command: ConfigCommand::Vars,
        } => {
            for (key, var, secret, about) in SETTINGS {
                let file = if *secret {
                    format!(" (or {var}_FILE)")
                } else {
                    String::new()
                };
                println!("{var:<30} {key:<18} {about}{file}");
            }
            return ExitCode::SUCCESS;
        }
        Command::Keys {
            command: KeysCommand::Generate { id },
        } => {
            println!("{}", secrets::generate_encryption_key(id));
            return ExitCode::SUCCESS;
        }
        Command::PdfSandbox(args) => return extract_cli::pdf_sandbox(args),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprint!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", config.redacted());
            for name in &config.unknown_variables {
                eprintln!("warning: {name} is not a jobpilot setting (typo?)");
            }
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!("configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Config {
            command: ConfigCommand::Vars,
        }
        | Command::Keys {
            command: KeysCommand::Generate { .. },
        }
        | Command::PdfSandbox(_) => ExitCode::SUCCESS,
        Command::Keys { command } => run(config, |config| key_command(config, command)),
        Command::Serve { no_migrate } => run(config, |config| serve(config, !no_migrate)),
        Command::Migrate => run(config, migrate),
        Command::Users { command } => run(config, |config| users::run(config, command)),
        Command::Tasks { command } => run(config, |config| task_commands(config, command)),
        Command::Sources { command } => run(config, |config| jobs_cli::sources(config, command)),
        Command::Jobs { command } => run(config, |config| jobs_cli::jobs(config, command)),
        Command::Audit { command } => run(config, |config| audit_command(config, command)),
        Command::Search { command } => run(config, |config| search_cli::run(config, command)),
    }
}

/// Starts logging and the runtime, runs `task`, and turns its failure into a message and exit 1.
fn run<F, Fut>(mut config: Config, task: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let _telemetry = telemetry::init(&config)?;
        for name in &config.unknown_variables {
            tracing::warn!(variable = %name, "not a jobpilot setting (typo?)");
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        secrets::ensure_development_secrets(&mut config)?;
        task(config).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

mod users {
    use std::io::BufRead as _;

    use anyhow::{Context as _, bail};
    use chrono::Utc;
    use domain::{AuditEvent, AuditOutcome, Email, NewUser};
    use jobpilot::{app::open_store, config::Config};

    use super::UsersCommand;

    pub async fn run(config: Config, command: UsersCommand) -> anyhow::Result<()> {
        let store = open_store(&config).await?;
        // The first command on a fresh install may well be creating the admin account.
        if config.migrate_on_start {
            store.migrate().await?;
        } else if !store.readiness().await?.is_ready() {
            bail!("the database has pending migrations; run `jobpilot migrate` first");
        }
        let result = execute(store.as_ref(), command).await;
        store.close().await;
        result
    }

    fn audit(action: &'static str, subject: domain::UserId) -> AuditEvent {
        AuditEvent {
            at: Utc::now(),
            actor_id: None,
            action,
            outcome: AuditOutcome::Success,
            subject_id: Some(subject),
            ip: None,
            user_agent: Some("jobpilot-cli".to_owned()),
            details: Vec::new(),
        }
    }

    async fn find(store: &dyn store::Store, email: &str) -> anyhow::Result<domain::User> {
        let email = Email::parse(email).context("invalid e-mail address")?;
        store
            .user_by_email(&email)
            .await?
            .with_context(|| format!("no account has the address {email}"))
    }

    async fn execute(store: &dyn store::Store, command: UsersCommand) -> anyhow::Result<()> {
        match command {
            UsersCommand::Create {
                email,
                role,
                password_stdin,
            } => {
                let email = Email::parse(&email).context("invalid e-mail address")?;
                let (password, generated) = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    (line.trim_end_matches(['\r', '\n']).to_owned(), false)
                } else {
                    (jobpilot::secrets::generate_password(), true)
                };
                if auth::is_common_password(&password) {
                    bail!("this password is one of the most common ones; choose another");
                }
                let password = domain::Password::parse(password)?;
                let hash = auth::PasswordHasher::new(1).hash(&password).await?;
                let user = store
                    .create_user(NewUser {
                        email,
                        password_hash: Some(hash),
                        role,
                    })
                    .await
                    .map_err(|e| match e {
                        store::StoreError::Conflict(_) => {
                            anyhow::anyhow!("an account with this e-mail address already exists")
                        }
                        other => other.into(),
                    })?;
                store
                    .append_audit(audit("cli.user_create", user.id))
                    .await?;
                println!("created {} ({}) with id {}", user.email, user.role, user.id);
                if generated {
                    println!("password (shown once): {}", password.expose());
                }
            }
            UsersCommand::Lock { email } => {
                let user = find(store, &email).await?;
                store.set_disabled(user.id, true, Utc::now()).await?;
                store.revoke_sessions(user.id, None, Utc::now()).await?;
                store.append_audit(audit("cli.user_lock", user.id)).await?;
                println!("locked {}", user.email);
            }
            UsersCommand::Unlock { email } => {
                let user = find(store, &email).await?;
                store.set_disabled(user.id, false, Utc::now()).await?;
                store
                    .append_audit(audit("cli.user_unlock", user.id))
                    .await?;
                println!("unlocked {}", user.email);
            }
            UsersCommand::List => {
                let mut after = None;
                loop {
                    let page = store.list_users(after, 500).await?;
                    for user in &page {
                        let state = if user.disabled_at.is_some() {
                            "locked"
                        } else if !user.may_sign_in(Utc::now()) {
                            "locked-out"
                        } else {
                            "active"
                        };
                        println!("{}\t{}\t{}\t{}", user.id, user.email, user.role, state);
                    }
                    match page.last() {
                        Some(last) if page.len() == 500 => after = Some(last.id),
                        _ => break,
                    }
                }
            }
        }
        Ok(())
    }
}

async fn task_commands(config: Config, command: TasksCommand) -> anyhow::Result<()> {
    use tasks::admin;
    let database = open_database(&config).await?;
    let db = &database.tasks;
    let result = async {
        match command {
            TasksCommand::List {
                queue,
                kind,
                state,
                limit,
            } => {
                let filter = admin::ListFilter {
                    queue,
                    kind,
                    state,
                    ..admin::ListFilter::default()
                };
                for task in admin::list(db, &filter, limit).await?.tasks {
                    let last_error = task.errors.last().map_or("", |e| e.message.as_str());
                    println!(
                        "{}\t{}\t{}\t{}\t{}/{}\t{}",
                        task.id,
                        task.queue,
                        task.kind,
                        task.state,
                        task.attempt,
                        task.max_attempts,
                        last_error
                    );
                }
            }
            TasksCommand::Stats => {
                for count in admin::stats(db).await? {
                    println!("{}\t{}\t{}", count.queue, count.state, count.count);
                }
            }
            TasksCommand::Retry { id } => {
                admin::retry(db, id).await?;
                println!("task {id} will run again");
            }
            TasksCommand::Cancel { id } => {
                admin::cancel(db, id).await?;
                println!("task {id} cancelled");
            }
            TasksCommand::Discard { id } => {
                admin::discard(db, id).await?;
                println!("task {id} discarded");
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.store.close().await;
    result
}

async fn key_command(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if !store.readiness().await?.is_ready() {
        anyhow::bail!("the database has pending migrations; run `jobpilot migrate` first");
    }
    let ring = config
        .key_ring()
        .ok_or_else(|| anyhow::anyhow!("JOBPILOT_ENCRYPTION_KEYS is not set"))?;
    let files = config.files.clone();
    let sealed = web::keys::Sealed {
        store: store.as_ref(),
        files: &files,
    };
    let result = match command {
        KeysCommand::Status => {
            let counts = web::keys::status(sealed).await?;
            println!("active key: {}", ring.active_key_id());
            if counts.is_empty() {
                println!("no sealed values stored");
            }
            for (id, count) in &counts {
                let note = if ring.has_key(id) {
                    ""
                } else {
                    "  MISSING from JOBPILOT_ENCRYPTION_KEYS"
                };
                println!("{id:<20} {count:>10} values{note}");
            }
            web::keys::check_present(sealed, &ring)
                .await
                .map_err(anyhow::Error::from)
        }
        KeysCommand::Rotate { batch } => {
            let bar = indicatif::ProgressBar::new_spinner();
            let rotated = web::keys::rotate_in_batches(sealed, &ring, batch, &|n| {
                bar.set_message(format!("{n} values re-sealed"));
                bar.tick();
            })
            .await;
            bar.finish_and_clear();
            rotated
                .map(|n| {
                    println!(
                        "{n} values re-sealed with key {}; keys no longer listed by \
                         `jobpilot keys status` can be removed",
                        ring.active_key_id()
                    );
                })
                .map_err(anyhow::Error::from)
        }
        KeysCommand::Generate { .. } => Ok(()),
    };
    store.close().await;
    result
}

async fn audit_command(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if !store.readiness().await?.is_ready() {
        anyhow::bail!("the database has pending migrations; run `jobpilot migrate` first");
    }
    let keys = config
        .key_ring()
        .unwrap_or_else(|| std::sync::Arc::new(auth::KeyRing::ephemeral()));
    let result = match command {
        AuditCommand::Verify => web::audit::verify(store.as_ref(), &keys, None)
            .await
            .map(|report| {
                println!(
                    "audit log intact: {} entries checked (from entry {} to {})",
                    report.checked,
                    report.starts_after + 1,
                    report.head
                );
            })
            .map_err(anyhow::Error::from),
        AuditCommand::Prune { older_than_days } => {
            let days = older_than_days.map_or(config.audit_retention, |d| {
                std::time::Duration::from_secs(u64::from(d) * 86_400)
            });
            let before = chrono::Utc::now()
                - chrono::Duration::from_std(days).unwrap_or(chrono::Duration::days(365));
            web::audit::prune(store.as_ref(), &keys, before)
                .await
                .map(|pruned| println!("{pruned} audit entries before {before} pruned"))
                .map_err(anyhow::Error::from)
        }
    };
    store.close().await;
    result
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {}", web::error::ErrorChain(&e)))?;
    tracing::info!(database = store.backend().as_str(), "migrations applied");
    store.close().await;
    Ok(())
}

async fn serve(config: Config, migrate_first: bool) -> anyhow::Result<()> {
    if config.mode == jobpilot::config::Mode::Development {
        tracing::warn!("running in development mode; set JOBPILOT_MODE=production for deployments");
    }
    let database = open_database(&config).await?;
    if migrate_first && config.migrate_on_start {
        database
            .store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("migration failed: {}", web::error::ErrorChain(&e)))?;
    }
    if let Some(ring) = config.key_ring() {
        web::keys::check_columns_present(database.store.as_ref(), &ring).await?;
    }
    let catalog = config
        .sources
        .clone()
        .build()
        .map_err(|e| anyhow::anyhow!("job sources: {e}"))?;
    let (tasks, store) = (database.tasks.clone(), database.store.clone());
    // The server opens this replica's search index, which the workers' alerts rank with.
    let mut server = Server::bind(&config, database).await?;
    let index = server.state().search().clone();
    let worker = jobpilot::workers::start(&config, tasks, store, catalog, index)?;
    if let Some(worker) = worker {
        tracing::info!(worker = worker.id(), "task worker started");
        server = server.with_worker(worker);
    }
    tracing::info!(
        address = %server.local_addr()?,
        database = server.state().store().backend().as_str(),
        "listening"
    );
    server.run(shutdown_signal()).await
}
