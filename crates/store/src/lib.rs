//! Persistence behind small traits (SQLite by default, PostgreSQL for many instances).
//!
//! Empty until the persistence issue lands: nothing in the gateway reads or writes a database yet.
