//! Recognising introspection queries, so that the schema can always be fetched.
//!
//! The introspection query that GraphiQL, graphql-codegen, Apollo and graphql_client send (as
//! graphql-js's `getIntrospectionQuery` builds it) selects `ofType` nine levels deep to unwrap
//! types such as `[[String!]!]!`. Counted like any other field that is deeper than the default
//! `EYE_MAX_QUERY_DEPTH`, so without this module the docs pane and every codegen pointed at the
//! endpoint failed with `LIMIT_EXCEEDED`.
//!
//! An `ofType` chain costs little: each link returns at most one type, and a chain ends with
//! null after a few links. What multiplies work is nesting lists (`types { fields { type {
//! fields … } } }`). So [`introspection_depth`] measures an operation whose root fields are all
//! introspection fields with the links of its `ofType` chains not counted, as long as no chain
//! is longer than the standard query's nine ([`FREE_CHAIN`]); the server runs it on a schema
//! without the depth limit only when that measure is within `EYE_MAX_QUERY_DEPTH`. A longer
//! chain, or a deep query that merely starts with `__schema`, is measured field by field and
//! refused as before; its raw depth stays bounded by the text nesting check
//! (`EYE_MAX_QUERY_NESTING`) and its size by the complexity limit, which the introspection
//! schema keeps.

use std::collections::HashMap;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

/// Root fields that only read the schema itself.
const INTROSPECTION_ROOTS: [&str; 3] = ["__schema", "__type", "__typename"];

/// The field whose links are free: it unwraps one list or non-null wrapper of a type.
const FREE_LINK: &str = "ofType";

/// The longest chain of [`FREE_LINK`]s that is free: the nine of graphql-js's
/// `getIntrospectionQuery`, enough for any type up to four lists deep. An operation with a
/// longer chain is measured like any other.
pub const FREE_CHAIN: usize = 9;

/// For an operation made only of introspection fields and `ofType` chains no longer than
/// [`FREE_CHAIN`], its depth with `ofType` links not counted; `None` for any other operation (or
/// text that does not parse, which the normal path then answers with its own error).
pub fn introspection_depth(query: &str, operation_name: Option<&str>) -> Option<usize> {
    if !query.contains("__schema") && !query.contains("__type") {
        return None;
    }
    let document = parse_query(query).ok()?;
    let operation = select_operation(&document, operation_name)?;
    if operation.ty != OperationType::Query {
        return None;
    }
    let roots = root_field_names(&operation.selection_set.node, &document)?;
    if roots.is_empty()
        || !roots
            .iter()
            .all(|name| INTROSPECTION_ROOTS.contains(&name.as_str()))
    {
        return None;
    }
    let mut walker = Walker {
        document: &document,
        memo: HashMap::new(),
    };
    walker.depth(&operation.selection_set.node, 0, &mut Vec::new())
}

/// The operation a request runs: the named one, or the only one.
fn select_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a async_graphql::parser::types::OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(&op.node),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The names of the fields selected at the root, through fragments; `None` when a fragment is
/// missing or spreads itself.
fn root_field_names(set: &SelectionSet, document: &ExecutableDocument) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut pending: Vec<(&SelectionSet, usize)> = vec![(set, 0)];
    while let Some((set, hops)) = pending.pop() {
        if hops > document.fragments.len() {
            return None;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => names.push(field.node.name.node.to_string()),
                Selection::InlineFragment(inline) => {
                    pending.push((&inline.node.selection_set.node, hops + 1));
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
                    pending.push((&fragment.node.selection_set.node, hops + 1));
                }
            }
        }
    }
    Some(names)
}

/// Measures selection sets, remembering each fragment's depth (for the chain length it is
/// spread at) so that fragments spread many times are measured once.
struct Walker<'a> {
    document: &'a ExecutableDocument,
    memo: HashMap<(String, usize), usize>,
}

impl Walker<'_> {
    /// The depth of `set` (a leaf field has depth 1), under a chain of `chain` [`FREE_LINK`]s;
    /// `None` on a chain longer than [`FREE_CHAIN`] or a missing or cyclic fragment.
    fn depth(
        &mut self,
        set: &SelectionSet,
        chain: usize,
        visiting: &mut Vec<String>,
    ) -> Option<usize> {
        let mut deepest = 0;
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let link = field.name.node.as_str() == FREE_LINK;
                    let chain = if link { chain + 1 } else { 0 };
                    if chain > FREE_CHAIN {
                        return None;
                    }
                    let below = self.depth(&field.selection_set.node, chain, visiting)?;
                    below + usize::from(!link)
                }
                Selection::InlineFragment(inline) => {
                    self.depth(&inline.node.selection_set.node, chain, visiting)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    self.fragment_depth(name, chain, visiting)?
                }
            };
            deepest = deepest.max(depth);
        }
        Some(deepest)
    }

    fn fragment_depth(
        &mut self,
        name: &str,
        chain: usize,
        visiting: &mut Vec<String>,
    ) -> Option<usize> {
        let key = (name.to_string(), chain);
        if let Some(depth) = self.memo.get(&key) {
            return Some(*depth);
        }
        if visiting.iter().any(|v| v == name) {
            return None;
        }
        let document = self.document;
        let fragment = document.fragments.get(name)?;
        visiting.push(name.to_string());
        let depth = self.depth(&fragment.node.selection_set.node, chain, visiting);
        visiting.pop();
        let depth = depth?;
        self.memo.insert(key, depth);
        Some(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// graphql-js 16's `getIntrospectionQuery()` with every option on, as GraphiQL sends it.
    const STANDARD: &str = include_str!("../../tests/api/introspection_query.graphql");

    #[test]
    fn the_standard_query_is_shallow_once_of_type_is_free() {
        let depth = introspection_depth(STANDARD, Some("IntrospectionQuery")).unwrap();
        assert_eq!(depth, 6);
        assert_eq!(introspection_depth(STANDARD, None), Some(6));
    }

    #[test]
    fn type_lookups_and_typename_count() {
        assert_eq!(
            introspection_depth("{ __type(name: \"Event\") { name fields { name } } }", None),
            Some(3)
        );
        assert_eq!(
            introspection_depth("{ __typename __schema { description } }", None),
            Some(2)
        );
    }

    #[test]
    fn nesting_other_than_of_type_counts() {
        let deep = "{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }";
        assert_eq!(introspection_depth(deep, None), Some(9));
        let chain = |links: usize| {
            format!(
                "{{ __schema {{ types {{ {} name {} }} }} }}",
                "ofType {".repeat(links),
                "}".repeat(links)
            )
        };
        assert_eq!(introspection_depth(&chain(9), None), Some(3));
        assert_eq!(introspection_depth(&chain(10), None), None);
    }

    #[test]
    fn anything_else_is_not_introspection() {
        for query in [
            "{ events { edges { cursor } } }",
            "{ __schema { description } events { edges { cursor } } }",
            "mutation { __typename }",
            "mutation M { __schema { description } }",
            "{ __schema { ...A } } fragment A on __Schema { ...A }",
            "{ __schema { ...Missing } }",
            "{ __schema ",
            "query A { __typename } query B { __schema { description } }",
        ] {
            assert_eq!(introspection_depth(query, None), None, "{query}");
        }
        assert_eq!(
            introspection_depth(
                "query A { events { edges { cursor } } } query B { __schema { description } }",
                Some("A")
            ),
            None
        );
        assert_eq!(
            introspection_depth(
                "query A { events { edges { cursor } } } query B { __schema { description } }",
                Some("B")
            ),
            Some(2)
        );
    }

    #[test]
    fn root_fields_behind_fragments_are_seen() {
        assert_eq!(
            introspection_depth(
                "{ ... on Query { events { edges { cursor } } } __schema { description } }",
                None
            ),
            None
        );
        assert_eq!(
            introspection_depth(
                "{ ...R } fragment R on Query { __schema { description } }",
                None
            ),
            Some(2)
        );
    }
}
