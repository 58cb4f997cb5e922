//! The form-API variant of a view (api.md §1.9, the original's `MyappFormRestApi`): its
//! rows come from a function (the cluster, not a table), so it has no schema, no show,
//! add or edit. The declaration, its fixed `_info`, and the list request (order, page,
//! filters) applied to the rows the function returns.

use serde_json::{Map, Value, json};

use super::view::{Row, ViewId};
use crate::error::ApiError;

/// An action of a form view (`_info.action`, `multi_action/<name>`).
#[derive(Debug, Clone, PartialEq)]
pub struct FormAction {
    pub name: &'static str,
    pub text: &'static str,
    pub confirmation: &'static str,
    pub icon: &'static str,
    pub multiple: bool,
    pub single: bool,
}

/// How a column is ordered: as text, or by the ratio of a `used/total` text (a total
/// of 0 orders as 0, as the original's `'/0' in value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    Text,
    Ratio,
}

/// The declaration of a form view.
#[derive(Debug, Clone)]
pub struct FormView {
    pub id: ViewId,
    /// FAB view-menu name (`Total_Resource_ModelView_Api`).
    pub api_name: &'static str,
    pub label_title: &'static str,
    pub list_title: &'static str,
    /// The row key the front end sends back as `ids` of a multi action.
    pub primary_key: &'static str,
    pub list_columns: Vec<&'static str>,
    pub labels: Vec<(&'static str, &'static str)>,
    pub cols_width: Value,
    pub order_columns: Vec<(&'static str, OrderBy)>,
    /// `[{"text", "url"}]` links above the table.
    pub ops_link: Value,
    pub base_permissions: Vec<&'static str>,
    pub page_size: usize,
    /// Whether the page shows the chart of `echart`.
    pub echart: bool,
    pub actions: Vec<FormAction>,
    pub help_url: &'static str,
}

impl FormView {
    pub fn route_base(&self) -> &'static str {
        self.id.0
    }

    pub fn action(&self, name: &str) -> Option<&FormAction> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// `_info`: the original's fixed dict, keys in its order (`baseFormApi.api_info`).
    pub fn info(&self) -> Value {
        let title = |prefix: &str| format!("{prefix} {}", self.label_title);
        let labels: Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let actions: Map<String, Value> = self
            .actions
            .iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    json!({"name": a.name, "text": a.text, "confirmation": a.confirmation,
                           "icon": a.icon, "multiple": a.multiple, "single": a.single}),
                )
            })
            .collect();
        let order: Vec<&str> = self.order_columns.iter().map(|(c, _)| *c).collect();
        json!({
            "cols_width": self.cols_width,
            "label_columns": labels,
            "list_columns": self.list_columns,
            "label_title": self.label_title,
            "list_title": self.list_title,
            "ops_link": self.ops_link,
            "permissions": self.base_permissions,
            "route_base": format!("/{}/", self.route_base().trim_matches('/')),
            "order_columns": order,
            "filters": {},
            "page_size": self.page_size,
            "echart": self.echart,
            "action": actions,
            "add_columns": [],
            "add_fieldsets": [],
            "add_title": title("添加"),
            "columns_info": {},
            "description_columns": {},
            "edit_columns": [],
            "fixed_columns": [],
            "edit_fieldsets": [],
            "edit_title": title("编辑"),
            "related": {},
            "show_columns": [],
            "show_fieldsets": [],
            "show_title": title("查看"),
            "download_data": false,
            "import_data": false,
            "enable_favorite": false,
            "primary_key": self.primary_key,
            "help_url": self.help_url,
        })
    }
}

/// A filter of a list request: `eq` (equal) or `ct` (contains) on a list column's text.
#[derive(Debug, Clone, PartialEq)]
pub struct FormFilter {
    pub col: String,
    pub contains: bool,
    pub value: String,
}

/// A parsed list request (`form_data` in the query, the JSON body, plain query
/// parameters; later ones win, as the original merges them).
#[derive(Debug, Clone, PartialEq)]
pub struct FormListQuery {
    pub order: Option<(String, bool)>,
    pub page: usize,
    pub page_size: usize,
    pub filters: Vec<FormFilter>,
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn index_of(v: Option<&Value>, what: &str) -> Result<Option<usize>, ApiError> {
    match text_of(v) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => {
            s.trim().parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("{what} must be a non-negative integer"))
            })
        }
    }
}

impl FormListQuery {
    /// Parses the merged arguments against the view: unknown order columns, filter
    /// columns or operators are 400.
    pub fn parse(view: &FormView, args: &Map<String, Value>) -> Result<Self, ApiError> {
        let order = match text_of(args.get("order_column")).filter(|c| !c.is_empty()) {
            None => None,
            Some(col) => {
                if !view.order_columns.iter().any(|(c, _)| *c == col) {
                    return Err(ApiError::bad_request(format!(
                        "cannot order by {col}: not an order column"
                    )));
                }
                let dir = text_of(args.get("order_direction")).unwrap_or_else(|| "asc".into());
                let asc = match dir.as_str() {
                    "asc" | "" => true,
                    "desc" => false,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "order_direction must be asc or desc, not {other}"
                        )));
                    }
                };
                Some((col, asc))
            }
        };
        let page = index_of(args.get("page"), "page")?.unwrap_or(0);
        let page_size = index_of(args.get("page_size"), "page_size")?
            .filter(|n| *n > 0)
            .unwrap_or(view.page_size);
        let mut filters = Vec::new();
        match args.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for f in list {
                    let col = text_of(f.get("col")).unwrap_or_default();
                    if !view.list_columns.contains(&col.as_str()) {
                        return Err(ApiError::bad_request(format!("cannot filter by {col:?}")));
                    }
                    let contains = match text_of(f.get("opr")).as_deref() {
                        Some("eq") => false,
                        Some("ct") => true,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "unknown filter operator {other:?} (eq, ct)"
                            )));
                        }
                    };
                    let value = text_of(f.get("value")).unwrap_or_default();
                    filters.push(FormFilter {
                        col,
                        contains,
                        value,
                    });
                }
            }
            Some(_) => return Err(ApiError::bad_request("filters must be a list")),
        }
        Ok(FormListQuery {
            order,
            page,
            page_size,
            filters,
        })
    }

    /// Filters, orders (stable) and pages `rows`: the count of the filtered rows and the page.
    pub fn apply(&self, view: &FormView, mut rows: Vec<Row>) -> (usize, Vec<Row>) {
        let text = |r: &Row, c: &str| text_of(r.get(c)).unwrap_or_default();
        rows.retain(|r| {
            self.filters.iter().all(|f| {
                let v = text(r, &f.col);
                if f.contains {
                    v.contains(&f.value)
                } else {
                    v == f.value
                }
            })
        });
        if let Some((col, asc)) = &self.order {
            let how = view
                .order_columns
                .iter()
                .find(|(c, _)| c == col)
                .map_or(OrderBy::Text, |(_, h)| *h);
            let key = |r: &Row| text(r, col);
            // stable in both directions, as Python's `sorted(..., reverse=True)`
            rows.sort_by(|a, b| {
                let (a, b) = if *asc { (a, b) } else { (b, a) };
                match how {
                    OrderBy::Text => key(a).cmp(&key(b)),
                    OrderBy::Ratio => ratio(&key(a)).total_cmp(&ratio(&key(b))),
                }
            });
        }
        let count = rows.len();
        let page: Vec<Row> = rows
            .into_iter()
            .skip(self.page.saturating_mul(self.page_size))
            .take(self.page_size)
            .collect();
        (count, page)
    }
}

/// `used/total` as a number (0 when the total is 0 or the text is not a ratio).
pub fn ratio(text: &str) -> f64 {
    let Some((used, total)) = text.split_once('/') else {
        return 0.0;
    };
    match (used.trim().parse::<f64>(), total.trim().parse::<f64>()) {
        (Ok(u), Ok(t)) if t != 0.0 => u / t,
        _ => 0.0,
    }
}
