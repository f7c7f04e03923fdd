//! `dispatch`: parses the command line and runs the command (see `dispatch_server::commands`).

use clap::Parser as _;
use dispatch_server::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    dispatch_server::commands::run(Cli::parse().command).await
}
