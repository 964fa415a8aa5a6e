//! Lambda function for `Endpoint::Resume` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Resume, shared::endpoints::resume::handle);
