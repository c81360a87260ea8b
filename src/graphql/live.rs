//! `eventRecorded` and `eventRejected`: the live stream, over GraphQL subscriptions.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use async_graphql::{Context, ID, InputObject, Result, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::context::{filter_application_id, require, state};
use super::event_errors::EventError;
use super::events::Event;
use super::types::Application;
use crate::auth::Scope;
use crate::error::{AppError, AppResult};
use crate::live::{LiveItem, Slot, SubscriptionLimits};

/// The subscriptions a websocket connection holds, counted against
/// `EYE_MAX_SUBSCRIPTIONS_PER_CONNECTION` (set when the connection is initialised).
#[derive(Clone, Default)]
pub struct ConnectionSubscriptions(pub Arc<AtomicUsize>);

/// Which live events to receive, combined with AND.
#[derive(InputObject, Default, Clone)]
pub struct LiveFilter {
    /// Only events of this session.
    pub session_id: Option<String>,
    /// Only events of this category.
    pub category: Option<String>,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events sent by this application.
    pub application_id: Option<ID>,
}

/// A parsed [`LiveFilter`].
#[derive(Clone, Default)]
struct Matcher {
    session_id: Option<String>,
    category: Option<String>,
    name: Option<String>,
    application_id: Option<i32>,
}

impl LiveFilter {
    fn parse(self) -> AppResult<Matcher> {
        let application_id = filter_application_id(&self.application_id)?;
        Ok(Matcher {
            session_id: self.session_id,
            category: self.category,
            name: self.name,
            application_id,
        })
    }
}

impl Matcher {
    fn matches(
        &self,
        session: Option<&str>,
        category: Option<&str>,
        name: Option<&str>,
        application: i32,
    ) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        same(&self.session_id, session)
            && same(&self.category, category)
            && same(&self.name, name)
            && self.application_id.is_none_or(|a| a == application)
    }
}

/// The subscription root.
#[derive(Default)]
pub struct Subscription;

/// The subscription root: live events over websocket at `/graphql/ws`.
#[Subscription]
impl Subscription {
    /// Every event stored from now on that matches `filter`, once, in commit order, from every
    /// instance (scope `read`). A subscriber that falls more than the stream's buffer behind
    /// receives a `LAGGED` error with the number of events it missed, and the subscription
    /// ends. Over websocket at `/graphql/ws` (graphql-transport-ws or graphql-ws).
    async fn event_recorded(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; absent: every event.")] filter: Option<LiveFilter>,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let (receiver, slot) = open(ctx)?;
        let filter = filter.unwrap_or_default().parse()?;
        Ok(live_stream(receiver, slot, move |item| match item {
            LiveItem::Recorded(row) => {
                let (event, app) = &*row;
                filter
                    .matches(
                        Some(&event.session_id),
                        Some(&event.category),
                        Some(&event.name),
                        event.application_id,
                    )
                    .then(|| {
                        Event::new(
                            event.clone(),
                            Application::new(event.application_id, app.as_str()),
                        )
                    })
            }
            _ => None,
        }))
    }

    /// Every event rejected from now on that matches `filter`, with its reasons, once, in
    /// commit order, from every instance (scope `read`). Lagging ends it as for
    /// `eventRecorded`.
    async fn event_rejected(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which rejected events (fields as sent); absent: all.")] filter: Option<
            LiveFilter,
        >,
    ) -> Result<impl Stream<Item = Result<EventError>> + use<>> {
        let (receiver, slot) = open(ctx)?;
        let filter = filter.unwrap_or_default().parse()?;
        Ok(live_stream(receiver, slot, move |item| match item {
            LiveItem::Rejected(row) => {
                let (error, app) = &*row;
                filter
                    .matches(
                        error.session_id.as_deref(),
                        error.category.as_deref(),
                        error.name.as_deref(),
                        error.application_id,
                    )
                    .then(|| {
                        EventError::new(
                            error.clone(),
                            Application::new(error.application_id, app.as_str()),
                        )
                    })
            }
            _ => None,
        }))
    }
}

/// Checks the caller and the caps, then subscribes.
fn open(ctx: &Context<'_>) -> AppResult<(broadcast::Receiver<LiveItem>, Slot)> {
    let caller = require(ctx, Scope::Read)?;
    let state = state(ctx);
    let limits = &state.settings.limits;
    let connection = ctx
        .data_opt::<ConnectionSubscriptions>()
        .cloned()
        .unwrap_or_default();
    let slot = state.live.open_slot(
        caller.key_id,
        connection.0,
        SubscriptionLimits {
            total: limits.max_subscriptions,
            per_key: limits.max_subscriptions_per_key,
            per_connection: limits.max_subscriptions_per_connection,
        },
    )?;
    Ok((state.live.subscribe(), slot))
}

/// The items of `receiver` that `pick` keeps, ending with a `LAGGED` error when the receiver
/// fell behind or the stream was interrupted. `slot` is held for as long as the stream lives.
fn live_stream<T: Send + 'static>(
    receiver: broadcast::Receiver<LiveItem>,
    slot: Slot,
    pick: impl Fn(LiveItem) -> Option<T> + Send + 'static,
) -> impl Stream<Item = Result<T>> {
    futures_util::stream::unfold(Some((receiver, slot, pick)), |state| async move {
        let (mut receiver, slot, pick) = state?;
        loop {
            match receiver.recv().await {
                Ok(LiveItem::Gap) => {
                    let err = AppError::Lagged { missed: None };
                    return Some((Err(err.into()), None));
                }
                Ok(item) => {
                    if let Some(value) = pick(item) {
                        return Some((Ok(value), Some((receiver, slot, pick))));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let err = AppError::Lagged {
                        missed: Some(missed),
                    };
                    return Some((Err(err.into()), None));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;

    use super::*;
    use crate::live::Live;

    fn limits() -> SubscriptionLimits {
        SubscriptionLimits {
            total: 10,
            per_key: 10,
            per_connection: 10,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_lagged_with_the_count_and_ends() {
        let live = Live::new(2);
        let slot = live.open_slot(1, Arc::default(), limits()).unwrap();
        let stream = live_stream(live.subscribe(), slot, |_| Some(()));
        for _ in 0..5 {
            live.publish(LiveItem::Gap);
        }
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 1);
        let err = items.into_iter().next().unwrap().unwrap_err();
        assert_eq!(
            err.message,
            "the subscription fell behind and missed 3 items; subscribe again"
        );
        assert_eq!(
            live.open_subscriptions(),
            0,
            "the slot is given back when the stream ends"
        );
    }

    #[tokio::test]
    async fn an_interrupted_stream_ends_with_lagged_and_frees_its_slot() {
        let live = Live::new(8);
        let slot = live.open_slot(1, Arc::default(), limits()).unwrap();
        assert_eq!(live.open_subscriptions(), 1);
        let mut stream = Box::pin(live_stream(live.subscribe(), slot, |_| Some(())));
        live.publish(LiveItem::Gap);
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(
            err.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("LAGGED"))
        );
        assert!(stream.next().await.is_none());
        drop(stream);
        assert_eq!(live.open_subscriptions(), 0);
    }
}
