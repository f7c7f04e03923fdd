//! What the `dispatch` binary's commands do: `serve`, `demo`, `token` and `plan-bench`. The binary parses the
//! command line and calls [`run`]; everything else is here, so tests and other binaries can
//! wire a node the same way.

use anyhow::Context as _;
use chrono::Utc;
use dispatch_backplane::Backplane;
use dispatch_core::RegionId;
use dispatch_store::Store;
use signalr_hub::{ConnectionTokenKey, HubOptions};

use crate::auth::{JwtKeys, Role};
use crate::config::{Command, DemoArgs, PlanBenchArgs, ServeArgs, TokenArgs};
use crate::{RunOptions, Service, demo, shutdown};

/// Runs one command to its end (`serve`: until SIGTERM or Ctrl-C, then a graceful stop).
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => load_demo(args).await,
        Command::Token(args) => print_token(args),
        Command::PlanBench(args) => plan_bench(&args),
    }
}

/// `dispatch plan-bench`: one Solomon instance, the production solver, one JSON line
/// `{"instance","customers","served","vehicles","distance","seconds"}` (distance in the
/// instance's units, DIMACS convention: see `dispatch_core::plan::solomon`).
fn plan_bench(args: &PlanBenchArgs) -> anyhow::Result<()> {
    use dispatch_core::plan::solomon::Instance;
    use dispatch_core::plan::{Budget, Control};

    /// The wall clock, read by the solver through `Control` (the core reads none itself).
    struct Clock(std::time::Instant);
    impl Control for Clock {
        fn elapsed(&self) -> std::time::Duration {
            self.0.elapsed()
        }
    }

    let text = std::fs::read_to_string(&args.solomon)
        .with_context(|| format!("cannot read {}", args.solomon.display()))?;
    let instance =
        Instance::parse(&text).with_context(|| format!("in {}", args.solomon.display()))?;
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        anyhow::bail!("--seconds must be a positive number");
    }
    let clock = Clock(std::time::Instant::now());
    let budget = Budget::time(std::time::Duration::from_secs_f64(args.seconds));
    let solution = instance.solve(args.seed, &budget, &mut Clock(clock.0));
    let seconds = clock.elapsed().as_secs_f64();
    // The solver's answer, judged by the instance's own check rather than trusted.
    let distance = instance
        .check(&solution.routes)
        .context("the solver returned an infeasible solution")?;
    /// The line, in the field order (`json!` would sort the keys).
    #[derive(serde::Serialize)]
    struct Line<'a> {
        instance: &'a str,
        customers: usize,
        served: usize,
        vehicles: usize,
        distance: f64,
        seconds: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        routes: Option<&'a [Vec<u32>]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        iterations: Option<u64>,
    }
    let line = serde_json::to_string(&Line {
        instance: &instance.name,
        customers: instance.customer_count(),
        served: solution.served,
        vehicles: solution.routes.len(),
        distance: distance as f64 / 10.0,
        seconds: (seconds * 1000.0).round() / 1000.0,
        routes: args.routes.then_some(solution.routes.as_slice()),
        iterations: args.routes.then_some(solution.iterations),
    })?;
    println!("{line}");
    Ok(())
}

/// Opens the store named by `url`, saying which one failed without its password.
async fn open_store(url: &str) -> anyhow::Result<Store> {
    Store::connect(url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))
}

/// `dispatch serve`: one node, until SIGTERM or Ctrl-C.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (secret, dev_mode) = args.common.secret();
    if dev_mode {
        tracing::warn!(
            "DISPATCH_JWT_SECRET is not set: development mode, tokens are signed with a public secret"
        );
    }
    let store = open_store(&args.common.database_url).await?;
    let (backplane, subscription) = match &args.backplane_url {
        Some(url) if !url.is_empty() => {
            let deployment = store
                .deployment_id()
                .await
                .context("reading the database's deployment id")?;
            let channel = args.backplane_channel(&deployment);
            let connected = Backplane::connect(url, &channel)
                .with_context(|| format!("DISPATCH_BACKPLANE_URL={}", redact(url)))?;
            tracing::info!(backplane = %redact(url), %channel, "events cross nodes on the backplane");
            connected
        }
        _ => Backplane::in_process(),
    };
    if args.demo {
        let summary = demo::load(&store, 7, 150, Utc::now())
            .await
            .context("loading demo data")?;
        tracing::info!(?summary, "demo data");
    }
    let files = crate::serve::raise_open_files_limit();
    let mut http = args.http_limits();
    http.max_connections = files.connection_cap(http.max_connections);
    tracing::info!(
        soft_before = ?files.soft_before,
        soft = ?files.soft,
        hard = ?files.hard,
        max_connections = http.max_connections,
        max_connections_per_address = http.max_connections_per_address,
        "open-files limit (soft raised to hard) and connection caps"
    );
    let listener = crate::serve::listen(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "dispatch is serving");
    let service = Service::with_limits(
        store,
        JwtKeys::new(&secret),
        dev_mode,
        HubOptions {
            // Nodes sharing the secret accept each other's connection tokens: no sticky
            // sessions needed for WebSockets.
            connection_token_key: Some(connection_token_key(&secret)),
            max_connections_per_user: (args.hub_connections_per_subject > 0)
                .then_some(args.hub_connections_per_subject),
            max_pending_negotiations: args.hub_pending_negotiations,
            max_pending_negotiations_per_user: args.hub_pending_negotiations_per_subject,
            ..HubOptions::default()
        },
        (backplane, subscription),
        args.api_limits(),
    );
    if let Some(delay) = args.relay_start_delay_ms.filter(|&ms| ms != 0) {
        tracing::warn!(
            delay_ms = delay,
            "DISPATCH_RELAY_START_DELAY_MS is no longer used and is ignored: events go out as soon as a node holds their shard"
        );
    }
    let options = RunOptions {
        workers: args.workers,
        plan_workers: args.plan_workers,
        hold_events: args.hold_events,
        outbox_retention: std::time::Duration::from_secs(
            args.outbox_retention_hours.saturating_mul(3600),
        ),
        http,
        region_state: crate::region_state::RegionStateOptions {
            check_interval: std::time::Duration::from_secs(args.region_check_seconds),
            idle: std::time::Duration::from_secs(args.region_idle_minutes.saturating_mul(60)),
            change_log_retention: std::time::Duration::from_secs(
                args.change_log_retention_hours.saturating_mul(3600),
            ),
        },
    };
    service.run(listener, options, shutdown::signal()).await
}

/// `dispatch demo`: loads the demo data into an empty database.
async fn load_demo(args: DemoArgs) -> anyhow::Result<()> {
    let store = open_store(&args.common.database_url).await?;
    let summary = demo::load(&store, args.seed, args.contractors, Utc::now())
        .await
        .context("loading demo data")?;
    if summary.regions == 0 {
        println!("the database already has regions; nothing loaded");
    } else {
        println!(
            "loaded {} regions, {} contractors, {} assignments, {} open jobs",
            summary.regions, summary.contractors, summary.assignments, summary.open_jobs
        );
    }
    Ok(())
}

/// `dispatch token`: prints a token signed with the configured secret.
fn print_token(args: TokenArgs) -> anyhow::Result<()> {
    let (secret, _) = args.common.secret();
    let regions = args.regions.into_iter().map(RegionId::new).collect();
    let token = JwtKeys::new(&secret)
        .mint_for(&args.sub, args.role, regions, args.contractor, args.hours)
        .context("the token's claims do not fit its role")?;
    if args.role == Role::Contractor && args.contractor.is_none() {
        anyhow::bail!("a contractor token needs --contractor <id>");
    }
    println!("{token}");
    Ok(())
}

/// The key connection tokens are signed with, derived from the token secret so that every node
/// of a deployment has it and it is never the JWT key itself.
fn connection_token_key(secret: &[u8]) -> ConnectionTokenKey {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"dispatch/signalr-connection-token/v1\0");
    hasher.update(secret);
    ConnectionTokenKey::new(hasher.finalize())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
