//! The two Argon2 implementations a hashing thread can compute tags with, behind one call.
//!
//! Everything around the tag stays the pool's and is written once: the salt, the PHC string
//! (encoded and parsed with RustCrypto's `password-hash`), the parameters a stored hash asks
//! for, and the constant-time comparison. An engine only turns (algorithm, version, m, t, p,
//! password, salt) into raw tag bytes, so the two cannot disagree on anything but the tag, and
//! the tests check the tags against RFC 9106 and against each other.

use argon2::{Algorithm, Block, Params, Version};

/// Which implementation computes the Argon2 tags. Both read and write the same PHC strings,
/// so a store may hold hashes made by either, and switching is a configuration change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Argon2Engine {
    /// `argon2-rust`: a pure-Rust port of the reference C implementation with the compression
    /// function chosen at run time (AVX-512, AVX2, SSE2, NEON or scalar). The default: about
    /// twice as fast as RustCrypto's on the machines measured (BENCHMARKS.md, "Password
    /// hashing").
    #[default]
    ReferencePort,
    /// RustCrypto's `argon2` crate.
    RustCrypto,
}

impl Argon2Engine {
    /// Every engine, for benchmarks and cross-checks.
    pub const ALL: [Argon2Engine; 2] = [Argon2Engine::ReferencePort, Argon2Engine::RustCrypto];

    /// The configuration name: `argon2-rust` or `rustcrypto`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReferencePort => "argon2-rust",
            Self::RustCrypto => "rustcrypto",
        }
    }

    /// The engine called `name` (see [`Argon2Engine::name`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|engine| engine.name() == name)
    }
}

/// What a tag is computed with. `secret` and `data` (RFC 9106's K and X) are empty for
/// password hashes; they exist so the engines can be checked against the RFC's vectors.
pub(crate) struct TagSpec<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) version: Version,
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
    pub(crate) secret: &'a [u8],
    pub(crate) data: &'a [u8],
}

impl TagSpec<'static> {
    /// A password hash's spec: `algorithm` and `version` with the costs of `params`, no
    /// secret, no associated data.
    pub(crate) fn password(algorithm: Algorithm, version: Version, params: &Params) -> Self {
        Self {
            algorithm,
            version,
            m_kib: params.m_cost(),
            t: params.t_cost(),
            p: params.p_cost(),
            secret: &[],
            data: &[],
        }
    }
}

/// Why no tag came out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TagError {
    /// The working memory could not be allocated.
    #[error("argon2 working memory could not be allocated")]
    OutOfMemory,
    /// The parameters, salt or tag length are outside what Argon2 accepts.
    #[error("invalid argon2 input: {0}")]
    Invalid(String),
}

/// One hashing thread's engine and its working memory, allocated on first use and kept for
/// the thread's life, so the pool holds `workers × m` and no more (allocating per hash left
/// freed 19 MiB blocks in per-thread malloc arenas: hundreds of MiB resident under load).
/// Every block is written before it is read, so nothing of an earlier hash reaches a result.
///
/// Neither engine wipes that memory when a tag is done; [`EngineState::scrub`] overwrites it,
/// and the pool calls it when the thread has had nothing to do for a while.
pub(crate) enum EngineState {
    /// `argon2-rust`'s `Hasher` keeps its arena (an anonymous mapping on Linux) between calls.
    ReferencePort(Option<argon2_rust::Hasher>),
    /// RustCrypto's blocks, grown once if a stored hash asks for more memory.
    RustCrypto(Vec<Block>),
}

impl EngineState {
    /// A thread's state for `engine`, holding no memory yet.
    pub(crate) fn new(engine: Argon2Engine) -> Self {
        match engine {
            Argon2Engine::ReferencePort => Self::ReferencePort(None),
            Argon2Engine::RustCrypto => Self::RustCrypto(Vec::new()),
        }
    }

    /// The engine this state belongs to.
    pub(crate) fn engine(&self) -> Argon2Engine {
        match self {
            Self::ReferencePort(_) => Argon2Engine::ReferencePort,
            Self::RustCrypto(_) => Argon2Engine::RustCrypto,
        }
    }

    /// Blocks (1 KiB each) of working memory the thread holds: 0 before its first tag, then
    /// the largest `m` it has hashed with.
    pub(crate) fn memory_blocks(&self) -> usize {
        match self {
            Self::ReferencePort(hasher) => hasher.as_ref().map_or(0, argon2_rust::Hasher::reserved_blocks),
            Self::RustCrypto(blocks) => blocks.len(),
        }
    }

    /// Overwrites what earlier tags left in this thread's Argon2 memory with values derived
    /// from public inputs only, so nothing there helps anyone test password guesses.
    ///
    /// The memory holds blocks derived from the last password: with them, a guess costs one
    /// BLAKE2b instead of an Argon2 run. The reference wipes it after every hash, a 19 MiB
    /// memset at the default cost (8% of a login's CPU) that buys nothing under load, where
    /// the next hash overwrites it anyway; the pool calls this once a thread has been idle
    /// for a while instead. It is one pass (`t = 1`) of Argon2id with an empty password and a
    /// fixed salt over all the memory held: the first pass writes every block of its window,
    /// and with `p = 1` and `m` = the blocks held, the window is all of them. About half a
    /// hash's time. The stack is [`scrub_stack`]'s job.
    pub(crate) fn scrub(&mut self) -> Result<(), TagError> {
        let blocks = self.memory_blocks();
        if blocks == 0 {
            return Ok(());
        }
        let m_kib = u32::try_from(blocks).map_err(|_| TagError::Invalid(format!("{blocks} blocks")))?;
        let spec = TagSpec {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            m_kib,
            t: 1,
            p: 1,
            secret: &[],
            data: &[],
        };
        let mut tag = [0u8; 32];
        self.tag(&spec, b"", SCRUB_SALT, &mut tag)
    }

    /// Lets go of the memory when [`EngineState::scrub`] failed (it should not: it needs no
    /// memory beyond what is held). RustCrypto's blocks are zeroed first; `argon2-rust`'s
    /// arena cannot be reached, so it is only released: unmapped on Linux when it is at least
    /// 2 MiB (the default is 19 MiB), returned to the allocator otherwise.
    pub(crate) fn forget(&mut self) {
        if let Self::RustCrypto(blocks) = self {
            for block in blocks.iter_mut() {
                zeroize::Zeroize::zeroize(block.as_mut());
            }
        }
        *self = Self::new(self.engine());
    }

    /// Computes the tag of `password` and `salt` under `spec` into `out` (its length is the
    /// tag length).
    pub(crate) fn tag(
        &mut self,
        spec: &TagSpec<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), TagError> {
        // Memory is grown (a stored hash asks for a larger `m`) only after a scrub: growing
        // frees or moves the old memory without wiping it.
        let held = self.memory_blocks();
        if held > 0 && window_blocks(spec) > held {
            self.scrub()?;
        }
        match self {
            Self::ReferencePort(hasher) => reference_port_tag(hasher, spec, password, salt, out),
            Self::RustCrypto(blocks) => rust_crypto_tag(blocks, spec, password, salt, out),
        }
    }
}

/// The salt of [`EngineState::scrub`]'s hash: public, like its empty password.
const SCRUB_SALT: &[u8] = b"portcullis-scrub";

/// The blocks a tag under `spec` uses: `m` rounded down to a multiple of `4p` (RFC 9106 §3.2).
fn window_blocks(spec: &TagSpec<'_>) -> usize {
    let step = 4 * spec.p.max(1) as usize;
    spec.m_kib as usize / step * step
}

/// Stack bytes [`scrub_stack`] zeroes: well above what one tag's calls use (a few blocks of
/// 1 KiB and BLAKE2b states), far below a thread's 2 MiB.
const STACK_SCRUB_BYTES: usize = 128 * 1024;

/// Zeroes the stack below the caller, where a tag's frames held the pre-hash `H0`, BLAKE2b
/// states and copies of blocks (neither engine wipes them: `argon2-rust` without
/// `zeroize-memory`, RustCrypto without `zeroize`). Best effort: called straight from the
/// hashing thread's loop, its frame lies over the region the hash's calls used, but what the
/// compiler kept in the loop's own frame is out of its reach. `zeroize` writes volatilely, so
/// the stores are not optimised away.
#[inline(never)]
pub(crate) fn scrub_stack() {
    let mut area = [0u8; STACK_SCRUB_BYTES];
    zeroize::Zeroize::zeroize(&mut area[..]);
    std::hint::black_box(&area);
}

fn reference_port_tag(
    hasher: &mut Option<argon2_rust::Hasher>,
    spec: &TagSpec<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), TagError> {
    use argon2_rust::params::{Memory, TagLen};
    let invalid = |e: argon2_rust::Error| match e {
        argon2_rust::Error::MemoryAllocationError => TagError::OutOfMemory,
        e => TagError::Invalid(e.to_string()),
    };
    let algorithm = match spec.algorithm {
        Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
        Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
        Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
    };
    let version = match spec.version {
        Version::V0x10 => argon2_rust::Version::V0x10,
        Version::V0x13 => argon2_rust::Version::V0x13,
    };
    let params = argon2_rust::Params::builder()
        .memory(Memory::kib(u64::from(spec.m_kib)))
        .passes(spec.t)
        .lanes(spec.p)
        // Lanes are computed one after the other on this thread: the pool is the parallelism,
        // and a job never starts threads of its own (the `parallel` feature is off as well).
        .threads(1)
        .tag_len(TagLen::bytes(out.len() as u64))
        .build()
        .map_err(invalid)?;
    let argon2 = argon2_rust::Argon2::new(algorithm, version, params);
    let hasher = match hasher {
        Some(hasher) => {
            hasher.set_argon2(argon2);
            hasher
        }
        None => hasher.insert(argon2.hasher()),
    };
    hasher.hash_into_with_ad(password, salt, spec.secret, spec.data, out).map_err(invalid)
}

fn rust_crypto_tag(
    blocks: &mut Vec<Block>,
    spec: &TagSpec<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), TagError> {
    let invalid = |e: argon2::Error| match e {
        argon2::Error::OutOfMemory => TagError::OutOfMemory,
        e => TagError::Invalid(e.to_string()),
    };
    let mut builder = argon2::ParamsBuilder::new();
    builder.m_cost(spec.m_kib).t_cost(spec.t).p_cost(spec.p).output_len(out.len());
    if !spec.data.is_empty() {
        builder.data(argon2::AssociatedData::new(spec.data).map_err(invalid)?);
    }
    let params: Params = builder.build().map_err(invalid)?;
    let count = params.block_count();
    let argon2 = if spec.secret.is_empty() {
        argon2::Argon2::new(spec.algorithm, spec.version, params)
    } else {
        argon2::Argon2::new_with_secret(spec.secret, spec.algorithm, spec.version, params).map_err(invalid)?
    };
    if blocks.len() < count {
        blocks.resize(count, Block::default());
    }
    argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..count]).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn spec<'a>(algorithm: Algorithm, version: Version, m_kib: u32, t: u32, p: u32) -> TagSpec<'a> {
        TagSpec { algorithm, version, m_kib, t, p, secret: &[], data: &[] }
    }

    /// RFC 9106 §5: m = 32 KiB, t = 3, p = 4, password 32 × 0x01, salt 16 × 0x02, secret
    /// 8 × 0x03, associated data 12 × 0x04, 32-byte tags.
    #[test]
    fn both_engines_give_the_rfc_9106_test_vectors() {
        let vectors = [
            (Algorithm::Argon2d, "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"),
            (Algorithm::Argon2i, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"),
            (Algorithm::Argon2id, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"),
        ];
        for engine in Argon2Engine::ALL {
            let mut state = EngineState::new(engine);
            for (algorithm, expected) in vectors {
                let spec = TagSpec { secret: &[3; 8], data: &[4; 12], ..spec(algorithm, Version::V0x13, 32, 3, 4) };
                let mut tag = [0u8; 32];
                state.tag(&spec, &[1; 32], &[2; 16], &mut tag).unwrap();
                assert_eq!(hex(&tag), expected, "{engine:?} {algorithm:?}");
            }
        }
    }

    /// The engines agree tag for tag across algorithms, both versions, several lane counts,
    /// costs, salt and tag lengths; each engine reuses its memory from call to call, shrinking
    /// and growing, as a hashing thread does.
    #[test]
    fn the_engines_agree_on_every_input_they_are_given() {
        let mut reference = EngineState::new(Argon2Engine::ReferencePort);
        let mut rust_crypto = EngineState::new(Argon2Engine::RustCrypto);
        let mut cases = 0;
        for algorithm in [Algorithm::Argon2d, Algorithm::Argon2i, Algorithm::Argon2id] {
            for version in [Version::V0x10, Version::V0x13] {
                for (m_kib, t, p) in [(64, 1, 1), (8, 3, 1), (256, 2, 2), (33, 1, 4), (1024, 1, 1), (96, 4, 3)] {
                    for (salt_len, tag_len) in [(8, 4), (16, 32), (33, 64)] {
                        let spec = spec(algorithm, version, m_kib, t, p);
                        let password = format!("pw-{m_kib}-{t}-{p}-{tag_len}");
                        let salt: Vec<u8> = (0..salt_len).map(|i| i as u8 ^ 0x5a).collect();
                        let (mut a, mut b) = (vec![0u8; tag_len], vec![0u8; tag_len]);
                        reference.tag(&spec, password.as_bytes(), &salt, &mut a).unwrap();
                        rust_crypto.tag(&spec, password.as_bytes(), &salt, &mut b).unwrap();
                        assert_eq!(a, b, "{algorithm:?} {version:?} m={m_kib} t={t} p={p} tag={tag_len}");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 108);
    }

    #[test]
    fn out_of_range_inputs_are_errors_not_panics() {
        for engine in Argon2Engine::ALL {
            let mut state = EngineState::new(engine);
            let mut tag = [0u8; 32];
            // A salt shorter than 8 bytes, then lanes without the 8 KiB per lane they need.
            let short_salt = state.tag(&spec(Algorithm::Argon2id, Version::V0x13, 64, 1, 1), b"pw", b"salt", &mut tag);
            assert!(matches!(short_salt, Err(TagError::Invalid(_))), "{engine:?}: {short_salt:?}");
            let starved = state.tag(&spec(Algorithm::Argon2id, Version::V0x13, 8, 1, 4), b"pw", b"somesalt", &mut tag);
            assert!(matches!(starved, Err(TagError::Invalid(_))), "{engine:?}: {starved:?}");
            let mut too_short = [0u8; 3];
            let tiny_tag =
                state.tag(&spec(Algorithm::Argon2id, Version::V0x13, 64, 1, 1), b"pw", b"somesalt", &mut too_short);
            assert!(matches!(tiny_tag, Err(TagError::Invalid(_))), "{engine:?}: {tiny_tag:?}");
        }
    }

    /// The words of a RustCrypto state's memory, to compare.
    fn words(state: &EngineState) -> Vec<u64> {
        match state {
            EngineState::RustCrypto(blocks) => blocks.iter().flat_map(|b| b.as_ref().to_vec()).collect(),
            EngineState::ReferencePort(_) => unreachable!("argon2-rust's arena cannot be read"),
        }
    }

    /// After a scrub the memory holds nothing of the password hashed before it: two threads
    /// that hashed different passwords (with more memory than the scrub would need, and more
    /// lanes) hold the very same bytes afterwards. Only RustCrypto's blocks can be read; the
    /// engines run the same algorithm over the same window (the tag tests above).
    #[test]
    fn a_scrub_leaves_nothing_of_the_password_before_it() {
        let costs = spec(Algorithm::Argon2id, Version::V0x13, 96, 2, 3);
        let mut after = Vec::new();
        for password in [&b"first password"[..], b"second password"] {
            let mut state = EngineState::new(Argon2Engine::RustCrypto);
            let mut tag = [0u8; 32];
            state.tag(&costs, password, b"somesalt", &mut tag).unwrap();
            let used = words(&state);
            assert_eq!(state.memory_blocks(), 96);
            state.scrub().unwrap();
            assert_eq!(state.memory_blocks(), 96, "a scrub neither grows nor frees the memory");
            let scrubbed = words(&state);
            assert_ne!(used, scrubbed);
            after.push((used, scrubbed));
        }
        assert_ne!(after[0].0, after[1].0, "different passwords leave different memory");
        assert_eq!(after[0].1, after[1].1, "a scrub leaves the same memory whatever came before");
    }

    #[test]
    fn scrubbing_keeps_the_memory_and_the_tags() {
        for engine in Argon2Engine::ALL {
            let mut state = EngineState::new(engine);
            state.scrub().unwrap();
            assert_eq!(state.memory_blocks(), 0, "{engine:?}: nothing to scrub before the first tag");
            let costs = spec(Algorithm::Argon2id, Version::V0x13, 256, 1, 2);
            let (mut before, mut after) = ([0u8; 32], [0u8; 32]);
            state.tag(&costs, b"pw", b"somesalt", &mut before).unwrap();
            state.scrub().unwrap();
            assert_eq!(state.memory_blocks(), 256, "{engine:?}");
            state.tag(&costs, b"pw", b"somesalt", &mut after).unwrap();
            assert_eq!(before, after, "{engine:?}");
        }
    }

    #[test]
    fn engines_are_named_for_the_configuration() {
        for engine in Argon2Engine::ALL {
            assert_eq!(Argon2Engine::parse(engine.name()), Some(engine));
        }
        assert_eq!(Argon2Engine::parse("libargon2"), None);
        assert_eq!(Argon2Engine::default(), Argon2Engine::ReferencePort);
    }
}
