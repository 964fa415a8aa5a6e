//! Lambda function for `Endpoint::Jwks` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Jwks, shared::endpoints::jwks::handle);
