//! `cargo run -p local-server -- [--addr 127.0.0.1:8080] [--dynamodb-endpoint URL --table NAME]
//! [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]`
//!
//! Serves every route on the embedded in-memory store with the demo data, or on DynamoDB; over
//! HTTPS with client certificates (RFC 8705) when given a certificate and key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use shared::clock::{OsRandom, SystemClock};
use shared::config::{Settings, StoreSettings};
use shared::store::dynamodb::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::Store;
use shared::App;

const USAGE: &str = "usage: local-server [--addr HOST:PORT] [--dynamodb-endpoint URL] [--table NAME]
                    [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
  --addr               listen address (default 127.0.0.1:8080, or $LOCAL_ADDR)
  --dynamodb-endpoint  use DynamoDB at URL (e.g. a local moto server) instead of memory
  --table              DynamoDB table name (default ping-as; created if missing)
  --seed-only          write the demo data (hashed with the server secrets) and exit
  --tls-cert, --tls-key  serve HTTPS on --addr with this certificate chain and private key (PEM);
                       every connection is asked (not required) for a client certificate
  --tls-client-ca      trust anchors (PEM bundle) a client certificate's chain must reach to
                       serve tls_client_auth; without it no chain counts as verified
Environment: PUBLIC_BASE_URL; server secrets from SERVER_SECRET_ID (Secrets Manager) or HASH_KEY,
ES256_PRIVATE_KEY, RS256_PRIVATE_KEY (see README).";

struct Args {
    addr: SocketAddr,
    dynamodb_endpoint: Option<String>,
    table: String,
    seed_only: bool,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
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
        tls_cert: None,
        tls_key: None,
        tls_client_ca: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse().map_err(|_| "--addr must be HOST:PORT")?,
            "--dynamodb-endpoint" => args.dynamodb_endpoint = Some(value()?),
            "--table" => args.table = value()?,
            "--seed-only" => args.seed_only = true,
            "--tls-cert" => args.tls_cert = Some(value()?.into()),
            "--tls-key" => args.tls_key = Some(value()?.into()),
            "--tls-client-ca" => args.tls_client_ca = Some(value()?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if args.tls_client_ca.is_some() && args.tls_cert.is_none() {
        return Err("--tls-client-ca needs --tls-cert and --tls-key".into());
    }
    Ok(args)
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    use std::io::IsTerminal;
    // Log lines go out from a thread of their own, written in batches: the request path formats
    // its line and queues it, instead of taking stdout's lock and making a write per line (about
    // 7% of a JWKS request's cost). Never lossy: a full queue waits, so no audit line is dropped.
    let (writer, flushed) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::new(std::io::stdout()));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .init();
    let code = match parse_args() {
        Ok(args) => match run(args).await {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("error: {msg}");
                1
            }
        },
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            2
        }
    };
    // Writes what is still queued before the process ends.
    drop(flushed);
    std::process::exit(code);
}

async fn run(args: Args) -> Result<(), String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(Arc::new(local_server::Tls::from_files(cert, key, args.tls_client_ca.as_deref())?))
        }
        _ => None,
    };
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = Settings::from_env()?;
    if std::env::var_os("PUBLIC_BASE_URL").is_none() {
        let scheme = if tls.is_some() { "https" } else { "http" };
        settings.public_base_url = format!("{scheme}://{addr}");
    }
    let store: Arc<dyn Store> = match &args.dynamodb_endpoint {
        None => Arc::new(MemoryStore::new()),
        Some(endpoint) => {
            settings.store =
                StoreSettings::DynamoDb { table: args.table.clone(), endpoint_url: Some(endpoint.clone()) };
            let dynamo = DynamoStore::new(DynamoStore::client(Some(endpoint))?, &args.table);
            match dynamo.create_table().await {
                Ok(()) => say(format_args!("created table {}", args.table)),
                Err(err) => say(format_args!("using existing table {} ({err})", args.table)),
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
        say("seeded the demo data");
        return Ok(());
    }
    let server = match tls {
        None => local_server::Server::serve(app, listener),
        Some(tls) => local_server::Server::serve_tls(app, listener, local_server::Limits::default(), tls),
    }
    .map_err(|e| e.to_string())?;
    say(format_args!("Ping-compatible authorization server listening on {}", server.url()));
    say(shared::demo::describe(&base));
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.stop().await;
    Ok(())
}

/// A line on stdout. A reader that went away (`local-server | head -1`) does not stop the server,
/// as `println!` would by panicking on the broken pipe.
fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
