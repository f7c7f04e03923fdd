//! Writes the web pages' TypeScript types, generated from the Rust types (see
//! `dispatch_server::typescript`).
//!
//! ```sh
//! cargo run -p dispatch-server --features ts --example export-types            # the committed file
//! cargo run -p dispatch-server --features ts --example export-types -- OUT.ts  # elsewhere (CI's check)
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../dispatch-web/web/src/generated/api.ts")
        },
        PathBuf::from,
    );
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, dispatch_server::typescript::bindings())?;
    println!("wrote {}", out.display());
    Ok(())
}
