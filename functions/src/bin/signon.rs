//! Lambda function for `Endpoint::Signon` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Signon, shared::endpoints::signon::handle);
