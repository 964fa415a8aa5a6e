//! Rotates the signing keys in a deployment's Secrets Manager secret, in two steps (README
//! "Rotating keys"):
//!
//! `cargo run -p local-server --bin rotate-keys -- SECRET_ID stage`    new keys, published, not signing
//! `cargo run -p local-server --bin rotate-keys -- SECRET_ID promote`  the staged keys sign
//!
//! Each step prints the secret version it wrote; deploy with `ServerSecretVersion` set to it so
//! every function reads that version. AWS credentials and region come from the environment
//! (`shared::aws`); `--endpoint-url URL` points at a local Secrets Manager-compatible server.

use shared::secrets::SecretsManagerSecret;

const USAGE: &str = "usage: rotate-keys SECRET_ID (stage | promote) [--endpoint-url URL]";

#[tokio::main]
async fn main() {
    if let Err(msg) = run(std::env::args().skip(1).collect()).await {
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let (positional, endpoint) = match args.iter().position(|a| a == "--endpoint-url") {
        Some(i) => {
            let url = args.get(i + 1).ok_or(USAGE)?.clone();
            ([&args[..i], &args[i + 2..]].concat(), Some(url))
        }
        None => (args, None),
    };
    let [secret_id, step] = positional.as_slice() else {
        return Err(USAGE.into());
    };
    let secret = SecretsManagerSecret::connect(secret_id, endpoint.as_deref())?;
    let (version, doc) = match step.as_str() {
        "stage" => secret.stage().await?,
        "promote" => secret.promote().await?,
        _ => return Err(USAGE.into()),
    };
    let jwks = doc.keys()?.1.jwks();
    let kid = |i: usize| jwks["keys"][i]["kid"].as_str().unwrap_or_default().to_owned();
    let published: Vec<String> = (2..jwks["keys"].as_array().map_or(0, Vec::len)).map(kid).collect();
    println!("wrote version {version} of {secret_id}");
    println!("signing keys: {} (ES256), {} (RS256)", kid(0), kid(1));
    println!("also published: {}", published.join(", "));
    println!("next: sam deploy --parameter-overrides ServerSecretVersion={version}");
    Ok(())
}
