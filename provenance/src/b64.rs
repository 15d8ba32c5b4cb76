//! Base64 as DSSE and in-toto use it.
//!
//! We always write standard base64 with padding (what the DSSE spec shows),
//! but read both alphabets, padded or not, because other signers (Go's
//! `base64.URLEncoding`, some Sigstore tooling) emit URL-safe text.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::error::{Error, Result};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Standard base64 with padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard or URL-safe base64, padded or not; `field` names the
/// JSON field in the error.
pub(crate) fn decode(text: &str, field: impl FnOnce() -> String) -> Result<Vec<u8>> {
    // The two alphabets differ only in `+/` versus `-_`, so the presence of
    // either URL-safe character decides; mixing them is rejected.
    let engine = if text.contains(['-', '_']) {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine.decode(text).map_err(|source| Error::Base64 {
        field: field(),
        source,
    })
}

/// Serde adapter for `ResourceDescriptor::content`: bytes in memory, base64 on
/// the wire.
pub(crate) mod content {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the bytes as standard base64.
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => serializer.serialize_str(&super::encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads standard or URL-safe base64.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|t| super::decode(&t, || "content".to_owned()))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_alphabets_with_and_without_padding() {
        let bytes = [0xfb, 0xff, 0xfe, 0x01];
        for text in ["+//+AQ==", "+//+AQ", "-__-AQ==", "-__-AQ"] {
            assert_eq!(decode(text, String::new).unwrap(), bytes, "{text}");
        }
        assert_eq!(encode(&bytes), "+//+AQ==");
    }

    #[test]
    fn rejects_mixed_alphabets_and_garbage() {
        assert!(matches!(
            decode("+_//", || "payload".into()),
            Err(Error::Base64 { field, .. }) if field == "payload"
        ));
        assert!(decode("not base64!", String::new).is_err());
    }
}
