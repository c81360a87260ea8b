//! Bounded, non-empty text: the type of `sessionId`, `category`, `name` and the client's event
//! `id`. Databases cannot store NUL characters in text, so they are refused here, once.

use std::fmt;

use super::rejection::{Reason, ReasonCode};

/// Text that is non-empty, at most a given number of characters, and free of NUL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedText(String);

/// Why a text field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// Empty (or only white space).
    Empty,
    /// Longer than the limit.
    TooLong {
        /// The limit, in characters.
        max_chars: usize,
    },
    /// Contains a NUL character.
    Nul,
}

impl BoundedText {
    /// Parses `raw`, allowing at most `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, FieldError> {
        if raw.trim().is_empty() {
            return Err(FieldError::Empty);
        }
        if raw.len() > max_chars && raw.chars().count() > max_chars {
            return Err(FieldError::TooLong { max_chars });
        }
        if raw.contains('\0') {
            return Err(FieldError::Nul);
        }
        Ok(Self(raw.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for BoundedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FieldError {
    /// The rejection reason for field `field` (its GraphQL name, e.g. `sessionId`).
    pub fn reason(self, field: &str) -> Reason {
        let path = format!("/{field}");
        match self {
            FieldError::Empty => Reason::new(
                ReasonCode::EmptyValue,
                format!("`{field}` must not be empty"),
                path,
            ),
            FieldError::TooLong { max_chars } => Reason::new(
                ReasonCode::ValueTooLong,
                format!("`{field}` is longer than {max_chars} characters"),
                path,
            ),
            FieldError::Nul => Reason::new(
                ReasonCode::InvalidCharacter,
                format!("`{field}` contains a NUL character"),
                path,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_text_up_to_the_limit_in_characters() {
        assert_eq!(BoundedText::parse("abc", 3).unwrap().as_str(), "abc");
        assert_eq!(BoundedText::parse("ééé", 3).unwrap().as_str(), "ééé");
    }

    #[test]
    fn refuses_empty_long_and_nul() {
        assert_eq!(BoundedText::parse("", 3), Err(FieldError::Empty));
        assert_eq!(BoundedText::parse("  ", 3), Err(FieldError::Empty));
        assert_eq!(
            BoundedText::parse("abcd", 3),
            Err(FieldError::TooLong { max_chars: 3 })
        );
        assert_eq!(BoundedText::parse("a\0b", 3), Err(FieldError::Nul));
    }
}
