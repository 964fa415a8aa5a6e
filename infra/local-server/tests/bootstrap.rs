//! The README's bootstrap command: against a table and server secret on the test server (moto)
//! it creates an environment and an admin worker, printing the secret once; run again, it finds
//! them and prints no secret. The printed credentials get a token the management API takes.

use std::process::Command;
use std::sync::Arc;

use shared::clock::{OsRandom, SystemClock};
use shared::config::{Settings, StoreSettings};
use shared::store::dynamodb::DynamoStore;
use shared::App;

fn bootstrap(endpoint: &str, secret: &str, table: &str, name: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args(["--table", table, "--name", name, "--org-admin", "--dynamodb-endpoint", endpoint])
        .env("SERVER_SECRET_ID", secret)
        .env("SECRETS_MANAGER_ENDPOINT_URL", endpoint)
        .env_remove("HASH_KEY")
        .output()
        .expect("run bootstrap");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn field(out: &str, label: &str) -> String {
    let line = out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("{label} in {out}"));
    line[label.len()..].trim().split(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn bootstrap_once_then_harmlessly_again() {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT_URL")
        .expect("DYNAMODB_ENDPOINT_URL is not set: run the README's test command, which starts moto");
    let secrets = aws_sdk_secretsmanager::Client::new(&shared::aws::sdk_config(Some(&endpoint)).unwrap());
    let secret = format!("ping-as-bootstrap-{}", uuid::Uuid::new_v4());
    let hash_key = "b".repeat(64);
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(format!(r#"{{"hash_key":"{hash_key}"}}"#))
        .send()
        .await
        .unwrap();
    let table = format!("bootstrap-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(DynamoStore::client(Some(&endpoint)).unwrap(), &table);
    store.create_table().await.unwrap();

    let (ok, first) = bootstrap(&endpoint, &secret, &table, "Administrators");
    assert!(ok, "{first}");
    let (env, client_id, client_secret) =
        (field(&first, "environment"), field(&first, "worker app"), field(&first, "secret"));
    assert!(client_secret.len() >= 43, "{first}");
    let (ok, again) = bootstrap(&endpoint, &secret, &table, "Administrators");
    assert!(ok, "{again}");
    assert_eq!((field(&again, "environment"), field(&again, "worker app")), (env.clone(), client_id.clone()));
    assert!(!again.contains(&client_secret) && again.contains("not shown again"), "{again}");

    // A server on the same table and secret takes the printed credentials.
    let mut settings = Settings::from_env().unwrap();
    settings.store = StoreSettings::DynamoDb { table: table.clone(), endpoint_url: Some(endpoint.clone()) };
    settings.server_secret_id = Some(secret.clone());
    settings.secrets_endpoint_url = Some(endpoint.clone());
    settings.hash_key = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    settings.public_base_url = format!("http://{}", listener.local_addr().unwrap());
    let (hasher, signer) = shared::secrets::server_keys(&settings, false).await.unwrap();
    let base = settings.public_base_url.clone();
    let app = App::new(settings, Arc::new(store), hasher, signer, Arc::new(SystemClock), Arc::new(OsRandom));
    let server = local_server::Server::serve(Arc::new(app), listener).unwrap();
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/{env}/as/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap_or_else(|| panic!("{token}")).to_owned();
    let listed: serde_json::Value =
        http.get(format!("{base}/v1/environments")).bearer_auth(&bearer).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> =
        listed["_embedded"]["environments"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(ids.contains(&env.as_str()), "{listed}");
    let populations: serde_json::Value = http
        .get(format!("{base}/v1/environments/{env}/populations"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(populations["count"], 1, "the default population: {populations}");
    assert_eq!(populations["_embedded"]["populations"][0]["default"], true);
    server.stop().await;
}
