//! Lambda function for `Endpoint::Resume` (its routes are in `shared::routes::ROUTES`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::run(shared::routes::Endpoint::Resume).await
}
