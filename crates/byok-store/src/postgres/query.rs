//! A statement assembled from optional filters, its values bound as `$1`, `$2` … in
//! the order they were pushed.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub(crate) struct Query {
    sql: String,
    args: Vec<Box<dyn ToSql + Send + Sync>>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a parameter for `value` (a list binds as one array).
    pub(crate) fn bind(&mut self, value: impl ToSql + Send + Sync + 'static) -> &mut Self {
        self.args.push(Box::new(value));
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    pub(crate) async fn rows(&self, client: &impl GenericClient) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = client.prepare_cached(&self.sql).await?;
        let args: Vec<&(dyn ToSql + Sync)> = self.args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
        client.query(&statement, &args).await
    }
}
