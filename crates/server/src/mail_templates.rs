//! `mailer.templates_dir`: the operator's mail templates, read and checked at start.

use std::path::Path;

use portcullis_domain::mail_templates::MailTemplates;

use crate::wiring::WiringError;

/// The built-in templates with every `*.j2` file of `dir` replacing the template of its
/// name. Other files (a README, say) and subdirectories are left alone.
///
/// # Errors
/// [`WiringError::Templates`] naming the directory or file: unreadable, not UTF-8, not a
/// template name, a syntax error, an unknown variable, a failed sample render or a code in
/// a subject. The server does not start with templates that could fail a real mail.
pub fn load(dir: &Path) -> Result<MailTemplates, WiringError> {
    let fail = |what: &Path, e: &dyn std::fmt::Display| WiringError::Templates(format!("{}: {e}", what.display()));
    let entries = std::fs::read_dir(dir).map_err(|e| fail(dir, &e))?;
    let mut overrides = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| fail(dir, &e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if !name.ends_with(".j2") || !path.is_file() {
            continue;
        }
        let source = std::fs::read_to_string(&path).map_err(|e| fail(&path, &e))?;
        overrides.push((name.to_owned(), source));
    }
    // Sorted, so the first error reported is the same on every start.
    overrides.sort();
    let count = overrides.len();
    let templates = MailTemplates::with_overrides(overrides).map_err(|e| fail(dir, &e))?;
    tracing::info!(dir = %dir.display(), replaced = count, "mail templates loaded");
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, source: &str) {
        std::fs::write(dir.join(name), source).unwrap();
    }

    #[test]
    fn valid_files_replace_their_templates_and_other_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "signup_attempt.subject.j2", "Anmeldeversuch bei {{ product }}\n");
        write(dir.path(), "README.md", "notes for the operator");
        let templates = load(dir.path()).unwrap();
        assert_eq!(templates.signup_attempt("Acme", "Laura").subject, "Anmeldeversuch bei Acme");
    }

    #[test]
    fn a_syntax_error_stops_the_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "new_sign_in.txt.j2", "{% for x in %}");
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("mailer.templates_dir: "), "{err}");
        assert!(err.contains("new_sign_in.txt.j2: syntax error"), "{err}");
    }

    #[test]
    fn a_missing_variable_stops_the_start_naming_the_file_and_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "verification_code.html.j2", "{{ codee }}");
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("verification_code.html.j2: unknown variable `codee`"), "{err}");
    }

    #[test]
    fn a_misspelt_file_name_and_a_missing_directory_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "new_signin.txt.j2", "x");
        assert!(load(dir.path()).unwrap_err().to_string().contains("new_signin.txt.j2: not a mail template name"));
        let missing = dir.path().join("absent");
        assert!(load(&missing).unwrap_err().to_string().contains("absent"));
    }

    #[test]
    fn a_file_that_is_not_utf8_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token_reuse.txt.j2"), [0xff, 0xfe]).unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("token_reuse.txt.j2"));
    }
}
