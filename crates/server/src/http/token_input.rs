//! The body of a mailed link's `POST` (the "Not you?" link, the address-change revert link):
//! `{"token"}` as JSON from API clients, or the form of the link page's button
//! (`application/x-www-form-urlencoded`). Any other media type is 415, a body over 16 KiB 413,
//! as for every endpoint.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use serde::Deserialize;

use crate::http::json_body::{ApiJson, MAX_BODY_BYTES, body_timeout, read_body, too_large};
use crate::http::problem::ApiError;

/// The JSON body: the OpenAPI document names it per endpoint (`AlertRevokeBody`,
/// `EmailRevertBody`), all of this shape.
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
#[derive(Deserialize)]
struct TokenJson {
    token: String,
}

/// The submitted token, and whether it came from the HTML form (which gets an HTML answer).
// No `Debug`: it carries a secret, and a derived `Debug` would print it.
pub struct TokenInput {
    /// The token as sent (not yet checked).
    pub token: String,
    /// True for a form submission.
    pub form: bool,
}

const FORM: &str = "application/x-www-form-urlencoded";

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM))
}

/// 415 naming both accepted media types.
fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "The request body must be JSON (application/json) or a form (application/x-www-form-urlencoded).",
    )
}

/// The `token` field of a form body; the other fields are ignored.
///
/// # Errors
/// `VALIDATION_ERROR` for a body that is not a form, or has no `token`.
pub fn token_of_form(body: &[u8]) -> Result<String, ApiError> {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| ApiError::field("body", "is not a valid form"))?;
    fields
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value)
        .ok_or_else(|| ApiError::field("token", "is required"))
}

impl FromRequest for TokenInput {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !is_form(req) {
            let json = ApiJson::<TokenJson>::from_request(req, payload);
            return Box::pin(async move {
                match json.await {
                    Ok(ApiJson(body)) => Ok(Self { token: body.token, form: false }),
                    Err(e) if e.code() == "UNSUPPORTED_MEDIA_TYPE" => Err(unsupported_media_type()),
                    Err(e) => Err(e),
                }
            });
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let timeout = body_timeout(req);
        let payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let body = read_body(payload, timeout).await?;
            Ok(Self { token: token_of_form(&body)?, form: true })
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(token_of_form(b"token=a%2Bb-_c&x=1").unwrap(), "a+b-_c");
        assert_eq!(token_of_form(b"x=1").unwrap_err().code(), "VALIDATION_ERROR");
        assert_eq!(token_of_form(b"token=").unwrap(), "");
    }

    #[test]
    fn only_the_form_media_type_is_a_form() {
        let form =
            |ct: &str| is_form(&TestRequest::default().insert_header((header::CONTENT_TYPE, ct)).to_http_request());
        assert!(form("application/x-www-form-urlencoded"));
        assert!(form("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(!form("application/json"));
        assert!(!form("multipart/form-data; boundary=x"));
        assert!(!is_form(&TestRequest::default().to_http_request()));
    }
}
