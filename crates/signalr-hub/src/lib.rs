//! An ASP.NET Core SignalR hub server on tokio and axum, for the official clients unchanged.
//!
//! # Layout
//!
//! * [`HubBuilder`] / [`Hub`] — register methods (by name, typed arguments), hooks and the
//!   authentication hook, then mount [`Hub::router`] in an axum application.
//! * [`HubHandle`] — push to connections, groups, users or everyone from anywhere.
//!
//! Inside, every module imports only from modules on lower layers, so there is no import
//! loop; a unit test of this file reads the `crate::` paths in `src/*.rs` and checks them
//! against this table (a new module needs a row).
//!
//! | Layer | Module | Role |
//! |---|---|---|
//! | 9 | `hub` | [`HubBuilder`] and [`Hub`]; [`Hub::router`] mounts `http` |
//! | 8 | `http` | negotiate (versions 0 and 1), the transport requests, CORS; starts connection tasks |
//! | 7 | `connection` | one task per connection: handshake → open (the message loop: keep-alive, client timeout, invocations, coalesced writes, stateful resume) → close |
//! | 6 | `shared` | `HubShared`: the options, methods, hooks, registry and token table of one hub |
//! | 5 | `method` | typed hub methods and [`Caller`] |
//! | 4 | `handle` | [`HubHandle`]: sends and group changes through the registry |
//! | 4 | `negotiation` | the negotiate-token table: which tokens exist, which transport holds each, early input, resume slots, spent signed tokens |
//! | 3 | `registry` | live connections with their groups and users, indexed both ways, and the fan-out |
//! | 3 | `http_transport` | Server-Sent Events and Long Polling behind a channel-backed socket |
//! | 2 | `options` | [`HubOptions`], [`Transports`] and the transport kinds |
//! | 1 | `auth` | the authentication hook's request and [`Principal`] |
//! | 1 | `limits` | per-user connection counts with their cap (a slot travels with the connection) |
//! | 1 | `token` | signed connection tokens ([`HubOptions::connection_token_key`]), so that a WebSocket may open on another node than the one that answered negotiate |
//! | 0 | `ids` | connection, user and token identifiers |
//! | 0 | `outbound` | what is queued for a connection's task: messages encoded once per protocol, Close |
//! | 0 | `stateful` | replay buffer and sequence tracking for stateful reconnect |
//!
//! The wire format lives in the pure `signalr-protocol` crate; this crate does the I/O and
//! knows nothing of any application. Defaults follow ASP.NET Core ([`HubOptions`]).
//!
//! Behind a load balancer with several nodes, give every node the same
//! [`ConnectionTokenKey`] in [`HubOptions::connection_token_key`]: WebSocket clients then need
//! no sticky sessions (Server-Sent Events and Long Polling still do).
//!
//! ```no_run
//! use signalr_hub::{Caller, Hub, HubError};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let hub = Hub::builder()
//!     .method("Echo", |_caller: Caller, (text,): (String,)| async move { Ok::<_, HubError>(text) })
//!     .build();
//! let app = hub.router("/hub");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod auth;
mod connection;
mod handle;
mod http;
mod http_transport;
mod hub;
mod ids;
mod limits;
mod method;
mod negotiation;
mod options;
mod outbound;
mod registry;
mod shared;
mod stateful;
mod token;

pub use auth::{AuthError, AuthRequest, Principal};
pub use handle::HubHandle;
pub use hub::{Hub, HubBuilder};
pub use ids::{ConnectionId, UserId};
pub use method::{BindError, Caller, FromArguments, HubError};
pub use options::{HubOptions, Transports};
pub use signalr_protocol::Payload;
pub use token::ConnectionTokenKey;

#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each module's layer, read from the table in the crate docs, so docs and check agree.
    fn layers() -> BTreeMap<String, u32> {
        let mut layers = BTreeMap::new();
        for row in include_str!("lib.rs").lines() {
            let Some(row) = row.strip_prefix("//! | ") else {
                continue;
            };
            let mut cells = row.split('|').map(str::trim);
            let (Some(layer), Some(module)) = (cells.next(), cells.next()) else {
                continue;
            };
            if let Ok(layer) = layer.parse() {
                layers.insert(module.trim_matches('`').to_owned(), layer);
            }
        }
        layers
    }

    /// The source without its comment lines (doc links name modules without importing them).
    fn code(source: &str) -> String {
        let lines: Vec<&str> = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect();
        lines.join("\n")
    }

    /// The first segment of every `crate::` path outside comments, `crate::{a, b::C}` included.
    fn imports(source: &str) -> BTreeSet<String> {
        let code = code(source);
        let ident = |text: &str| -> String {
            text.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let mut found = BTreeSet::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let Some(group) = rest.strip_prefix('{') else {
                found.insert(ident(rest));
                continue;
            };
            // Only names at the group's own depth are modules of the crate root.
            let mut depth = 1;
            let mut name_next = true;
            for (at, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => name_next = true,
                    c if c.is_whitespace() => {}
                    _ if name_next && depth == 1 => {
                        found.insert(ident(&group[at..]));
                        name_next = false;
                    }
                    _ => {}
                }
            }
        }
        found
    }

    #[test]
    fn imports_are_read_from_paths_and_groups_but_not_comments() {
        let source = "use crate::a::X;\nuse crate::{b, c::{D, e::F}, g};\n// crate::h\n\
                      /// [`I`](crate::i::I)\nlet x = crate::j::f(crate::k);";
        let expected = ["a", "b", "c", "g", "j", "k"].map(String::from);
        assert_eq!(imports(source), BTreeSet::from(expected));
    }

    #[test]
    fn every_module_imports_only_from_lower_layers() {
        let layers = layers();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut modules = BTreeMap::new();
        for entry in std::fs::read_dir(&src).expect("src directory") {
            let path = entry.expect("directory entry").path();
            let Some(module) = path.file_stem().and_then(|stem| stem.to_str()) else {
                continue;
            };
            if path.extension().is_some_and(|ext| ext == "rs") && module != "lib" {
                let source = std::fs::read_to_string(&path).expect("readable source");
                modules.insert(module.to_owned(), imports(&source));
            }
        }
        let files: BTreeSet<&String> = modules.keys().collect();
        let listed: BTreeSet<&String> = layers.keys().collect();
        assert_eq!(
            files, listed,
            "every file in src/ needs a row in the layer table"
        );

        let mut upward = Vec::new();
        for (module, imported) in &modules {
            for other in imported.iter().filter(|other| *other != module) {
                // Paths to root re-exports (`crate::HubOptions`) name no module.
                if let Some(&to) = layers.get(other)
                    && to >= layers[module]
                {
                    upward.push(format!(
                        "{module} (layer {}) imports {other} (layer {to})",
                        layers[module]
                    ));
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports against the layering: {upward:#?}"
        );
    }

    #[test]
    fn the_registry_knows_neither_axum_nor_transports_nor_tokens() {
        let source = code(include_str!("registry.rs"));
        for name in ["axum", "http_transport", "negotiation", "ConnectionToken"] {
            assert!(!source.contains(name), "registry.rs names {name}");
        }
    }
}
