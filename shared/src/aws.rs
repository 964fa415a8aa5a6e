//! The AWS SDK configuration every client here starts from.
//!
//! Region and credentials come from the environment only: `AWS_REGION` (or `AWS_DEFAULT_REGION`)
//! and `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, which is how Lambda hands
//! a function its role. Leaving out `aws-config`'s provider chain (profiles, SSO, STS, IMDS)
//! keeps every function's zip about 0.3 MB smaller and its cold start free of file and network
//! probes. With a profile, export its credentials first:
//! `eval "$(aws configure export-credentials --format env)"`.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_types::SdkConfig;

/// Attempts per store request (the first and two retries), for throttling, 5xx, timeouts and
/// dropped connections; backoff 20 ms doubling to at most 200 ms, with jitter.
pub const MAX_ATTEMPTS: u32 = 3;
/// How long one attempt may take, and one request with its retries: a request that DynamoDB
/// (or Secrets Manager) does not answer fails in at most 5 s, well inside API Gateway's 30 s,
/// and the client gets 503 with `Retry-After`.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The retry policy every client here uses (set explicitly, not the SDK's defaults).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(200))
}

/// A local test server (moto) is slow under a test suite's load and does not make a resent
/// transaction a no-op as DynamoDB does, so there an attempt may take this long before it is
/// abandoned and resent.
pub const LOCAL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The timeouts every client here uses (set explicitly, not the SDK's defaults); `local` for a
/// loopback endpoint.
pub fn timeout_config(local: bool) -> TimeoutConfig {
    let (attempt, operation) =
        if local { (LOCAL_ATTEMPT_TIMEOUT, LOCAL_ATTEMPT_TIMEOUT * 2) } else { (ATTEMPT_TIMEOUT, OPERATION_TIMEOUT) };
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Credentials and region from `get` (the environment), pointed at `endpoint_url` if given: a
/// local AWS-compatible server such as moto, or a regional AWS endpoint. Loopback endpoints get
/// dummy credentials and `us-east-1` when none are set, since they check neither.
pub fn sdk_config(endpoint_url: Option<&str>) -> Result<SdkConfig, String> {
    config_from(endpoint_url, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn config_from(endpoint_url: Option<&str>, get: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let loopback = endpoint_url
        .is_some_and(|url| ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|l| url.starts_with(l)));
    let region = match get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
        Some(region) => region,
        None if loopback => "us-east-1".to_owned(),
        None => return Err("AWS_REGION is not set: name the AWS region (Lambda sets it for its functions)".into()),
    };
    let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Credentials::new(id, secret, get("AWS_SESSION_TOKEN"), None, "environment"),
        (None, None) if loopback => Credentials::new("local", "local", None, None, "local-endpoint"),
        _ => {
            return Err("AWS credentials are not set: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                        AWS_SESSION_TOKEN); from a profile: eval \"$(aws configure export-credentials --format env)\""
                .into())
        }
    };
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config(loopback))
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials));
    if let Some(url) = endpoint_url {
        config = config.endpoint_url(url);
    }
    Ok(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<&str>, vars: &[(&str, &str)]) -> Result<SdkConfig, String> {
        config_from(endpoint, |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn region_and_credentials_come_from_the_environment() {
        let lambda = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "s")];
        let c = config(None, &lambda).unwrap();
        assert_eq!(c.region().unwrap().as_ref(), "eu-west-1");
        assert!(c.credentials_provider().is_some());
        assert_eq!(c.retry_config().unwrap().max_attempts(), MAX_ATTEMPTS, "retries are set, not defaulted");
        assert_eq!(c.timeout_config().unwrap().operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(c.timeout_config().unwrap().operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        let local = config(Some("http://127.0.0.1:8000"), &[]).unwrap();
        assert_eq!(local.timeout_config().unwrap().operation_attempt_timeout(), Some(LOCAL_ATTEMPT_TIMEOUT));
        assert!(config(None, &lambda[1..]).unwrap_err().contains("AWS_REGION"));
        assert!(config(None, &lambda[..2]).unwrap_err().contains("export-credentials"));
    }

    #[test]
    fn loopback_endpoints_need_neither() {
        let c = config(Some("http://127.0.0.1:8000"), &[]).unwrap();
        assert_eq!(c.region().unwrap().as_ref(), "us-east-1");
        assert_eq!(c.endpoint_url(), Some("http://127.0.0.1:8000"));
        assert!(config(Some("https://dynamodb.eu-west-1.amazonaws.com"), &[]).is_err());
    }
}
