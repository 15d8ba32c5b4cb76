//! DSSE envelopes, in-toto statements, SLSA provenance and repro's
//! reproducibility record, read from hostile bytes; and signing checked
//! against tampering.
//!
//! The first byte picks the mode:
//! - 0: the rest is `.intoto.jsonl` (one envelope a line): each envelope is
//!   verified with the fixed test keys and its payload (verified or not)
//!   read as a statement, as provenance and as a reproducibility record;
//! - 1: the rest is a statement's JSON; 2: a provenance predicate's JSON;
//! - 3 and up: structured. The rest shapes a statement (subject names,
//!   build type, builder id, parameters, a reproducibility record), which
//!   is signed with the fixed keys: verify must accept it and give back
//!   the statement, and the envelope's JSON line with one byte changed
//!   must be refused, or verify to the very same payload and type.
//!
//! Promises: nothing panics; what validates once serializes to JSON that
//! validates to the same statement (so a verifier and a re-signer agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance::slsa::Provenance;
use provenance::{
    parse_jsonl, sign_statement, validate_statement, verify_envelope, ResourceDescriptor,
    SigningKey, Statement, VerifyingKey,
};
use serde_json::{json, Value};

/// Ed25519, seed bytes 0..=31 (the key fuzz/seeds/make_seeds.py signs
/// its seed envelopes with).
const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f
-----END PRIVATE KEY-----
";

/// A fixed P-256 test key (made once with `openssl genpkey`), so both
/// signature schemes are exercised.
const P256_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQge8rZXxq3FPyG5u6E
5vmW7RrAFLw9Cn/4k4KrArMdyq+hRANCAAQHFy/H4K5K+hBALvtcsjK4rosyq/58
GFuDBWtQO7k9OzVcQXVj5GZHJ5Y+z7uvZE/1UNZ2j4sM6l/BZbdgjh7e
-----END PRIVATE KEY-----
";

/// The test keys, parsed once (not on every execution).
fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: std::sync::OnceLock<(SigningKey, SigningKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::from_pkcs8_pem(ED25519_PEM).expect("the Ed25519 test key"),
            SigningKey::from_pkcs8_pem(P256_PEM).expect("the P-256 test key"),
        )
    })
}

/// Reads a statement's JSON as every reader of repro does.
fn statement_bytes(bytes: &[u8]) {
    let Ok(statement) = validate_statement(bytes) else {
        return;
    };
    let again = statement
        .to_json_bytes()
        .expect("a valid statement serializes");
    let reread = validate_statement(&again).expect("a serialized statement validates again");
    assert_eq!(
        reread.to_json_bytes().expect("serializes"),
        again,
        "statement JSON is not stable"
    );
    if let Ok(p) = statement.provenance() {
        provenance(&p);
    }
}

fn provenance(p: &Provenance) {
    let _ = repro::attestation::recorded_verdict(p).map(|v| v.to_string());
}

fn envelopes(bytes: &[u8], trusted: &[VerifyingKey]) {
    let Ok(envelopes) = parse_jsonl(bytes) else {
        return;
    };
    for env in envelopes {
        if let Ok(v) = verify_envelope(&env, trusted) {
            provenance(&v.provenance);
        }
        if let Ok(payload) = env.payload_bytes() {
            statement_bytes(&payload);
        }
        let _ = env.verify(trusted);
    }
}

/// Splits `data` into printable strings at 0xff bytes.
fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xff)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

fn structured(data: &[u8], sk: &[&SigningKey], trusted: &[VerifyingKey]) {
    let Some((&[which_keys, at_lo, at_hi, xor], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let f = fields(rest);
    let get = |i: usize| f.get(i).cloned().unwrap_or_default();
    let mut p = Provenance::new(get(1), get(2), json!({ "source": get(3), "runs": 2 }));
    if !get(4).is_empty() {
        // A record as repro writes it, its content from the input (so it
        // may be no JSON at all, or contradict the annotations).
        let content = get(4).into_bytes();
        let mut record = ResourceDescriptor {
            name: Some("reproducibility".into()),
            media_type: Some("application/vnd.repro.reproducibility.v1+json".into()),
            ..Default::default()
        };
        record
            .digest
            .insert("sha256".into(), provenance::sha256_hex(&content));
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&content) {
            record.annotations = m;
        }
        record.content = Some(content);
        p.run_details.byproducts.push(record);
    }
    let subjects: Vec<ResourceDescriptor> = get(0)
        .split('\n')
        .map(|name| ResourceDescriptor::from_bytes(name, name.as_bytes()))
        .collect();
    let Ok(statement) = Statement::new(subjects, &p) else {
        return;
    };
    let keys: Vec<&SigningKey> = match which_keys % 3 {
        0 => vec![sk[0]],
        1 => vec![sk[1]],
        _ => vec![sk[0], sk[1]],
    };
    let env = sign_statement(&statement, &keys).expect("a valid statement signs");
    let verified = verify_envelope(&env, trusted).expect("what was just signed verifies");
    assert_eq!(
        verified.statement, statement,
        "verify changed the statement"
    );
    provenance(&verified.provenance);
    let payload = env.payload_bytes().expect("own payload decodes");

    // One byte of the stored line changed.
    let mut line = env
        .to_json_line()
        .expect("envelope serializes")
        .into_bytes();
    let at = usize::from(u16::from_le_bytes([at_lo, at_hi])) % line.len();
    line[at] ^= xor.max(1);
    let Ok(tampered) = parse_jsonl(&line) else {
        return;
    };
    for t in tampered {
        if let Ok(v) = t.verify(trusted) {
            assert_eq!(
                v.payload, payload,
                "a changed envelope verified to another payload"
            );
            assert_eq!(
                t.payload_type, env.payload_type,
                "a changed envelope verified with another payload type"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (ed, ec) = keys();
    let trusted = [ed.verifying_key(), ec.verifying_key()];
    match mode {
        0 => envelopes(rest, &trusted),
        1 => statement_bytes(rest),
        2 => {
            if let Ok(p) = serde_json::from_slice::<Provenance>(rest) {
                provenance(&p);
            }
        }
        _ => structured(rest, &[ed, ec], &trusted),
    }
});
