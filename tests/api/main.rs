//! Integration tests: the real server on port 0 with a fresh database, driven over HTTP.
//! One module per capability; each reads as a specification of it.

mod admin;
mod auth;
mod cli;
mod clients;
mod counts;
mod event_types;
mod helpers;
mod hostile;
mod import;
mod ingest;
mod instances;
mod limits;
mod operations;
mod outage;
mod plans;
mod processing;
mod query;
mod schema;
mod sdk;
mod send;
mod series;
mod validation;
mod web;
