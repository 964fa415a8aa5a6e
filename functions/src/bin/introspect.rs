//! Lambda function for `Endpoint::Introspect` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Introspect, shared::endpoints::introspect::handle);
