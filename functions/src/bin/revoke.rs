//! Lambda function for `Endpoint::Revoke` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Revoke, shared::endpoints::revoke::handle);
