//! `PATCH /api/v1/users/me`

use actix_web::{HttpResponse, web};
use portcullis_domain::model::UserName;
use portcullis_domain::{FieldError, ProfileUpdate, parse_picture_url};

use crate::http::auth::{Authenticated, Ctx};
use crate::http::dto::{MeResponse, UpdateProfileBody, UserView};
use crate::http::json_body::ApiJson;
use crate::http::problem::ApiError;
use crate::wiring::Service;

/// Checks every given field, reporting all bad ones at once.
///
/// # Errors
/// `VALIDATION_ERROR` naming each refused field.
pub fn parse_body(body: UpdateProfileBody) -> Result<ProfileUpdate, ApiError> {
    let mut errors = Vec::new();
    let name = match body.name.as_deref().map(UserName::parse).transpose() {
        Ok(name) => name,
        Err(e) => {
            errors.push(FieldError::new("name", e));
            None
        }
    };
    let profile_picture =
        match body.profile_picture.map(|p| p.as_deref().map(parse_picture_url).transpose()).transpose() {
            Ok(picture) => picture,
            Err(e) => {
                errors.push(FieldError::new("profile_picture", e));
                None
            }
        };
    if errors.is_empty() { Ok(ProfileUpdate { name, profile_picture }) } else { Err(ApiError::validation(errors)) }
}

/// Changes the caller's name and/or picture (`null` removes the picture); absent fields
/// stay as they are. Answers the updated account.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "account", request_body = UpdateProfileBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 400, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "VALIDATION_ERROR naming the field"),
        (status = 401, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "UNAUTHORIZED"),
        (status = 503, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "SERVICE_UNAVAILABLE"),
    ))]
pub async fn update_me(
    service: web::Data<Service>,
    Authenticated(principal): Authenticated,
    ctx: Ctx,
    body: Result<ApiJson<UpdateProfileBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    // Read only now: a bad body must not answer 400/415 before the token is checked.
    let ApiJson(body) = body?;
    let update = parse_body(body)?;
    let user = service.update_profile(&principal, update, &ctx.0).await?;
    let user = UserView::new(&user, principal.location.as_ref());
    Ok(HttpResponse::Ok().json(MeResponse { success: true, data: user }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> UpdateProfileBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn absent_null_and_given_fields() {
        assert_eq!(parse_body(body("{}")).unwrap(), ProfileUpdate::default());
        assert_eq!(parse_body(body(r#"{"profile_picture": null}"#)).unwrap().profile_picture, Some(None));
        let update = parse_body(body(r#"{"name": " Ana ", "profile_picture": "https://x.io/a.png"}"#)).unwrap();
        assert_eq!(update.name.unwrap().as_str(), "Ana");
        assert_eq!(update.profile_picture, Some(Some("https://x.io/a.png".to_owned())));
    }

    #[test]
    fn bad_fields_are_refused() {
        for json in [r#"{"name": ""}"#, r#"{"profile_picture": "ftp://x.io"}"#, r#"{"profile_picture": ""}"#] {
            assert_eq!(parse_body(body(json)).unwrap_err().code(), "VALIDATION_ERROR", "{json}");
        }
    }
}
