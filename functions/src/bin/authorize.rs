//! Lambda function for `Endpoint::Authorize` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Authorize, shared::endpoints::authorize::handle);
