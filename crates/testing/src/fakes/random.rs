//! [`SequenceRandom`]: deterministic codes and tokens that tests can read back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use portcullis_domain::ports::RandomSource;

#[derive(Debug, Default)]
struct Issued {
    counter: u64,
    queued_codes: VecDeque<String>,
    codes: Vec<String>,
    tokens: Vec<String>,
}

/// A [`RandomSource`] that hands out a fixed sequence and remembers everything it issued.
///
/// Codes are distinct for the first million calls (`n * 271829 + 314159 mod 10^6`), so a
/// replaced code never equals its successor by accident. Clones share the record.
#[derive(Clone, Debug, Default)]
pub struct SequenceRandom {
    issued: Arc<Mutex<Issued>>,
}

impl SequenceRandom {
    /// A fresh sequence.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next [`RandomSource::six_digits`] calls return these codes, in order.
    pub fn queue_codes<I, S>(&self, codes: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lock().queued_codes.extend(codes.into_iter().map(Into::into));
    }

    /// Every code issued so far, oldest first.
    pub fn codes(&self) -> Vec<String> {
        self.lock().codes.clone()
    }

    /// The code issued last.
    pub fn last_code(&self) -> Option<String> {
        self.lock().codes.last().cloned()
    }

    /// Every token issued so far, oldest first.
    pub fn tokens(&self) -> Vec<String> {
        self.lock().tokens.clone()
    }

    /// The token issued last.
    pub fn last_token(&self) -> Option<String> {
        self.lock().tokens.last().cloned()
    }
}

impl RandomSource for SequenceRandom {
    fn six_digits(&self) -> String {
        let mut issued = self.lock();
        let code = match issued.queued_codes.pop_front() {
            Some(code) => code,
            None => {
                let n = issued.counter;
                issued.counter += 1;
                format!("{:06}", (n * 271_829 + 314_159) % 1_000_000)
            }
        };
        issued.codes.push(code.clone());
        code
    }

    fn url_token(&self) -> String {
        let mut issued = self.lock();
        let n = issued.counter;
        issued.counter += 1;
        // 48 URL-safe characters: as long as a real 256-bit token.
        let token = format!("test-token-{n:037}");
        issued.tokens.push(token.clone());
        token
    }

    /// Distinct per call, not random: the call's number, then a fixed pattern. Two calls
    /// never give the same bytes (for outputs of at least eight bytes).
    fn fill_bytes(&self, out: &mut [u8]) {
        let mut issued = self.lock();
        let n = issued.counter;
        issued.counter += 1;
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = match n.to_be_bytes().get(i) {
                Some(b) => *b,
                None => u8::try_from(i % 251).unwrap_or(0) ^ 0x5a,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_bytes_differ_between_calls() {
        let random = SequenceRandom::new();
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        random.fill_bytes(&mut a);
        random.fill_bytes(&mut b);
        assert_ne!(a, b);
    }
}
