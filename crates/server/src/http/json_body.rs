//! `ApiJson<T>`: the JSON body extractor of every endpoint. Unlike actix's `Json`, it answers
//! in the contract's terms: 413 over 16 KiB, 415 for another media type, and 400
//! `VALIDATION_ERROR` naming the field for malformed JSON, wrong types, unknown enum values
//! and missing fields, without ever echoing the submitted value (it may be a password).
//!
//! actix runs a handler's extractors together and answers the first that fails, and a body
//! error is known at once while the bearer check waits for the store. So handlers behind a
//! bearer token take `Result<ApiJson<T>, ApiError>` and read it only after the caller is
//! authenticated (and, for admin routes, authorised): 401 and 403 come before 400 and 415.

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// 408 `REQUEST_TIMEOUT`: the body did not arrive within `server.request_timeout_secs`. The
/// rest of the body is never read, so actix closes the connection after this answer.
pub fn request_timeout() -> ApiError {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", "The request body did not arrive in time.")
}

/// How long `req`'s body may take to arrive ([`super::HttpOptions::body_timeout`]).
pub fn body_timeout(req: &HttpRequest) -> Duration {
    req.app_data::<web::Data<super::HttpOptions>>()
        .map_or_else(|| super::HttpOptions::default().body_timeout, |o| o.body_timeout)
}

/// Reads a whole body of at most [`MAX_BODY_BYTES`], within `timeout`: a client sending one
/// byte a second holds a connection for `timeout`, not for the 16 KiB.
///
/// # Errors
/// 413 over the limit, 408 past the deadline, 400 when the connection fails.
pub async fn read_body(mut payload: Payload, timeout: Duration) -> Result<BytesMut, ApiError> {
    let read = async move {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ApiError::field("body", "could not be read"))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    actix_web::rt::time::timeout(timeout, read).await.unwrap_or_else(|_| Err(request_timeout()))
}

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// 413 `PAYLOAD_TOO_LARGE`.
pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "The request body exceeds 16 KiB.")
}

/// 415 `UNSUPPORTED_MEDIA_TYPE`.
pub fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "The request body must be JSON (Content-Type: application/json).",
    )
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let json = is_json(req);
        let timeout = body_timeout(req);
        let payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            if !json {
                return Err(unsupported_media_type());
            }
            let body = read_body(payload, timeout).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Deserialises `bytes`, which must hold a JSON object (as every body of the API is), turning
/// a failure into a field-naming 400.
///
/// # Errors
/// `VALIDATION_ERROR` with the offending field (`body` when it is not an object).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derived structs also read a JSON array, field by field in order: `["x", null]`
    // would pass for `{"name": "x", "profile_picture": null}`. Only an object is a body.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    // JSON is UTF-8 (RFC 8259 §8.1). serde_json checks the strings it reads, but skips an
    // unknown field's value unchecked: such a body would pass here and fail a stricter
    // reader in front of us. Check the whole body (at most 16 KiB) first.
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::field("body", "is not valid UTF-8"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        let (field, message) = describe(&path, &message, inner.classify());
        ApiError::field(&field, message)
    })?;
    // A JSON text is one value (RFC 8259 §2). Whatever follows it (a second object, a stray
    // brace, anything but whitespace) would be read by a proxy or firewall that parses the
    // whole body, and ignored here: two readers, two meanings. Refuse it.
    de.end().map_err(|_| ApiError::field("body", "must hold one JSON object and nothing after it"))?;
    Ok(value)
}

/// Field name and a value-free message for a serde_json error.
fn describe(path: &str, message: &str, category: serde_json::error::Category) -> (String, String) {
    use serde_json::error::Category;
    // serde_path_to_error says `?` where the parser stopped before it knew the field.
    let root = path.is_empty() || path == "." || path.contains('?');
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("body");
        let field = if root { name.to_owned() } else { format!("{path}.{name}") };
        return (field, "is required".to_owned());
    }
    // Malformed JSON is a fault of the body as a whole, wherever the parser noticed it.
    let syntax = matches!(category, Category::Syntax | Category::Eof);
    let field = if root || syntax { "body".to_owned() } else { path.to_owned() };
    let text = match category {
        Category::Syntax | Category::Eof => "is not valid JSON".to_owned(),
        Category::Io => "could not be read".to_owned(),
        Category::Data => match message.split_once(", expected ") {
            // "invalid type: string \"x\", expected a boolean at line 1 column 9"
            Some((_, expected)) => format!("must be {}", strip_position(expected)),
            None if message.starts_with("unknown field") => "is not a known field".to_owned(),
            None => "has an invalid value".to_owned(),
        },
    };
    (field, text)
}

fn strip_position(s: &str) -> &str {
    s.rsplit_once(" at line ").map_or(s, |(head, _)| head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        password: String,
        #[serde(default)]
        remember_me: bool,
        kind: Option<Kind>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Login,
    }

    fn field_of(e: &ApiError) -> String {
        format!("{e:?}")
    }

    #[test]
    fn names_the_field_and_never_echoes_values() {
        let e = parse_json::<Body>(br#"{"email":"a@b.co","password":12345678901}"#).unwrap_err();
        let dbg = field_of(&e);
        assert!(dbg.contains("password") && dbg.contains("must be a string"), "{dbg}");
        assert!(!dbg.contains("12345678901"), "{dbg}");

        let e = parse_json::<Body>(br#"{"email":"a@b.co"}"#).unwrap_err();
        assert!(field_of(&e).contains("field: \"password\""), "{e:?}");

        let e = parse_json::<Body>(br#"{"email":"a@b.co","password":"secret-value","kind":"nope"}"#).unwrap_err();
        let dbg = field_of(&e);
        assert!(dbg.contains("field: \"kind\"") && !dbg.contains("nope"), "{dbg}");

        let e = parse_json::<Body>(br#"{"email": "#).unwrap_err();
        assert!(field_of(&e).contains("not valid JSON"));
        assert_eq!(e.code(), "VALIDATION_ERROR");
    }

    #[test]
    fn nothing_may_follow_the_object() {
        for bad in [
            &br#"{"email":"a@b.co","password":"p"}}"#[..],
            br#"{"email":"a@b.co","password":"p"} trailing-garbage"#,
            br#"{"email":"a@b.co","password":"p"}{"x":1}"#,
            br#"{"email":"a@b.co","password":"p"} 1"#,
        ] {
            let e = parse_json::<Body>(bad).unwrap_err();
            let dbg = field_of(&e);
            assert!(dbg.contains("field: \"body\"") && dbg.contains("nothing after it"), "{dbg}");
        }
        assert!(parse_json::<Body>(b"{\"email\":\"a@b.co\",\"password\":\"p\"} \r\n\t ").is_ok(), "whitespace may");
    }

    #[test]
    fn a_body_is_utf_8_throughout() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Status {
            status: String,
        }
        // Found by the fuzzer: invalid bytes in an unknown field, which serde skips unread.
        let e = parse_json::<Status>(b"{\"status\":\"suspended\",\"other\":\"s\xd7\xd7ptam\"}").unwrap_err();
        let dbg = field_of(&e);
        assert!(dbg.contains("field: \"body\"") && dbg.contains("UTF-8"), "{dbg}");
        assert!(parse_json::<Status>("{\"status\":\"suspendu\",\"note\":\"déjà vu\"}".as_bytes()).is_ok());
    }

    #[test]
    fn syntax_errors_name_the_body() {
        for bad in [&br#"{"email": "#[..], br#"{"email":"a@b.co",}"#, br#"{"email" "a"}"#, br#"{"email":tru}"#, b"{"] {
            let e = parse_json::<Body>(bad).unwrap_err();
            let dbg = field_of(&e);
            assert!(dbg.contains("field: \"body\"") && dbg.contains("not valid JSON"), "{dbg}");
            assert!(!dbg.contains("\"?\""), "{dbg}");
        }
    }

    #[test]
    fn only_an_object_is_a_body() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Profile {
            name: Option<String>,
            picture: Option<String>,
        }
        assert!(parse_json::<Profile>(br#" {"name": "Ada"}"#).is_ok());
        for bad in [&br#"["Ada", null]"#[..], b"[null, null]", b"\"Ada\"", b"42", b"null", b"  [] "] {
            let e = parse_json::<Profile>(bad).unwrap_err();
            let dbg = field_of(&e);
            assert!(dbg.contains("field: \"body\"") && dbg.contains("must be a JSON object"), "{dbg}");
        }
        let e = parse_json::<Profile>(b"").unwrap_err();
        assert!(field_of(&e).contains("not valid JSON"), "empty stays a syntax error: {e:?}");
    }
}
