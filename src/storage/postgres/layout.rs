//! Vault's PostgreSQL table layout and the SQL that reads and writes it.

/// A table name, quoted for SQL once.
pub(super) struct Table {
    quoted: String,
    /// The unquoted name, for naming its constraint and index.
    name: String,
}

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

pub(super) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl Table {
    pub(super) fn new(name: &str) -> Result<Self, String> {
        if name.is_empty() || name.len() > MAX_IDENTIFIER || name.contains('\0') {
            return Err(format!(
                "table name {name:?} must have 1 to {MAX_IDENTIFIER} bytes"
            ));
        }
        Ok(Table {
            quoted: quote(name),
            name: name.to_string(),
        })
    }

    /// Vault's documented layout; the constraint and index are named after
    /// the table so that two stores can share a schema.
    pub(super) fn create_sql(&self) -> String {
        let t = &self.quoted;
        let pkey = quote(&format!("{}_pkey", self.name));
        let index = quote(&format!("{}_parent_path_idx", self.name));
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (
               parent_path TEXT COLLATE \"C\" NOT NULL,
               path        TEXT COLLATE \"C\",
               key         TEXT COLLATE \"C\",
               value       BYTEA,
               CONSTRAINT {pkey} PRIMARY KEY (path, key)
             );
             CREATE INDEX IF NOT EXISTS {index} ON {t} (parent_path);"
        )
    }

    pub(super) fn get_sql(&self) -> String {
        format!(
            "SELECT value FROM {} WHERE path = $1 AND key = $2",
            self.quoted
        )
    }

    pub(super) fn put_sql(&self) -> String {
        format!(
            "INSERT INTO {} (parent_path, path, key, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (path, key) DO UPDATE SET parent_path = excluded.parent_path, value = excluded.value",
            self.quoted
        )
    }

    pub(super) fn delete_sql(&self) -> String {
        format!("DELETE FROM {} WHERE path = $1 AND key = $2", self.quoted)
    }

    /// Every row, in key order, for a snapshot.
    pub(super) fn snapshot_sql(&self) -> String {
        format!(
            "SELECT path, key, value FROM {} ORDER BY path COLLATE \"C\", key COLLATE \"C\"",
            self.quoted
        )
    }

    /// Empties the table (a restore, inside its transaction).
    pub(super) fn delete_all_sql(&self) -> String {
        format!("DELETE FROM {}", self.quoted)
    }

    /// Many rows at once, from four parallel arrays (parent paths, paths,
    /// keys, values).
    pub(super) fn insert_many_sql(&self) -> String {
        format!(
            "INSERT INTO {} (parent_path, path, key, value)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])",
            self.quoted
        )
    }

    /// The children of a prefix, after a seek, sorted, at most a limit: the
    /// leaves of the prefix's folder (through the primary key) and the
    /// first segment of every deeper folder (a range of the primary key
    /// when the column collates as "C", as created here). See
    /// [`ListQuery::params`] for the parameters.
    pub(super) fn list_sql(&self) -> String {
        let t = &self.quoted;
        format!(
            "SELECT child FROM (
               SELECT substr(key, length($2) + 1) AS child FROM {t}
                WHERE path = $1 AND starts_with(key, $2) AND key COLLATE \"C\" > $2 || $6
               UNION
               SELECT substring(substr(path, length($3) + 1) from '^[^/]*/') AS child FROM {t}
                WHERE path LIKE $4 AND path <> $1 AND path COLLATE \"C\" > $3 || $6
             ) AS children
             WHERE child COLLATE \"C\" > $6
             ORDER BY child COLLATE \"C\"
             LIMIT $5"
        )
    }
}

/// Vault's split of a key into (`path`, `key`, `parent_path`): `a/b/c` is
/// stored as `/a/b/`, `c`, `/a/`; a top-level `c` as `/`, `c`, ``.
pub(super) fn split_key(full: &str) -> (String, String, String) {
    match full.rsplit_once('/') {
        None => ("/".into(), full.into(), String::new()),
        Some((folder, key)) => {
            let path = format!("/{folder}/");
            let parent = match folder.rsplit_once('/') {
                None => "/".to_string(),
                Some((up, _)) => format!("/{up}/"),
            };
            (path, key.into(), parent)
        }
    }
}

/// The parameters of [`Table::list_sql`] for one LIST.
pub(super) struct ListQuery {
    /// The folder the prefix is in, as a `path` (`/a/` for `a/bx`).
    folder: String,
    /// What a leaf name must start with (`bx` for `a/bx`; usually empty).
    fragment: String,
    /// `/` and the prefix: every deeper row's `path` starts with it.
    base: String,
    /// `base` as a LIKE pattern.
    pattern: String,
    limit: Option<i64>,
    after: String,
}

impl ListQuery {
    pub(super) fn new(prefix: &str, after: &str, limit: usize) -> Self {
        let (folder, fragment) = match prefix.rsplit_once('/') {
            None => ("/".to_string(), prefix.to_string()),
            Some((folder, fragment)) => (format!("/{folder}/"), fragment.to_string()),
        };
        let base = format!("/{prefix}");
        let pattern = format!("{}%", like_escape(&base));
        ListQuery {
            folder,
            fragment,
            base,
            pattern,
            limit: (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX)),
            after: after.to_string(),
        }
    }

    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 6] {
        [
            &self.folder,
            &self.fragment,
            &self.base,
            &self.pattern,
            &self.limit,
            &self.after,
        ]
    }
}

/// Escapes LIKE's wildcards (`%`, `_`) and its escape character.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_as_vault_splits_them() {
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(split_key("c"), s("/", "c", ""));
        assert_eq!(split_key("a/c"), s("/a/", "c", "/"));
        assert_eq!(split_key("a/b/c"), s("/a/b/", "c", "/a/"));
        assert_eq!(split_key("a/b/c/d"), s("/a/b/c/", "d", "/a/b/"));
    }

    #[test]
    fn list_parameters_cover_folder_and_fragment() {
        let q = ListQuery::new("logical/x_y/", "k", 10);
        assert_eq!(q.folder, "/logical/x_y/");
        assert_eq!(q.fragment, "");
        assert_eq!(q.pattern, "/logical/x\\_y/%");
        assert_eq!(q.limit, Some(10));
        let q = ListQuery::new("a/bx", "", 0);
        assert_eq!((q.folder.as_str(), q.fragment.as_str()), ("/a/", "bx"));
        assert_eq!(q.base, "/a/bx");
        assert_eq!(q.limit, None);
        let q = ListQuery::new("", "", 0);
        assert_eq!((q.folder.as_str(), q.base.as_str()), ("/", "/"));
    }

    #[test]
    fn table_names_are_quoted() {
        let t = Table::new("we\"ird").expect("valid");
        assert!(t.get_sql().contains("FROM \"we\"\"ird\" WHERE"));
        assert!(Table::new("").is_err());
        assert!(Table::new(&"x".repeat(64)).is_err());
    }
}
