//! Request bodies into commands: the JSON extractor's parser over every body type, then the
//! domain parsing the use cases apply to the fields.

use portcullis_domain::model::{
    Email, FactorName, NewPassword, OneTimeCode, Password, PasswordPolicy, RecoveryCode, Role, UserName,
};
use portcullis_domain::parse_picture_url;
use portcullis_domain::{RegisterUser, SecondFactor};
use portcullis_server::http::dto::{self, opaque_token};
use portcullis_server::http::json_body::parse_json;
use portcullis_server::http::problem::ApiError;

/// The body types, in the order the first input byte selects them.
pub(crate) const BODIES: usize = 28;

/// What a passkey response says about itself, read by the server's own engine before
/// anything is verified: it must refuse, never panic, whatever the JSON.
fn passkey_claims(credential: &serde_json::Value) {
    use portcullis_domain::ports::PasskeyCeremonies;
    thread_local! {
        static RP: portcullis_webauthn::WebauthnCeremonies = portcullis_webauthn::WebauthnCeremonies::new(
            &portcullis_webauthn::RelyingParty {
                id: "localhost".into(),
                name: "Fuzz".into(),
                origins: vec!["http://localhost:8080".into()],
            },
        )
        .expect("a valid relying party");
    }
    RP.with(|rp| {
        let _ = rp.claims(credential);
    });
}

/// A target URL as registration checks it (form, then the default policy: https and no
/// private address literal); what passes is an absolute https URL whose audited form has no
/// query.
fn webhook_target(text: &str) {
    use portcullis_domain::model::{TargetPolicy, WebhookUrl};
    if let Ok(url) = WebhookUrl::parse(text.trim())
        && TargetPolicy::default().check_url(&url).is_ok()
    {
        assert!(url.is_https() && !url.host().is_empty(), "{url}");
        let audited = url.redacted();
        if let Some((_, query)) = url.as_str().split_once('?')
            && !query.is_empty()
        {
            assert!(!audited.contains(&format!("?{query}")), "the query reached the audited form: {audited}");
        }
    }
}

/// A subscription pattern; what parses matches what it says.
fn webhook_pattern(text: &str) {
    if let Ok(pattern) = portcullis_domain::model::EventPattern::parse(text) {
        assert_eq!(pattern.as_str(), text);
        match pattern.prefix() {
            Some(prefix) => assert!(pattern.matches(&format!("{prefix}x"))),
            None => assert!(pattern.matches(text)),
        }
    }
}

/// Parses `data[1..]` as the body type `data[0]` selects. Properties: no panic; only a JSON
/// object, and nothing after it, is accepted; a refused body is a 400 `VALIDATION_ERROR`
/// problem naming at least one field, never `?`.
pub fn request_bodies(data: &[u8]) {
    let Some((&selector, json)) = data.split_first() else { return };
    let policy = PasswordPolicy::default();
    let outcome: Result<(), ApiError> = match usize::from(selector) % BODIES {
        0 => parse_json::<dto::RegisterBody>(json).map(|b| {
            let _ = RegisterUser::parse(&b.name, &b.email, &b.password, policy);
        }),
        1 => parse_json::<dto::VerifyEmailBody>(json).map(|b| {
            let _ = (Email::parse(&b.email), OneTimeCode::parse(&b.code));
        }),
        2 => parse_json::<dto::ResendBody>(json).map(|b| {
            let _ = Email::parse(&b.email);
        }),
        3 => parse_json::<dto::LoginBody>(json).map(|b| {
            let _ = (Email::parse(&b.email), Password::new(&b.password));
        }),
        4 => parse_json::<dto::SignInLogBody>(json).map(drop),
        5 => parse_json::<dto::RefreshBody>(json).map(|b| {
            let _ = opaque_token("refresh_token", &b.refresh_token);
        }),
        6 => parse_json::<dto::AlertRevokeBody>(json).map(|b| {
            let _ = opaque_token("token", &b.token);
        }),
        7 => parse_json::<dto::ForgotPasswordBody>(json).map(|b| {
            let _ = Email::parse(&b.email);
        }),
        8 => parse_json::<dto::ResetPasswordBody>(json).map(|b| {
            let email = Email::parse(&b.email).ok();
            let _ = (OneTimeCode::parse(&b.code), NewPassword::parse(&b.new_password, email.as_ref(), policy));
        }),
        9 => parse_json::<dto::ChangePasswordBody>(json).map(|b| {
            let _ = (Password::new(&b.current_password), NewPassword::parse(&b.new_password, None, policy));
        }),
        10 => parse_json::<dto::ConfirmPasswordBody>(json).map(|b| {
            let _ = Password::new(&b.password);
        }),
        11 => parse_json::<dto::UpdateProfileBody>(json).map(|b| {
            let _ = b.name.as_deref().map(UserName::parse);
            let _ = b.profile_picture.flatten().as_deref().map(parse_picture_url);
        }),
        12 => parse_json::<dto::SetStatusBody>(json).map(drop),
        13 => parse_json::<dto::SetRolesBody>(json).map(|b| {
            let _: Vec<Option<Role>> = b.roles.iter().map(|r| Role::parse(r)).collect();
        }),
        14 => parse_json::<dto::MfaVerifyBody>(json).map(|b| {
            let _ = (opaque_token("mfa_token", &b.mfa_token), SecondFactor::parse(&b.factor));
            let code = b.code.as_deref().unwrap_or("");
            let _ = (OneTimeCode::parse(code), RecoveryCode::parse(code));
            let _ = b.credential.as_ref().map(passkey_claims);
        }),
        15 => parse_json::<dto::TotpEnrolBody>(json).map(|b| {
            let _ = (Password::new(&b.password), b.name.as_deref().map(FactorName::parse));
        }),
        16 => parse_json::<dto::ConfirmTotpBody>(json).map(|b| {
            let _ = OneTimeCode::parse(&b.code);
        }),
        17 => parse_json::<dto::PasskeyOptionsBody>(json).map(|b| {
            let _ = Password::new(&b.password);
        }),
        18 => parse_json::<dto::RegisterPasskeyBody>(json).map(|b| {
            let _ = b.name.as_deref().map(FactorName::parse);
            passkey_claims(&b.credential);
        }),
        19 => parse_json::<dto::PasskeySignInOptionsBody>(json).map(|b| {
            let _ = b.email.as_deref().map(Email::parse);
        }),
        20 => parse_json::<dto::CreateWebhookBody>(json).map(|b| {
            webhook_target(&b.url);
            b.events.iter().for_each(|e| webhook_pattern(e));
        }),
        21 => parse_json::<dto::PatchWebhookBody>(json).map(|b| {
            b.url.as_deref().map(webhook_target);
            b.events.iter().flatten().for_each(|e| webhook_pattern(e));
        }),
        23 => parse_json::<dto::SignInCodeBody>(json).map(|b| {
            let _ = Email::parse(&b.email);
        }),
        24 => parse_json::<dto::CodeLoginBody>(json).map(|b| {
            let _ = (Email::parse(&b.email), OneTimeCode::parse(&b.code));
        }),
        25 => parse_json::<dto::ChangeEmailBody>(json).map(|b| {
            let _ = (Password::new(&b.password), Email::parse(&b.new_email));
        }),
        26 => parse_json::<dto::ConfirmEmailChangeBody>(json).map(|b| {
            let _ = OneTimeCode::parse(&b.code);
        }),
        27 => parse_json::<dto::EmailRevertBody>(json).map(|b| {
            let _ = opaque_token("token", &b.token);
        }),
        _ => parse_json::<dto::PasskeyLoginBody>(json).map(|b| passkey_claims(&b.credential)),
    };
    if outcome.is_ok() {
        let first = json.iter().find(|b| !b.is_ascii_whitespace());
        assert_eq!(first, Some(&b'{'), "a body that is not a JSON object was accepted");
        // The whole input is that one object: a reader of the whole body (a proxy, a WAF)
        // sees the same request as the server.
        let whole = serde_json::from_slice::<serde_json::Value>(json);
        assert!(whole.is_ok_and(|v| v.is_object()), "a body with data after the object was accepted");
    }
    if let Err(e) = outcome {
        assert_eq!(e.code(), "VALIDATION_ERROR", "{e}");
        let body: serde_json::Value = serde_json::from_str(&e.body()).expect("the problem body is JSON");
        assert_eq!(body["status"], 400);
        let fields = body["errors"].as_array().expect("field errors");
        assert!(
            fields.iter().all(|f| f["field"].as_str().is_some_and(|s| !s.is_empty() && !s.contains('?'))),
            "{body}"
        );
    }
}
