//! The AWS SDK configuration every client here starts from.

/// The standard AWS configuration chain (in Lambda: the function's role and region), pointed at
/// `endpoint_url` if given: a local AWS-compatible server such as moto, or a regional AWS endpoint.
/// Loopback endpoints get dummy credentials and `us-east-1` when the environment names none, since
/// they check neither.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|l| url.starts_with(l));
        if loopback && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "local-endpoint",
            ));
        }
        if loopback && std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    loader.load().await
}
