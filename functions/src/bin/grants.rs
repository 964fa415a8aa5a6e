//! Lambda function for `Endpoint::Grants` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Grants, shared::endpoints::grants::handle);
