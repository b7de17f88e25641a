//! Captures every log line of the test process, so tests can prove no secret reaches the logs.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BUFFER.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per process), at `debug` for every target.
pub fn capture() {
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Everything logged so far.
pub fn captured() -> String {
    String::from_utf8_lossy(&BUFFER.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// True when `number` occurs in `text` as a token of its own: not touching a letter, another
/// digit or a decimal point. Letters count because the capture holds every debug line of the
/// process (every test's statements with their parameters), so thousands of UUIDs and hex
/// digests: a six-digit code turns up inside one of them now and then (`…a328159e…`), which
/// is not the code being logged. A code that is logged stands apart (`code=328159`,
/// `"328159"`).
pub fn contains_number(text: &str, number: &str) -> bool {
    number_in_context(text, number).is_some()
}

/// The first place [`contains_number`] finds `number`, with up to 60 bytes either side, for
/// the failure message (test secrets only).
pub fn number_in_context(text: &str, number: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (i, m) = text.match_indices(number).find(|&(i, m)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + m.len()).copied();
        let free = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric() && b != b'.');
        free(before) && free(after)
    })?;
    let start = i.saturating_sub(60);
    let end = (i + m.len() + 60).min(bytes.len());
    Some(String::from_utf8_lossy(&bytes[start..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_counts_only_as_a_token_of_its_own() {
        for logged in ["code=328159", "\"328159\"", "328159", "x 328159, y", "[328159]"] {
            assert!(contains_number(logged, "328159"), "{logged}");
        }
        for not_it in ["1328159", "3281590", "328159.5", "0.328159", "a328159e", "0193a2b1-c0de-7f00-9a8b-ff328159aa01"]
        {
            assert!(!contains_number(not_it, "328159"), "{not_it}");
        }
    }
}
