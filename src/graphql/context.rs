//! What a resolver needs from the request context: the shared state and the caller.

use async_graphql::Context;

use crate::auth::{Authentication, Caller, Scope};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The caller, if the request's key holds `scope`.
pub fn require<'a>(ctx: &Context<'a>, scope: Scope) -> AppResult<&'a Caller> {
    match ctx.data_opt::<Authentication>() {
        Some(auth) => auth.require(scope),
        None => Err(AppError::Unauthenticated(
            "send an API key as `Authorization: Bearer <key>`".into(),
        )),
    }
}
