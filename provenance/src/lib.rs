//! Signed build provenance for repro: in-toto Statement v1 carrying a SLSA
//! Provenance v1 predicate, wrapped in a DSSE envelope.
//!
//! An attestation has three layers, each from its own spec:
//!
//! 1. The **predicate** ([`slsa::Provenance`], [SLSA Provenance v1]) says how
//!    the artifacts were built: the build type and the parameters the user
//!    controls (`buildDefinition`), and who ran it and when (`runDetails`).
//!    repro records its reproducibility verdict as a by-product in
//!    `runDetails.byproducts`, since SLSA has no field for it.
//! 2. The **statement** ([`Statement`], [in-toto Attestation Framework v1])
//!    binds that predicate to its subjects: the artifacts, each named and
//!    identified by SHA-256.
//! 3. The **envelope** ([`Envelope`], [DSSE v1]) carries the statement's JSON
//!    bytes in base64 with one or more signatures. Each signature covers the
//!    Pre-Authentication Encoding [`pae`] of the payload type and the payload
//!    bytes, so what is verified is exactly what was signed, regardless of
//!    how the envelope's JSON is re-encoded.
//!
//! Envelopes are stored one per line in `*.intoto.jsonl` files
//! ([`Envelope::to_json_line`], [`parse_jsonl`], [`read_jsonl`]). Keys are
//! Ed25519 or ECDSA P-256 in PKCS#8 / SubjectPublicKeyInfo PEM files
//! ([`keys`]); a key's id is the hex SHA-256 of its public key's SPKI DER.
//!
//! Serialization is deterministic — fixed field order, sorted maps, compact
//! JSON, deterministic signature schemes — so two attestations of the same
//! build differ only in `runDetails.metadata` (invocation id, times) and the
//! signatures that cover it.
//!
//! Verification ([`verify_envelope`]) checks the payload type, a signature by
//! a trusted key, and then the statement itself ([`validate_statement`]);
//! each failure is its own [`Error`] variant naming the field or key at
//! fault. Whether a given file is one of the attested artifacts is a separate
//! question, answered by [`Statement::subject_for_digest`].
//!
//! [SLSA Provenance v1]: https://slsa.dev/spec/v1.0/provenance
//! [in-toto Attestation Framework v1]: https://github.com/in-toto/attestation/tree/main/spec/v1
//! [DSSE v1]: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
//!
//! # Example
//!
//! ```
//! use provenance::keys::{self, Algorithm};
//! use provenance::slsa::Provenance;
//! use provenance::{parse_jsonl, sign_statement, verify_envelope, ResourceDescriptor, Statement};
//! use serde_json::json;
//!
//! # fn main() -> provenance::Result<()> {
//! let artifact = b"the bytes of hello.tar.gz";
//! let provenance = Provenance::new(
//!     "https://example.invalid/repro/build/v1",
//!     "https://example.invalid/repro/builder",
//!     json!({ "source": "git+https://example.invalid/hello@v1.0" }),
//! );
//! let statement = Statement::new(
//!     vec![ResourceDescriptor::from_bytes("hello.tar.gz", artifact)],
//!     &provenance,
//! )?;
//!
//! let key = keys::generate(Algorithm::Ed25519);
//! let line = sign_statement(&statement, &[&key])?.to_json_line()?;
//!
//! // Later, possibly elsewhere, with only the public key:
//! let envelopes = parse_jsonl(&line)?;
//! let verified = verify_envelope(&envelopes[0], &[key.verifying_key()])?;
//! let sha256 = provenance::sha256_hex(artifact);
//! verified.statement.subject_for_digest("hello.tar.gz", &sha256)?;
//! assert_eq!(verified.keyids, vec![key.keyid()]);
//! # Ok(())
//! # }
//! ```

mod b64;
pub mod dsse;
mod error;
pub mod keys;
pub mod slsa;
mod statement;
mod verify;

pub use dsse::{pae, parse_jsonl, read_jsonl, Envelope, Signature, PAYLOAD_TYPE};
pub use error::{Error, Result};
pub use keys::{Algorithm, SigningKey, VerifyingKey};
pub use slsa::{Provenance, PROVENANCE_V1};
pub use statement::{
    sha256_hex, validate_any_statement, validate_statement, ResourceDescriptor, Statement,
    CYCLONEDX_BOM, STATEMENT_TYPE,
};
pub use verify::{
    sign_statement, verify_any_envelope, verify_envelope, Predicate, VerifiedAttestation,
    VerifiedStatement,
};
