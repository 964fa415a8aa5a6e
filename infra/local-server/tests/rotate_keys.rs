//! The README's key rotation commands work: `rotate-keys SECRET stage` then `promote` against a
//! secret on the test server (moto), each printing the version to deploy.

use std::process::Command;

use shared::secrets::SecretsManagerSecret;

fn rotate(endpoint: &str, secret: &str, step: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotate-keys"))
        .args([secret, step, "--endpoint-url", endpoint])
        .output()
        .expect("run rotate-keys");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn stage_then_promote() {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT_URL")
        .expect("DYNAMODB_ENDPOINT_URL is not set: run the README's test command, which starts moto");
    let client = aws_sdk_secretsmanager::Client::new(&shared::aws::sdk_config(Some(&endpoint)).unwrap());
    let name = format!("ping-as-rotate-{}", uuid::Uuid::new_v4());
    let hash_key = "h".repeat(64);
    client.create_secret().name(&name).secret_string(format!(r#"{{"hash_key":"{hash_key}"}}"#)).send().await.unwrap();

    let (ok, out) = rotate(&endpoint, &name, "stage");
    assert!(!ok && out.contains("start a function first"), "{out}");
    let secret = SecretsManagerSecret::connect(&name, Some(&endpoint)).unwrap();
    let (_, first) = secret.server_document().await.unwrap();

    let (ok, out) = rotate(&endpoint, &name, "stage");
    assert!(ok, "{out}");
    let (version, staged) = secret.current().await.unwrap();
    assert!(out.contains(&format!("ServerSecretVersion={version}")), "{out}");
    assert!(staged.signing == first.signing && staged.next.is_some());

    let (ok, out) = rotate(&endpoint, &name, "promote");
    assert!(ok, "{out}");
    let (_, promoted) = secret.current().await.unwrap();
    assert!(promoted.signing == staged.next && promoted.previous == first.signing && promoted.next.is_none());
    assert_eq!(promoted.hash_key, hash_key, "rotation never touches the hash key");

    let (ok, out) = rotate(&endpoint, &name, "promote");
    assert!(!ok && out.contains("no keys are staged"), "{out}");
    let (ok, out) = rotate(&endpoint, &name, "retire");
    assert!(!ok && out.contains("usage"), "{out}");
}
