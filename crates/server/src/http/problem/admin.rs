//! Status and code of the administration errors (contract section 5).

use actix_web::http::StatusCode;
use portcullis_domain::{AdminError, FieldError};

use super::ApiError;

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "Your roles do not grant the permission this action needs.",
            ),
            AdminError::NotFound => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such user."),
            AdminError::NoSuchWebhook => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such webhook or delivery."),
            // Locking oneself out could leave nobody to undo it; another administrator can.
            AdminError::SelfTarget => Self {
                errors: vec![FieldError::new("id", "is your own account")],
                ..Self::new(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    "Administrators cannot suspend, deactivate or delete their own account, nor remove their own \
                     admin role. Ask another administrator.",
                )
            },
            AdminError::EmailTaken => Self::field("email", "is already registered"),
            AdminError::Invalid(errors) => Self::validation(errors),
            AdminError::Infra(e) => e.into(),
            other => Self::unmapped(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use super::*;

    #[test]
    fn statuses_and_codes() {
        for (e, status, code) in [
            (AdminError::Forbidden, 403, "FORBIDDEN"),
            (AdminError::NotFound, 404, "NOT_FOUND"),
            (AdminError::SelfTarget, 400, "VALIDATION_ERROR"),
            (AdminError::EmailTaken, 400, "VALIDATION_ERROR"),
            (AdminError::Invalid(vec![FieldError::new("reason", "too long")]), 400, "VALIDATION_ERROR"),
        ] {
            let api = ApiError::from(e);
            assert_eq!((api.status_code().as_u16(), api.code()), (status, code));
        }
        let self_target = ApiError::from(AdminError::SelfTarget);
        assert_eq!(self_target.errors, [FieldError::new("id", "is your own account")]);
        assert!(self_target.detail.contains("their own account"), "{}", self_target.detail);
    }
}
