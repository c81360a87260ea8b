//! Reading a GraphQL request from `POST /graphql`.
//!
//! async-graphql reads a JSON body as its `BatchRequest`, an untagged enum of one operation or
//! a list of them: serde then buffers the whole document as generic `Content` values and reads
//! it a second time for the variant that fits, which for an ingest batch of a hundred events
//! was about 5 % of the server's CPU at saturation. The first character of the body already
//! says which it is (`[` for a list), so a JSON body is read once, straight into that variant.
//! Every other request (`GET` with a query string, multipart uploads) goes to
//! async-graphql-axum's extractor as before.

use async_graphql::{BatchRequest, ParseRequestError, Request as Operation};
use async_graphql_axum::GraphQLBatchRequest;
use async_graphql_axum::rejection::GraphQLRejection;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};

/// A GraphQL request (one operation or a batch of them), read as described in the module docs.
pub(super) struct GraphQlBody(pub BatchRequest);

impl<S: Send + Sync> FromRequest<S> for GraphQlBody {
    type Rejection = GraphQLRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.method() != Method::POST || !is_json(&request) {
            let batch =
                GraphQLBatchRequest::<GraphQLRejection>::from_request(request, state).await?;
            return Ok(Self(batch.into_inner()));
        }
        // The body was read whole by the size limit's middleware, so this does not wait.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|err| ParseRequestError::Io(std::io::Error::other(err.to_string())))?;
        Ok(Self(parse_json(&bytes)?))
    }
}

/// The media type prefix of the bodies left to async-graphql-axum.
const MULTIPART: &str = "multipart/";

/// Whether the body is JSON: what async-graphql assumes without a `Content-Type`, and any
/// type but multipart (async-graphql reads those as JSON too).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| {
            !value
                .trim_start()
                .get(..MULTIPART.len())
                .is_some_and(|kind| kind.eq_ignore_ascii_case(MULTIPART))
        })
}

/// One operation, or a batch when the document is a JSON array.
fn parse_json(body: &[u8]) -> Result<BatchRequest, ParseRequestError> {
    let invalid = |err: serde_json::Error| ParseRequestError::InvalidRequest(Box::new(err));
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<Operation>>(body)
            .map(BatchRequest::Batch)
            .map_err(invalid),
        _ => serde_json::from_slice::<Operation>(body)
            .map(BatchRequest::Single)
            .map_err(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_one_operation_and_an_array_a_batch() {
        let single = parse_json(br#" {"query": "{ a }", "variables": {"x": 1}}"#).unwrap();
        let BatchRequest::Single(operation) = single else {
            panic!("expected one operation");
        };
        assert_eq!(operation.query, "{ a }");
        assert_eq!(
            operation.variables.into_value().into_json().unwrap(),
            serde_json::json!({"x": 1})
        );

        let batch = parse_json(b"\n[{\"query\": \"{ a }\"}, {\"query\": \"{ b }\"}]").unwrap();
        let BatchRequest::Batch(operations) = batch else {
            panic!("expected a batch");
        };
        let queries: Vec<&str> = operations.iter().map(|o| o.query.as_str()).collect();
        assert_eq!(queries, ["{ a }", "{ b }"]);
    }

    #[test]
    fn what_is_not_a_request_is_refused_with_the_reason() {
        for body in [&b""[..], b"{", b"[1]", b"{\"query\": 1}", b"42"] {
            let err = parse_json(body).unwrap_err();
            assert!(
                matches!(err, ParseRequestError::InvalidRequest(_)),
                "{:?}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
