//! Embeds the built bundle: walks `assets/` and writes `$OUT_DIR/assets.rs`, a table of every
//! file with its bytes (`include_bytes!`), content type and a content-derived ETag; and the same
//! for the API reference page's files, `api-docs/dist/` into `$OUT_DIR/api_docs.rs`.
//!
//! The walk is sorted and the ETag is a hash of the bytes alone, so the same bundle always gives
//! the same table (and the same binary), whatever the file times or the directory order.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Directories: cargo rescans each whole for changes.
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=api-docs/dist");
    fs::write(out.join("assets.rs"), table(&root.join("assets"))).expect("write the asset table");
    fs::write(
        out.join("api_docs.rs"),
        table(&root.join("api-docs").join("dist")),
    )
    .expect("write the API docs table");
}

/// The `&[Asset]` literal of every file under `assets` (none if it does not exist).
fn table(assets: &Path) -> String {
    let mut files = Vec::new();
    if assets.is_dir() {
        walk(assets, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        let relative = file
            .strip_prefix(assets)
            .expect("walked under assets/")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if relative.ends_with(".gitkeep") || relative.starts_with('.') {
            continue;
        }
        let bytes = fs::read(file).expect("read an asset");
        writeln!(
            table,
            "    Asset {{ path: {relative:?}, bytes: include_bytes!({path:?}), content_type: {ct:?}, etag: \"\\\"{etag:016x}\\\"\" }},",
            path = file.display().to_string(),
            ct = content_type(&relative),
            etag = fnv1a(&bytes),
        )
        .expect("write to a String");
    }
    table.push(']');
    table
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read assets/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with("LICENSE") || path.ends_with("NOTICE") {
        return "text/plain; charset=utf-8";
    }
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("map") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell two versions of a file apart, and needs no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
