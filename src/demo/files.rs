//! The demo's folder and the files it writes there: a real config (`audience.toml`), its two
//! template files, and a marker that says the folder is the demo's, so that `--dir` can be
//! given again and the demo knows which files it may replace.

use std::io;
use std::path::{Path, PathBuf};

/// The config's file name.
pub const CONFIG: &str = "audience.toml";
/// The warehouse's file name.
pub const WAREHOUSE: &str = "warehouse.db";
/// The marker of a demo folder.
pub const MARKER: &str = ".audience-demo";
/// The sync the config defines.
pub const SYNC: &str = "high_value";
/// The id of the audience the sync feeds, in the config and the API's paths.
pub const AUDIENCE_ID: &str = "demo-high-value";
/// The bearer token the demo's API wants (an example: real configs take it from the environment).
pub const TOKEN: &str = "demo-token-not-a-secret";

/// The files the demo writes (relative to its folder): what it replaces when run again.
const OURS: &[&str] = &[
    CONFIG,
    "templates/add.jsonata",
    "templates/update.jsonata",
    WAREHOUSE,
    "warehouse.db-journal",
    "warehouse.db-wal",
    "warehouse.db-shm",
];

/// The add action's template.
pub const ADD_TEMPLATE: &str = r#"{
  "audienceId": $$.connection.audienceId,
  "audienceName": $$.connection.audienceName,
  "members": [$$.records.{
    "user_id": user_id,
    "email_sha256": email,
    "phone_sha256": phone,
    "first_name": first_name,
    "country": country,
    "source": source
  }]
}
"#;

/// The update action's template: the same member without the static `source`.
pub const UPDATE_TEMPLATE: &str = r#"{
  "audienceId": $$.connection.audienceId,
  "members": [$$.records.{
    "user_id": user_id,
    "email_sha256": email,
    "phone_sha256": phone,
    "first_name": first_name,
    "country": country
  }]
}
"#;

/// The config, with `{BASE_URL}`, `{TOKEN}`, `{SYNC}`, `{AUDIENCE_ID}` and `{MODEL}` to fill.
const CONFIG_TEXT: &str = r#"# Written by `audience demo`: a real config, the one the demo's two syncs ran with.
#
# The audience API at base_url lived inside the demo and stopped with it, so the commands that
# send nothing work on this file as it is: check, fields, preview, sync --dry-run, logs. Point
# base_url at your own API (and take the token from the environment) for a real sync.

[destination]
name = "Demo audience API"
base_url = "{BASE_URL}"
headers = { "X-API-Version" = "1" }
timeout = "10s"
max_concurrency = 4

[destination.auth]
type = "bearer"
token = "{TOKEN}"   # in a real config: token = "${AUDIENCE_API_TOKEN}", from the environment

[destination.actions.add]
method = "POST"
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 250
template_file = "templates/add.jsonata"

[destination.actions.update]
method = "PATCH"
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 250
template_file = "templates/update.jsonata"

[destination.actions.remove]
method = "DELETE"
path = "/audiences/{{connection.audienceId}}/members"
batch_size = 500
template = '''
{
  "audienceId": $$.connection.audienceId,
  "members": [$$.records.{ "user_id": user_id }]
}
'''

[destination.fields.user_id]
required = true

[destination.fields.email]
required = true
hash = "sha256"
normalize = "email"

[destination.fields.phone]
hash = "sha256"
normalize = "phone_e164"

[destination.fields.source]
static = true

[syncs.{SYNC}]
audience_name = "High value users"
audience_id = "{AUDIENCE_ID}"
source = "sqlite://warehouse.db"
query = "{MODEL}"
primary_key = "id"
map = { user_id = "id", email = "email", phone = "phone", first_name = "first_name", country = "country" }
static = { source = "audience-demo" }
# "manual": runs only with `audience sync`. For `audience run`: { every = "6h", starting_at = "00:30" }
schedule = "manual"
"#;

/// Why the demo cannot use a folder.
#[derive(Debug)]
pub enum FolderError {
    /// The folder has files and no marker: not the demo's to overwrite.
    NotOurs(PathBuf),
    /// Reading or writing this path failed.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for FolderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FolderError::NotOurs(dir) => write!(
                f,
                "{} is not empty and was not made by `audience demo`: give a new or empty folder (nothing was changed)",
                dir.display()
            ),
            FolderError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for FolderError {}

/// The folder to work in: `dir` (created if missing; when it exists it must be empty or a
/// previous demo's, whose files are replaced and nothing else touched), or a new folder in the
/// system's temporary folder.
pub fn prepare(dir: Option<&Path>) -> Result<PathBuf, FolderError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |e| FolderError::Io(path, e)
    };
    let dir = match dir {
        None => fresh()?,
        Some(dir) if !dir.exists() => {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            dir.to_owned()
        }
        Some(dir) => {
            let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
            if !empty && !dir.join(MARKER).exists() {
                return Err(FolderError::NotOurs(dir.to_owned()));
            }
            for file in OURS {
                let path = dir.join(file);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(FolderError::Io(path, e)),
                    _ => {}
                }
            }
            dir.to_owned()
        }
    };
    let dir = std::fs::canonicalize(&dir).map_err(io(&dir))?;
    let marker = dir.join(MARKER);
    std::fs::write(&marker, "made by `audience demo`: running it again with --dir replaces its files here\n")
        .map_err(io(&marker))?;
    Ok(dir)
}

/// A new folder `audience-demo-…` in the system's temporary folder.
fn fresh() -> Result<PathBuf, FolderError> {
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for attempt in 0..100u32 {
        let dir = base.join(format!("audience-demo-{}-{:x}", std::process::id(), nanos.wrapping_add(attempt)));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((dir, e)),
            Err(e) => return Err(FolderError::Io(dir, e)),
        }
    }
    let (dir, e) = last.unwrap_or_else(|| (base, io::Error::other("no free name")));
    Err(FolderError::Io(dir, e))
}

/// Writes the config (pointing at `base_url`) and its templates into `dir`; returns the
/// config's path.
pub fn write(dir: &Path, base_url: &str, model: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(dir.join("templates/add.jsonata"), ADD_TEMPLATE)?;
    std::fs::write(dir.join("templates/update.jsonata"), UPDATE_TEMPLATE)?;
    let text = CONFIG_TEXT
        .replace("{BASE_URL}", base_url)
        .replace("{TOKEN}", TOKEN)
        .replace("{SYNC}", SYNC)
        .replace("{AUDIENCE_ID}", AUDIENCE_ID)
        .replace("{MODEL}", model);
    let path = dir.join(CONFIG);
    std::fs::write(&path, text)?;
    Ok(path)
}
