//! `repro verify`: check signed provenance against trusted keys, the
//! artifacts in hand, and policy — including k-of-n agreement between
//! independent rebuilders (`--threshold K`: at least K distinct trusted
//! keys attest the same artifact digest).
//!
//! The defaults are the strict ones, so that forgetting a flag cannot let
//! something through: the attested verdict must be REPRODUCIBLE unless
//! `--accept-normalized` or `--allow-not-reproducible` loosen that, and a
//! run without ARTIFACT says loudly that no artifact was checked
//! (`--require-artifacts` makes it fail).
//!
//! Exit codes: 0 when everything holds, 1 when verification fails (each
//! reason is printed), 2 for usage and I/O errors (unreadable keys, files).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use provenance::{Predicate, VerifiedAttestation};

use crate::cli::VerifyArgs;
use repro::attestation::{recorded_verdict, RecordedVerdict};
use repro::report::Verdict;
use repro::sbom::properties as sbom;

/// Exit code when verification fails.
const EXIT_FAILED: u8 = 1;

/// Runs `repro verify`.
pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    if args.threshold == 0 {
        bail!("--threshold 0 would accept anything; use 1 or more");
    }
    let mut keys = Vec::new();
    for path in &args.keys {
        keys.push(provenance::keys::load_verifying_key(path)?);
    }
    let distinct_keys: BTreeSet<String> = keys.iter().map(|k| k.keyid()).collect();
    if distinct_keys.len() < args.threshold {
        bail!(
            "--threshold {} needs at least that many distinct trusted keys; {} given",
            args.threshold,
            distinct_keys.len()
        );
    }
    let files = if args.attestations.is_empty() {
        vec![PathBuf::from("provenance.intoto.jsonl")]
    } else {
        args.attestations.clone()
    };
    let mut envelopes = Vec::new();
    for file in &files {
        for (i, env) in provenance::read_jsonl(file)?.into_iter().enumerate() {
            envelopes.push((format!("{} #{}", file.display(), i + 1), env));
        }
    }
    if envelopes.is_empty() {
        bail!("no envelope in {}", display_list(&files));
    }
    let mut artifacts = Vec::new();
    for path in &args.artifacts {
        let d = diffoscope_lite::sha256_file(path)
            .with_context(|| format!("hashing artifact {}", path.display()))?;
        artifacts.push((path.clone(), d.hex()));
    }

    let mut failures: Vec<String> = Vec::new();
    let mut valid: Vec<(String, VerifiedAttestation)> = Vec::new();
    for (label, envelope) in &envelopes {
        // A signed SBOM is checked like the provenance: signature,
        // statement, subjects and the verdict it records.
        let v = match provenance::verify_any_envelope(envelope, &keys) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        match check_policy(&args, &v) {
            Ok(note) => {
                crate::outln!("ok  {label}: {}{note}", summary(&v));
                valid.push((label.clone(), v));
            }
            Err(reason) => failures.push(format!("{label}: {reason}")),
        }
    }

    let mut unmet: Vec<String> = Vec::new();
    if artifacts.is_empty() {
        if args.require_artifacts {
            unmet.push(
                "no ARTIFACT given; --require-artifacts requires at least one \
                 to match against the attested subjects"
                    .into(),
            );
        } else {
            eprintln!(
                "note: no ARTIFACT given: only the signatures and statements were checked; \
                 no artifact was matched against the subjects"
            );
        }
        let signers: BTreeSet<&String> = valid.iter().flat_map(|(_, v)| &v.keyids).collect();
        if signers.len() < args.threshold {
            unmet.push(format!(
                "{} valid attestation(s) by {} distinct trusted key(s); {} required",
                valid.len(),
                signers.len(),
                args.threshold
            ));
        }
    }
    for (path, digest) in &artifacts {
        let signers: BTreeSet<&String> = valid
            .iter()
            .filter(|(_, v)| {
                v.statement
                    .subject
                    .iter()
                    .any(|s| s.sha256() == Some(digest))
            })
            .flat_map(|(_, v)| &v.keyids)
            .collect();
        if signers.is_empty() {
            unmet.push(format!(
                "artifact {} (sha256 {digest}) is not a subject of any valid attestation",
                path.display()
            ));
        } else if signers.len() < args.threshold {
            unmet.push(format!(
                "artifact {} is attested by {} distinct trusted key(s); --threshold {} requires more",
                path.display(),
                signers.len(),
                args.threshold
            ));
        } else {
            crate::outln!(
                "ok  {}: sha256 {digest} attested by {} key(s)",
                path.display(),
                signers.len()
            );
        }
    }

    for f in &failures {
        eprintln!(
            "{} {f}",
            if unmet.is_empty() {
                "not counted:"
            } else {
                "rejected:"
            }
        );
    }
    if unmet.is_empty() && !valid.is_empty() {
        crate::outln!("verification passed");
        return Ok(ExitCode::SUCCESS);
    }
    for u in &unmet {
        eprintln!("failed: {u}");
    }
    eprintln!("verification FAILED");
    Ok(ExitCode::from(EXIT_FAILED))
}

/// The policy flags, applied to one verified statement: Ok with a note
/// for the `ok` line (empty when there is nothing to add), or the reason
/// the statement fails.
fn check_policy(args: &VerifyArgs, v: &VerifiedAttestation) -> Result<String, String> {
    let (builder, verdict) = match &v.predicate {
        Predicate::Provenance(p) => (
            Some(p.run_details.builder.id.as_str()),
            recorded_verdict(p).map_err(|e| e.to_string()),
        ),
        Predicate::CycloneDx(bom) => (sbom::builder_id(bom), sbom_verdict(bom)),
    };
    if let Some(want) = &args.builder_id {
        match builder {
            Some(b) if b == want => {}
            Some(b) => {
                return Err(format!(
                    "builder id is {b:?}, --builder-id requires {want:?}"
                ))
            }
            None => {
                return Err(format!(
                    "no builder id recorded, --builder-id requires {want:?}"
                ))
            }
        }
    }
    // A record that contradicts itself is rejected whatever the policy:
    // it is not a claim that can be weighed, it is two claims.
    let verdict = verdict?;
    if args.allow_not_reproducible {
        return Ok("; verdict not required (--allow-not-reproducible)".into());
    }
    match verdict {
        RecordedVerdict::Known(Verdict::Reproducible) => Ok(String::new()),
        RecordedVerdict::Known(Verdict::EquivalentAfterNormalization) if args.accept_normalized => {
            Ok("; equivalent after normalization accepted (--accept-normalized)".into())
        }
        RecordedVerdict::Known(Verdict::EquivalentAfterNormalization) => Err(format!(
            "verdict is {}, REPRODUCIBLE is required \
             (--accept-normalized accepts it, --allow-not-reproducible any verdict)",
            Verdict::EquivalentAfterNormalization.as_str()
        )),
        RecordedVerdict::Unrecorded => Err("no reproducibility verdict recorded, \
             REPRODUCIBLE is required (--allow-not-reproducible accepts that)"
            .into()),
        other => Err(format!(
            "verdict is {other}, REPRODUCIBLE is required \
             (--allow-not-reproducible accepts any verdict)"
        )),
    }
}

/// An SBOM's `repro:verdict` as the provenance's is read.
fn sbom_verdict(bom: &serde_json::Value) -> Result<RecordedVerdict, String> {
    Ok(match sbom::recorded_verdict(bom)? {
        None => RecordedVerdict::Unrecorded,
        Some(name) => match Verdict::ALL.into_iter().find(|v| v.as_str() == name) {
            Some(v) => RecordedVerdict::Known(v),
            None => RecordedVerdict::Unknown(name),
        },
    })
}

fn signers(v: &VerifiedAttestation) -> String {
    v.keyids
        .iter()
        .map(|k| k.get(..16).unwrap_or(k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line: builder, source, runs, verdict, signers (for an SBOM: its
/// size and verdict).
fn summary(v: &VerifiedAttestation) -> String {
    let p = match &v.predicate {
        Predicate::Provenance(p) => p,
        Predicate::CycloneDx(bom) => {
            let verdict =
                sbom_verdict(bom).map_or_else(|_| "contradictory".into(), |v| v.to_string());
            return format!(
                "SBOM (CycloneDX {}), {} component(s), verdict {verdict}, {} subject(s), signed by {}",
                bom["specVersion"].as_str().unwrap_or("?"),
                bom["components"].as_array().map_or(0, Vec::len),
                v.statement.subject.len(),
                signers(v)
            );
        }
    };
    let ext = &p.build_definition.external_parameters;
    let source = ext["source"]["location"].as_str().unwrap_or("?");
    let digest = ext["source"]["digest"]["gitCommit"]
        .as_str()
        .map(|c| format!("git {}", c.get(..12).unwrap_or(c)))
        .or_else(|| {
            ext["source"]["digest"]["repro-dirhash-v1"]
                .as_str()
                .map(|d| format!("dirhash {}", d.get(..12).unwrap_or(d)))
        })
        .unwrap_or_default();
    format!(
        "builder {} ({}), source {source} ({digest}), {} run(s), verdict {}, {} subject(s), signed by {}",
        p.run_details.builder.id,
        p.run_details
            .builder
            .version
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        ext["runs"].as_u64().unwrap_or(0),
        recorded_verdict(p).map_or_else(|_| "contradictory".to_string(), |v| v.to_string()),
        v.statement.subject.len(),
        signers(v)
    )
}

fn display_list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f: &PathBuf| Path::display(f).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
