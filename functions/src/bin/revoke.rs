//! Lambda function for `Endpoint::Revoke` (its routes are in `shared::routes::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::run(shared::routes::Endpoint::Revoke).await
}
