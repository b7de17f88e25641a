//! Why a City database could not be opened.

/// Opening a City database failed; the server treats this as "no GeoIP" after one warning.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read (missing, no permission, a directory, …).
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    /// The bytes are not a MaxMind DB (corrupt, truncated, or another format).
    #[error("not a valid MaxMind DB file: {0}")]
    Invalid(#[source] maxminddb::MaxMindDbError),
}

impl From<maxminddb::MaxMindDbError> for GeoError {
    fn from(error: maxminddb::MaxMindDbError) -> Self {
        // maxminddb folds file-system errors into its own type; split them back out so the
        // start-up warning can say "missing" rather than "corrupt".
        match error {
            maxminddb::MaxMindDbError::Io(io) => Self::Io(io),
            other => Self::Invalid(other),
        }
    }
}
