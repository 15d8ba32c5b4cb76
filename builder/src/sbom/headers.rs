//! The `Field: value` header blocks of a wheel's METADATA (the core
//! metadata's email-header form) and a Debian `control` file: one parser
//! for both, since both are RFC 822 headers with indented continuation
//! lines. It owns the text only; which fields mean what is the caller's.

/// Header fields in file order; a field may repeat (`Requires-Dist`).
#[derive(Debug, Default)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    /// Parses the header block (up to the first blank line; METADATA's
    /// body, the long description, follows it and is not read). The error
    /// says what is wrong and on which line.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Headers, String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8 (at byte {})", e.valid_up_to()))?;
        let mut fields: Vec<(String, String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            // Only an empty line ends the block: a line of blanks is a
            // folded continuation, as Python's email parser (which the core
            // metadata spec defers to) reads it. setuptools writes a
            // multi-line License that way, and numpy 2.1.3's METADATA
            // would otherwise end at its licence, losing Project-URL and
            // any Requires-Dist after it.
            if line.trim_end_matches('\r').is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = fields.last_mut() else {
                    return Err(format!("line {} continues no field", i + 1));
                };
                value.push('\n');
                value.push_str(line.trim());
                continue;
            }
            let field = line.split_once(':').filter(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            });
            let Some((key, value)) = field else {
                return Err(format!("line {} is not a `Field: value` header", i + 1));
            };
            fields.push((key.to_owned(), value.trim().to_owned()));
        }
        if fields.is_empty() {
            return Err("no header fields".into());
        }
        Ok(Headers(fields))
    }

    /// The first value of `key` (case-insensitive), if non-empty.
    pub(crate) fn get<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).next()
    }

    /// Every non-empty value of `key` (case-insensitive), in file order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_repeats_and_continuations_up_to_the_body() {
        let h = Headers::parse(
            b"Metadata-Version: 2.1\nName: demo\nRequires-Dist: a>=1\nrequires-dist: b; extra == \"x\"\n\
Description: one\n  two\n\nName: body-is-not-read\n",
        )
        .unwrap();
        assert_eq!(h.get("name"), Some("demo"));
        assert_eq!(
            h.all("Requires-Dist").collect::<Vec<_>>(),
            ["a>=1", "b; extra == \"x\""]
        );
        assert_eq!(h.get("Description"), Some("one\ntwo"));
        // A blank-filled continuation line does not end the block.
        let h = Headers::parse(
            b"Name: n\nLicense: Copyright\n         \n         text\nRequires-Dist: z\n\nbody\n",
        )
        .unwrap();
        assert_eq!(h.get("License"), Some("Copyright\n\ntext"));
        assert_eq!(h.get("Requires-Dist"), Some("z"));
    }

    #[test]
    fn says_which_line_is_wrong() {
        assert_eq!(
            Headers::parse(b"Name: x\nthis is prose\n").unwrap_err(),
            "line 2 is not a `Field: value` header"
        );
        assert_eq!(
            Headers::parse(b" indented\n").unwrap_err(),
            "line 1 continues no field"
        );
        assert!(Headers::parse(b"Name: \xff\n")
            .unwrap_err()
            .starts_with("not UTF-8"));
        assert_eq!(Headers::parse(b"\n").unwrap_err(), "no header fields");
    }
}
