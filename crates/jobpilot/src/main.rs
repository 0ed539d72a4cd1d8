//! The `jobpilot` command.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use jobpilot::{
    app::{Server, open_store, shutdown_signal},
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
            eprintln!("configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Config {
            command: ConfigCommand::Vars,
        }
        | Command::Keys { .. } => ExitCode::SUCCESS,
        Command::Serve { no_migrate } => run(config, |config| serve(config, !no_migrate)),
        Command::Migrate => run(config, migrate),
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
    let store = open_store(&config).await?;
    if migrate_first && config.migrate_on_start {
        store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("migration failed: {}", web::error::ErrorChain(&e)))?;
    }
    let server = Server::bind(&config, store).await?;
    tracing::info!(
        address = %server.local_addr()?,
        database = server.state().store().backend().as_str(),
        "listening"
    );
    server.run(shutdown_signal()).await
}
