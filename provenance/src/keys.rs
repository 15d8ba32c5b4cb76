//! Signing keys: generation, PEM files, key ids, raw sign and verify.
//!
//! Two algorithms, both as DSSE and in-toto tooling expect them:
//! - **Ed25519** signs the message bytes directly (RFC 8032).
//! - **ECDSA P-256** signs SHA-256 of the message; signatures are written
//!   DER-encoded, and both DER and fixed-size 64-byte `r||s` are accepted.
//!
//! Private keys are PKCS#8 PEM (`PRIVATE KEY`), public keys
//! SubjectPublicKeyInfo PEM (`PUBLIC KEY`), so `openssl` reads and writes
//! them. The algorithm of a loaded key is taken from the algorithm OID inside
//! the PEM, never from the file name.
//!
//! A **keyid** is the lowercase hex SHA-256 of the public key's
//! SubjectPublicKeyInfo DER. It depends on the public key alone, so it is the
//! same for a key and its reloaded copy and can be recomputed by anyone, e.g.
//! `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`.
//!
//! This module never writes a private key anywhere but a new file with mode
//! 0600, and never overwrites an existing key file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ed25519_dalek as ed;
use p256::ecdsa as ec;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::der::zeroize::Zeroizing;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding, ObjectIdentifier, PrivateKeyInfo};
use rand_core::OsRng;
use spki::{AlgorithmIdentifierRef, DecodePublicKey, SubjectPublicKeyInfoRef};

use crate::error::{Error, Result};
use crate::statement::sha256_hex;

/// id-Ed25519 (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// id-ecPublicKey (RFC 5480); the curve is in the parameters.
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 a.k.a. NIST P-256 (RFC 5480).
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Other algorithms people are likely to try, so errors can name them.
const KNOWN_OIDS: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.1", "RSA"),
    ("1.2.840.113549.1.1.10", "RSA-PSS"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.3.101.113", "Ed448"),
    ("1.3.132.0.10", "secp256k1"),
    ("1.3.132.0.34", "P-384"),
    ("1.3.132.0.35", "P-521"),
    ("1.2.840.10040.4.1", "DSA"),
];

/// SubjectPublicKeyInfo DER up to the key bytes, for each algorithm. Both
/// structures have a fixed length, so the DER is a constant prefix plus the
/// raw key; writing it out makes the keyid infallible (tests check it equals
/// what the `spki` encoder produces).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// What an in-memory PEM is called in errors, where there is no file.
const PEM_TEXT: &str = "<PEM text>";

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::EcdsaP256];

    /// The name used on command lines and in messages: `ed25519`,
    /// `ecdsa-p256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256 => "ecdsa-p256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Accepts `ed25519` and `ecdsa-p256` (also `p256`), case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(Algorithm::Ed25519),
            "ecdsa-p256" | "p256" | "p-256" => Ok(Algorithm::EcdsaP256),
            _ => Err(Error::UnknownAlgorithm { name: s.to_owned() }),
        }
    }
}

/// A private key that signs.
#[derive(Clone)]
pub enum SigningKey {
    /// An Ed25519 key.
    Ed25519(ed::SigningKey),
    /// An ECDSA P-256 key.
    EcdsaP256(ec::SigningKey),
}

/// A public key that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// An Ed25519 key.
    Ed25519(ed::VerifyingKey),
    /// An ECDSA P-256 key.
    EcdsaP256(ec::VerifyingKey),
}

/// The files written by [`keygen`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// `PREFIX.key`: PKCS#8 PEM private key, mode 0600.
    pub private_key: PathBuf,
    /// `PREFIX.pub`: SubjectPublicKeyInfo PEM public key.
    pub public_key: PathBuf,
    /// The key id of the pair.
    pub keyid: String,
}

impl SigningKey {
    /// A new random key from the operating system's RNG.
    pub fn generate(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Ed25519 => SigningKey::Ed25519(ed::SigningKey::generate(&mut OsRng)),
            Algorithm::EcdsaP256 => SigningKey::EcdsaP256(ec::SigningKey::random(&mut OsRng)),
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::Ed25519,
            SigningKey::EcdsaP256(_) => Algorithm::EcdsaP256,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::Ed25519(key) => VerifyingKey::Ed25519(key.verifying_key()),
            SigningKey::EcdsaP256(key) => VerifyingKey::EcdsaP256(*key.verifying_key()),
        }
    }

    /// The key id (hex SHA-256 of the public key's SPKI DER).
    pub fn keyid(&self) -> String {
        self.verifying_key().keyid()
    }

    /// Signs `message` (for DSSE: the PAE bytes). Ed25519 signs it directly;
    /// P-256 signs its SHA-256 and returns a DER signature. Both are
    /// deterministic (RFC 8032, RFC 6979).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let signing = |e: ed25519_dalek::SignatureError| Error::Signing {
            reason: e.to_string(),
        };
        match self {
            SigningKey::Ed25519(key) => {
                let sig: ed::Signature = key.try_sign(message).map_err(signing)?;
                Ok(sig.to_bytes().to_vec())
            }
            SigningKey::EcdsaP256(key) => {
                let sig: ec::Signature = key.try_sign(message).map_err(signing)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        let pem = match self {
            // ed25519-dalek writes PKCS#8 v2 (with the public key), which
            // OpenSSL 3.0 cannot read; v1 holds just the seed, like
            // `openssl genpkey` writes. We read both.
            SigningKey::Ed25519(key) => ed::pkcs8::KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
            SigningKey::EcdsaP256(key) => key.to_pkcs8_pem(LineEnding::LF),
        };
        pem.map_err(|e| Error::KeyEncoding {
            what: "the private key as PKCS#8",
            reason: e.to_string(),
        })
    }

    /// Parses a PKCS#8 PEM private key held in memory.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        parse_signing_key(pem.as_bytes(), Path::new(PEM_TEXT))
    }
}

impl fmt::Debug for SigningKey {
    // Never print secret material, only what identifies the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("keyid", &self.keyid())
            .finish()
    }
}

impl VerifyingKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerifyingKey::Ed25519(_) => Algorithm::Ed25519,
            VerifyingKey::EcdsaP256(_) => Algorithm::EcdsaP256,
        }
    }

    /// The SubjectPublicKeyInfo DER encoding.
    pub fn to_spki_der(&self) -> Vec<u8> {
        match self {
            VerifyingKey::Ed25519(key) => [&ED25519_SPKI_PREFIX[..], key.as_bytes()].concat(),
            VerifyingKey::EcdsaP256(key) => {
                // SPKI carries the uncompressed SEC1 point (0x04 || x || y).
                let point = key.to_encoded_point(false);
                [&P256_SPKI_PREFIX[..], point.as_bytes()].concat()
            }
        }
    }

    /// The key id: lowercase hex SHA-256 of [`VerifyingKey::to_spki_der`].
    pub fn keyid(&self) -> String {
        sha256_hex(&self.to_spki_der())
    }

    /// The key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_public_key_pem(&self) -> Result<String> {
        pkcs8::der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &self.to_spki_der()).map_err(
            |e| Error::KeyEncoding {
                what: "the public key as PEM",
                reason: e.to_string(),
            },
        )
    }

    /// Parses a SubjectPublicKeyInfo PEM public key held in memory.
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        parse_verifying_key(pem.as_bytes(), Path::new(PEM_TEXT))
    }

    /// Whether `signature` is a valid signature of `message` by this key.
    ///
    /// Ed25519 uses strict verification (rejects malleable encodings). P-256
    /// accepts DER and fixed-size 64-byte `r||s` signatures.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyingKey::Ed25519(key) => ed::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            VerifyingKey::EcdsaP256(key) => {
                let check = |sig: ec::Signature| key.verify(message, &sig).is_ok();
                // A 64-byte string can, rarely, also parse as DER; trying both
                // forms keeps a valid r||s signature from being misread.
                ec::Signature::from_der(signature).is_ok_and(check)
                    || (signature.len() == 64
                        && ec::Signature::from_slice(signature).is_ok_and(check))
            }
        }
    }
}

/// A new random key (see [`SigningKey::generate`]).
pub fn generate(algorithm: Algorithm) -> SigningKey {
    SigningKey::generate(algorithm)
}

/// Generates a key pair and writes `PREFIX.key` (PKCS#8 PEM, mode 0600) and
/// `PREFIX.pub` (SPKI PEM, mode 0644).
///
/// Refuses, naming the file, if either already exists. Each file is written
/// to a temporary file in the same directory and then linked into place
/// without replacing anything, so a crash never leaves a partial key and a
/// concurrent keygen cannot clobber one.
pub fn keygen(algorithm: Algorithm, prefix: &Path) -> Result<KeyFiles> {
    if prefix.file_name().is_none() {
        return Err(Error::Io {
            op: "use key prefix",
            path: prefix.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the prefix must end in a file name, e.g. keys/release",
            ),
        });
    }
    let private_key = with_suffix(prefix, ".key");
    let public_key = with_suffix(prefix, ".pub");
    for path in [&private_key, &public_key] {
        // symlink_metadata also catches a dangling symlink in the way.
        if path.symlink_metadata().is_ok() {
            return Err(Error::AlreadyExists { path: path.clone() });
        }
    }

    let key = generate(algorithm);
    let private_pem = key.to_pkcs8_pem()?;
    let verifying_key = key.verifying_key();
    let public_pem = verifying_key.to_public_key_pem()?;

    fsio::write_new(&private_key, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = fsio::write_new(&public_key, public_pem.as_bytes(), 0o644) {
        // A private key without its public half is useless and confusing;
        // removing it lets a retry start clean. The original error matters
        // more than a failed cleanup.
        let _ = std::fs::remove_file(&private_key);
        return Err(e.into());
    }
    Ok(KeyFiles {
        private_key,
        public_key,
        keyid: verifying_key.keyid(),
    })
}

/// Loads a PKCS#8 PEM private key file (Ed25519 or ECDSA P-256).
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| Error::Io {
        op: "read private key file",
        path: path.to_owned(),
        source,
    })?);
    parse_signing_key(&bytes, path)
}

/// Loads a SubjectPublicKeyInfo PEM public key file (Ed25519 or ECDSA P-256).
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        op: "read public key file",
        path: path.to_owned(),
        source,
    })?;
    parse_verifying_key(&bytes, path)
}

/// `prefix` with `suffix` appended to its last component (not an extension:
/// `release-1.2` + `.key` is `release-1.2.key`).
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Splits a PEM file into its label and DER body.
fn decode_pem(bytes: &[u8], path: &Path) -> Result<(String, Zeroizing<Vec<u8>>)> {
    let (label, der) =
        pkcs8::der::pem::decode_vec(bytes.trim_ascii()).map_err(|e| Error::KeyFormat {
            path: path.to_owned(),
            reason: format!(
                "not a PEM file ({e}); expected a PKCS#8 \"PRIVATE KEY\" or a \"PUBLIC KEY\" block"
            ),
        })?;
    Ok((label.to_owned(), Zeroizing::new(der)))
}

/// Parses a PEM private key; `path` names it in errors.
fn parse_signing_key(bytes: &[u8], path: &Path) -> Result<SigningKey> {
    let (label, der) = decode_pem(bytes, path)?;
    let key_format = |reason: String| Error::KeyFormat {
        path: path.to_owned(),
        reason,
    };
    match label.as_str() {
        "PRIVATE KEY" => {}
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {
            return Err(Error::ExpectedPrivateKey {
                path: path.to_owned(),
                found: "public key".into(),
            })
        }
        "CERTIFICATE" => {
            return Err(Error::ExpectedPrivateKey {
                path: path.to_owned(),
                found: "certificate".into(),
            })
        }
        other => return Err(key_format(unsupported_label_hint(other))),
    }

    let info = PrivateKeyInfo::try_from(der.as_slice())
        .map_err(|e| key_format(format!("not a PKCS#8 private key: {e}")))?;
    let key = match identify(&info.algorithm, path)? {
        Algorithm::Ed25519 => ed::SigningKey::from_pkcs8_der(&der).map(SigningKey::Ed25519),
        Algorithm::EcdsaP256 => ec::SigningKey::from_pkcs8_der(&der).map(SigningKey::EcdsaP256),
    };
    key.map_err(|e| key_format(format!("invalid PKCS#8 private key: {e}")))
}

/// Parses a PEM public key; `path` names it in errors.
fn parse_verifying_key(bytes: &[u8], path: &Path) -> Result<VerifyingKey> {
    let (label, der) = decode_pem(bytes, path)?;
    let key_format = |reason: String| Error::KeyFormat {
        path: path.to_owned(),
        reason,
    };
    match label.as_str() {
        "PUBLIC KEY" => {}
        "PRIVATE KEY"
        | "ENCRYPTED PRIVATE KEY"
        | "EC PRIVATE KEY"
        | "RSA PRIVATE KEY"
        | "OPENSSH PRIVATE KEY" => {
            return Err(Error::ExpectedPublicKey {
                path: path.to_owned(),
                found: "private key".into(),
            })
        }
        "CERTIFICATE" => {
            return Err(key_format(
                "X.509 certificates are not supported; extract the public key with \
                 `openssl x509 -pubkey -noout -in CERT > KEY.pub`"
                    .into(),
            ))
        }
        other => return Err(key_format(unsupported_label_hint(other))),
    }

    let info = SubjectPublicKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| key_format(format!("not a SubjectPublicKeyInfo public key: {e}")))?;
    let key = match identify(&info.algorithm, path)? {
        Algorithm::Ed25519 => {
            ed::VerifyingKey::from_public_key_der(&der).map(VerifyingKey::Ed25519)
        }
        Algorithm::EcdsaP256 => {
            ec::VerifyingKey::from_public_key_der(&der).map(VerifyingKey::EcdsaP256)
        }
    };
    key.map_err(|e| key_format(format!("invalid public key: {e}")))
}

/// What to tell the user about a PEM block we do not read.
fn unsupported_label_hint(label: &str) -> String {
    match label {
        "ENCRYPTED PRIVATE KEY" => "encrypted PKCS#8 keys are not supported; decrypt it first \
             (`openssl pkcs8 -in KEY -out PLAIN.key`)"
            .into(),
        "EC PRIVATE KEY" => "SEC1 \"EC PRIVATE KEY\" files are not supported; convert to PKCS#8 \
             with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`"
            .into(),
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => {
            "RSA keys are not supported; use an Ed25519 or ECDSA P-256 key".into()
        }
        "OPENSSH PRIVATE KEY" => "OpenSSH-format keys are not supported; use a PKCS#8 PEM key \
             (e.g. `openssl genpkey -algorithm ed25519 -out KEY`)"
            .into(),
        other => format!(
            "unexpected PEM block \"{other}\"; expected \"PRIVATE KEY\" (PKCS#8) or \"PUBLIC KEY\""
        ),
    }
}

/// The algorithm of a PKCS#8 or SPKI key, from its algorithm identifier.
fn identify(algorithm: &AlgorithmIdentifierRef<'_>, path: &Path) -> Result<Algorithm> {
    if algorithm.oid == ED25519_OID {
        return Ok(Algorithm::Ed25519);
    }
    if algorithm.oid == EC_PUBLIC_KEY_OID {
        let curve = algorithm.parameters_oid().map_err(|e| Error::KeyFormat {
            path: path.to_owned(),
            reason: format!("EC key without a named curve: {e}"),
        })?;
        if curve == P256_OID {
            return Ok(Algorithm::EcdsaP256);
        }
        return Err(Error::UnsupportedKeyAlgorithm {
            path: path.to_owned(),
            algorithm: format!("EC on curve {}", oid_name(curve)),
        });
    }
    Err(Error::UnsupportedKeyAlgorithm {
        path: path.to_owned(),
        algorithm: oid_name(algorithm.oid),
    })
}

/// `"Name (oid)"` for OIDs we can name, the dotted OID otherwise.
fn oid_name(oid: ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    match KNOWN_OIDS.iter().find(|(known, _)| *known == dotted) {
        Some((_, name)) => format!("{name} ({dotted})"),
        None => dotted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::EncodePublicKey;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn hand_built_spki_matches_the_encoder() {
        for algorithm in Algorithm::ALL {
            let key = SigningKey::generate(algorithm).verifying_key();
            let expected = match &key {
                VerifyingKey::Ed25519(k) => k.to_public_key_der().unwrap(),
                VerifyingKey::EcdsaP256(k) => k.to_public_key_der().unwrap(),
            };
            assert_eq!(key.to_spki_der(), expected.as_bytes(), "{algorithm}");
        }
    }

    #[test]
    fn raw_sign_verify_both_algorithms() {
        for algorithm in Algorithm::ALL {
            let key = SigningKey::generate(algorithm);
            let sig = key.sign(b"message").unwrap();
            assert!(key.verifying_key().verify(b"message", &sig), "{algorithm}");
            assert!(!key.verifying_key().verify(b"messagE", &sig), "{algorithm}");
            let other = SigningKey::generate(algorithm).verifying_key();
            assert!(!other.verify(b"message", &sig), "{algorithm}");
        }
    }

    #[test]
    fn p256_signature_is_der_and_fixed_size_is_accepted() {
        let SigningKey::EcdsaP256(inner) = SigningKey::generate(Algorithm::EcdsaP256) else {
            unreachable!()
        };
        let key = SigningKey::EcdsaP256(inner.clone());
        let der = key.sign(b"m").unwrap();
        assert_eq!(der[0], 0x30, "DER SEQUENCE");
        let fixed: ec::Signature = inner.sign(b"m");
        assert_eq!(fixed.to_bytes().len(), 64);
        assert!(key.verifying_key().verify(b"m", &fixed.to_bytes()));
    }

    #[test]
    fn pem_round_trip_keeps_keyid() {
        for algorithm in Algorithm::ALL {
            let key = SigningKey::generate(algorithm);
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            if algorithm == Algorithm::Ed25519 {
                // PKCS#8 v1, the 48-byte form `openssl genpkey` writes.
                assert!(pem.contains("\nMC4CAQAwBQYDK2VwBCIEI"), "{}", *pem);
            }
            let reloaded = SigningKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(reloaded.algorithm(), algorithm);
            assert_eq!(reloaded.keyid(), key.keyid());

            let public_pem = key.verifying_key().to_public_key_pem().unwrap();
            assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            let public = VerifyingKey::from_public_key_pem(&public_pem).unwrap();
            assert_eq!(public, key.verifying_key());
            assert_eq!(public.keyid().len(), 64);
        }
    }

    #[test]
    fn keygen_writes_0600_key_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("release-1.2");
        for algorithm in Algorithm::ALL {
            let prefix = with_suffix(&prefix, &format!("-{algorithm}"));
            let files = keygen(algorithm, &prefix).unwrap();
            assert!(files
                .private_key
                .ends_with(format!("release-1.2-{algorithm}.key")));
            let mode = std::fs::metadata(&files.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);

            let signing = load_signing_key(&files.private_key).unwrap();
            let verifying = load_verifying_key(&files.public_key).unwrap();
            assert_eq!(signing.keyid(), files.keyid);
            assert_eq!(verifying.keyid(), files.keyid);

            let before = std::fs::read(&files.private_key).unwrap();
            match keygen(algorithm, &prefix) {
                Err(Error::AlreadyExists { path }) => assert_eq!(path, files.private_key),
                other => panic!("expected AlreadyExists, got {other:?}"),
            }
            assert_eq!(std::fs::read(&files.private_key).unwrap(), before);
        }

        // Only the .pub in the way is enough to refuse, and nothing is written.
        let prefix = dir.path().join("half");
        std::fs::write(with_suffix(&prefix, ".pub"), "x").unwrap();
        assert!(matches!(
            keygen(Algorithm::Ed25519, &prefix),
            Err(Error::AlreadyExists { path }) if path.ends_with("half.pub")
        ));
        assert!(!with_suffix(&prefix, ".key").exists());
    }

    #[test]
    fn wrong_kind_of_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = keygen(Algorithm::Ed25519, &dir.path().join("k")).unwrap();
        match load_signing_key(&files.public_key) {
            Err(e @ Error::ExpectedPrivateKey { .. }) => {
                assert!(e
                    .to_string()
                    .contains(&files.public_key.display().to_string()))
            }
            other => panic!("expected ExpectedPrivateKey, got {other:?}"),
        }
        assert!(matches!(
            load_verifying_key(&files.private_key),
            Err(Error::ExpectedPublicKey { path, .. }) if path == files.private_key
        ));

        let garbage = dir.path().join("garbage.key");
        std::fs::write(&garbage, b"\x00\x01 not a key").unwrap();
        assert!(matches!(
            load_signing_key(&garbage),
            Err(Error::KeyFormat { path, .. }) if path == garbage
        ));
        let missing = dir.path().join("missing.key");
        assert!(matches!(
            load_signing_key(&missing),
            Err(Error::Io { path, .. }) if path == missing
        ));
    }

    // Keys made by OpenSSL 3.0 (`openssl genpkey -algorithm ed25519`,
    // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` and
    // `…:P-384`), to check we read what other tools write. The signatures are
    // over `DSSEv1 28 application/vnd.in-toto+json 2 {}`, made with
    // `openssl pkeyutl -sign -rawin` (Ed25519) and `openssl dgst -sha256 -sign`
    // (P-256, DER); the keyids are `openssl pkey -pubout -outform DER | sha256sum`.
    const OPENSSL_ED25519: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOT9QL3RRzEA3BewHY9BAk6VaSbZG5HmOQhD2OuDAJju
-----END PRIVATE KEY-----
";
    const OPENSSL_ED25519_SIG: &str =
        "7TWDKrPl+mGHVCY5GtzNekr2Tqrce962IYoLK8L70rARtVowhCnOlLLvxqi/LGFyIWZxHiu4MhCf0tbmHzDUDg==";
    const OPENSSL_ED25519_KEYID: &str =
        "71ec924747dde14a407f0e4ffd1bbebbb9e2529a8f0022d51db0871150e7944d";
    const OPENSSL_P256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEr/Rekvv0E4P6v2exBd6l1s+EIi5I
bCZsimjwDal/JYUgFfnI3pP0dt02F4SUcciYVqeHCQYPVyK0Bauo7LZRKQ==
-----END PUBLIC KEY-----
";
    const OPENSSL_P256_SIG: &str = "MEYCIQDmSAaT3ffeh22onVWt+qaMLRJbnB27FD1XP9nnt78nEwIhAP9CdiAS07mICpnaPN3sU1TPPV75ApzIwXSsZfL0BQNj";
    const OPENSSL_P256_KEYID: &str =
        "abda0769b5eb3ec92df44abd8fb79a04673a972af8cbd2f90b7be776f1657619";
    const OPENSSL_P384: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDdMZEP6XgfoTpOJ0R+
7c5iUN/FXtxZgw3pnPQtqW0cSMM8/1ZD09rlt69usPqc8JahZANiAAQdZNvJEipl
C1D0uk/r3pWbV5EBAeoCBb8ADFspF1FLmoDSxrUS1oSmtLmNoTPKikIoNVmzgixd
GxMDyzcxtpoYHkfBlZpKWHgpvYXxAmOk0X5jREh55wBvm4QVlepivBU=
-----END PRIVATE KEY-----
";

    #[test]
    fn interoperates_with_openssl() {
        let message = crate::dsse::pae(crate::dsse::PAYLOAD_TYPE, b"{}");

        let ed_key = SigningKey::from_pkcs8_pem(OPENSSL_ED25519).unwrap();
        // PKCS#8 v2 (seed plus public key), as ed25519-dalek writes it.
        let SigningKey::Ed25519(inner) = &ed_key else {
            unreachable!()
        };
        let v2 = inner.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(
            SigningKey::from_pkcs8_pem(&v2).unwrap().keyid(),
            ed_key.keyid()
        );
        assert_eq!(ed_key.algorithm(), Algorithm::Ed25519);
        assert_eq!(ed_key.keyid(), OPENSSL_ED25519_KEYID);
        let ed_sig = crate::b64::decode(OPENSSL_ED25519_SIG, String::new).unwrap();
        assert!(ed_key.verifying_key().verify(&message, &ed_sig));
        // Ed25519 is deterministic, so we must produce OpenSSL's exact bytes.
        assert_eq!(ed_key.sign(&message).unwrap(), ed_sig);

        let p256 = VerifyingKey::from_public_key_pem(OPENSSL_P256_PUBLIC).unwrap();
        assert_eq!(p256.algorithm(), Algorithm::EcdsaP256);
        assert_eq!(p256.keyid(), OPENSSL_P256_KEYID);
        let p256_sig = crate::b64::decode(OPENSSL_P256_SIG, String::new).unwrap();
        assert!(p256.verify(&message, &p256_sig));
        assert!(!p256.verify(b"other", &p256_sig));

        match SigningKey::from_pkcs8_pem(OPENSSL_P384) {
            Err(Error::UnsupportedKeyAlgorithm { algorithm, .. }) => {
                assert_eq!(algorithm, "EC on curve P-384 (1.3.132.0.34)")
            }
            other => panic!("expected UnsupportedKeyAlgorithm, got {other:?}"),
        }
    }

    #[test]
    fn algorithm_names_parse() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.name().parse::<Algorithm>().unwrap(), algorithm);
        }
        assert!(matches!(
            "rsa".parse::<Algorithm>(),
            Err(Error::UnknownAlgorithm { .. })
        ));
    }
}
