//! Column metadata of every table, read once from `information_schema` at start-up.
//!
//! The engine builds SQL only from these names (and the views' declarations), so a
//! column name from a request can never reach SQL unless the table really has it.

use std::collections::BTreeMap;

use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Unsigned};

/// The kind of value a column holds, as the engine cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    Int,
    BigInt,
    Float,
    Bool,
    DateTime,
    Date,
    /// VARCHAR
    String,
    /// TEXT / MEDIUMTEXT / LONGTEXT
    Text,
    Enum,
}

impl SqlKind {
    pub fn is_stringy(self) -> bool {
        matches!(self, SqlKind::String | SqlKind::Text)
    }
}

/// One column of one table.
#[derive(Debug, Clone)]
pub struct ColumnMeta {
    pub name: String,
    pub kind: SqlKind,
    pub nullable: bool,
    /// VARCHAR length (or TEXT capacity).
    pub max_len: Option<u64>,
    /// ENUM values.
    pub enum_values: Vec<String>,
    /// Server default, when the DDL has one.
    pub server_default: Option<String>,
    pub is_primary: bool,
    pub is_unique: bool,
    /// The SQLAlchemy type string shown in `_info.columns_info`.
    pub sqla_type: String,
}

/// All columns of one table, in DDL order.
#[derive(Debug, Clone, Default)]
pub struct TableMeta {
    pub name: String,
    pub columns: Vec<ColumnMeta>,
    /// Ids come from the sequence `<name>_id_seq` (an adopted original database).
    pub id_sequence: bool,
    /// The select list of every column (`t.`a`, t.`b`, …`), written once on first use.
    pub select_list: std::sync::OnceLock<String>,
}

impl TableMeta {
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every table of the database.
#[derive(Debug, Clone, Default)]
pub struct SchemaMeta {
    pub tables: BTreeMap<String, TableMeta>,
}

impl SchemaMeta {
    pub fn table(&self, name: &str) -> Option<&TableMeta> {
        self.tables.get(name)
    }
}

#[derive(QueryableByName)]
struct ColRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    column_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
    #[diesel(sql_type = Nullable<Unsigned<BigInt>>)]
    max_len: Option<u64>,
    #[diesel(sql_type = Nullable<Text>)]
    column_default: Option<String>,
    #[diesel(sql_type = Text)]
    column_key: String,
}

fn kind_of(data_type: &str, column_type: &str) -> SqlKind {
    match data_type {
        "int" | "smallint" | "mediumint" => SqlKind::Int,
        "tinyint" if column_type.starts_with("tinyint(1)") => SqlKind::Bool,
        "tinyint" => SqlKind::Int,
        "bigint" => SqlKind::BigInt,
        "float" | "double" | "decimal" => SqlKind::Float,
        "datetime" | "timestamp" => SqlKind::DateTime,
        "date" => SqlKind::Date,
        "enum" => SqlKind::Enum,
        "text" | "mediumtext" | "longtext" | "tinytext" => SqlKind::Text,
        _ => SqlKind::String,
    }
}

fn sqla_type(kind: SqlKind, data_type: &str, max_len: Option<u64>, enum_len: usize) -> String {
    match kind {
        SqlKind::Int => "INTEGER".into(),
        SqlKind::BigInt => "BIGINT".into(),
        SqlKind::Float => "FLOAT".into(),
        SqlKind::Bool => "BOOLEAN".into(),
        SqlKind::DateTime => "DATETIME".into(),
        SqlKind::Date => "DATE".into(),
        SqlKind::Enum => format!("VARCHAR({enum_len})"),
        SqlKind::Text if data_type == "mediumtext" => "TEXT(65536)".into(),
        SqlKind::Text => "TEXT".into(),
        SqlKind::String => format!("VARCHAR({})", max_len.unwrap_or(255)),
    }
}

fn parse_enum(column_type: &str) -> Vec<String> {
    let inner = column_type
        .trim_start_matches("enum(")
        .trim_end_matches(')');
    inner
        .split(',')
        .map(|v| v.trim().trim_matches('\'').to_string())
        .collect()
}

/// Reads the metadata of every table of the current database.
pub fn load_schema(conn: &mut MysqlConnection) -> QueryResult<SchemaMeta> {
    let rows: Vec<ColRow> = diesel::sql_query(
        "SELECT table_name AS table_name, column_name AS column_name, data_type AS data_type, \
         column_type AS column_type, is_nullable AS is_nullable, \
         character_maximum_length AS max_len, column_default AS column_default, column_key AS column_key \
         FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position",
    )
    .load(conn)?;
    let mut schema = SchemaMeta::default();
    for r in rows {
        let kind = kind_of(&r.data_type.to_lowercase(), &r.column_type.to_lowercase());
        let enum_values = if kind == SqlKind::Enum {
            parse_enum(&r.column_type)
        } else {
            Vec::new()
        };
        let enum_len = enum_values
            .iter()
            .map(|v| v.chars().count())
            .max()
            .unwrap_or(0);
        let t = schema
            .tables
            .entry(r.table_name.clone())
            .or_insert_with(|| TableMeta {
                name: r.table_name.clone(),
                columns: Vec::new(),
                id_sequence: false,
                select_list: Default::default(),
            });
        t.columns.push(ColumnMeta {
            sqla_type: sqla_type(kind, &r.data_type.to_lowercase(), r.max_len, enum_len),
            name: r.column_name,
            kind,
            nullable: r.is_nullable == "YES",
            max_len: r.max_len,
            enum_values,
            server_default: r.column_default.filter(|d| d != "NULL"),
            is_primary: r.column_key == "PRI",
            is_unique: r.column_key == "UNI",
        });
    }
    for table in app_models::queries::id_sequence_tables(conn)? {
        if let Some(t) = schema.tables.get_mut(&table) {
            t.id_sequence = true;
        }
    }
    Ok(schema)
}
