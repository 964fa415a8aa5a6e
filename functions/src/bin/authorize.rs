//! Lambda function for `Endpoint::Authorize` (its routes are in `shared::routes::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::run(shared::routes::Endpoint::Authorize).await
}
