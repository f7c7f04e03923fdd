//! The OpenAPI document against the router that serves it, over real HTTP:
//!
//! * every documented operation is routed (never the router's own 404 or 405): without a token
//!   a secured one answers 401 and a public one 200;
//! * every route the server's sources declare with `.route("…")` is documented (routes added
//!   with utoipa-axum's `routes!` are documented by construction), so a new endpoint cannot be
//!   served without appearing in the document.
//!
//! The document's validity and completeness are checked by an independent validator, and its
//! generated clients are driven against the real binary, in `e2e/api`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use serde_json::Value;

/// Served on purpose without being in the document: the development sign-in of the web pages,
/// which answers 404 unless the service runs without a secret.
const UNDOCUMENTED: &[&str] = &["/api/v1/dev/identities", "/api/v1/dev/token"];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

async fn document(server: &TestServer) -> Value {
    let answer = server.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "the document is JSON"
    );
    assert_eq!(answer.body["openapi"], "3.1.0");
    answer.body
}

/// `(method, path)` of every operation in the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                found.push((method.to_string(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

/// A concrete URL for a templated path: ids are fresh UUIDs, versions 1, regions a slug.
fn concrete(path: &str) -> String {
    path.replace("{id}", "9f1d6c1e-0000-4000-8000-000000000001")
        .replace("{version}", "1")
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let server = start().await;
    let document = document(&server).await;
    let operations = operations(&document);
    assert!(operations.len() >= 25, "{} operations", operations.len());
    for (method, path, operation) in operations {
        let public = operation["security"]
            .as_array()
            .is_some_and(|alternatives| {
                alternatives
                    .iter()
                    .any(|alternative| alternative == &serde_json::json!({}))
            });
        let url = concrete(&path);
        let answer = server.call(&method.to_uppercase(), &url, None, None).await;
        assert_ne!(answer.status, 405, "{method} {path} is not routed");
        assert_ne!(
            answer.body["detail"], "route not found",
            "{method} {path} is not routed"
        );
        let expected = if public { 200 } else { 401 };
        assert_eq!(
            answer.status, expected,
            "{method} {path} without a token: {}",
            answer.body
        );
        let documented: BTreeSet<&str> = operation["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            documented.contains(expected.to_string().as_str()),
            "{method} {path} answers {expected} without documenting it"
        );
    }
}

/// The string literal right after each `.route(` in `source`.
fn declared_routes(source: &str) -> Vec<String> {
    let mut routes = Vec::new();
    for call in [".route(", ".route_service(", ".nest("] {
        let mut rest = source;
        while let Some(at) = rest.find(call) {
            rest = &rest[at + call.len()..];
            let argument = rest.trim_start();
            if let Some(literal) = argument.strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                routes.push(literal[..end].to_owned());
            }
        }
    }
    routes
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[tokio::test]
async fn every_declared_route_is_documented() {
    let server = start().await;
    let document = document(&server).await;
    let documented: BTreeSet<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut declared = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read a source file");
        declared.extend(
            declared_routes(&source)
                .into_iter()
                .map(|route| (route, file.display().to_string())),
        );
    }
    assert!(
        declared
            .iter()
            .any(|(route, _)| route == "/api/v1/openapi.json"),
        "the scan finds the routes: {declared:?}"
    );
    for (route, file) in declared {
        assert!(
            documented.contains(route.as_str()) || UNDOCUMENTED.contains(&route.as_str()),
            "{route} (declared in {file}) is served but not in the OpenAPI document"
        );
    }
}

#[test]
fn the_scan_reads_route_literals() {
    let source = r#"Router::new().route("/a", get(x)).route(
        "/b/{id}", post(y)).nest("/c", inner).route(PATH, z)"#;
    assert_eq!(declared_routes(source), ["/a", "/b/{id}", "/c"]);
}

/// Every `$ref` string found anywhere under `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(target)) => found.push(target.clone()),
                    _ => refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// Every `$ref` names a schema the document defines: a parameter's or body's type that utoipa
/// refers to without registering it breaks the generated clients (openapi-typescript refuses
/// the document), and the e2e suites would only say so much later.
#[tokio::test]
async fn every_reference_resolves() {
    let server = start().await;
    let document = document(&server).await;
    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} is not a local reference"));
        assert!(
            document.pointer(pointer).is_some(),
            "{target} names nothing in the document"
        );
    }
}
