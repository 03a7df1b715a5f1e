//! The schema cache: tables, views, columns, primary keys, foreign keys and functions of the
//! exposed schemas, read from `pg_catalog`. Only names found here are ever written into SQL.
//! Reloaded on `NOTIFY pgrst, 'reload schema'` and after migrations, swapped atomically so
//! in-flight requests keep the version they started with.

mod reload;

pub use reload::{CacheHandle, RestState, spawn_listener};

use std::collections::HashMap;

use serde::Deserialize;
use sqlx::PgPool;

/// A column.
#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// `format_type` of its type (safe to write into SQL: it comes from the catalog).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Whether it has a default (or is identity/generated).
    pub has_default: bool,
    /// The default expression (from the catalog, so safe to write into SQL).
    #[serde(default)]
    pub default: Option<String>,
}

/// A table or view.
#[derive(Debug, Clone)]
pub struct Table {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// A view (no writes through the API unless auto-updatable; PostgreSQL decides).
    pub is_view: bool,
    /// The column sets of its primary key and unique constraints (as PostgREST reads one-to-one
    /// relationships: a unique index that is no constraint does not count).
    pub unique_keys: Vec<Vec<String>>,
}

impl Table {
    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `columns` (in any order) are unique in this table: a foreign key made of them
    /// points from at most one row, so its relationship is one-to-one.
    pub fn is_unique(&self, columns: &[String]) -> bool {
        let mut wanted: Vec<&String> = columns.iter().collect();
        wanted.sort();
        self.unique_keys.iter().any(|key| {
            let mut have: Vec<&String> = key.iter().collect();
            have.sort();
            have == wanted
        })
    }
}

/// A foreign key from `table(columns)` to `ref_table(ref_columns)`.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// Constraint name (usable as an embedding hint).
    pub name: String,
    /// Referencing table, `(schema, name)`.
    pub table: (String, String),
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: (String, String),
    /// Referenced columns.
    pub ref_columns: Vec<String>,
}

/// A function callable through `/rpc`.
#[derive(Debug, Clone)]
pub struct Function {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Named arguments: (name, type, has default).
    pub args: Vec<(String, String, bool)>,
    /// `RETURNS SETOF` / `TABLE`.
    pub returns_set: bool,
    /// Returns a row type (a table or composite), so its result is a record.
    pub returns_composite: bool,
    /// `void`.
    pub returns_void: bool,
    /// Not VOLATILE (callable with GET, runs read-only).
    pub stable: bool,
    /// The table its rows belong to, when it returns a table's row type.
    pub return_table: Option<(String, String)>,
    /// `format_type` of the return type.
    pub return_type: String,
    /// A record it returns that is no table's row (`RETURNS TABLE (…)`, OUT parameters, a
    /// composite type), as a table of its columns: what select, filters and order may name.
    pub record: Option<Table>,
}

/// Everything the data API knows about the database.
#[derive(Debug, Default)]
pub struct SchemaCache {
    /// Exposed schemas, the first is the default.
    pub schemas: Vec<String>,
    /// Tables by (schema, name).
    pub tables: HashMap<(String, String), Table>,
    /// All foreign keys touching exposed schemas.
    pub foreign_keys: Vec<ForeignKey>,
    /// Functions by (schema, name); overloads kept together.
    pub functions: HashMap<(String, String), Vec<Function>>,
    /// Enum types by their `format_type` name, with their labels in order.
    pub enums: HashMap<String, (String, String, Vec<String>)>,
    /// `statement_timeout` in milliseconds of the API roles that have their own
    /// (`alter role … [in database …] set statement_timeout = …`), by role name.
    pub role_timeouts: HashMap<String, u64>,
}

impl SchemaCache {
    /// A table or view of `schema`.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.get(&(schema.to_owned(), name.to_owned()))
    }

    /// Reads the catalog.
    pub async fn load(pool: &PgPool, schemas: &[String]) -> sqlx::Result<Self> {
        let mut conn = pool.acquire().await?;
        type TableRow = (
            String,
            String,
            bool,
            sqlx::types::Json<Vec<Column>>,
            Vec<String>,
            sqlx::types::Json<Vec<Vec<String>>>,
        );
        let rows: Vec<TableRow> = sqlx::query_as(
            "select n.nspname::text, c.relname::text, c.relkind in ('v', 'm'), \
               coalesce((select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), \
                  'nullable', not a.attnotnull, 'has_default', a.atthasdef or a.attidentity <> '' or a.attgenerated <> '', \
                  'default', case when a.attidentity = 'd' then format('nextval(%L::regclass)', pg_get_serial_sequence(c.oid::regclass::text, a.attname)) \
                    else (select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d where d.adrelid = a.attrelid and d.adnum = a.attnum and a.attgenerated = '') end) order by a.attnum) \
                 from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'), \
               coalesce((select array_agg(a.attname::text order by k.n) from pg_index i \
                  cross join unnest(i.indkey) with ordinality k(attnum, n) \
                  join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum \
                  where i.indrelid = c.oid and i.indisprimary), '{}'), \
               coalesce((select json_agg(u.cols) from (select array_agg(a.attname::text order by k.n) cols \
                  from pg_constraint con cross join unnest(con.conkey) with ordinality k(attnum, n) \
                  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum \
                  where con.conrelid = c.oid and con.contype in ('p', 'u') group by con.oid) u), '[]') \
             from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'f', 'p') and c.relname <> '_sqlx_migrations'",
        )
        .bind(schemas)
        .fetch_all(&mut *conn)
        .await?;
        let tables = rows
            .into_iter()
            .map(
                |(schema, name, is_view, columns, primary_key, unique_keys)| {
                    (
                        (schema.clone(), name.clone()),
                        Table {
                            schema,
                            name,
                            columns: columns.0,
                            primary_key,
                            is_view,
                            unique_keys: unique_keys.0,
                        },
                    )
                },
            )
            .collect();
        type FkRow = (
            String,
            String,
            String,
            Vec<String>,
            String,
            String,
            Vec<String>,
        );
        let fks: Vec<FkRow> = sqlx::query_as(
            "select con.conname::text, n1.nspname::text, c1.relname::text, \
               array(select a.attname::text from unnest(con.conkey) with ordinality k(attnum, i) \
                     join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.i), \
               n2.nspname::text, c2.relname::text, \
               array(select a.attname::text from unnest(con.confkey) with ordinality k(attnum, i) \
                     join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.i) \
             from pg_constraint con \
             join pg_class c1 on c1.oid = con.conrelid join pg_namespace n1 on n1.oid = c1.relnamespace \
             join pg_class c2 on c2.oid = con.confrelid join pg_namespace n2 on n2.oid = c2.relnamespace \
             where con.contype = 'f' and (n1.nspname = any($1) or n2.nspname = any($1))",
        )
        .bind(schemas)
        .fetch_all(&mut *conn)
        .await?;
        let foreign_keys = fks
            .into_iter()
            .map(|(name, s1, t1, columns, s2, t2, ref_columns)| ForeignKey {
                name,
                table: (s1, t1),
                columns,
                ref_table: (s2, t2),
                ref_columns,
            })
            .collect();
        type FnRow = (
            String,
            String,
            Vec<String>,
            Vec<String>,
            i16,
            bool,
            bool,
            bool,
            bool,
            Option<String>,
            Option<String>,
            String,
            sqlx::types::Json<Vec<Column>>,
        );
        // A record's columns: a composite type's attributes, or the OUT / TABLE parameters.
        let fns: Vec<FnRow> = sqlx::query_as(
            "select n.nspname::text, p.proname::text, \
               coalesce(array(select coalesce(p.proargnames[i], '') from generate_series(1, p.pronargs) i), '{}'), \
               array(select format_type(t, null) from unnest(p.proargtypes) t), p.pronargdefaults, p.proretset, \
               t.typtype = 'c' or p.prorettype = 'record'::regtype, p.prorettype = 'void'::regtype, p.provolatile <> 'v', \
               rn.nspname::text, rc.relname::text, format_type(p.prorettype, null), \
               coalesce(case when rc.oid is not null then null \
                 when t.typtype = 'c' then (select json_agg(json_build_object('name', a.attname, \
                     'type', format_type(a.atttypid, a.atttypmod), 'nullable', true, 'has_default', false) order by a.attnum) \
                   from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) \
                 when p.prorettype = 'record'::regtype and p.proallargtypes is not null then \
                   (select json_agg(json_build_object('name', coalesce(nullif(u.name, ''), 'column' || u.n), \
                       'type', format_type(u.ty, null), 'nullable', true, 'has_default', false) order by u.i) \
                    from (select a.*, row_number() over (order by a.i) n \
                      from unnest(p.proargnames, p.proargmodes::text[], p.proallargtypes) with ordinality a(name, mode, ty, i) \
                      where a.mode in ('o', 'b', 't')) u) end, '[]') \
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace \
             join pg_type t on t.oid = p.prorettype \
             left join pg_class rc on rc.oid = t.typrelid and rc.relkind in ('r', 'v', 'm', 'p', 'f') \
             left join pg_namespace rn on rn.oid = rc.relnamespace \
             where n.nspname = any($1) and p.prokind = 'f'",
        )
        .bind(schemas)
        .fetch_all(&mut *conn)
        .await?;
        let mut functions: HashMap<(String, String), Vec<Function>> = HashMap::new();
        for (
            schema,
            name,
            arg_names,
            arg_types,
            n_defaults,
            returns_set,
            composite,
            void,
            stable,
            rs,
            rt,
            return_type,
            result_columns,
        ) in fns
        {
            let n = arg_types.len();
            let first_default = n.saturating_sub(usize::try_from(n_defaults).unwrap_or(0));
            let args = arg_names
                .into_iter()
                .zip(arg_types)
                .enumerate()
                .map(|(i, (name, ty))| (name, ty, i >= first_default))
                .collect();
            functions
                .entry((schema.clone(), name.clone()))
                .or_default()
                .push(Function {
                    record: (!result_columns.0.is_empty()).then(|| Table {
                        schema: schema.clone(),
                        name: name.clone(),
                        columns: result_columns.0,
                        primary_key: vec![],
                        is_view: true,
                        unique_keys: vec![],
                    }),
                    schema,
                    name,
                    args,
                    returns_set,
                    returns_composite: composite,
                    returns_void: void,
                    stable,
                    return_table: rs.zip(rt),
                    return_type,
                });
        }
        let enum_rows: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
            "select format_type(t.oid, null), n.nspname::text, t.typname::text, \
               array_agg(e.enumlabel::text order by e.enumsortorder) \
             from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid \
             where n.nspname = any($1) group by t.oid, n.nspname, t.typname",
        )
        .bind(schemas)
        .fetch_all(&mut *conn)
        .await?;
        let enums = enum_rows
            .into_iter()
            .map(|(formatted, schema, name, labels)| (formatted, (schema, name, labels)))
            .collect();
        // The database-specific setting wins over the role-wide one, as at login.
        let settings: Vec<(String, Vec<String>)> = sqlx::query_as(
            "select r.rolname::text, s.setconfig from pg_db_role_setting s \
             join pg_roles r on r.oid = s.setrole \
             where r.rolname in ('anon', 'authenticated', 'service_role') \
               and s.setdatabase in (0, (select oid from pg_database where datname = current_database())) \
             order by s.setdatabase",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut role_timeouts = HashMap::new();
        for (role, config) in settings {
            for entry in config {
                if let Some(value) = entry.strip_prefix("statement_timeout=") {
                    match timeout_ms(value) {
                        Some(ms) => {
                            role_timeouts.insert(role.clone(), ms);
                        }
                        None => {
                            tracing::warn!(%role, value, "ignoring an unreadable statement_timeout")
                        }
                    }
                }
            }
        }
        Ok(Self {
            schemas: schemas.to_vec(),
            tables,
            foreign_keys,
            functions,
            enums,
            role_timeouts,
        })
    }
}

/// Milliseconds of a `statement_timeout` setting as PostgreSQL writes it (`3s`, `8000`, `1min`).
pub fn timeout_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "us" => return Some(n / 1_000),
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::timeout_ms;

    #[test]
    fn statement_timeouts_read_in_every_unit_postgresql_writes() {
        assert_eq!(timeout_ms("3s"), Some(3_000));
        assert_eq!(timeout_ms("8000"), Some(8_000));
        assert_eq!(timeout_ms("250ms"), Some(250));
        assert_eq!(timeout_ms("2min"), Some(120_000));
        assert_eq!(timeout_ms("1h"), Some(3_600_000));
        assert_eq!(timeout_ms("1d"), Some(86_400_000));
        assert_eq!(timeout_ms("0"), Some(0));
        assert_eq!(timeout_ms("5000us"), Some(5));
        assert_eq!(timeout_ms("soon"), None);
        assert_eq!(timeout_ms("3 fortnights"), None);
    }
}
