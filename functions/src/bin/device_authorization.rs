//! Lambda function for `Endpoint::DeviceAuthorization` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(DeviceAuthorization, shared::endpoints::device_authorization::handle);
