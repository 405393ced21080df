//! Snowflake: a connector ([`SnowflakeWarehouse`]) and the protocol layer it speaks.
//!
//! Snowflake's own drivers speak JSON over HTTPS: a login request answered with a session
//! token, then one query request per statement, answered with the result inline (base64 Arrow
//! IPC for queries, JSON for DML counts) or, for large results, with a list of chunks to
//! download. This module speaks that protocol for what the connector needs and no more:
//!
//! ```text
//!   source URL ──▶ SnowflakeSource ──▶ Session::login ──(password | key-pair JWT)──▶ token
//!                   (source.rs)         (session.rs)       (jwt.rs)
//!   Session::query(sql, binds) ──▶ query-request ──▶ QueryResult: rows (arrow.rs, rowset.rs)
//!                                                     or DML counts; chunks are an error
//! ```
//!
//! * [`source`]: the `snowflake://` source URL, typed and checked.
//! * [`jwt`]: the RS256 token of key-pair authentication, signed with ring.
//! * [`session`]: login, statements, results, logout over HTTP(S).
//! * [`arrow`]: a reader of the Arrow IPC stream for the types Snowflake sends (no arrow
//!   crate: see the module); [`rowset`]: cells of both result formats to
//!   [`crate::fields::OwnedValue`] by Snowflake type.
//! * [`sql`]: the statements the design sends, their golden file, and the check that none uses a
//!   construct Snowflake lacks.
//! * [`error`]: what can go wrong, with Snowflake's code and message, never a secret.
//! * [`warehouse`]: the [`super::Warehouse`] of Snowflake: the lock row, the journal, dry runs;
//!   `heartbeat`: the lock's heartbeat, on a thread and a session of its own.
//!
//! The design (state schema, statements per run, set-up) is in `docs/design/snowflake.md`.

pub mod arrow;
pub mod error;
mod heartbeat;
pub mod jwt;
pub mod rowset;
pub mod session;
pub mod source;
pub mod sql;
pub mod warehouse;

pub use error::SnowflakeError;
pub use session::{Bind, QueryResult, Session};
pub use source::{SnowflakeAuth, SnowflakeSource};
pub use warehouse::SnowflakeWarehouse;
