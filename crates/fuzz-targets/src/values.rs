//! Value objects from outside text: email, display name, passwords, one-time codes,
//! timestamps and the names of roles and audit actions.

use portcullis_domain::model::{
    AuditAction, Email, FactorName, NewPassword, OneTimeCode, Password, PasswordPolicy, RecoveryCode, Role, Timestamp,
    UserName,
};

/// Parses the input as each value object. Properties: no panic; what parses is normalised
/// and parses again to itself.
pub fn value_objects(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    if let Ok(email) = Email::parse(text) {
        let again = Email::parse(email.as_str()).expect("a normalised address parses again");
        assert_eq!(again.as_str(), email.as_str());
        assert_eq!(email.as_str(), email.as_str().trim().to_lowercase(), "stored trimmed and lower-cased");
        assert!(email.as_str().len() <= 254);
    }
    if let Ok(name) = UserName::parse(text) {
        assert_eq!(UserName::parse(name.as_str()).expect("a name parses again").as_str(), name.as_str());
        assert!(!name.as_str().chars().any(char::is_control));
    }
    let password = Password::new(text);
    assert_eq!(Password::new(password.expose()).expose(), password.expose(), "NFKC is idempotent");
    let email = Email::parse(text).ok();
    if NewPassword::parse(text, email.as_ref(), PasswordPolicy::new(8)).is_ok() {
        let chars = password.expose().chars().count();
        assert!((8..=128).contains(&chars), "{chars} characters accepted");
        assert!(email.is_none_or(|e| password.expose().trim().to_lowercase() != e.as_str()), "the email accepted");
    }
    if let Ok(code) = OneTimeCode::parse(text) {
        assert!(code.expose().len() == 6 && code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(at) = Timestamp::parse_rfc3339(text) {
        assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()).ok(), Some(at), "{}", at.to_rfc3339());
    }
    if let Some(role) = Role::parse(text) {
        assert_eq!(role.as_str(), text);
    }
    if let Some(action) = AuditAction::parse(text) {
        assert_eq!(action.as_str(), text);
    }
    if let Ok(code) = RecoveryCode::parse(text) {
        // What a user is shown parses back to the same code.
        let shown = code.display();
        let again = RecoveryCode::parse(&shown).expect("a shown code parses again");
        assert_eq!(again.expose(), code.expose());
        assert_eq!(shown.len(), 14, "{}", shown.as_str());
    }
    if let Ok(name) = FactorName::parse(text) {
        assert_eq!(FactorName::parse(name.as_str()).expect("a name parses again").as_str(), name.as_str());
        assert!(!name.as_str().chars().any(char::is_control) && name.as_str().chars().count() <= 64);
    }
}
