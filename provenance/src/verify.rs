//! Signing and verifying in-toto statements: the DSSE layer and the
//! statement layer put together.
//!
//! Verification establishes, in order: the envelope claims to hold an in-toto
//! statement, a trusted key signed exactly these bytes, and the bytes are a
//! valid statement. Nothing from the payload is trusted before the signature
//! checks out.

use crate::dsse::{Envelope, PAYLOAD_TYPE};
use crate::error::{Error, Result};
use crate::keys::{SigningKey, VerifyingKey};
use crate::slsa::Provenance;
use crate::statement::{validate_any_statement, Statement, CYCLONEDX_BOM};

/// A statement whose signature and content have been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedStatement {
    /// The statement.
    pub statement: Statement,
    /// Its predicate as typed SLSA provenance.
    pub provenance: Provenance,
    /// Key ids of the trusted keys whose signatures verified (sorted).
    pub keyids: Vec<String>,
}

/// A signed statement of either kind repro writes, checked: signature and
/// statement shape; its predicate typed by kind.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAttestation {
    /// The statement.
    pub statement: Statement,
    /// What the statement says about its subjects.
    pub predicate: Predicate,
    /// Key ids of the trusted keys whose signatures verified (sorted).
    pub keyids: Vec<String>,
}

/// The predicate of a verified statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// SLSA Provenance v1: how the subjects were built.
    Provenance(Box<Provenance>),
    /// A CycloneDX SBOM (predicateType [`CYCLONEDX_BOM`]): what they hold.
    CycloneDx(serde_json::Value),
}

/// Signs `statement` with each key: the payload is the statement's
/// deterministic JSON ([`Statement::to_json_bytes`]).
///
/// The statement is validated first, so an invalid one is never signed.
pub fn sign_statement(statement: &Statement, keys: &[&SigningKey]) -> Result<Envelope> {
    statement.validate()?;
    Envelope::sign(PAYLOAD_TYPE, &statement.to_json_bytes()?, keys)
}

/// Verifies `envelope` against the trusted keys and returns its statement.
///
/// Fails with [`Error::WrongPayloadType`], [`Error::NoSignatures`],
/// [`Error::SignatureInvalid`] (tampered payload or signature),
/// [`Error::NoTrustedSignature`] (signed by another key), [`Error::Base64`],
/// [`Error::Json`], or one of the statement errors of
/// [`validate_statement`](crate::validate_statement). See [`Envelope::verify`] for how keyids are used.
pub fn verify_envelope(envelope: &Envelope, trusted: &[VerifyingKey]) -> Result<VerifiedStatement> {
    let v = verify_any_envelope(envelope, trusted)?;
    match v.predicate {
        Predicate::Provenance(provenance) => Ok(VerifiedStatement {
            statement: v.statement,
            provenance: *provenance,
            keyids: v.keyids,
        }),
        Predicate::CycloneDx(_) => Err(Error::WrongPredicateType {
            found: v.statement.predicate_type,
            expected: crate::slsa::PROVENANCE_V1,
        }),
    }
}

/// Like [`verify_envelope`], but a signed CycloneDX SBOM statement is
/// accepted too: the signature is checked the same way, then the
/// statement's shape, then the predicate is typed by its kind.
pub fn verify_any_envelope(
    envelope: &Envelope,
    trusted: &[VerifyingKey],
) -> Result<VerifiedAttestation> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(Error::WrongPayloadType {
            found: envelope.payload_type.clone(),
            expected: PAYLOAD_TYPE,
        });
    }
    let verified = envelope.verify(trusted)?;
    let statement = validate_any_statement(&verified.payload)?;
    let predicate = if statement.predicate_type == CYCLONEDX_BOM {
        Predicate::CycloneDx(statement.predicate.clone())
    } else {
        Predicate::Provenance(Box::new(statement.provenance()?))
    };
    Ok(VerifiedAttestation {
        statement,
        predicate,
        keyids: verified.keyids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;
    use crate::keys::{keygen, load_signing_key, load_verifying_key, Algorithm};
    use crate::statement::tests::{sample_statement, SHA_A};
    use serde_json::{json, Value};

    fn signed(algorithm: Algorithm) -> (SigningKey, Envelope) {
        let key = SigningKey::generate(algorithm);
        let envelope = sign_statement(&sample_statement(), &[&key]).unwrap();
        (key, envelope)
    }

    /// An envelope over arbitrary statement JSON, signed by `key`, bypassing
    /// the validation `sign_statement` does — what an attacker or a buggy
    /// tool could produce.
    fn signed_json(key: &SigningKey, statement: &Value) -> Envelope {
        let bytes = serde_json::to_vec(statement).unwrap();
        Envelope::sign(PAYLOAD_TYPE, &bytes, &[key]).unwrap()
    }

    #[test]
    fn round_trip_both_algorithms() {
        for algorithm in Algorithm::ALL {
            let (key, envelope) = signed(algorithm);
            assert_eq!(envelope.payload_type, PAYLOAD_TYPE);
            assert_eq!(envelope.signatures[0].keyid, key.keyid());
            let verified = verify_envelope(&envelope, &[key.verifying_key()]).unwrap();
            assert_eq!(verified.statement, sample_statement());
            assert_eq!(verified.keyids, vec![key.keyid()]);
            assert_eq!(
                verified.provenance.run_details.builder.id,
                "https://example.invalid/repro/builder"
            );
            verified
                .statement
                .subject_for_digest("hello.tar.gz", SHA_A)
                .unwrap();
        }
    }

    #[test]
    fn round_trip_through_key_files_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in Algorithm::ALL {
            let files = keygen(algorithm, &dir.path().join(algorithm.name())).unwrap();
            let key = load_signing_key(&files.private_key).unwrap();
            let envelope = sign_statement(&sample_statement(), &[&key]).unwrap();
            let path = dir.path().join(format!("{algorithm}.intoto.jsonl"));
            fsio::write(&path, envelope.to_json_line().unwrap().as_bytes()).unwrap();

            let envelopes = crate::dsse::read_jsonl(&path).unwrap();
            let public = load_verifying_key(&files.public_key).unwrap();
            let verified = verify_envelope(&envelopes[0], &[public]).unwrap();
            assert_eq!(verified.keyids, vec![files.keyid.clone()]);
        }
    }

    #[test]
    fn signing_is_deterministic() {
        for algorithm in Algorithm::ALL {
            let key = SigningKey::generate(algorithm);
            let a = sign_statement(&sample_statement(), &[&key]).unwrap();
            let b = sign_statement(&sample_statement(), &[&key]).unwrap();
            assert_eq!(a.to_json_line().unwrap(), b.to_json_line().unwrap());
        }
    }

    #[test]
    fn changed_payload_is_rejected() {
        for algorithm in Algorithm::ALL {
            let (key, mut envelope) = signed(algorithm);
            let mut statement = serde_json::to_value(sample_statement()).unwrap();
            statement["subject"][0]["digest"]["sha256"] = json!("b".repeat(64));
            envelope.payload = b64::encode(&serde_json::to_vec(&statement).unwrap());
            assert!(
                matches!(
                    verify_envelope(&envelope, &[key.verifying_key()]),
                    Err(Error::SignatureInvalid { keyid }) if keyid == key.keyid()
                ),
                "{algorithm}"
            );
        }
    }

    #[test]
    fn changed_signature_is_rejected() {
        for algorithm in Algorithm::ALL {
            let (key, mut envelope) = signed(algorithm);
            let mut sig = b64::decode(&envelope.signatures[0].sig, String::new).unwrap();
            let last = sig.len() - 1;
            sig[last] ^= 0x01;
            envelope.signatures[0].sig = b64::encode(&sig);
            assert!(
                matches!(
                    verify_envelope(&envelope, &[key.verifying_key()]),
                    Err(Error::SignatureInvalid { .. })
                ),
                "{algorithm}"
            );
        }
    }

    #[test]
    fn wrong_key_is_rejected() {
        for algorithm in Algorithm::ALL {
            let (key, envelope) = signed(algorithm);
            let stranger = SigningKey::generate(algorithm).verifying_key();
            match verify_envelope(&envelope, std::slice::from_ref(&stranger)) {
                Err(Error::NoTrustedSignature { found, trusted }) => {
                    assert_eq!(found, vec![key.keyid()]);
                    assert_eq!(trusted, vec![stranger.keyid()]);
                }
                other => panic!("{algorithm}: expected NoTrustedSignature, got {other:?}"),
            }
        }
    }

    #[test]
    fn second_trusted_key_is_enough() {
        let (key, envelope) = signed(Algorithm::Ed25519);
        let stranger = SigningKey::generate(Algorithm::EcdsaP256).verifying_key();
        let verified = verify_envelope(&envelope, &[stranger, key.verifying_key()]).unwrap();
        assert_eq!(verified.keyids, vec![key.keyid()]);
    }

    #[test]
    fn multiple_signers_are_all_reported() {
        let a = SigningKey::generate(Algorithm::Ed25519);
        let b = SigningKey::generate(Algorithm::EcdsaP256);
        let envelope = sign_statement(&sample_statement(), &[&a, &b]).unwrap();
        let verified = verify_envelope(&envelope, &[a.verifying_key(), b.verifying_key()]).unwrap();
        let mut expected = vec![a.keyid(), b.keyid()];
        expected.sort();
        assert_eq!(verified.keyids, expected);
    }

    #[test]
    fn no_signatures_or_keys_are_rejected() {
        let (key, mut envelope) = signed(Algorithm::Ed25519);
        assert!(matches!(
            verify_envelope(&envelope, &[]),
            Err(Error::NoVerifyingKeys)
        ));
        envelope.signatures.clear();
        assert!(matches!(
            verify_envelope(&envelope, &[key.verifying_key()]),
            Err(Error::NoSignatures)
        ));
        assert!(matches!(
            sign_statement(&sample_statement(), &[]),
            Err(Error::NoSigningKeys)
        ));
    }

    #[test]
    fn bad_payload_type_is_rejected() {
        let (key, mut envelope) = signed(Algorithm::Ed25519);
        envelope.payload_type = "application/json".into();
        assert!(matches!(
            verify_envelope(&envelope, &[key.verifying_key()]),
            Err(Error::WrongPayloadType { found, .. }) if found == "application/json"
        ));
    }

    #[test]
    fn signed_but_invalid_statements_are_rejected() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let trusted = [key.verifying_key()];
        let sample = serde_json::to_value(sample_statement()).unwrap();
        let with = |mutate: fn(&mut Value)| {
            let mut statement = sample.clone();
            mutate(&mut statement);
            verify_envelope(&signed_json(&key, &statement), &trusted)
        };

        assert!(matches!(
            with(|s| s["subject"] = json!([])),
            Err(Error::NoSubjects)
        ));
        assert!(matches!(
            with(|s| s["_type"] = json!("https://in-toto.io/Statement/v0.1")),
            Err(Error::WrongStatementType { .. })
        ));
        assert!(matches!(
            with(|s| {
                s["predicate"]["runDetails"]["builder"]
                    .as_object_mut()
                    .unwrap()
                    .remove("id");
            }),
            Err(Error::MissingField { field }) if field == "predicate.runDetails.builder.id"
        ));
        assert!(matches!(
            with(|s| {
                s["predicate"]["buildDefinition"]
                    .as_object_mut()
                    .unwrap()
                    .remove("buildType");
            }),
            Err(Error::MissingField { field }) if field == "predicate.buildDefinition.buildType"
        ));

        let not_json = Envelope::sign(PAYLOAD_TYPE, b"{oops", &[&key]).unwrap();
        assert!(matches!(
            verify_envelope(&not_json, &trusted),
            Err(Error::Json { .. })
        ));
    }

    #[test]
    fn a_cyclonedx_statement_verifies_only_where_one_is_accepted() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let subject = crate::ResourceDescriptor::subject("a.whl", SHA_A).unwrap();
        let bom = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1});
        let statement = Statement::cyclonedx(vec![subject], bom.clone()).unwrap();
        let envelope = sign_statement(&statement, &[&key]).unwrap();
        let trusted = [key.verifying_key()];
        let v = verify_any_envelope(&envelope, &trusted).unwrap();
        assert_eq!(v.predicate, Predicate::CycloneDx(bom));
        assert_eq!(v.statement.predicate_type, CYCLONEDX_BOM);
        // The provenance verifier keeps refusing it: it is no provenance.
        assert!(matches!(
            verify_envelope(&envelope, &trusted),
            Err(Error::WrongPredicateType { found, .. }) if found == CYCLONEDX_BOM
        ));
        // A provenance statement still verifies through either door.
        let (key, envelope) = signed(Algorithm::Ed25519);
        let v = verify_any_envelope(&envelope, &[key.verifying_key()]).unwrap();
        assert!(matches!(v.predicate, Predicate::Provenance(_)));
    }

    #[test]
    fn a_cyclonedx_predicate_must_say_it_is_one() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let mut statement = serde_json::to_value(sample_statement()).unwrap();
        statement["predicateType"] = json!(CYCLONEDX_BOM);
        statement["predicate"] = json!({"bomFormat": "SPDX", "specVersion": "1.6"});
        let err = verify_any_envelope(&signed_json(&key, &statement), &[key.verifying_key()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("predicate.bomFormat"), "{err}");
        assert!(Statement::cyclonedx(vec![], json!({})).is_err());
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let (_, envelope) = signed(Algorithm::Ed25519);
        let stranger = SigningKey::generate(Algorithm::Ed25519).verifying_key();
        let message = verify_envelope(&envelope, &[stranger])
            .unwrap_err()
            .to_string();
        assert!(message.contains("signed with a different key"), "{message}");
    }
}
