//! PostgreSQL's statement builder (see `crate::filters`): values bound as `$1`, `$2` …
//! in the order they were pushed, a list as one array.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::filters::Statement;

pub(crate) struct Query {
    sql: String,
    args: Vec<Box<dyn ToSql + Send + Sync>>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new() }
    }

    fn bind(&mut self, value: impl ToSql + Send + Sync + 'static) -> &mut Self {
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

impl Statement for Query {
    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    fn text(&mut self, value: String) -> &mut Self {
        self.bind(value)
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.bind(value)
    }

    fn one_of(&mut self, values: Vec<String>) -> &mut Self {
        self.push(" = ANY(").bind(values).push(")")
    }
}
