//! The statements of the protocol's calls, for one schema.

/// Each protocol call's statement text, with the schema put in once at connect.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub(crate) acquire: String,
    pub(crate) renew: String,
    pub(crate) commit: String,
    pub(crate) release_many: String,
    pub(crate) load: String,
    pub(crate) commit_optimistic: String,
    pub(crate) create: String,
    pub(crate) delete: String,
    pub(crate) rotate: String,
    pub(crate) locate: String,
    pub(crate) keep_alive: String,
    pub(crate) advertise: String,
    pub(crate) channel: String,
    pub(crate) sweep: String,
    /// `Store::sessions_of`: a plain read over the principal index.
    pub(crate) sessions_of: String,
    /// `Store::events`.
    pub(crate) read_events: String,
}

impl Sql {
    /// The statements for `schema` (a name [`valid_schema`](crate::config::valid_schema)
    /// accepted, so it needs no quoting).
    pub(crate) fn new(schema: &str) -> Self {
        let call = |function: &str, args: usize| {
            let params: Vec<String> = (1..=args).map(|i| format!("${i}")).collect();
            format!("SELECT * FROM {schema}.{function}({})", params.join(", "))
        };
        Self {
            acquire: call("acquire", 7),
            renew: call("renew", 5),
            commit: call("commit", 12),
            release_many: call("release_many", 4),
            load: call("load", 1),
            commit_optimistic: call("commit_optimistic", 10),
            create: call("create_session", 7),
            delete: call("delete_session", 1),
            rotate: call("rotate", 4),
            locate: call("locate", 1),
            keep_alive: call("keep_alive", 3),
            advertise: call("advertise", 2),
            channel: call("channel", 1),
            sweep: call("sweep", 1),
            read_events: call("read_events", 2),
            sessions_of: format!(
                "SELECT s.id, \
                   (extract(epoch FROM clock_timestamp() - s.created) * 1000)::bigint AS age_ms, \
                   (extract(epoch FROM clock_timestamp() - s.last_access) * 1000)::bigint AS idle_ms, \
                   l.value AS label \
                 FROM {schema}.attributes p \
                 JOIN {schema}.sessions s ON s.id = p.session \
                 LEFT JOIN {schema}.attributes l ON l.session = p.session AND l.name = $2 \
                 WHERE p.name = {principal} AND p.value = $1 \
                   AND (s.expires_at IS NULL OR s.expires_at > clock_timestamp())",
                principal = crate::schema::principal_literal(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sql;

    #[test]
    fn statements_name_the_schema_and_number_their_parameters() {
        let sql = Sql::new("shop");
        assert_eq!(sql.load, "SELECT * FROM shop.load($1)");
        assert_eq!(sql.rotate, "SELECT * FROM shop.rotate($1, $2, $3, $4)");
    }
}
