//! What a resolver needs from the request context: the shared state and the caller.

use async_graphql::Context;

use crate::auth::bearer::EXPECTED_FORM;
use crate::auth::{Authentication, Caller, Scope};
use crate::config::Limits;
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
        None => Err(AppError::Unauthenticated(format!(
            "send an API key as {EXPECTED_FORM}"
        ))),
    }
}

/// The `applicationId` of a filter as a row id; `BAD_USER_INPUT` when it is not one.
pub fn filter_application_id(id: &Option<async_graphql::ID>) -> AppResult<Option<i32>> {
    id.as_ref()
        .map(|id| {
            id.parse::<i32>().map_err(|_| {
                AppError::BadInput("`filter.applicationId` is not an application id".into())
            })
        })
        .transpose()
}

/// The complexity of a paginated field: its items times what each item selects. Without
/// `first`, the built-in default page size counts (100, [`Limits::DEFAULT`]): complexity is
/// computed before any resolver runs, where the configured `EYE_DEFAULT_PAGE_SIZE` is not at
/// hand, and `eventCounts` is counted the same way although its page without `first` holds up to
/// the maximum page size. Negative `first` is left to the resolver to refuse with
/// `BAD_USER_INPUT`.
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_PAGE_FOR_COMPLEXITY).max(1) as usize;
    items.saturating_mul(child_complexity.max(1))
}

/// Items assumed for a page whose size is not given.
const DEFAULT_PAGE_FOR_COMPLEXITY: i32 = Limits::DEFAULT.default_page_size as i32;
