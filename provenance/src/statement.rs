//! in-toto Statement v1 and ResourceDescriptor, and the checks that decide
//! whether a statement is one repro accepts.
//!
//! This module owns the payload layer only; it knows nothing about
//! signatures. The checks work on raw JSON so that every failure can name the
//! exact field (`subject[1].digest.sha256`) rather than a serde position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::slsa::{self, Provenance, PROVENANCE_V1};

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicateType of a CycloneDX SBOM statement (the in-toto
/// attestation framework's registered type for CycloneDX).
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";

/// An in-toto ResourceDescriptor: a reference to an artifact, a dependency or
/// a by-product.
///
/// All fields are optional on the wire and omitted when empty; the spec wants
/// at least one of `uri`, `digest` or `content`. Fields are declared in the
/// spec's order so the JSON is stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// Where the resource can be identified (URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm name (`sha256` → lowercase hex); sorted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Human-readable name, e.g. the artifact's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the resource can be downloaded from (URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// Media type of the resource or of `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Inline content; base64 on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::b64::content"
    )]
    pub content: Option<Vec<u8>>,
    /// Free-form extra information.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

impl ResourceDescriptor {
    /// A subject: a named artifact with its SHA-256 (64 lowercase hex chars).
    pub fn subject(name: impl Into<String>, sha256: impl Into<String>) -> Result<Self> {
        let sha256 = sha256.into();
        check_sha256("subject.digest.sha256", &sha256)?;
        let name = name.into();
        if name.is_empty() {
            return Err(Error::missing("subject.name"));
        }
        Ok(ResourceDescriptor {
            name: Some(name),
            digest: BTreeMap::from([("sha256".to_owned(), sha256)]),
            ..Self::default()
        })
    }

    /// A named resource whose SHA-256 is computed from `bytes`.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Self {
        ResourceDescriptor {
            name: Some(name.into()),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(bytes))]),
            ..Self::default()
        }
    }

    /// The `sha256` digest, if any.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An in-toto Statement v1: the subjects (artifacts) and a predicate about
/// them. repro only emits and accepts SLSA Provenance v1 predicates.
///
/// Fields are public for reading and for tests; [`Statement::new`] and
/// [`validate_statement`] are the ways to get one that is known to be valid,
/// and signing re-checks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts this statement is about; never empty.
    pub subject: Vec<ResourceDescriptor>,
    /// Always [`PROVENANCE_V1`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate as JSON (a serialized [`Provenance`]).
    pub predicate: Value,
}

impl Statement {
    /// A statement that `provenance` describes how `subject` was built.
    ///
    /// Fails when a subject lacks a name or a well-formed sha256 digest, or
    /// when the provenance lacks a required field.
    pub fn new(subject: Vec<ResourceDescriptor>, provenance: &Provenance) -> Result<Self> {
        let predicate = serde_json::to_value(provenance).map_err(|source| Error::Json {
            what: "the SLSA provenance predicate",
            source,
        })?;
        let statement = Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: PROVENANCE_V1.to_owned(),
            predicate,
        };
        statement.validate()?;
        Ok(statement)
    }

    /// A statement that `bom` (a CycloneDX document) lists what `subject`
    /// holds: predicateType [`CYCLONEDX_BOM`].
    ///
    /// Fails as [`Statement::new`] does for subjects, and when `bom` is not
    /// an object with `bomFormat` "CycloneDX" and a `specVersion`.
    pub fn cyclonedx(subject: Vec<ResourceDescriptor>, bom: Value) -> Result<Self> {
        let statement = Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: CYCLONEDX_BOM.to_owned(),
            predicate: bom,
        };
        statement.validate()?;
        Ok(statement)
    }

    /// Runs the same checks as [`validate_statement`] (or, for a CycloneDX
    /// statement, [`validate_any_statement`]) on this value.
    pub fn validate(&self) -> Result<()> {
        let value = serde_json::to_value(self).map_err(|source| Error::Json {
            what: "the statement",
            source,
        })?;
        let accepted: &[&'static str] = if self.predicate_type == CYCLONEDX_BOM {
            &[CYCLONEDX_BOM]
        } else {
            &[PROVENANCE_V1]
        };
        check_statement(&value, accepted)
    }

    /// The statement's JSON bytes: compact, fields in a fixed order and maps
    /// sorted, so the same statement always gives the same bytes.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|source| Error::Json {
            what: "the statement",
            source,
        })
    }

    /// The predicate as typed SLSA provenance.
    pub fn provenance(&self) -> Result<Provenance> {
        serde_json::from_value(self.predicate.clone()).map_err(|source| Error::Json {
            what: "the SLSA provenance predicate",
            source,
        })
    }

    /// The subject whose sha256 is `sha256`; `artifact` (a name or path) only
    /// serves the error message. Matching is by digest, so a renamed file
    /// still matches.
    pub fn subject_for_digest(&self, artifact: &str, sha256: &str) -> Result<&ResourceDescriptor> {
        let wanted = sha256.to_ascii_lowercase();
        self.subject
            .iter()
            .find(|s| s.sha256() == Some(wanted.as_str()))
            .ok_or_else(|| Error::NotASubject {
                artifact: artifact.to_owned(),
                sha256: wanted,
            })
    }
}

/// Parses statement JSON and checks it is an in-toto v1 statement carrying a
/// SLSA Provenance v1 predicate with every required field.
///
/// Each failure is its own [`Error`] variant naming the field concerned.
pub fn validate_statement(bytes: &[u8]) -> Result<Statement> {
    parse_checked(bytes, &[PROVENANCE_V1])
}

/// Like [`validate_statement`], but a CycloneDX SBOM statement
/// ([`CYCLONEDX_BOM`]) is accepted too; read `predicate_type` to tell.
pub fn validate_any_statement(bytes: &[u8]) -> Result<Statement> {
    parse_checked(bytes, &[PROVENANCE_V1, CYCLONEDX_BOM])
}

fn parse_checked(bytes: &[u8], accepted: &[&'static str]) -> Result<Statement> {
    let value: Value = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: "the statement",
        source,
    })?;
    check_statement(&value, accepted)?;
    serde_json::from_value(value).map_err(|source| Error::Json {
        what: "the statement",
        source,
    })
}

/// The predicate of a CycloneDX statement must at least say it is one;
/// the full schema is the SBOM producer's test oracle, not a verifier's
/// job.
fn check_bom(predicate: &Value) -> Result<()> {
    let obj = as_object(predicate, "predicate")?;
    let format = required_str(obj, "bomFormat", "predicate.bomFormat")?;
    if format != "CycloneDX" {
        return Err(Error::invalid(
            "predicate.bomFormat",
            format!("{format:?}, expected \"CycloneDX\""),
        ));
    }
    required_str(obj, "specVersion", "predicate.specVersion")?;
    Ok(())
}

/// The checks behind [`validate_statement`], on parsed JSON: the
/// predicateType must be one of `accepted` (the first is named when it is
/// not).
pub(crate) fn check_statement(value: &Value, accepted: &[&'static str]) -> Result<()> {
    let obj = as_object(value, "statement")?;

    let statement_type = required_str(obj, "_type", "_type")?;
    if statement_type != STATEMENT_TYPE {
        return Err(Error::WrongStatementType {
            found: statement_type.to_owned(),
            expected: STATEMENT_TYPE,
        });
    }

    let predicate_type = required_str(obj, "predicateType", "predicateType")?;
    if !accepted.contains(&predicate_type) {
        return Err(Error::WrongPredicateType {
            found: predicate_type.to_owned(),
            expected: accepted.first().copied().unwrap_or(PROVENANCE_V1),
        });
    }

    let subjects = match obj.get("subject") {
        None | Some(Value::Null) => return Err(Error::missing("subject")),
        Some(Value::Array(subjects)) => subjects,
        Some(_) => return Err(Error::invalid("subject", "expected an array")),
    };
    if subjects.is_empty() {
        return Err(Error::NoSubjects);
    }
    for (i, subject) in subjects.iter().enumerate() {
        let path = format!("subject[{i}]");
        check_descriptor(subject, &path)?;
        let subject = as_object(subject, &path)?;
        required_str(subject, "name", &format!("{path}.name"))?;
        // check_descriptor has validated the digest map's shape already.
        if subject
            .get("digest")
            .and_then(|d| d.get("sha256"))
            .is_none()
        {
            return Err(Error::missing(format!("{path}.digest.sha256")));
        }
    }

    match obj.get("predicate") {
        None | Some(Value::Null) => Err(Error::missing("predicate")),
        Some(predicate) if predicate_type == CYCLONEDX_BOM => check_bom(predicate),
        Some(predicate) => slsa::check_predicate(predicate),
    }
}

/// Checks a ResourceDescriptor found at `path`: an object with at least one of
/// uri, digest, content; digest values are strings and a sha256 is
/// well-formed; content is base64.
pub(crate) fn check_descriptor(value: &Value, path: &str) -> Result<()> {
    let obj = as_object(value, path)?;
    for key in ["uri", "name", "downloadLocation", "mediaType"] {
        optional_str(obj, key, &format!("{path}.{key}"))?;
    }
    let mut has_digest = false;
    match obj.get("digest") {
        None | Some(Value::Null) => {}
        Some(Value::Object(digests)) => {
            for (algorithm, digest) in digests {
                let field = format!("{path}.digest.{algorithm}");
                let digest = digest
                    .as_str()
                    .ok_or_else(|| Error::invalid(&field, "expected a hex string"))?;
                if algorithm == "sha256" {
                    check_sha256(&field, digest)?;
                }
            }
            has_digest = !digests.is_empty();
        }
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.digest"),
                "expected an object mapping algorithm to hex digest",
            ))
        }
    }
    let content = optional_str(obj, "content", &format!("{path}.content"))?;
    if let Some(content) = content {
        crate::b64::decode(content, || format!("{path}.content"))?;
    }
    match obj.get("annotations") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.annotations"),
                "expected an object",
            ))
        }
    }
    let has_uri = obj.get("uri").is_some_and(|u| !u.is_null());
    if !(has_uri || has_digest || content.is_some()) {
        return Err(Error::invalid(
            path,
            "a resource descriptor needs at least one of uri, digest or content",
        ));
    }
    Ok(())
}

/// A SHA-256 digest must be 64 lowercase hex characters.
fn check_sha256(field: &str, digest: &str) -> Result<()> {
    let well_formed = digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if well_formed {
        Ok(())
    } else {
        Err(Error::InvalidDigest {
            field: field.to_owned(),
            found: digest.to_owned(),
        })
    }
}

/// `value` as an object, or an error naming `path`.
pub(crate) fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Error::invalid(path, "expected a JSON object"))
}

/// A required, non-empty string member.
pub(crate) fn required_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str> {
    match optional_str(obj, key, path)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::missing(path)),
    }
}

/// An optional string member; present-but-not-a-string is an error.
pub(crate) fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(path, "expected a string")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) const SHA_A: &str =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// A valid statement about one artifact, for tests across the crate.
    pub(crate) fn sample_statement() -> Statement {
        let mut provenance = Provenance::new(
            "https://example.invalid/repro/build/v1",
            "https://example.invalid/repro/builder",
            json!({"source": "git+https://example.invalid/x", "command": ["make"]}),
        );
        provenance.run_details.metadata = Some(slsa::Metadata {
            invocation_id: Some("run-1".into()),
            started_on: Some("2024-01-01T00:00:00Z".into()),
            finished_on: Some("2024-01-01T00:01:00Z".into()),
        });
        let subject = ResourceDescriptor::subject("hello.tar.gz", SHA_A).unwrap();
        Statement::new(vec![subject], &provenance).unwrap()
    }

    #[test]
    fn subject_constructor_enforces_name_and_sha256() {
        assert!(ResourceDescriptor::subject("a", SHA_A).is_ok());
        assert!(matches!(
            ResourceDescriptor::subject("a", SHA_A.to_uppercase()),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(matches!(
            ResourceDescriptor::subject("a", "abc"),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(matches!(
            ResourceDescriptor::subject("", SHA_A),
            Err(Error::MissingField { .. })
        ));
    }

    #[test]
    fn new_rejects_empty_subjects() {
        let statement = sample_statement();
        let provenance = statement.provenance().unwrap();
        assert!(matches!(
            Statement::new(vec![], &provenance),
            Err(Error::NoSubjects)
        ));
    }

    #[test]
    fn descriptor_wire_format_is_camel_case_and_skips_empty() {
        let mut rd = ResourceDescriptor::from_bytes("r.json", b"{}");
        rd.media_type = Some("application/json".into());
        rd.download_location = Some("https://example.invalid/r.json".into());
        rd.content = Some(b"{}".to_vec());
        let json = serde_json::to_string(&rd).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"digest":{{"sha256":"{}"}},"name":"r.json","downloadLocation":"https://example.invalid/r.json","mediaType":"application/json","content":"e30="}}"#,
                sha256_hex(b"{}")
            )
        );
        let back: ResourceDescriptor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rd);
    }

    #[test]
    fn serialization_is_deterministic_and_round_trips() {
        let a = sample_statement().to_json_bytes().unwrap();
        let b = sample_statement().to_json_bytes().unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"#),
            "{text}"
        );
        assert_eq!(validate_statement(&a).unwrap(), sample_statement());
    }

    #[test]
    fn subject_for_digest_matches_by_digest() {
        let statement = sample_statement();
        let found = statement.subject_for_digest("renamed.tgz", SHA_A).unwrap();
        assert_eq!(found.name.as_deref(), Some("hello.tar.gz"));
        let other = "b".repeat(64);
        let err = statement
            .subject_for_digest("evil.tgz", &other)
            .unwrap_err();
        assert!(matches!(err, Error::NotASubject { .. }));
        assert_eq!(
            err.to_string(),
            format!("artifact evil.tgz (sha256 {other}) is not a subject of the attestation")
        );
    }

    /// Mutates the sample statement's JSON and returns the validation result.
    fn validate_mutated(mutate: impl FnOnce(&mut Value)) -> Result<Statement> {
        let mut value = serde_json::to_value(sample_statement()).unwrap();
        mutate(&mut value);
        validate_statement(&serde_json::to_vec(&value).unwrap())
    }

    #[test]
    fn validation_names_each_failure() {
        assert!(validate_mutated(|_| {}).is_ok());
        assert!(matches!(
            validate_mutated(|v| v["_type"] = json!("https://in-toto.io/Statement/v0.1")),
            Err(Error::WrongStatementType { found, .. }) if found.ends_with("v0.1")
        ));
        assert!(matches!(
            validate_mutated(|v| v["predicateType"] = json!("https://slsa.dev/provenance/v0.2")),
            Err(Error::WrongPredicateType { .. })
        ));
        assert!(matches!(
            validate_mutated(|v| v["subject"] = json!([])),
            Err(Error::NoSubjects)
        ));
        assert!(matches!(
            validate_mutated(|v| v.as_object_mut().unwrap().remove("subject").map(drop).unwrap()),
            Err(Error::MissingField { field }) if field == "subject"
        ));
        assert!(matches!(
            validate_mutated(|v| v["subject"][0].as_object_mut().unwrap().remove("name").map(drop).unwrap()),
            Err(Error::MissingField { field }) if field == "subject[0].name"
        ));
        assert!(matches!(
            validate_mutated(|v| v["subject"][0]["digest"] = json!({"sha512": "00"})),
            Err(Error::MissingField { field }) if field == "subject[0].digest.sha256"
        ));
        assert!(matches!(
            validate_mutated(|v| v["subject"][0]["digest"]["sha256"] = json!("xyz")),
            Err(Error::InvalidDigest { field, found }) if field == "subject[0].digest.sha256" && found == "xyz"
        ));
        assert!(matches!(
            validate_mutated(|v| v["predicate"] = json!(null)),
            Err(Error::MissingField { field }) if field == "predicate"
        ));
        assert!(matches!(
            validate_statement(b"{not json"),
            Err(Error::Json { .. })
        ));
    }
}
