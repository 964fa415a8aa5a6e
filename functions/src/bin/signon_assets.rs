//! Lambda function for `Endpoint::SignonAsset` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(SignonAsset, shared::endpoints::assets::handle);
