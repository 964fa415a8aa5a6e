//! The README's run command works: the `local-server` binary starts on a free port, prints where
//! it listens and the demo data, and serves the device authorization endpoint, on the embedded
//! store and on DynamoDB. The test stops the process it started.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and returns it with its base URL.
fn start(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("PUBLIC_BASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start local-server");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    let url = loop {
        let line = lines.next().expect("the server prints its address").expect("stdout");
        printed.push_str(&line);
        printed.push('\n');
        if let Some(url) = line.strip_prefix("Ping-compatible authorization server listening on ") {
            break url.to_owned();
        }
    };
    // The demo data follows the address.
    for _ in 0..5 {
        printed.push_str(&lines.next().unwrap().unwrap());
    }
    assert!(printed.contains("demo / demo-password"), "{printed}");
    assert!(printed.contains(shared::demo::DEVICE_APP_ID), "{printed}");
    (running, url)
}

async fn device_authorization_works(url: &str) {
    let response = reqwest::Client::new()
        .post(format!("{url}/{}/as/device_authorization", shared::demo::ENVIRONMENT_ID))
        .form(&[("client_id", shared::demo::DEVICE_APP_ID), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let uri = body["verification_uri"].as_str().unwrap();
    assert!(uri.starts_with(url), "links use the address actually bound: {uri} vs {url}");
}

#[tokio::test]
async fn runs_on_the_embedded_store() {
    let (_server, url) = start(&[]);
    device_authorization_works(&url).await;
}

#[tokio::test]
async fn runs_on_dynamodb() {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT_URL").expect(
        "DYNAMODB_ENDPOINT_URL is not set: run the README's test command, which starts a DynamoDB-compatible server",
    );
    let table = format!("local-server-{}", std::process::id());
    let (_server, url) = start(&["--dynamodb-endpoint", &endpoint, "--table", &table]);
    device_authorization_works(&url).await;
}

#[test]
fn bad_arguments_explain_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_local-server")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: local-server"));
}

#[test]
fn generate_keys_prints_usable_secrets() {
    let out = Command::new(env!("CARGO_BIN_EXE_generate-keys")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let value = |name: &str| {
        let start = text.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &text[start..];
        match rest.strip_prefix('"') {
            Some(quoted) => quoted[..quoted.find('"').unwrap()].to_owned(),
            None => rest[..rest.find('\n').unwrap()].to_owned(),
        }
    };
    let settings = shared::Settings::from_lookup(|name| match name {
        "HASH_KEY" | "ES256_PRIVATE_KEY" | "RS256_PRIVATE_KEY" => Some(value(name)),
        _ => None,
    })
    .expect("the printed secrets are valid settings");
    let (es, rs) = settings.signing_keys.unwrap();
    shared::tokens::Signer::from_pem(&es, &rs).expect("the printed keys load");
    assert_eq!(settings.hash_key.unwrap().len(), 32);
}
