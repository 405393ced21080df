//! The stable codes of config problems: the `C` family, beside the template engine's `S`, `T`,
//! `D` and `X` codes (which template problems keep).
//!
//! Codes are part of the public interface: never renumber one that has been released.
//! `C00xx` reading the file, `C01xx` the shape of the config, `C02xx` environment variables,
//! `C03xx` the destination and its requests, `C04xx` field settings, `C05xx` syncs, `C06xx`
//! response tables, `C07xx` alerts.

macro_rules! config_codes {
    ($( $(#[$doc:meta])* $name:ident = $text:literal, )*) => {
        /// A stable config-problem code. Each variant's doc gives a config that triggers it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ConfigCode { $( $(#[$doc])* $name, )* }

        impl ConfigCode {
            /// Every code, in declaration order (for the uniqueness test and the docs).
            pub const ALL: &'static [ConfigCode] = &[$(ConfigCode::$name,)*];

            /// The code as it is printed, for example `"C0101"`.
            pub const fn as_str(self) -> &'static str {
                match self { $( ConfigCode::$name => $text, )* }
            }
        }
    };
}

config_codes! {
    // ---- reading the file ----
    /// The config file cannot be read (missing, unreadable, not UTF-8).
    Unreadable = "C0001",
    /// `[destination` — the file is not valid TOML.
    Syntax = "C0002",
    // ---- shape ----
    /// `tempalte = "..."` — a key the config does not know (a typo must not fall back to a
    /// default silently).
    UnknownKey = "C0101",
    /// `[destination]` without `base_url` — a required key is absent.
    MissingKey = "C0102",
    /// `batch_size = "10"` — a value of the wrong TOML type.
    WrongType = "C0103",
    /// `template` and `template_file` together, `use_add` beside other keys, `query` and
    /// `table` together, `add` and `insert` together, `every` and `cron` together.
    Conflict = "C0104",
    /// `batch_size = 0`, `max_removal_share = 2` — a number out of its range.
    OutOfRange = "C0105",
    /// `name = ""` — a value that must not be empty.
    Empty = "C0106",
    /// `type = "oauth"`, `method = "SEND"`, `schedule = "daily"` — a value that is not one of
    /// the accepted names.
    UnknownName = "C0107",
    /// `timeout = "30 secs"` — a duration that does not parse.
    Duration = "C0108",
    // ---- environment ----
    /// `token = "${ACME_TOKEN}"` with `ACME_TOKEN` unset: an error, a warning in `check`.
    UnsetVariable = "C0201",
    /// `"${ACME TOKEN}"`, `"${ACME"` — a reference that is not `${NAME}` (write `$${` for a
    /// literal `${`).
    BadReference = "C0202",
    // ---- destination and requests ----
    /// `base_url = "ftp://x"`, `"https://u:p@x"`, `"https://x/?a=1"` — not http(s), user
    /// info, a query or fragment, or no host.
    BaseUrl = "C0301",
    /// `path = "members"` — a path that does not start with `/`, or holds a character a URL
    /// cannot carry.
    Path = "C0302",
    /// `path = "/a/{{ connection.audienceId }}"` — a placeholder other than
    /// `{{connection.audienceId}}` and `{{connection.audienceName}}`.
    PathPlaceholder = "C0303",
    /// `type = "bearer"` without `token` — a key the auth type needs is absent or empty.
    AuthIncomplete = "C0304",
    /// `type = "bearer"` with `password` — a key of another auth type.
    AuthKeyNotUsed = "C0305",
    /// `headers = { "X API" = "1" }` — a header name that is not an RFC 7230 token.
    HeaderName = "C0306",
    /// `headers = { X-A = "1\r\nX-B: 2" }` — a header value with CR, LF or another control
    /// character.
    HeaderValue = "C0307",
    /// `headers = { Host = "x" }` — Host, Content-Length, Transfer-Encoding, Connection or
    /// Idempotency-Key, in any case.
    ForbiddenHeader = "C0308",
    /// `headers = { X-A = "1", x-a = "2" }` — one header name twice (names are
    /// case-insensitive).
    DuplicateHeader = "C0309",
    /// `template_file = "missing.jsonata"` — the template file cannot be read.
    TemplateFile = "C0310",
    /// `token_url = "http://auth.example.com/token"` — an OAuth2 token endpoint that is not
    /// http(s), holds user info or a fragment, has no host, or is plain http to a host that is
    /// not loopback (the client secret would cross the network in clear).
    TokenUrl = "C0311",
    // ---- field settings ----
    /// `hash = "sha1"` — not none, sha256, sha512 or md5.
    UnknownHash = "C0401",
    /// `normalize = "phone"` — not one of the normalisation presets.
    UnknownNormalization = "C0402",
    /// `[destination.fields.emial]` (warning) — settings for a field no template uses.
    UnusedFieldSettings = "C0403",
    // ---- syncs ----
    /// `[syncs.High-Value]` — a sync name that does not match `[a-z0-9_]{1,40}`.
    SyncName = "C0501",
    /// A required field that the sync neither maps nor, for a static field, gives a value.
    RequiredUnmapped = "C0502",
    /// `map = { emial = "email" }` (warning) — a mapped or static field no template uses.
    UnusedMapping = "C0503",
    /// A static field a template uses, without a value in the sync's `static` table.
    StaticWithoutValue = "C0504",
    /// `static = { email = "x" }` for a field whose settings do not say `static = true`.
    StaticForNonStatic = "C0505",
    /// `map = { org = "org_col" }` for a field whose settings say `static = true`.
    StaticMapped = "C0506",
    /// `schedule = { cron = "61 * * * *" }`, `{ every = "1m" }`, `{ starting_at = "25:00" }` —
    /// a schedule that does not parse or is out of range.
    Schedule = "C0507",
    /// `schedule = { cron = "0 0 30 2 *" }` — a cron schedule that never fires.
    ScheduleNeverFires = "C0508",
    /// `source = "mysql://..."`, `"sqlite://"` — not `sqlite://PATH`, `postgres://...` or `snowflake://...`.
    Source = "C0509",
    /// (warning) Several syncs with one `audience_id`: their mirrors would remove each other's
    /// members.
    SharedAudience = "C0510",
    /// (warning) A config without any `[syncs.NAME]`.
    NoSyncs = "C0511",
    /// A static value the field pipeline rejects (for example an unhashed value with
    /// `hash_pii = false`): every record would fail.
    StaticValueRejected = "C0512",
    /// `primary_key = "id\n"` — a warehouse identifier with a control character.
    Identifier = "C0513",
    /// `audience_id = ".."` with `path = "/audiences/{{connection.audienceId}}/members"` — a
    /// connection value that makes a whole path segment `.` or `..`, which URL parsers remove:
    /// the request would go to another path.
    DotSegment = "C0514",
    /// `failures = "errors[0]"` — a response path that is not a relative field path.
    ResponsePath = "C0601",
    /// A `response` table that names records in no way, or in more than one
    /// (`index` and `status`).
    ResponseNaming = "C0602",
    /// `field = "mail"` in a `response` table — not a field of the action's template.
    ResponseField = "C0603",
    /// (warning) `index` or `status` with a `[$$.records.PATH]` list: a record without a
    /// value is not in the list, so positions may be off.
    ResponsePositions = "C0604",
    // ---- alerts ----
    /// `url = "hooks.example.com/x"` in `[[alerts]]` — not an http or https URL with a host.
    AlertUrl = "C0701",
}

impl std::fmt::Display for ConfigCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in ConfigCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert_eq!(s.len(), 5, "{s}");
            assert!(s.starts_with('C'), "{s}");
            assert!(s[1..].bytes().all(|b| b.is_ascii_digit()), "{s}");
        }
        // No collision with the template engine's codes either.
        for code in crate::template::Code::ALL {
            assert!(!seen.contains(code.as_str()), "{code}");
        }
    }
}
