//! Integration tests: the real server on port 0 with a fresh database, driven over HTTP.
//! One module per capability; each reads as a specification of it.

mod admin;
mod auth;
mod browser;
mod cli;
mod clients;
mod counts;
mod dashboard;
mod erasure;
mod event_types;
mod exact;
mod export;
mod helpers;
mod hostile;
mod import;
mod ingest;
mod instances;
mod limits;
mod live;
mod logs;
mod operations;
mod outage;
mod pending;
mod plans;
mod processing;
mod query;
mod retention;
mod schema;
mod sdk;
mod send;
mod series;
mod slow_clients;
mod typescript;
mod validation;
mod web;
