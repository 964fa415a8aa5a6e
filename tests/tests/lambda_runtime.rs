//! A Lambda binary against a minimal Lambda runtime API on loopback, for the cases `cargo lambda
//! watch` cannot stage: a broken configuration (the function answers 503 and logs why, instead of
//! failing its start into API Gateway's bare 500), an API Gateway stage in the raw path, and
//! API Gateway's mutual TLS (`requestContext.authentication.clientCert`) authenticating a
//! `TLS_CLIENT_AUTH` client at the token function on DynamoDB.
//! Needs the debug binaries of `functions`, which the README's test command builds first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use blackbox::mtls::{device_subject, example_ca, issue, params};
use blackbox::ENV;
use serde_json::{json, Value};
use shared::model::{Application, GrantType, TokenEndpointAuthMethod};
use shared::store::dynamodb::DynamoStore;
use shared::store::DirectoryStore;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn function_binary(name: &str) -> PathBuf {
    // tests run from target/debug/deps; the functions' binaries are in target/debug.
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p functions`", bin.display());
    bin
}

/// An API Gateway HTTP API (payload 2.0) event for `GET raw_path` on `stage`.
fn event(stage: &str, raw_path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": "r-1", "routeKey": "$default", "stage": stage,
            "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1795255200000u64,
            "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"}
        },
        "isBase64Encoded": false
    })
}

/// The same event as a form POST whose body API Gateway delivered base64-encoded.
fn base64_form_post(raw_path: &str, form: &str) -> Value {
    use base64::Engine;
    let mut event = event("$default", raw_path);
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(form));
    event["isBase64Encoded"] = json!(true);
    event
}

/// Runs `name` with `env`, hands it `event` through the runtime API and returns its response.
fn invoke(name: &str, env: &[(&str, &str)], event: Value) -> (Value, String) {
    let api = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = api.local_addr().unwrap().port();
    let mut command = blackbox::lambda_command(&function_binary(name), name, port);
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = Running(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for connection in api.incoming() {
            let (tx, event) = (tx.clone(), event.clone());
            std::thread::spawn(move || serve(connection.unwrap(), &event, &tx));
        }
    });
    let response = rx.recv_timeout(Duration::from_secs(60)).expect("the function answers the event");
    drop(child);
    let mut logs = String::new();
    BufReader::new(stdout).read_to_string(&mut logs).unwrap();
    (serde_json::from_str(&response).unwrap(), logs)
}

/// One connection of the runtime API: the first `next` gets the event, a posted response goes to
/// `tx`, later `next` calls wait forever (the function is killed).
fn serve(stream: TcpStream, event: &Value, tx: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut served = false;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if request_line.contains("/invocation/next") {
            if served {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            served = true;
            let body = event.to_string();
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 30_000;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        } else {
            write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{{}}").unwrap();
            if request_line.contains("/invocation/req-1/response") {
                let _ = tx.send(String::from_utf8(body).unwrap());
            } else {
                let _ = tx.send(format!(r#"{{"unexpected": {:?}}}"#, request_line.trim()));
            }
        }
    }
}

#[test]
fn a_misconfigured_function_answers_503_and_logs_why() {
    let env = [("STORE", "dynamodb"), ("TABLE_NAME", "t"), ("PUBLIC_BASE_URL", "")];
    let (response, logs) = invoke("jwks", &env, event("$default", "/pf/JWKS"));
    assert_eq!(response["statusCode"], 503, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(!body.to_string().contains("PUBLIC_BASE_URL"), "the reason is for the operator, not the client");
    assert!(logs.contains("configuration error") && logs.contains("PUBLIC_BASE_URL is empty"), "{logs}");
}

#[test]
fn a_named_stage_in_the_raw_path_still_routes() {
    let env = [("STORE", "memory"), ("PUBLIC_BASE_URL", "https://auth.example.com")];
    let (response, _) = invoke("jwks", &env, event("prod", "/prod/pf/JWKS"));
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn a_base64_body_is_decoded_before_the_handler_reads_it() {
    let env = [("STORE", "memory"), ("PUBLIC_BASE_URL", "https://auth.example.com")];
    // Decoded, the form repeats a parameter (400 invalid_request, before any client is looked
    // at); left encoded, it would be one unknown name and no client (401 invalid_client).
    let form = "client_id=no-such-client&scope=openid&scope=email";
    let (response, _) = invoke("device_authorization", &env, base64_form_post("/as/device_authz.oauth2", form));
    assert_eq!(response["statusCode"], 400, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error_description"], "The parameter 'scope' must not be included more than once.");

    let mut undecoded = base64_form_post("/as/device_authz.oauth2", form);
    undecoded["isBase64Encoded"] = json!(false);
    let (response, _) = invoke("device_authorization", &env, undecoded);
    assert_eq!(response["statusCode"], 401, "the same bytes taken as text name no client: {response}");
}

/// The event with API Gateway's mutual-TLS block (PING-MGMT §11.1) holding `pem`.
fn with_client_cert(mut event: Value, pem: &str) -> Value {
    event["requestContext"]["authentication"] = json!({"clientCert": {
        "clientCertPem": pem, "subjectDN": "CN=device-1", "issuerDN": "CN=device-1", "serialNumber": "1",
        "validity": {"notBefore": "Aug 29 00:28:21 2020 GMT", "notAfter": "Aug  5 00:28:21 2120 GMT"}
    }});
    event
}

#[test]
fn a_malformed_gateway_client_certificate_is_ignored_with_a_warning_that_does_not_quote_it() {
    let env = [("STORE", "memory"), ("PUBLIC_BASE_URL", "https://auth.example.com")];
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "device-1");
    let good = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem();
    let (response, logs) = invoke("jwks", &env, with_client_cert(event("$default", "/pf/JWKS"), &good));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(!logs.contains("client certificate"), "a good certificate is no news: {logs}");

    let marker = "MIIBrokenButDistinctive";
    let broken = format!("-----BEGIN CERTIFICATE-----\n{marker}\n-----END CERTIFICATE-----\n");
    let (response, logs) = invoke("jwks", &env, with_client_cert(event("$default", "/pf/JWKS"), &broken));
    assert_eq!(response["statusCode"], 200, "the request goes on without a certificate: {response}");
    assert!(logs.contains("client certificate from API Gateway does not parse"), "{logs}");
    assert!(!logs.contains(marker), "the PEM is never logged: {logs}");
}

/// A form POST to `raw_path` (the body as text, as API Gateway delivers a form it does not
/// encode).
fn form_post(raw_path: &str, form: &str) -> Value {
    let mut event = event("$default", raw_path);
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    event["body"] = json!(form);
    event
}

/// The token function on DynamoDB (a fresh table and server secret on the test server, as
/// template.yaml configures it) with a `TLS_CLIENT_AUTH` application written to the table: the
/// certificate API Gateway verified and passed in `clientCertPem` authenticates it in both
/// dialects; a certificate of another subject from the same CA, or no `clientCert`, is 401
/// invalid_client.
#[tokio::test]
async fn a_gateway_client_certificate_authenticates_a_tls_client_auth_application() {
    let endpoint = blackbox::dynamodb_endpoint();
    let table = format!("lambda-mtls-{}", uuid::Uuid::new_v4());
    let store = DynamoStore::new(DynamoStore::client(Some(&endpoint)).unwrap(), &table);
    store.create_table().await.expect("create a table on the test DynamoDB server");
    let client_id = uuid::Uuid::new_v4().to_string();
    let mut application = Application::new(ENV, &client_id, "Gateway device");
    application.grant_types = vec![GrantType::ClientCredentials];
    application.token_endpoint_auth_method = TokenEndpointAuthMethod::TlsClientAuth;
    application.tls_client_auth_subject_dn = Some("CN=device-1,O=Example".into());
    application.tls_client_auth_issuer_dn = Some("CN=Example CA,O=Example".into());
    store.put_application(&application).await.expect("write the application");
    let secret = blackbox::fresh_server_secret().await;
    let env = [
        ("STORE", "dynamodb"),
        ("TABLE_NAME", table.as_str()),
        ("DYNAMODB_ENDPOINT_URL", endpoint.as_str()),
        ("SERVER_SECRET_ID", secret.as_str()),
        ("SECRETS_MANAGER_ENDPOINT_URL", endpoint.as_str()),
        ("PUBLIC_BASE_URL", "https://auth.example.com"),
    ];

    let example = example_ca();
    let device = issue(params(&device_subject()), &example);
    let other_device = [(rcgen::DnType::OrganizationName, "Example"), (rcgen::DnType::CommonName, "device-2")];
    let other = issue(params(&other_device), &example);
    let form = format!("grant_type=client_credentials&client_id={client_id}");
    let token_event = |path: &str, pem: Option<&str>| {
        let event = form_post(path, &form);
        match pem {
            Some(pem) => with_client_cert(event, pem),
            None => event,
        }
    };
    let body = |response: &Value| -> Value { serde_json::from_str(response["body"].as_str().unwrap()).unwrap() };

    let pingone = format!("/{ENV}/as/token");
    for path in [pingone.as_str(), "/as/token.oauth2"] {
        let (response, logs) = invoke("token", &env, token_event(path, Some(&device.pem())));
        assert_eq!(response["statusCode"], 200, "{path}: {response}\n{logs}");
        let tokens = body(&response);
        assert!(tokens["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{path}: {tokens}");
        assert_eq!(tokens["token_type"], "Bearer", "{path}: {tokens}");
    }
    for (case, pem) in [("another subject", Some(other.pem())), ("no clientCert", None)] {
        let (response, logs) = invoke("token", &env, token_event(&pingone, pem.as_deref()));
        assert_eq!(response["statusCode"], 401, "{case}: {response}\n{logs}");
        assert_eq!(body(&response)["error"], "invalid_client", "{case}: {response}");
    }
}
