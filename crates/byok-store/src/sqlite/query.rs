//! A statement assembled from optional filters, its values bound as `?1`, `?2` … in
//! the order they were pushed.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

pub(crate) struct Query {
    sql: String,
    args: Vec<Value>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a parameter for `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push_str(&format!("?{}", self.args.len()));
        self
    }

    /// Appends `(?a, ?b, …)` for `values`.
    pub(crate) fn bind_list(&mut self, values: impl IntoIterator<Item = impl Into<Value>>) -> &mut Self {
        self.sql.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(value);
        }
        self.sql.push(')');
        self
    }

    pub(crate) fn rows<T>(
        &self,
        conn: &Connection,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        stmt.query_map(params_from_iter(&self.args), map)?.collect()
    }
}
