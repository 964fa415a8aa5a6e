//! Lambda function for `Endpoint::Qr` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Qr, shared::endpoints::qr::handle);
