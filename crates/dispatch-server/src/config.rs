//! Command line and environment (SPEC §7). Every option also reads a `DISPATCH_*` variable;
//! `.env.sample` lists them.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use dispatch_core::ContractorId;

use crate::auth::Role;
use crate::fairness::{ApiLimits, Rate};
use crate::serve::{HttpLimits, TrustedProxies};

/// The secret used when none is configured: development mode, loudly announced.
pub const DEV_SECRET: &str = "dispatch-development-secret-do-not-use-in-production";

/// `dispatch`: the field-service dispatch service.
#[derive(Debug, Parser)]
#[command(name = "dispatch", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the service.
    Serve(ServeArgs),
    /// Loads demo data into the database (does nothing if it already has regions).
    Demo(DemoArgs),
    /// Prints a bearer token signed with the configured secret.
    Token(TokenArgs),
    /// Solves a Solomon VRPTW instance with the planner's solver and prints one JSON line
    /// (the benchmark against PyVRP, `bench/pyvrp/run.py`).
    PlanBench(PlanBenchArgs),
}

/// Where the data lives and how tokens are signed.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DISPATCH_DATABASE_URL",
        default_value = "sqlite://dispatch.db"
    )]
    pub database_url: String,
    /// HS256 secret for bearer tokens. Unset: development mode with a fixed, public secret.
    #[arg(long, env = "DISPATCH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

impl CommonArgs {
    /// The secret, and whether it is the development one.
    pub fn secret(&self) -> (Vec<u8>, bool) {
        match &self.jwt_secret {
            Some(secret) if !secret.is_empty() => (secret.as_bytes().to_vec(), false),
            _ => (DEV_SECRET.as_bytes().to_vec(), true),
        }
    }
}

/// `dispatch serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "DISPATCH_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Event backplane between nodes: `redis://…` (pub/sub) or `postgres://…` (LISTEN/NOTIFY);
    /// unset: this process only.
    #[arg(long, env = "DISPATCH_BACKPLANE_URL", hide_env_values = true)]
    pub backplane_url: Option<String>,
    /// The backplane channel this deployment's events travel on. Default: `dispatch:` and the
    /// database's deployment id, so deployments sharing a Redis but not a database never hear
    /// each other.
    #[arg(long, env = "DISPATCH_BACKPLANE_CHANNEL")]
    pub backplane_channel: Option<String>,
    /// Load demo data at start-up if the database is empty.
    #[arg(long, env = "DISPATCH_DEMO")]
    pub demo: bool,
    /// Recommendations computed at once.
    #[arg(long, env = "DISPATCH_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Plans searched at once, each on a thread of its own (more wait their turn).
    #[arg(long, env = "DISPATCH_PLAN_WORKERS", default_value_t = 1)]
    pub plan_workers: usize,
    /// Keep committed events in the outbox without sending them (maintenance, crash drills);
    /// a later run without it sends them.
    #[arg(long, env = "DISPATCH_HOLD_EVENTS")]
    pub hold_events: bool,
    /// Removed (issue 16): a node that starts or takes shards over sends their events at once.
    /// Still accepted, so scripts that pass it keep starting; a value other than 0 is ignored
    /// with a warning.
    #[arg(long, env = "DISPATCH_RELAY_START_DELAY_MS", hide = true)]
    pub relay_start_delay_ms: Option<u64>,
    /// Hours sent events stay in the outbox before the relay prunes them; 0 keeps them.
    #[arg(long, env = "DISPATCH_OUTBOX_RETENTION_HOURS", default_value_t = 168)]
    pub outbox_retention_hours: u64,
    /// Milliseconds a request's headers may take: from the connection opening, or from the
    /// first byte of a later request on a kept-alive connection.
    #[arg(long, env = "DISPATCH_HTTP_HEADER_TIMEOUT_MS", default_value_t = 5_000)]
    pub http_header_timeout_ms: u64,
    /// Milliseconds a request's body may take after its headers (then 408).
    #[arg(long, env = "DISPATCH_HTTP_BODY_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_body_timeout_ms: u64,
    /// Milliseconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "DISPATCH_HTTP_IDLE_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_idle_timeout_ms: u64,
    /// Connections open at once on this node; beyond, new ones get 503 at once (lowered to
    /// fit the open-files limit).
    #[arg(long, env = "DISPATCH_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Connections open at once from one client address; beyond, new ones get 429 at once.
    #[arg(
        long,
        env = "DISPATCH_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,
    /// Proxies (addresses or networks, comma-separated) whose `X-Forwarded-For` names the
    /// client; empty: the header is ignored.
    #[arg(long, env = "DISPATCH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Recommendation requests per minute per caller (token `sub`); 0: no limit.
    #[arg(
        long,
        env = "DISPATCH_RECOMMENDATIONS_PER_MINUTE",
        default_value_t = 120
    )]
    pub recommendations_per_minute: u32,
    /// Recommendation requests one caller may make at once above its rate.
    #[arg(long, env = "DISPATCH_RECOMMENDATION_BURST", default_value_t = 30)]
    pub recommendation_burst: u32,
    /// Plan requests per minute per caller; 0: no limit.
    #[arg(long, env = "DISPATCH_PLANS_PER_MINUTE", default_value_t = 6)]
    pub plans_per_minute: u32,
    /// Plan requests one caller may make at once above its rate.
    #[arg(long, env = "DISPATCH_PLAN_BURST", default_value_t = 3)]
    pub plan_burst: u32,
    /// Plans one caller may have running or waiting on this node; beyond, 429.
    #[arg(long, env = "DISPATCH_PLAN_SHARE", default_value_t = 4)]
    pub plan_share: usize,
    /// Places one caller may hold in the recommendation queue (of 1,024); beyond, 429.
    #[arg(long, env = "DISPATCH_QUEUE_SHARE", default_value_t = 64)]
    pub queue_share: usize,
    /// Hub connections one caller may hold at once on this node; 0: no cap.
    #[arg(
        long,
        env = "DISPATCH_HUB_CONNECTIONS_PER_SUBJECT",
        default_value_t = 16
    )]
    pub hub_connections_per_subject: usize,
    /// Hub negotiations waiting for their transport, all callers together; beyond, 503.
    #[arg(
        long,
        env = "DISPATCH_HUB_PENDING_NEGOTIATIONS",
        default_value_t = 10_000
    )]
    pub hub_pending_negotiations: usize,
    /// Hub negotiations one caller may have waiting for their transport; beyond, 429.
    #[arg(
        long,
        env = "DISPATCH_HUB_PENDING_NEGOTIATIONS_PER_SUBJECT",
        default_value_t = 32
    )]
    pub hub_pending_negotiations_per_subject: usize,
    /// Seconds between consistency checks of every loaded region's in-memory state against the
    /// store; 0 turns the periodic check off (the admin endpoint still checks on demand).
    #[arg(long, env = "DISPATCH_REGION_CHECK_SECONDS", default_value_t = 300)]
    pub region_check_seconds: u64,
    /// Minutes a region's in-memory state stays loaded without a request; 0 never evicts.
    #[arg(long, env = "DISPATCH_REGION_IDLE_MINUTES", default_value_t = 30)]
    pub region_idle_minutes: u64,
    /// Hours change-log records are kept (nodes apply them within seconds); 0 keeps them.
    #[arg(
        long,
        env = "DISPATCH_CHANGE_LOG_RETENTION_HOURS",
        default_value_t = 24
    )]
    pub change_log_retention_hours: u64,
    #[command(flatten)]
    /// Database and secret.
    pub common: CommonArgs,
}

impl ServeArgs {
    /// The HTTP server's timeouts and caps.
    pub fn http_limits(&self) -> HttpLimits {
        use std::time::Duration;
        HttpLimits {
            header_timeout: Duration::from_millis(self.http_header_timeout_ms),
            body_timeout: Duration::from_millis(self.http_body_timeout_ms),
            idle_timeout: Duration::from_millis(self.http_idle_timeout_ms),
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    /// The per-subject limits of the expensive calls.
    pub fn api_limits(&self) -> ApiLimits {
        ApiLimits {
            recommendations: Rate {
                per_minute: self.recommendations_per_minute,
                burst: self.recommendation_burst,
            },
            plans: Rate {
                per_minute: self.plans_per_minute,
                burst: self.plan_burst,
            },
            queue_share: self.queue_share,
            plan_share: self.plan_share,
        }
    }

    /// The backplane channel: as configured, else `dispatch:` and the database's deployment id
    /// (a random id stored in the database), the same for every node sharing the database and
    /// different for every other one.
    pub fn backplane_channel(&self, deployment_id: &str) -> String {
        self.backplane_channel
            .clone()
            .unwrap_or_else(|| format!("dispatch:{deployment_id}"))
    }
}

/// `dispatch demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Contractors per region.
    #[arg(long, default_value_t = 150)]
    pub contractors: usize,
    #[command(flatten)]
    /// Database and secret.
    pub common: CommonArgs,
}

/// `dispatch token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Role of the token.
    #[arg(long, value_enum)]
    pub role: Role,
    /// Regions a dispatcher serves (repeat for several).
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// The contractor a contractor token is for.
    #[arg(long)]
    pub contractor: Option<ContractorId>,
    /// Subject (who).
    #[arg(long, default_value = "cli")]
    pub sub: String,
    /// Hours until it expires.
    #[arg(long, default_value_t = 24)]
    pub hours: i64,
    #[command(flatten)]
    /// Database and secret.
    pub common: CommonArgs,
}

/// `dispatch plan-bench`.
#[derive(Debug, Clone, Args)]
pub struct PlanBenchArgs {
    /// The instance, in CVRPLIB's Solomon text format.
    #[arg(long)]
    pub solomon: std::path::PathBuf,
    /// Time limit, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seed of the search.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also print the routes (customer numbers), for an independent check.
    #[arg(long)]
    pub routes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["dispatch", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_backplane_channel_defaults_to_the_deployment() {
        assert_eq!(serve(&[]).backplane_channel("ab12"), "dispatch:ab12");
        let named = serve(&["--backplane-channel", "blue"]).backplane_channel("ab12");
        assert_eq!(named, "blue");
    }

    #[test]
    fn the_limits_default_to_the_documented_values() {
        let args = serve(&[]);
        let http = args.http_limits();
        let defaults = HttpLimits::default();
        assert_eq!(
            (
                http.header_timeout,
                http.body_timeout,
                http.idle_timeout,
                http.max_connections,
                http.max_connections_per_address,
                http.trusted_proxies,
            ),
            (
                defaults.header_timeout,
                defaults.body_timeout,
                defaults.idle_timeout,
                defaults.max_connections,
                defaults.max_connections_per_address,
                defaults.trusted_proxies,
            )
        );
        assert_eq!(args.api_limits(), ApiLimits::default());
        let hub = signalr_hub::HubOptions::default();
        assert_eq!(
            args.hub_pending_negotiations_per_subject,
            hub.max_pending_negotiations_per_user
        );
        assert_eq!(args.hub_pending_negotiations, hub.max_pending_negotiations);
        let proxied = serve(&["--trusted-proxies", "10.0.0.0/8"]);
        assert!(
            proxied
                .trusted_proxies
                .contains("10.1.1.1".parse().expect("ip"))
        );
        assert!(Cli::try_parse_from(["dispatch", "serve", "--trusted-proxies", "nope"]).is_err());
    }

    #[test]
    fn plan_bench_takes_the_instance_limit_and_seed() {
        let argv = [
            "dispatch",
            "plan-bench",
            "--solomon",
            "bench/solomon/C101.txt",
            "--seconds",
            "2.5",
            "--seed",
            "3",
        ];
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::PlanBench(a) => {
                assert_eq!(
                    a.solomon,
                    std::path::PathBuf::from("bench/solomon/C101.txt")
                );
                assert_eq!((a.seconds, a.seed, a.routes), (2.5, 3, false));
            }
            other => panic!("not plan-bench: {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["dispatch", "plan-bench"]).is_err(),
            "FILE required"
        );
    }
}
