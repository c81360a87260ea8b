//! `GET /graphql/ws`: GraphQL subscriptions over websocket, with the graphql-transport-ws and
//! the legacy graphql-ws subprotocols as async-graphql-axum serves them.
//!
//! The key comes from the `connection_init` payload (`{"Authorization": "Bearer …"}`, the form
//! GraphiQL and graphql-ws clients send) or else from the upgrade request's `Authorization`
//! header, and is checked like any request's: known, not revoked, allowed from the client's
//! address. A bad key fails the connection's initialisation, which closes the socket with the
//! reason (close code 4403 on graphql-transport-ws). Each subscription then needs scope `read`
//! and a place under the subscription caps (see [`crate::live`]). Open sockets end when the
//! server shuts down.

use std::net::SocketAddr;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Extension;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::{HttpState, client_of};
use crate::auth::Authentication;
use crate::error::AppError;
use crate::graphql::live::ConnectionSubscriptions;

/// Upgrades to a websocket serving subscriptions.
pub(super) async fn graphql_ws(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client = client_of(connect, &headers, &state);
    let header_key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut stopped = state.stopped.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| async move {
            let db = state.db.clone();
            let socket = GraphQLWebSocket::new(stream, state.schemas.api.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let key = init_authorization(&payload).or(header_key);
                    let auth = Authentication::from_header(&db, key.as_deref(), client).await;
                    // Fail the initialisation (and so close the socket) with the same message
                    // a request with this key would get.
                    auth.require(crate::auth::Scope::Read)
                        .map_err(|err| async_graphql::Error::new(close_reason(err)))?;
                    let mut data = Data::default();
                    data.insert(auth);
                    data.insert(ConnectionSubscriptions::default());
                    Ok(data)
                })
                .serve();
            tokio::select! {
                _ = socket => {}
                _ = stopped.wait_for(|stopped| *stopped) => {}
            }
        })
}

/// The longest close reason a websocket close frame carries.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// `CODE: message`, cut to fit a close frame.
fn close_reason(err: AppError) -> String {
    let code = err.code();
    let message = async_graphql::Error::from(err).message;
    let mut reason = format!("{code}: {message}");
    if reason.len() > MAX_CLOSE_REASON_BYTES {
        let mut end = MAX_CLOSE_REASON_BYTES - '…'.len_utf8();
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

/// The `Authorization` entry of a `connection_init` payload, whatever its case.
fn init_authorization(payload: &serde_json::Value) -> Option<String> {
    payload
        .as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_string)
}
