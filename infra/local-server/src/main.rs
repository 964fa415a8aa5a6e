//! `cargo run -p local-server -- [--addr 127.0.0.1:8080] [--dynamodb-endpoint URL --table NAME]`
//!
//! Serves every route on the embedded in-memory store with the demo data, or on DynamoDB.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::clock::{OsRandom, SystemClock};
use shared::config::{Settings, StoreSettings};
use shared::store::dynamodb::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::Store;
use shared::App;

const USAGE: &str = "usage: local-server [--addr HOST:PORT] [--dynamodb-endpoint URL] [--table NAME]
  --addr               listen address (default 127.0.0.1:8080, or $LOCAL_ADDR)
  --dynamodb-endpoint  use DynamoDB at URL (e.g. a local moto server) instead of memory
  --table              DynamoDB table name (default ping-as; created if missing)
  --seed-only          write the demo data (hashed with the server secrets) and exit
Environment: PUBLIC_BASE_URL; server secrets from SERVER_SECRET_ID (Secrets Manager) or HASH_KEY,
ES256_PRIVATE_KEY, RS256_PRIVATE_KEY (see README).";

struct Args {
    addr: SocketAddr,
    dynamodb_endpoint: Option<String>,
    table: String,
    seed_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: std::env::var("LOCAL_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:8080".into())
            .parse()
            .map_err(|_| "LOCAL_ADDR must be HOST:PORT")?,
        dynamodb_endpoint: None,
        table: "ping-as".into(),
        seed_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse().map_err(|_| "--addr must be HOST:PORT")?,
            "--dynamodb-endpoint" => args.dynamodb_endpoint = Some(value()?),
            "--table" => args.table = value()?,
            "--seed-only" => args.seed_only = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(msg) = run(args).await {
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = Settings::from_env()?;
    if std::env::var_os("PUBLIC_BASE_URL").is_none() {
        settings.public_base_url = format!("http://{addr}");
    }
    let store: Arc<dyn Store> = match &args.dynamodb_endpoint {
        None => Arc::new(MemoryStore::new()),
        Some(endpoint) => {
            settings.store =
                StoreSettings::DynamoDb { table: args.table.clone(), endpoint_url: Some(endpoint.clone()) };
            let dynamo = DynamoStore::new(DynamoStore::client(Some(endpoint))?, &args.table);
            match dynamo.create_table().await {
                Ok(()) => println!("created table {}", args.table),
                Err(err) => println!("using existing table {} ({err})", args.table),
            }
            Arc::new(dynamo)
        }
    };
    // Locally, missing secrets are generated: they last as long as this process.
    let (hasher, signer) = shared::secrets::server_keys(&settings, true).await?;
    let base = settings.public_base_url.clone();
    let app = Arc::new(App::new(settings, store, hasher, signer, Arc::new(SystemClock), Arc::new(OsRandom)));
    shared::demo::seed(&app).await.map_err(|e| e.to_string())?;
    if args.seed_only {
        println!("seeded the demo data");
        return Ok(());
    }
    let server = local_server::Server::serve(app, listener).map_err(|e| e.to_string())?;
    println!("Ping-compatible authorization server listening on {}", server.url());
    println!("{}", shared::demo::describe(&base));
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.stop().await;
    Ok(())
}
