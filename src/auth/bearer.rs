//! Reading the key out of an `Authorization: Bearer <key>` header.
//!
//! A header that cannot hold a key at all (another scheme, nothing after `Bearer `, GraphiQL's
//! `<paste your API key>` placeholder left in) is told apart from a well-formed header carrying
//! an unknown key: saying what is wrong with the *form* reveals nothing about which keys exist,
//! and it is the usual mistake of someone setting up a client. Unknown, wrong and revoked keys
//! still share one answer (see [`super::caller`]).

/// The form every client must use, quoted in every message about a malformed header.
pub const EXPECTED_FORM: &str = "`Authorization: Bearer <key>`";

/// The placeholder the GraphiQL page puts in its headers editor.
pub const PLACEHOLDER: &str = "<paste your API key>";

/// Why an `Authorization` header holds no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedHeader {
    /// The header does not start with the `Bearer ` scheme (e.g. a bare key, or `Basic …`).
    NotBearer,
    /// Nothing follows `Bearer `.
    NoKey,
    /// The key is still a placeholder in angle brackets, such as [`PLACEHOLDER`].
    Placeholder,
}

impl MalformedHeader {
    /// What the client should be told: the expected form and what was wrong.
    pub fn message(self) -> String {
        let problem = match self {
            Self::NotBearer => "it does not start with `Bearer `".to_string(),
            Self::NoKey => "it has no key after `Bearer `".to_string(),
            Self::Placeholder => {
                format!("it still holds the placeholder `{PLACEHOLDER}`: put your API key there")
            }
        };
        format!("malformed Authorization header: expected {EXPECTED_FORM}, but {problem}")
    }
}

/// The key of a `Bearer` header value. The scheme is matched without regard to case (RFC 9110)
/// and blanks around the key are ignored.
pub fn bearer_key(header: &str) -> Result<&str, MalformedHeader> {
    let header = header.trim();
    let (scheme, rest) = header.split_at_checked(6).unwrap_or((header, ""));
    let separated = rest.is_empty() || rest.starts_with([' ', '\t']);
    if !scheme.eq_ignore_ascii_case("bearer") || !separated {
        return Err(MalformedHeader::NotBearer);
    }
    let key = rest.trim();
    if key.is_empty() {
        Err(MalformedHeader::NoKey)
    } else if key.starts_with('<') && key.ends_with('>') {
        Err(MalformedHeader::Placeholder)
    } else {
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        use MalformedHeader::*;
        let cases: &[(&str, Result<&str, MalformedHeader>)] = &[
            ("Bearer eye_abc", Ok("eye_abc")),
            ("bearer eye_abc", Ok("eye_abc")),
            ("BEARER\teye_abc ", Ok("eye_abc")),
            ("  Bearer   eye_abc", Ok("eye_abc")),
            ("eye_abc", Err(NotBearer)),
            ("Basic dXNlcjpwYXNz", Err(NotBearer)),
            ("Bearereye_abc", Err(NotBearer)),
            ("Bear", Err(NotBearer)),
            ("", Err(NotBearer)),
            ("Bearer", Err(NoKey)),
            ("Bearer   ", Err(NoKey)),
            ("Bearer <paste your API key>", Err(Placeholder)),
            ("Bearer <key>", Err(Placeholder)),
            ("<paste your API key>", Err(NotBearer)),
        ];
        for (header, expected) in cases {
            assert_eq!(bearer_key(header), *expected, "{header:?}");
        }
    }

    #[test]
    fn messages_name_the_expected_form_and_the_problem() {
        assert_eq!(
            MalformedHeader::NotBearer.message(),
            "malformed Authorization header: expected `Authorization: Bearer <key>`, but it does \
             not start with `Bearer `"
        );
        assert_eq!(
            MalformedHeader::NoKey.message(),
            "malformed Authorization header: expected `Authorization: Bearer <key>`, but it has \
             no key after `Bearer `"
        );
        assert_eq!(
            MalformedHeader::Placeholder.message(),
            "malformed Authorization header: expected `Authorization: Bearer <key>`, but it still \
             holds the placeholder `<paste your API key>`: put your API key there"
        );
    }
}
