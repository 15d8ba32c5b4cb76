//! The SLSA Provenance v1 predicate: what was built, how, and by whom.
//!
//! SLSA v1 has no field of its own for reproducibility; repro records it as a
//! by-product (`runDetails.byproducts`), so the predicate stays valid for any
//! SLSA verifier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};
use crate::statement::{
    as_object, check_descriptor, optional_str, required_str, ResourceDescriptor,
};

/// The `predicateType` of SLSA Provenance v1.
pub const PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// A SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The inputs of the build.
    pub build_definition: BuildDefinition,
    /// The particular run of the build.
    pub run_details: RunDetails,
}

/// `buildDefinition`: everything that determines the build's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// URI naming the template of this build (required).
    pub build_type: String,
    /// Parameters under the user's control; a JSON object (required).
    pub external_parameters: Value,
    /// Parameters set by the builder; a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<Value>,
    /// Inputs fetched or used by the build (sources, toolchains).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails`: this particular execution of the build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// Who ran the build.
    pub builder: Builder,
    /// Invocation id and times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Extra outputs worth recording, e.g. repro's reproducibility record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// `runDetails.builder`: the entity that ran the build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// URI identifying the builder (required).
    pub id: String,
    /// Component versions, by name; sorted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
    /// The builder's own dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builder_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails.metadata`: the parts that differ between two runs of the same
/// build (so two attestations of one build differ only here and in the
/// signatures).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Identifier of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// Start time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// End time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

impl Provenance {
    /// Provenance with the three required fields; fill the others directly.
    pub fn new(
        build_type: impl Into<String>,
        builder_id: impl Into<String>,
        external_parameters: Value,
    ) -> Self {
        Provenance {
            build_definition: BuildDefinition {
                build_type: build_type.into(),
                external_parameters,
                internal_parameters: None,
                resolved_dependencies: Vec::new(),
            },
            run_details: RunDetails {
                builder: Builder {
                    id: builder_id.into(),
                    version: BTreeMap::new(),
                    builder_dependencies: Vec::new(),
                },
                metadata: None,
                byproducts: Vec::new(),
            },
        }
    }
}

impl Metadata {
    /// Metadata with times written as RFC 3339 in UTC.
    pub fn new(
        invocation_id: impl Into<String>,
        started_on: OffsetDateTime,
        finished_on: OffsetDateTime,
    ) -> Result<Self> {
        Ok(Metadata {
            invocation_id: Some(invocation_id.into()),
            started_on: Some(format_rfc3339(started_on)?),
            finished_on: Some(format_rfc3339(finished_on)?),
        })
    }
}

/// `time` as RFC 3339 in UTC, e.g. `2024-01-01T00:00:00Z`.
pub fn format_rfc3339(time: OffsetDateTime) -> Result<String> {
    time.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| Error::invalid("timestamp", e.to_string()))
}

/// Checks the predicate JSON of a statement: required fields present, the
/// others of the right shape.
pub(crate) fn check_predicate(predicate: &Value) -> Result<()> {
    let obj = as_object(predicate, "predicate")?;

    let build = required_object(obj.get("buildDefinition"), "predicate.buildDefinition")?;
    required_str(build, "buildType", "predicate.buildDefinition.buildType")?;
    required_object(
        build.get("externalParameters"),
        "predicate.buildDefinition.externalParameters",
    )?;
    optional_object(
        build.get("internalParameters"),
        "predicate.buildDefinition.internalParameters",
    )?;
    check_descriptors(
        build.get("resolvedDependencies"),
        "predicate.buildDefinition.resolvedDependencies",
    )?;

    let run = required_object(obj.get("runDetails"), "predicate.runDetails")?;
    let builder = required_object(run.get("builder"), "predicate.runDetails.builder")?;
    required_str(builder, "id", "predicate.runDetails.builder.id")?;
    if let Some(version) = optional_object(
        builder.get("version"),
        "predicate.runDetails.builder.version",
    )? {
        for (name, v) in version {
            if !v.is_string() {
                return Err(Error::invalid(
                    format!("predicate.runDetails.builder.version.{name}"),
                    "expected a string",
                ));
            }
        }
    }
    check_descriptors(
        builder.get("builderDependencies"),
        "predicate.runDetails.builder.builderDependencies",
    )?;
    if let Some(metadata) = optional_object(run.get("metadata"), "predicate.runDetails.metadata")? {
        optional_str(
            metadata,
            "invocationId",
            "predicate.runDetails.metadata.invocationId",
        )?;
        for key in ["startedOn", "finishedOn"] {
            let path = format!("predicate.runDetails.metadata.{key}");
            if let Some(ts) = optional_str(metadata, key, &path)? {
                OffsetDateTime::parse(ts, &Rfc3339).map_err(|e| {
                    Error::invalid(&path, format!("{ts:?} is not an RFC 3339 timestamp: {e}"))
                })?;
            }
        }
    }
    check_descriptors(run.get("byproducts"), "predicate.runDetails.byproducts")?;

    // The checks above name fields precisely; this catches anything they do
    // not cover, so a predicate that passes always parses as `Provenance`.
    serde_json::from_value::<Provenance>(predicate.clone())
        .map(drop)
        .map_err(|source| Error::Json {
            what: "the SLSA provenance predicate",
            source,
        })
}

/// A member that must be a JSON object.
fn required_object<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>> {
    optional_object(value, path)?.ok_or_else(|| Error::missing(path))
}

/// A member that, when present and not null, must be a JSON object.
fn optional_object<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_object(v, path).map(Some),
    }
}

/// An optional array of ResourceDescriptors.
fn check_descriptors(value: Option<&Value>, path: &str) -> Result<()> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_descriptor(item, &format!("{path}[{i}]"))),
        Some(_) => Err(Error::invalid(path, "expected an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::tests::sample_statement;
    use crate::statement::validate_statement;
    use serde_json::json;

    fn validate_predicate_mutated(mutate: impl FnOnce(&mut Value)) -> Result<()> {
        let mut value = serde_json::to_value(sample_statement()).unwrap();
        mutate(&mut value["predicate"]);
        validate_statement(&serde_json::to_vec(&value).unwrap()).map(drop)
    }

    fn remove(value: &mut Value, key: &str) {
        value.as_object_mut().unwrap().remove(key).unwrap();
    }

    fn missing_field(result: Result<()>) -> String {
        match result {
            Err(Error::MissingField { field }) => field,
            other => panic!("expected MissingField, got {other:?}"),
        }
    }

    #[test]
    fn required_fields_are_enforced() {
        assert!(validate_predicate_mutated(|_| {}).is_ok());
        assert_eq!(
            missing_field(validate_predicate_mutated(|p| remove(
                &mut p["buildDefinition"],
                "buildType"
            ))),
            "predicate.buildDefinition.buildType"
        );
        assert_eq!(
            missing_field(validate_predicate_mutated(|p| remove(
                &mut p["buildDefinition"],
                "externalParameters"
            ))),
            "predicate.buildDefinition.externalParameters"
        );
        assert_eq!(
            missing_field(validate_predicate_mutated(|p| remove(
                &mut p["runDetails"]["builder"],
                "id"
            ))),
            "predicate.runDetails.builder.id"
        );
        assert_eq!(
            missing_field(validate_predicate_mutated(
                |p| p["runDetails"]["builder"]["id"] = json!("")
            )),
            "predicate.runDetails.builder.id"
        );
        assert_eq!(
            missing_field(validate_predicate_mutated(|p| remove(p, "runDetails"))),
            "predicate.runDetails"
        );
    }

    #[test]
    fn malformed_optional_fields_are_named() {
        let err = validate_predicate_mutated(|p| {
            p["buildDefinition"]["externalParameters"] = json!("a string")
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "predicate.buildDefinition.externalParameters"),
            "{err}"
        );
        let err = validate_predicate_mutated(|p| {
            p["runDetails"]["metadata"]["startedOn"] = json!("yesterday")
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "predicate.runDetails.metadata.startedOn"),
            "{err}"
        );
        let err = validate_predicate_mutated(|p| {
            p["runDetails"]["byproducts"] = json!([{"name": "reproducibility"}])
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "predicate.runDetails.byproducts[0]"),
            "{err}"
        );
    }

    #[test]
    fn byproduct_with_content_is_accepted_and_round_trips() {
        let statement = sample_statement();
        let mut provenance = statement.provenance().unwrap();
        let mut record = ResourceDescriptor {
            name: Some("reproducibility".into()),
            media_type: Some("application/json".into()),
            content: Some(br#"{"verdict":"reproducible"}"#.to_vec()),
            ..Default::default()
        };
        record.annotations.insert("runs".into(), json!(2));
        provenance.run_details.byproducts.push(record);
        provenance
            .run_details
            .builder
            .version
            .insert("repro".into(), "0.1.0".into());
        let statement = crate::Statement::new(statement.subject.clone(), &provenance).unwrap();
        let parsed = validate_statement(&statement.to_json_bytes().unwrap()).unwrap();
        assert_eq!(parsed.provenance().unwrap(), provenance);
    }

    #[test]
    fn metadata_times_are_rfc3339_utc() {
        let start = time::macros::datetime!(2024-05-06 07:08:09 +02:00);
        let end = time::macros::datetime!(2024-05-06 07:09:00 +02:00);
        let metadata = Metadata::new("id-1", start, end).unwrap();
        assert_eq!(metadata.started_on.as_deref(), Some("2024-05-06T05:08:09Z"));
        assert_eq!(
            metadata.finished_on.as_deref(),
            Some("2024-05-06T05:09:00Z")
        );
    }
}
