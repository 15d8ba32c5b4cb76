//! The one error type of this crate.
//!
//! Every variant says what went wrong, where (file, line, JSON field, key id)
//! and, where there is one, what to do about it. The crate never prints and
//! never exits: callers decide how to show these.

use std::path::{Path, PathBuf};

/// Shorthand for `Result<T, provenance::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building, signing, storing or verifying
/// an attestation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "read key file".
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A file that must not be overwritten already exists.
    #[error("{} already exists; refusing to overwrite it (choose another prefix or move the file away)", .path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// A file could not be written (full disk, missing directory, …).
    #[error(transparent)]
    Write(fsio::Error),

    /// A base64 field could not be decoded.
    #[error("{field} is not valid base64 (standard or URL-safe alphabet): {source}")]
    Base64 {
        /// The JSON field, e.g. `payload` or `signatures[0].sig`.
        field: String,
        /// The decoder's reason.
        source: base64::DecodeError,
    },

    /// A JSON document could not be parsed or written.
    #[error("{what} is not valid JSON of the expected shape: {source}")]
    Json {
        /// What was being parsed, e.g. "the DSSE envelope".
        what: &'static str,
        /// The parser's reason.
        source: serde_json::Error,
    },

    /// One line of a JSON Lines file is not a DSSE envelope.
    #[error("{}line {line} is not a DSSE envelope: {source}", origin_prefix(.path.as_deref()))]
    JsonlLine {
        /// The file, when the lines came from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The parser's reason.
        source: serde_json::Error,
    },

    /// The envelope's `payloadType` is not the in-toto one.
    #[error("envelope payloadType is {found:?}, expected {expected:?}")]
    WrongPayloadType {
        /// The value that was found.
        found: String,
        /// The only accepted value.
        expected: &'static str,
    },

    /// The envelope carries no signature at all.
    #[error("the envelope has no signatures; sign it before verifying it")]
    NoSignatures,

    /// Signing was asked for without any key.
    #[error("no signing key was given; pass at least one private key")]
    NoSigningKeys,

    /// `verify_envelope` was called without any trusted key.
    #[error("no trusted public key was given; pass at least one public key to verify against")]
    NoVerifyingKeys,

    /// A signature made by a trusted key does not verify: the payload or the
    /// signature was changed after signing.
    #[error("signature by trusted key {keyid} does not verify: the payload or the signature was modified after signing")]
    SignatureInvalid {
        /// The key id of the trusted key whose signature failed.
        keyid: String,
    },

    /// No signature verifies with any of the trusted keys.
    #[error("no signature verifies with a trusted key (envelope key ids: [{}]; trusted key ids: [{}]); was it signed with a different key?", .found.join(", "), .trusted.join(", "))]
    NoTrustedSignature {
        /// Key ids named by the envelope's signatures (empty strings omitted).
        found: Vec<String>,
        /// Key ids of the trusted keys.
        trusted: Vec<String>,
    },

    /// The statement's `_type` is not in-toto Statement v1.
    #[error("statement _type is {found:?}, expected {expected:?}")]
    WrongStatementType {
        /// The value that was found.
        found: String,
        /// The only accepted value.
        expected: &'static str,
    },

    /// The statement's `predicateType` is not SLSA Provenance v1.
    #[error("statement predicateType is {found:?}, expected {expected:?}")]
    WrongPredicateType {
        /// The value that was found.
        found: String,
        /// The only accepted value.
        expected: &'static str,
    },

    /// The statement has an empty subject list.
    #[error("statement has no subjects; an attestation must name at least one artifact")]
    NoSubjects,

    /// A required field is absent (or empty).
    #[error("required field {field} is missing or empty")]
    MissingField {
        /// JSON path of the field, e.g. `predicate.runDetails.builder.id`.
        field: String,
    },

    /// A field is present but has the wrong type or form.
    #[error("field {field} is invalid: {reason}")]
    InvalidField {
        /// JSON path of the field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `sha256` digest is not 64 lowercase hex characters.
    #[error("{field} = {found:?} is not a SHA-256 digest: expected 64 lowercase hex characters")]
    InvalidDigest {
        /// JSON path of the digest, e.g. `subject[0].digest.sha256`.
        field: String,
        /// The value that was found.
        found: String,
    },

    /// An artifact's digest matches none of the statement's subjects.
    #[error("artifact {artifact} (sha256 {sha256}) is not a subject of the attestation")]
    NotASubject {
        /// The artifact's name or path as the caller knows it.
        artifact: String,
        /// Its SHA-256 digest.
        sha256: String,
    },

    /// A key file is not PEM or its content cannot be decoded.
    #[error("{}: not a usable PEM key: {reason}", .path.display())]
    KeyFormat {
        /// The key file (or `<PEM text>` for in-memory keys).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A key uses an algorithm other than Ed25519 or ECDSA P-256.
    #[error("{}: unsupported key algorithm {algorithm}; use an Ed25519 or ECDSA P-256 key", .path.display())]
    UnsupportedKeyAlgorithm {
        /// The key file.
        path: PathBuf,
        /// The algorithm (OID, and curve OID for EC keys).
        algorithm: String,
    },

    /// A public key was given where a private key is needed.
    #[error("{}: holds a {found}, but signing needs the private key (the PREFIX.key file, PKCS#8 \"PRIVATE KEY\")", .path.display())]
    ExpectedPrivateKey {
        /// The key file.
        path: PathBuf,
        /// What the file holds instead, e.g. "public key".
        found: String,
    },

    /// A private key was given where a public key is needed.
    #[error("{}: holds a {found}, but verifying needs the public key (the PREFIX.pub file, \"PUBLIC KEY\")", .path.display())]
    ExpectedPublicKey {
        /// The key file.
        path: PathBuf,
        /// What the file holds instead, e.g. "private key".
        found: String,
    },

    /// A key could not be encoded (PKCS#8 / SPKI); not expected in practice.
    #[error("cannot encode {what}: {reason}")]
    KeyEncoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's reason.
        reason: String,
    },

    /// The signing primitive failed; not expected in practice.
    #[error("signing failed: {reason}")]
    Signing {
        /// The primitive's reason.
        reason: String,
    },

    /// An algorithm name is not one this crate knows.
    #[error("unknown key algorithm {name:?}; expected \"ed25519\" or \"ecdsa-p256\"")]
    UnknownAlgorithm {
        /// The name that was given.
        name: String,
    },
}

/// `"<path>: "` when the input came from a file, nothing otherwise.
fn origin_prefix(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

impl From<fsio::Error> for Error {
    fn from(e: fsio::Error) -> Self {
        match e {
            // Keeps the hint on what to do about it.
            fsio::Error::AlreadyExists { path } => Error::AlreadyExists { path },
            other => Error::Write(other),
        }
    }
}

impl Error {
    /// Builds a `MissingField` error for a JSON path.
    pub(crate) fn missing(field: impl Into<String>) -> Self {
        Error::MissingField {
            field: field.into(),
        }
    }

    /// Builds an `InvalidField` error for a JSON path.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_can_cross_threads_and_into_anyhow() {
        fn assert_bounds<T: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }
}
