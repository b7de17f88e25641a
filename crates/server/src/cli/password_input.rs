//! Reading a new password for the operator's commands: never from the command line, where
//! it would show in `ps`, shell history and audit logs.
//!
//! At a terminal it is typed twice without echo; otherwise the first line of standard input
//! is taken (`printf '%s\n' "$PASSWORD" | portcullis admin create ...`, or a file
//! redirected in), so scripts and secret stores can supply it.

use std::io::{BufRead, IsTerminal};

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use super::CliError;

/// The password for `email`, from the terminal (prompted, no echo, confirmed) or from the
/// first line of standard input. The buffers it passed through are wiped when dropped.
///
/// # Errors
/// [`CliError::Refused`] when the two typed passwords differ, [`CliError::Usage`] when
/// standard input is empty or cannot be read.
pub fn read_new_password(email: &str) -> Result<SecretString, CliError> {
    if std::io::stdin().is_terminal() {
        let first = prompt(&format!("Password for {email}: "))?;
        let again = prompt("Repeat the password: ")?;
        if first.expose_secret() != again.expose_secret() {
            return Err(CliError::Refused("the two passwords differ".into()));
        }
        Ok(first)
    } else {
        first_line(&mut std::io::stdin().lock())
    }
}

fn prompt(text: &str) -> Result<SecretString, CliError> {
    rpassword::prompt_password(text)
        .map(SecretString::from)
        .map_err(|e| CliError::Usage(format!("cannot read the password from the terminal: {e}")))
}

/// The first line of `input` without its line ending (`\n` or `\r\n`); nothing else is
/// trimmed, as spaces may be part of a password.
fn first_line(input: &mut impl BufRead) -> Result<SecretString, CliError> {
    // Wiped when dropped, on every path.
    let mut line = Zeroizing::new(String::new());
    let read = input
        .read_line(&mut line)
        .map_err(|e| CliError::Usage(format!("cannot read the password from standard input: {e}")))?;
    if read == 0 {
        return Err(CliError::Usage(
            "no password on standard input: type it at a terminal, or pipe it in as the first line".into(),
        ));
    }
    let text = line.strip_suffix('\n').unwrap_or(&line);
    let text = text.strip_suffix('\r').unwrap_or(text);
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> Result<String, CliError> {
        first_line(&mut input.as_bytes()).map(|s| s.expose_secret().to_owned())
    }

    #[test]
    fn takes_the_first_line_without_its_ending_but_keeps_spaces() {
        assert_eq!(read("  a long pass phrase \nsecond line\n").unwrap(), "  a long pass phrase ");
        assert_eq!(read("windows line\r\n").unwrap(), "windows line");
        assert_eq!(read("no newline at all").unwrap(), "no newline at all");
        assert_eq!(read("\n").unwrap(), "");
    }

    #[test]
    fn empty_input_is_a_usage_error() {
        assert!(matches!(read(""), Err(CliError::Usage(_))));
    }
}
