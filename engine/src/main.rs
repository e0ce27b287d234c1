//! `utd-engine` binary: serve (default) or administer the database.

use clap::Parser;
use utd_engine::cli::{run_admin, Cli, Command};

fn init_logging(format: &str) {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("RUST_LOG").ok();
    let subscriber = utd_engine::logging::subscriber(format, filter.as_deref(), std::io::stderr);
    if let Err(e) = subscriber.try_init() {
        eprintln!("utd-engine: cannot set up logging: {e}");
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.serve.log_format);
    match cli.command {
        Some(Command::Admin(cmd)) => {
            let out = run_admin(&cli.serve.database, cmd)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        None | Some(Command::Serve) => {
            let config = cli.serve.to_config()?;
            tracing::info!(config = ?config, "starting");
            let engine = utd_engine::start(config).await?;
            // Machine-readable line for launchers waiting on readiness.
            println!("utd-engine listening on {}", engine.base_url());
            wait_for_signal().await;
            tracing::info!("shutting down");
            engine.shutdown().await;
            Ok(())
        }
    }
}
