//! `cargo run -p example-embed-axum`: the embedding on 127.0.0.1:3000, data in `./embed-data`.
//! Mail stays in the store's outbox: a real service runs `deliver_mail` with a transport.

use example_embed_axum::{DEFAULT_ADDR, build, serve};
use portcullis_domain::Policy;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::path::Path::new("embed-data");
    std::fs::create_dir_all(dir)?;
    let auth = build(&dir.join("auth.db"), dir, Policy::default()).await?;
    let listener = tokio::net::TcpListener::bind(DEFAULT_ADDR).await?;
    println!("listening on http://{DEFAULT_ADDR}");
    serve(listener, auth).await?;
    Ok(())
}
