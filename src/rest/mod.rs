//! `/rest/v1`: the PostgREST-compatible data API. Every table, view and function of the exposed
//! schemas is served by the same code: the query string is parsed (`grammar`, `query`), resolved
//! against the schema cache (`schema`, `relation`), turned into one SQL statement with bound values
//! (`build`, `read`, `write`, `rpc`) and run in the caller's identity transaction, so row-level
//! security decides what each caller sees. `openapi` describes it all at `/rest/v1/`.

mod build;
pub(crate) mod context;
pub mod errors;
pub mod grammar;
pub mod openapi;
pub mod query;
mod read;
mod relation;
mod respond;
mod routes;
mod rpc;
pub mod schema;
mod sql;
pub mod typescript;
mod write;

pub use routes::router;
