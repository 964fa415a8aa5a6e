//! Lambda function for `Endpoint::Signoff` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Signoff, shared::endpoints::signoff::handle);
