//! DSSE (Dead Simple Signing Envelope) v1: the signed wrapper around a
//! payload, and the `.intoto.jsonl` files that hold one envelope per line.
//!
//! This layer is payload-agnostic: it signs and verifies bytes of any
//! `payloadType`. Signatures always cover `PAE(payloadType, payload)`, never
//! the base64 text nor the envelope's JSON, so re-encoding an envelope
//! (URL-safe base64, other field order) does not break it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::{Error, Result};
use crate::keys::{SigningKey, VerifyingKey};

/// The DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE v1 Pre-Authentication Encoding: the exact bytes that are signed.
///
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII
/// decimal. Encoding both lengths makes the split between type and body
/// unambiguous, so a signature over one (type, body) pair can never be passed
/// off as one over another.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope as stored in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// How to interpret the payload, e.g. [`PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The payload, standard base64 with padding when written by us.
    pub payload: String,
    /// One entry per signer.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Which key signed: lowercase hex SHA-256 of its SPKI DER (see
    /// [`VerifyingKey::keyid`]). An unauthenticated hint; may be empty.
    #[serde(default)]
    pub keyid: String,
    /// The signature over the PAE bytes, base64.
    pub sig: String,
}

/// What [`Envelope::verify`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPayload {
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// Key ids of the trusted keys whose signatures verified.
    pub keyids: Vec<String>,
}

impl Envelope {
    /// Signs `payload` with every key in `keys` (at least one).
    pub fn sign(payload_type: &str, payload: &[u8], keys: &[&SigningKey]) -> Result<Envelope> {
        if keys.is_empty() {
            return Err(Error::NoSigningKeys);
        }
        let message = pae(payload_type, payload);
        let signatures = keys
            .iter()
            .map(|key| {
                Ok(Signature {
                    keyid: key.keyid(),
                    sig: b64::encode(&key.sign(&message)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope {
            payload_type: payload_type.to_owned(),
            payload: b64::encode(payload),
            signatures,
        })
    }

    /// The decoded payload (standard or URL-safe base64 accepted). Not
    /// verified: use [`Envelope::verify`] before trusting it.
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        b64::decode(&self.payload, || "payload".to_owned())
    }

    /// Checks that at least one signature verifies with a trusted key.
    ///
    /// Each signature is tried against every trusted key, whatever its keyid
    /// says: keyids are unauthenticated hints that other tools compute
    /// differently or leave empty. The keyid only shapes the error when
    /// nothing verifies: a failed signature whose keyid names a trusted key
    /// means tampering ([`Error::SignatureInvalid`]); otherwise the envelope
    /// was simply signed by someone else ([`Error::NoTrustedSignature`]).
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<VerifiedPayload> {
        if trusted.is_empty() {
            return Err(Error::NoVerifyingKeys);
        }
        if self.signatures.is_empty() {
            return Err(Error::NoSignatures);
        }
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let trusted: Vec<(String, &VerifyingKey)> =
            trusted.iter().map(|key| (key.keyid(), key)).collect();

        let mut verified_by = Vec::new();
        let mut failed_trusted = None;
        for (i, signature) in self.signatures.iter().enumerate() {
            let sig = b64::decode(&signature.sig, || format!("signatures[{i}].sig"))?;
            // Every trusted key is tried, not only the one the keyid names:
            // the keyid is an unauthenticated hint and may be mislabelled.
            match trusted.iter().find(|(_, key)| key.verify(&message, &sig)) {
                Some((keyid, _)) => verified_by.push(keyid.clone()),
                None => {
                    if trusted.iter().any(|(keyid, _)| *keyid == signature.keyid) {
                        failed_trusted.get_or_insert_with(|| signature.keyid.clone());
                    }
                }
            }
        }

        if !verified_by.is_empty() {
            verified_by.sort();
            verified_by.dedup();
            return Ok(VerifiedPayload {
                payload,
                keyids: verified_by,
            });
        }
        if let Some(keyid) = failed_trusted {
            return Err(Error::SignatureInvalid { keyid });
        }
        Err(Error::NoTrustedSignature {
            found: self
                .signatures
                .iter()
                .filter(|s| !s.keyid.is_empty())
                .map(|s| s.keyid.clone())
                .collect(),
            trusted: trusted.into_iter().map(|(keyid, _)| keyid).collect(),
        })
    }

    /// Parses one envelope from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope> {
        serde_json::from_slice(bytes).map_err(|source| Error::Json {
            what: "the DSSE envelope",
            source,
        })
    }

    /// The envelope as one line of JSON Lines, ending in `\n`.
    pub fn to_json_line(&self) -> Result<String> {
        // serde_json's compact output escapes newlines inside strings, so the
        // envelope can never span two lines.
        let mut line = serde_json::to_string(self).map_err(|source| Error::Json {
            what: "the DSSE envelope",
            source,
        })?;
        line.push('\n');
        Ok(line)
    }
}

/// Parses JSON Lines holding one envelope per line; blank lines are skipped.
/// The error names the (1-based) line that is not an envelope.
pub fn parse_jsonl(input: impl AsRef<[u8]>) -> Result<Vec<Envelope>> {
    parse_lines(input.as_ref(), None)
}

/// Reads an `.intoto.jsonl` file; errors name the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Envelope>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        op: "read attestation file",
        path: path.to_owned(),
        source,
    })?;
    parse_lines(&bytes, Some(path))
}

/// Shared body of [`parse_jsonl`] and [`read_jsonl`].
fn parse_lines(input: &[u8], path: Option<&Path>) -> Result<Vec<Envelope>> {
    input
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|source| Error::JsonlLine {
                path: path.map(Path::to_owned),
                line: i + 1,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, SigningKey};
    use proptest::prelude::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn url_safe_payload_and_sig_are_accepted() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        // Bytes chosen so standard base64 contains '+' and '/'.
        let payload = [0xfbu8, 0xff, 0xbf, 0x3e, 0x00];
        let mut envelope = Envelope::sign("t", &payload, &[&key]).unwrap();
        let to_url_safe = |s: &str| s.replace('+', "-").replace('/', "_").replace('=', "");
        envelope.payload = to_url_safe(&envelope.payload);
        envelope.signatures[0].sig = to_url_safe(&envelope.signatures[0].sig);
        let verified = envelope.verify(&[key.verifying_key()]).unwrap();
        assert_eq!(verified.payload, payload);
    }

    #[test]
    fn malformed_base64_is_reported_with_its_field() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let mut envelope = Envelope::sign("t", b"x", &[&key]).unwrap();
        envelope.signatures[0].sig = "%%%".into();
        assert!(matches!(
            envelope.verify(&[key.verifying_key()]),
            Err(Error::Base64 { field, .. }) if field == "signatures[0].sig"
        ));
        envelope.payload = "%%%".into();
        assert!(matches!(
            envelope.verify(&[key.verifying_key()]),
            Err(Error::Base64 { field, .. }) if field == "payload"
        ));
    }

    #[test]
    fn empty_unknown_or_wrong_keyid_tries_every_trusted_key() {
        let signer = SigningKey::generate(Algorithm::EcdsaP256);
        let other = SigningKey::generate(Algorithm::Ed25519);
        let trusted = [other.verifying_key(), signer.verifying_key()];
        for keyid in ["".into(), "some-other-tools-keyid".into(), other.keyid()] {
            let mut envelope = Envelope::sign("t", b"x", &[&signer]).unwrap();
            envelope.signatures[0].keyid = keyid;
            assert_eq!(
                envelope.verify(&trusted).unwrap().keyids,
                vec![signer.keyid()]
            );
        }
    }

    #[test]
    fn jsonl_round_trip_with_blank_lines() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let a = Envelope::sign(PAYLOAD_TYPE, b"one", &[&key]).unwrap();
        let b = Envelope::sign(PAYLOAD_TYPE, b"two\nlines", &[&key]).unwrap();
        let line_a = a.to_json_line().unwrap();
        assert_eq!(line_a.matches('\n').count(), 1);
        assert!(line_a.ends_with('\n'));
        let text = format!("{line_a}\n  \r\n{}", b.to_json_line().unwrap());
        assert_eq!(parse_jsonl(&text).unwrap(), vec![a, b]);
    }

    #[test]
    fn jsonl_error_names_the_line_and_file() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let good = Envelope::sign(PAYLOAD_TYPE, b"one", &[&key])
            .unwrap()
            .to_json_line()
            .unwrap();
        let text = format!("{good}\n{{\"payloadType\": 3}}\n{good}");
        match parse_jsonl(&text) {
            Err(Error::JsonlLine {
                line: 3,
                path: None,
                ..
            }) => {}
            other => panic!("expected an error on line 3, got {other:?}"),
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build.intoto.jsonl");
        std::fs::write(&path, &text).unwrap();
        let err = read_jsonl(&path).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}: line 3 ", path.display())),
            "{message}"
        );
    }

    proptest! {
        #[test]
        fn ed25519_sign_verify_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..2048),
                                           payload_type in "[ -~]{0,40}") {
            let key = SigningKey::generate(Algorithm::Ed25519);
            let envelope = Envelope::sign(&payload_type, &payload, &[&key]).unwrap();
            let verified = envelope.verify(&[key.verifying_key()]).unwrap();
            prop_assert_eq!(verified.payload, payload.clone());
            // Any other payload type must not verify: PAE binds the type.
            let mut retyped = envelope.clone();
            retyped.payload_type.push('x');
            let is_invalid = matches!(
                retyped.verify(&[key.verifying_key()]),
                Err(Error::SignatureInvalid { .. })
            );
            prop_assert!(is_invalid);
        }
    }
}
