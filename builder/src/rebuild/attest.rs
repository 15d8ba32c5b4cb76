//! The rebuild attestation: an in-toto Statement v1 whose subject is the
//! upstream artifact, with a SLSA Provenance v1 predicate of build type
//! [`BUILD_TYPE`]. The sdist (or source), the recipe, the frontend, every
//! downloaded build requirement and the toolchain the build saw are its
//! resolved dependencies; the verdict, the stabilizers and the differences
//! are the `reproducibility` byproduct, the record `repro verify` reads:
//! BIT_FOR_BIT is recorded as REPRODUCIBLE, EQUIVALENT as
//! EQUIVALENT_AFTER_NORMALIZATION (accepted only with --accept-normalized),
//! DIFFERENT as NOT_REPRODUCIBLE and FAILED as ERROR. Negative results are
//! attested too, saying so.

use provenance::slsa::Metadata;
use provenance::{Provenance, ResourceDescriptor, Statement};
use serde_json::{json, Map};

use super::run::{RebuildOptions, RebuildReport, Verdict};
use super::{Failure, Stage};
use crate::attestation::{DEFAULT_BUILDER_ID, REPRODUCIBILITY_MEDIA_TYPE};

/// The buildType of an independent rebuild: "fetched from a registry (or
/// given), rebuilt by recipe in a repro sandbox, compared with upstream".
pub const BUILD_TYPE: &str = "https://repro.invalid/build-types/independent-rebuild/v1";

/// The verdict `repro verify` reads for a rebuild verdict.
pub fn recorded(v: Verdict) -> crate::report::Verdict {
    use crate::report::Verdict as V;
    match v {
        Verdict::BitForBit => V::Reproducible,
        Verdict::Equivalent => V::EquivalentAfterNormalization,
        Verdict::Different => V::NotReproducible,
        Verdict::Failed => V::Error,
    }
}

/// The statement for `r`; `None` when there is no upstream artifact to be
/// its subject (the fetch failed).
pub fn statement(r: &RebuildReport, builder_id: &str) -> anyhow::Result<Option<Statement>> {
    let Some(up) = &r.upstream else {
        return Ok(None);
    };
    let subject = ResourceDescriptor::subject(&up.name, &up.sha256)?;
    let external = json!({
        "target": r.target,
        "upstream": up,
        "recipe": r.recipe,
        "generic": r.generic,
        "overridden": r.overridden,
    });
    let mut p = Provenance::new(BUILD_TYPE, builder_id, external);
    let mut dep = |name: &str, sha256: &str, uri: Option<&String>, role: &str| {
        let mut d = ResourceDescriptor {
            name: Some(name.to_owned()),
            uri: uri.cloned(),
            ..Default::default()
        };
        if !sha256.is_empty() {
            d.digest.insert("sha256".into(), sha256.to_owned());
        }
        d.annotations.insert("role".into(), json!(role));
        p.build_definition.resolved_dependencies.push(d);
    };
    if let Some(s) = &r.source {
        dep(&s.name, &s.sha256, s.url.as_ref(), "source");
    }
    if let Some(f) = &r.frontend {
        dep(&f.name, &f.sha256, f.url.as_ref(), "frontend");
    }
    for w in &r.wheelhouse {
        dep(&w.file, &w.sha256, None, "build-requirement");
    }
    p.build_definition
        .resolved_dependencies
        .extend(r.fetched.iter().map(crate::attestation::fetched_descriptor));
    if let Some(recipe) = &r.recipe {
        let text = toml::to_string(recipe)?;
        let mut d = ResourceDescriptor::from_bytes("recipe.toml", text.as_bytes());
        d.content = Some(text.into_bytes());
        d.media_type = Some("application/toml".into());
        p.build_definition.resolved_dependencies.push(d);
    }
    p.build_definition
        .resolved_dependencies
        .extend(r.tools.iter().map(crate::attestation::tool_descriptor));
    p.run_details
        .builder
        .version
        .insert("repro".into(), r.repro_version.to_owned());
    p.run_details.metadata = Some(Metadata {
        invocation_id: Some(provenance::sha256_hex(
            format!("{}\n{}", r.started_at, r.target).as_bytes(),
        )),
        started_on: Some(r.started_at.clone()),
        finished_on: Some(r.finished_at.clone()),
    });
    if let Some(rebuilt) = &r.rebuilt {
        let mut d = ResourceDescriptor {
            name: Some(rebuilt.name.clone()),
            ..Default::default()
        };
        d.digest.insert("sha256".into(), rebuilt.sha256.clone());
        d.annotations.insert("role".into(), json!("rebuilt"));
        p.run_details.byproducts.push(d);
    }
    let mut a = Map::new();
    a.insert("verdict".into(), serde_json::to_value(recorded(r.verdict))?);
    a.insert(
        "rebuild".into(),
        json!({
            "verdict": r.verdict.as_str(),
            "stabilizers": r.stabilizers,
            "differences": r.differences,
            "failure": r.failure,
            "buildVerdict": r.build_verdict,
        }),
    );
    let content = serde_json::to_vec(&a)?;
    let mut record = ResourceDescriptor::from_bytes("reproducibility", &content);
    record.media_type = Some(REPRODUCIBILITY_MEDIA_TYPE.into());
    record.content = Some(content);
    record.annotations = a;
    p.run_details.byproducts.push(record);
    Ok(Some(Statement::new(vec![subject], &p)?))
}

/// Writes `statement.json` and, with `--sign`, `rebuild.intoto.jsonl`.
pub fn write(opts: &RebuildOptions, r: &RebuildReport) -> Result<(), Failure> {
    let fail = |m: String| Failure::new(Stage::Attest, m);
    let builder_id = opts.builder_id.as_deref().unwrap_or(DEFAULT_BUILDER_ID);
    let Some(statement) = statement(r, builder_id).map_err(|e| fail(format!("{e:#}")))? else {
        return Ok(());
    };
    let mut json = serde_json::to_vec_pretty(&statement).map_err(|e| fail(e.to_string()))?;
    json.push(b'\n');
    fsio::write(&opts.out.join("statement.json"), &json).map_err(|e| fail(format!("{e:#}")))?;
    if let Some(key) = &opts.sign {
        let key = provenance::keys::load_signing_key(key).map_err(|e| fail(format!("{e:#}")))?;
        let envelope =
            provenance::sign_statement(&statement, &[&key]).map_err(|e| fail(format!("{e:#}")))?;
        let line = envelope
            .to_json_line()
            .map_err(|e| fail(format!("{e:#}")))?;
        fsio::write(&opts.out.join("rebuild.intoto.jsonl"), line.as_bytes())
            .map_err(|e| fail(format!("{e:#}")))?;
    }
    Ok(())
}
