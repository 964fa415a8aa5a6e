//! Creates the first environment and its admin worker application (PING-MGMT §4.3; README
//! "Deploy"): run once per deployment, against its DynamoDB table and with its server secret.
//!
//! `cargo run -p local-server --bin bootstrap -- --table TABLE [--name NAME] [--org-admin] [--dynamodb-endpoint URL]`
//!
//! Prints the environment id, the worker's client id and, the first time only, its secret.
//! Server secrets come from the environment as for the functions (`SERVER_SECRET_ID`, or
//! `HASH_KEY` with the signing keys); AWS credentials and region too (`shared::aws`).

use std::sync::Arc;

use shared::clock::{OsRandom, SystemClock};
use shared::config::{Settings, StoreSettings};
use shared::store::dynamodb::DynamoStore;
use shared::App;

const USAGE: &str = "usage: bootstrap --table TABLE [--name NAME] [--org-admin] [--dynamodb-endpoint URL]";

#[tokio::main]
async fn main() {
    if let Err(msg) = run(std::env::args().skip(1).collect()).await {
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let (mut table, mut name, mut org_admin, mut endpoint) = (None, "Administrators".to_owned(), false, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--table" => table = Some(value()?),
            "--name" => name = value()?,
            "--dynamodb-endpoint" => endpoint = Some(value()?),
            "--org-admin" => org_admin = true,
            _ => return Err(USAGE.into()),
        }
    }
    let table = table.ok_or(USAGE)?;
    let mut settings = Settings::from_env()?;
    settings.store = StoreSettings::DynamoDb { table: table.clone(), endpoint_url: endpoint.clone() };
    // The deployed functions' secrets: a generated one would make a worker nobody can use.
    let (hasher, signer) = shared::secrets::server_keys(&settings, false).await?;
    let store = Arc::new(DynamoStore::new(DynamoStore::client(endpoint.as_deref())?, &table));
    let app = App::new(settings, store, hasher, signer, Arc::new(SystemClock), Arc::new(OsRandom));
    let made = shared::bootstrap::bootstrap(&app, &name, org_admin).await.map_err(|e| e.to_string())?;
    println!("environment   {} ({name})", made.environment_id);
    println!("worker app    {}", made.client_id);
    match made.secret {
        Some(secret) => {
            println!("secret        {secret}\n(shown once: keep it; rotate with POST .../applications/{{id}}/secret)")
        }
        None => {
            println!("secret        (created before; not shown again: rotate with POST .../applications/{{id}}/secret)")
        }
    }
    println!(
        "token         curl -s -u {}:<secret> -d grant_type=client_credentials {}/{}/as/token",
        made.client_id, app.settings.public_base_url, made.environment_id
    );
    Ok(())
}
