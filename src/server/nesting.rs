//! A check on a query's text before async-graphql parses it.
//!
//! The GraphQL parser recurses once per level of `{`, `[` and `(`, so a query of a few
//! kilobytes such as `[[[[…]]]]` would overflow the stack and abort the whole process before
//! any depth limit applies. [`nesting_depth`] measures the nesting with a flat loop (strings
//! and comments skipped), and the server refuses a query nested deeper than
//! `EYE_MAX_QUERY_NESTING` before parsing it.

/// The deepest nesting of `{`, `[` and `(` in `query`, outside strings and comments.
pub fn nesting_depth(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i = skip_block_string(bytes, i + 3);
                continue;
            }
            b'"' => {
                i = skip_string(bytes, i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The index after the `"` closing a string that starts at `i`.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index after the `"""` closing a block string that starts at `i`.
fn skip_block_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting_depth(""), 0);
        assert_eq!(nesting_depth("{ events { edges { cursor } } }"), 3);
        assert_eq!(nesting_depth("{ a(x: [[1]]) }"), 4);
        assert_eq!(nesting_depth("{ a(x: \"{{{{[[[\") }"), 2);
        assert_eq!(nesting_depth("{ a(x: \"\\\"{{{\") }"), 2);
        assert_eq!(nesting_depth("{ a(x: \"\"\"{{ \\\"\"\" {{\"\"\") }"), 2);
        assert_eq!(nesting_depth("# {{{{\n{ a }"), 1);
        assert_eq!(nesting_depth(&"[".repeat(100_000)), 100_000);
        assert_eq!(nesting_depth("}}}{"), 1);
    }
}
