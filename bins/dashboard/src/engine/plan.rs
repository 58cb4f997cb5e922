//! A list request is parsed once into a [`ListPlan`] (which rows, in which order, which
//! page, which keys and how related rows are shown), then run in one pass:
//! plan → SQL (count and page) → rows → related rows and properties → JSON.

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value};

use super::dump::{RelMode, Shared, enrich_sharing, project_owned};
use super::query::{filter_sql, order_sql, parse_list_request};
use super::resolve::Resolved;
use super::sql::{Bind, SqlFrag, count, select_rows};
use super::view::Row;
use crate::auth::Ctx;
use crate::error::ApiError;

/// The rows of a view a caller may see: its visibility filter (`base_filter`).
pub fn visibility(rv: &Resolved<'_>, ctx: &Ctx) -> SqlFrag {
    SqlFrag::and(rv.view.hooks.base_filter(ctx).into_iter().collect())
}

/// One row through the view's visibility filter.
pub fn load_visible(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    id: i64,
) -> Result<Option<Row>, ApiError> {
    let w = SqlFrag::and(vec![
        visibility(rv, ctx),
        SqlFrag::new("t.`id` = ?", vec![Bind::Int(id)]),
    ]);
    Ok(select_rows(
        conn,
        rv.table,
        &[],
        &format!("WHERE {} LIMIT 1", w.sql),
        &w.binds,
    )?
    .into_iter()
    .next())
}

/// Whole rows (every column) of the view the caller may see that also match `extra`, in
/// `order` (SQL on alias `t`), at most `limit`: the shared body of list-shaped custom
/// routes that want rows as stored.
pub fn select_visible(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    extra: SqlFrag,
    order: &str,
    limit: i64,
) -> Result<Vec<Row>, ApiError> {
    let w = SqlFrag::and(vec![visibility(rv, ctx), extra]);
    let mut binds = w.binds;
    binds.push(Bind::Int(limit));
    Ok(select_rows(
        conn,
        rv.table,
        &[],
        &format!("WHERE {} ORDER BY {order} LIMIT ?", w.sql),
        &binds,
    )?)
}

/// The key of the total in the first row of a page.
const TOTAL: &str = "__total";

/// A page of rows as written out: its rows, the total, and the related rows they share.
pub struct Page {
    pub rows: Vec<Row>,
    pub total: i64,
    pub shared: Shared,
}

/// A validated list request, ready to run.
#[derive(Debug, Clone)]
pub struct ListPlan {
    /// The WHERE of both the count and the page: visibility, then the caller's
    /// favourites or filters.
    pub filter: SqlFrag,
    /// ` ORDER BY …` (or empty).
    pub order: String,
    pub limit: i64,
    pub offset: i64,
    /// The keys of each answered row, in order (the primary key is added).
    pub keys: Vec<String>,
    /// How related rows are shown.
    pub relations: RelMode,
}

impl ListPlan {
    /// Parses the merged arguments (`form_data`) against the view, for a caller.
    pub fn new(
        rv: &Resolved<'_>,
        ctx: &Ctx,
        args: &Map<String, Value>,
    ) -> Result<ListPlan, ApiError> {
        let lr = parse_list_request(rv, args)?;
        let mut parts = vec![visibility(rv, ctx)];
        if lr.only_favorite {
            parts.push(SqlFrag::new(
                "t.`id` IN (SELECT CAST(f.`row_id` AS SIGNED) FROM `favorite` f WHERE f.`model_name` = ? AND f.`user_id` = ?)",
                vec![
                    Bind::Text(rv.view.table.to_string()),
                    Bind::Int(ctx.user_id as i64),
                ],
            ));
        } else {
            for (col, opr, value) in &lr.filters {
                parts.push(filter_sql(rv, col, opr, value)?);
            }
        }
        Ok(ListPlan {
            filter: SqlFrag::and(parts),
            order: order_sql(rv, &lr.order),
            limit: lr.page_size,
            offset: lr.page.saturating_mul(lr.page_size),
            keys: lr.columns.unwrap_or_else(|| rv.list_columns()),
            relations: if lr.str_related {
                RelMode::Str
            } else {
                RelMode::Nested
            },
        })
    }

    /// Runs the plan: the page of rows as the API shows them, and the total count.
    pub fn run(
        &self,
        conn: &mut MysqlConnection,
        rv: &Resolved<'_>,
        ctx: &Ctx,
    ) -> Result<(Vec<Row>, i64), ApiError> {
        let page = self.execute(conn, rv, ctx, false)?;
        Ok((page.rows, page.total))
    }

    /// Runs the plan for writing the page out: related rows shared between rows are
    /// left in [`Page::shared`] (see [`super::dump::PageRows`]).
    pub fn run_page(
        &self,
        conn: &mut MysqlConnection,
        rv: &Resolved<'_>,
        ctx: &Ctx,
    ) -> Result<Page, ApiError> {
        self.execute(conn, rv, ctx, true)
    }

    /// The body of [`Self::run`] (every row holds its related rows, `share` off) and
    /// [`Self::run_page`] (`share` on).
    fn execute(
        &self,
        conn: &mut MysqlConnection,
        rv: &Resolved<'_>,
        ctx: &Ctx,
        share: bool,
    ) -> Result<Page, ApiError> {
        // the page and the total in one statement: the count is an uncorrelated
        // subquery, evaluated once (its binds come first, as its text does)
        let count_sql = format!(
            "SELECT COUNT(*) FROM `{}` t WHERE {}",
            rv.view.table, self.filter.sql
        );
        let mut binds = self.filter.binds.clone();
        binds.extend(self.filter.binds.iter().cloned());
        binds.push(Bind::Int(self.limit));
        binds.push(Bind::Int(self.offset));
        let tail = format!("WHERE {}{} LIMIT ? OFFSET ?", self.filter.sql, self.order);
        let mut rows = select_rows(
            conn,
            rv.table,
            &[(TOTAL, format!("({count_sql})"))],
            &tail,
            &binds,
        )?;
        let total = match rows
            .first()
            .and_then(|r| r.get(TOTAL))
            .and_then(Value::as_i64)
        {
            Some(n) => n,
            // an empty page (past the end) still answers the total
            None if self.offset > 0 => count(
                conn,
                &count_sql.replacen("COUNT(*)", "COUNT(*) AS n", 1),
                &self.filter.binds,
            )?,
            None => 0,
        };
        let shared = enrich_sharing(conn, rv, ctx, &mut rows, &self.keys, self.relations, share)?;
        Ok(Page {
            rows: rows
                .into_iter()
                .map(|r| project_owned(rv, r, &self.keys))
                .collect(),
            total,
            shared,
        })
    }
}
