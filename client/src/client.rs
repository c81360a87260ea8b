//! [`Client`]: every operation of `clients/operations`, typed, over one HTTP connection pool
//! with one API key. One request per call and no retries: the [`Sender`](crate::Sender) adds
//! batching and retries for `recordEvents`.

use std::time::Duration;

use bytes::Bytes;
use graphql_client::GraphQLQuery;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::operations::*;
use crate::response::parse_response;

/// How long one request may take, answer included, unless [`Client::with_timeout`] says
/// otherwise. Generous: a `recordEvents` answer waits for the commit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A GraphQL client of one server with one key. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    authorization: HeaderValue,
}

impl Client {
    /// A client of the server at `url` (`http://host:8000`; a URL ending in `/graphql` is used
    /// as is) authenticating with `key`.
    pub fn new(url: &str, key: &str) -> Result<Self, Error> {
        Self::with_timeout(url, key, DEFAULT_TIMEOUT)
    }

    /// The same with another per-request timeout.
    pub fn with_timeout(url: &str, key: &str, timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .user_agent(concat!("the-eye-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Self::with_http(url, key, http)
    }

    /// A client using an HTTP client configured by the caller (proxies, certificates, pool).
    pub fn with_http(url: &str, key: &str, http: reqwest::Client) -> Result<Self, Error> {
        let base = url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config(format!(
                "the URL must start with http:// or https://, not `{url}`"
            )));
        }
        let endpoint = if base.ends_with("/graphql") {
            base.to_string()
        } else {
            format!("{base}/graphql")
        };
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| Error::Config("the key holds characters a header cannot".into()))?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            endpoint,
            authorization,
        })
    }

    /// The GraphQL endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs any operation typed by `graphql_client`.
    pub async fn execute<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<Q::ResponseData, Error> {
        let body = serde_json::to_vec(&Q::build_query(variables))
            .map_err(|e| Error::Config(format!("serializing the variables: {e}")))?;
        self.post(Bytes::from(body)).await
    }

    /// Posts a ready JSON request body and reads the answer's `data` as `T`.
    pub(crate) async fn post<T: DeserializeOwned>(&self, body: Bytes) -> Result<T, Error> {
        let response = self
            .http
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(Error::Transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await.map_err(Error::Transport)?;
        parse_response(status, retry_after.as_deref(), &body)
    }

    /// `recordEvents`: one batch, one result per event (scope `ingest`). No retries and no ids
    /// added; the [`Sender`](crate::Sender) does both.
    pub async fn record_events(
        &self,
        events: Vec<record_events::EventInput>,
    ) -> Result<record_events::RecordEventsRecordEvents, Error> {
        let data = self
            .execute::<RecordEvents>(record_events::Variables { events })
            .await?;
        Ok(data.record_events)
    }

    /// `recordEvents` with events already encoded as JSON `EventInput` objects, spliced into
    /// the request as they are (nothing is checked or added here: the server validates).
    pub async fn record_encoded<S: AsRef<str>>(
        &self,
        events: &[S],
    ) -> Result<record_events::RecordEventsRecordEvents, Error> {
        let body = record_events_body(events.iter().map(AsRef::as_ref));
        let data: record_events::ResponseData = self.post(body).await?;
        Ok(data.record_events)
    }

    /// Any query text with JSON variables; returns `data` untyped. For ad-hoc queries (the
    /// benchmark's); applications should prefer the typed methods.
    pub async fn query_json(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        self.post(Bytes::from(body.to_string())).await
    }

    /// `events`: one page of events (scope `read`).
    pub async fn events_page(
        &self,
        variables: events_page::Variables,
    ) -> Result<events_page::EventsPageEvents, Error> {
        Ok(self.execute::<EventsPage>(variables).await?.events)
    }

    /// `event`: one event by id, or `None` (scope `read`).
    pub async fn event(&self, id: &str) -> Result<Option<event::EventEvent>, Error> {
        let variables = event::Variables { id: id.to_string() };
        Ok(self.execute::<Event>(variables).await?.event)
    }

    /// `session`: one session with a page of its events, or `None` (scope `read`).
    pub async fn session(
        &self,
        variables: session::Variables,
    ) -> Result<Option<session::SessionSession>, Error> {
        Ok(self.execute::<Session>(variables).await?.session)
    }

    /// `eventCounts`: one page of grouped counts (scope `read`).
    pub async fn event_counts(
        &self,
        variables: event_counts::Variables,
    ) -> Result<event_counts::EventCountsEventCounts, Error> {
        Ok(self.execute::<EventCounts>(variables).await?.event_counts)
    }

    /// `eventSeries`: exact, zero-filled counts per bucket over `[from, to)` (scope `read`).
    pub async fn event_series(
        &self,
        variables: event_series::Variables,
    ) -> Result<event_series::EventSeriesEventSeries, Error> {
        Ok(self.execute::<EventSeries>(variables).await?.event_series)
    }

    /// `eventErrors`: one page of rejected events (scope `read`).
    pub async fn event_errors(
        &self,
        variables: event_errors::Variables,
    ) -> Result<event_errors::EventErrorsEventErrors, Error> {
        Ok(self.execute::<EventErrors>(variables).await?.event_errors)
    }

    /// `eventTypes`: every registered event type (scope `read`).
    pub async fn event_types(&self) -> Result<Vec<event_types::EventTypesEventTypes>, Error> {
        let variables = event_types::Variables {};
        Ok(self.execute::<EventTypes>(variables).await?.event_types)
    }

    /// `defineEventType` (scope `admin`).
    pub async fn define_event_type(
        &self,
        input: define_event_type::EventTypeInput,
    ) -> Result<define_event_type::DefineEventTypeDefineEventType, Error> {
        let variables = define_event_type::Variables { input };
        let data = self.execute::<DefineEventType>(variables).await?;
        Ok(data.define_event_type)
    }

    /// `processEvents`: runs the background job to completion (scope `admin`).
    pub async fn process_events(
        &self,
    ) -> Result<process_events::ProcessEventsProcessEvents, Error> {
        let variables = process_events::Variables {};
        Ok(self
            .execute::<ProcessEvents>(variables)
            .await?
            .process_events)
    }

    /// `applications` (scope `admin`).
    pub async fn applications(&self) -> Result<Vec<applications::ApplicationsApplications>, Error> {
        let variables = applications::Variables {};
        Ok(self.execute::<Applications>(variables).await?.applications)
    }

    /// `createApplication` (scope `admin`).
    pub async fn create_application(
        &self,
        input: create_application::CreateApplicationInput,
    ) -> Result<create_application::CreateApplicationCreateApplication, Error> {
        let variables = create_application::Variables { input };
        let data = self.execute::<CreateApplication>(variables).await?;
        Ok(data.create_application)
    }

    /// `setApplicationAllowlist`; `None` allows any address (scope `admin`).
    pub async fn set_application_allowlist(
        &self,
        variables: set_application_allowlist::Variables,
    ) -> Result<set_application_allowlist::SetApplicationAllowlistSetApplicationAllowlist, Error>
    {
        let data = self.execute::<SetApplicationAllowlist>(variables).await?;
        Ok(data.set_application_allowlist)
    }

    /// `apiKeys`, of one application or of all (scope `admin`).
    pub async fn api_keys(
        &self,
        application_id: Option<String>,
    ) -> Result<Vec<api_keys::ApiKeysApiKeys>, Error> {
        let variables = api_keys::Variables { application_id };
        Ok(self.execute::<ApiKeys>(variables).await?.api_keys)
    }

    /// `createApiKey`: the answer holds the secret, once (scope `admin`).
    pub async fn create_api_key(
        &self,
        input: create_api_key::CreateApiKeyInput,
    ) -> Result<create_api_key::CreateApiKeyCreateApiKey, Error> {
        let variables = create_api_key::Variables { input };
        Ok(self
            .execute::<CreateApiKey>(variables)
            .await?
            .create_api_key)
    }

    /// `revokeApiKey` (scope `admin`).
    pub async fn revoke_api_key(
        &self,
        id: &str,
    ) -> Result<revoke_api_key::RevokeApiKeyRevokeApiKey, Error> {
        let variables = revoke_api_key::Variables { id: id.to_string() };
        Ok(self
            .execute::<RevokeApiKey>(variables)
            .await?
            .revoke_api_key)
    }

    /// `rotateApiKey`: a new key with the same application and scopes (scope `admin`).
    pub async fn rotate_api_key(
        &self,
        id: &str,
    ) -> Result<rotate_api_key::RotateApiKeyRotateApiKey, Error> {
        let variables = rotate_api_key::Variables { id: id.to_string() };
        Ok(self
            .execute::<RotateApiKey>(variables)
            .await?
            .rotate_api_key)
    }
}

/// A `RecordEvents` request body with `events` (each one encoded `EventInput`) spliced into
/// its variables: events are encoded once, by whoever made them, and never again.
pub(crate) fn record_events_body<'a>(events: impl Iterator<Item = &'a str> + Clone) -> Bytes {
    let query = RecordEvents::build_query(record_events::Variables { events: Vec::new() });
    // `{"variables":{"events":[]},"query":…,"operationName":…}`, with the array filled in.
    let empty = serde_json::to_string(&query).unwrap_or_default();
    let (head, tail) = empty
        .split_once(r#""events":[]"#)
        .unwrap_or((empty.as_str(), ""));
    let size = events.clone().map(|e| e.len() + 1).sum::<usize>();
    let mut body = String::with_capacity(empty.len() + size);
    body.push_str(head);
    body.push_str(r#""events":["#);
    for (i, event) in events.enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(event);
    }
    body.push(']');
    body.push_str(tail);
    Bytes::from(body)
}
