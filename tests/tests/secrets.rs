//! Server secrets in Secrets Manager (moto): signing keys generated at first start, concurrent
//! cold starts converging on one key set, the two rotation steps, and the errors an operator sees.

use blackbox::{dynamodb_endpoint, fresh_secret, fresh_server_secret};
use shared::secrets::{server_keys, SecretsManagerSecret};
use shared::{App, Settings};

async fn secret(id: &str) -> SecretsManagerSecret {
    SecretsManagerSecret::connect(id, Some(&dynamodb_endpoint())).unwrap()
}

fn kids(jwks: serde_json::Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn concurrent_cold_starts_generate_one_key_set() {
    let id = fresh_server_secret().await;
    let (_, before) = secret(&id).await.current().await.unwrap();
    assert!(before.signing.is_none(), "the deploy stores only the hash key");

    let starts = (0..8).map(|_| {
        let id = id.clone();
        tokio::spawn(async move { secret(&id).await.server_document().await.unwrap().1 })
    });
    let documents = futures::future::join_all(starts).await;
    let (_, stored) = secret(&id).await.current().await.unwrap();
    let stored_keys = stored.signing.clone().expect("the first start stored signing keys");
    for doc in documents {
        assert!(doc.unwrap().signing == Some(stored_keys.clone()), "every start uses the stored keys");
    }
    assert_eq!(stored.hash_key, before.hash_key, "the generated hash key is kept");
}

#[tokio::test]
async fn an_app_on_the_secret_publishes_its_keys() {
    let id = fresh_server_secret().await;
    let endpoint = dynamodb_endpoint();
    let vars = [
        ("STORE", "dynamodb"),
        ("TABLE_NAME", "not-read-at-start"),
        ("DYNAMODB_ENDPOINT_URL", endpoint.as_str()),
        ("SERVER_SECRET_ID", id.as_str()),
        ("SECRETS_MANAGER_ENDPOINT_URL", endpoint.as_str()),
    ];
    let settings = Settings::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
    let app = App::from_settings(settings.clone()).await.unwrap();
    let (_, doc) = secret(&id).await.current().await.unwrap();
    assert_eq!(kids(app.signer.jwks()), kids(doc.keys().unwrap().1.jwks()));
    let again = App::from_settings(settings.clone()).await.unwrap();
    assert_eq!(kids(again.signer.jwks()), kids(app.signer.jwks()), "a second start reuses the keys");
    let token = app.signer.sign(shared::model::SigningAlg::ES256, "at+jwt", &serde_json::json!({"exp": 4102444800u64}));
    assert!(again.signer.verify(&token).is_some(), "instances verify each other's tokens");

    // After a rotation step, a deploy pins the version every function reads.
    let (first_version, _) = secret(&id).await.current().await.unwrap();
    secret(&id).await.stage().await.unwrap();
    assert_eq!(kids(App::from_settings(settings.clone()).await.unwrap().signer.jwks()).len(), 4);
    let pinned = Settings { server_secret_version: Some(first_version), ..settings };
    assert_eq!(kids(App::from_settings(pinned).await.unwrap().signer.jwks()), kids(app.signer.jwks()));
}

#[tokio::test]
async fn rotation_stages_then_promotes_and_racing_operators_converge() {
    let id = fresh_server_secret().await;
    let s = secret(&id).await;
    let (_, first) = s.server_document().await.unwrap();
    let first_kids = kids(first.keys().unwrap().1.jwks());

    let stage = |id: String| async move { secret(&id).await.stage().await };
    let (a, b) = tokio::join!(stage(id.clone()), stage(id.clone()));
    let (won, lost) = if a.is_ok() { (a, b) } else { (b, a) };
    let (_, staged) = won.expect("one operator stages keys");
    assert!(lost.expect_err("the other is refused").contains("already staged"));
    let staged_kids = kids(staged.keys().unwrap().1.jwks());
    assert_eq!(staged_kids[..2], first_kids[..], "staged keys are published, not used");

    let promote = |id: String| async move { secret(&id).await.promote().await };
    // Promotion is deterministic: racing operators write the same version, once.
    let (a, b) = tokio::join!(promote(id.clone()), promote(id.clone()));
    let ((version_a, promoted), (version_b, _)) = (a.unwrap(), b.unwrap());
    assert_eq!(version_a, version_b);
    let promoted_kids = kids(promoted.keys().unwrap().1.jwks());
    assert_eq!(promoted_kids[..2], staged_kids[2..], "the staged keys sign");
    assert_eq!(promoted_kids[2..], first_kids[..], "the replaced keys stay published");
    let (_, stored) = s.current().await.unwrap();
    assert_eq!(kids(stored.keys().unwrap().1.jwks()), promoted_kids);
}

#[tokio::test]
async fn a_missing_or_malformed_secret_stops_the_start_with_a_message() {
    let endpoint = dynamodb_endpoint();
    let vars = |id: &str| {
        let vars = [
            ("STORE", "dynamodb".to_owned()),
            ("TABLE_NAME", "t".to_owned()),
            ("SERVER_SECRET_ID", id.to_owned()),
            ("SECRETS_MANAGER_ENDPOINT_URL", endpoint.clone()),
        ];
        Settings::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap()
    };
    let missing = server_keys(&vars("no-such-secret"), false).await.err().unwrap();
    assert!(missing.contains("cannot read the server secret no-such-secret"), "{missing}");

    let name = fresh_secret(r#"{"password": "x"}"#).await;
    let malformed = server_keys(&vars(&name), false).await.err().unwrap();
    assert!(malformed.contains("hash_key"), "{malformed}");

    let no_secrets = Settings::from_lookup(|k| {
        (k == "STORE").then(|| "dynamodb".into()).or((k == "TABLE_NAME").then(|| "t".into()))
    })
    .unwrap();
    assert!(server_keys(&no_secrets, false).await.err().unwrap().contains("SERVER_SECRET_ID"));
}
