//! SQLite's statement builder (see `crate::filters`): values bound as `?1`, `?2` … in
//! the order they were pushed.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use crate::filters::Statement;

pub(crate) struct Query {
    sql: String,
    args: Vec<Value>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new() }
    }

    fn bind(&mut self, value: Value) -> &mut Self {
        self.args.push(value);
        self.sql.push_str(&format!("?{}", self.args.len()));
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

impl Statement for Query {
    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    fn text(&mut self, value: String) -> &mut Self {
        self.bind(Value::Text(value))
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.bind(Value::Integer(value))
    }

    fn one_of(&mut self, values: Vec<String>) -> &mut Self {
        self.sql.push_str(" IN (");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.text(value);
        }
        self.push(")")
    }
}
