//! The demo's warehouse: a SQLite database of sample users, made from a fixed seed (the same
//! users every time), and the changes made to it between the demo's two runs.
//!
//! Some users are written the way real data is: e-mail addresses in mixed case with spaces
//! around them, phone numbers with spaces, brackets and a `00` international prefix, no phone
//! at all. The config's normalisation (`email`, `phone_e164`) is what makes their hashes match
//! what an ad platform computes.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

/// The model of the demo's sync: users with a lifetime value over 100.
pub const MODEL: &str = "SELECT id, email, phone, first_name, country FROM users WHERE ltv > 100";

/// The seed of the sample users.
pub const SEED: u64 = 0x5eed_a0d1_e2ce;

/// Users the second run finds newly signed up.
pub const NEW_USERS: u32 = 150;

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Linus",
    "Sophie",
    "Guido",
    "Anita",
    "Niklaus",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Torvalds",
    "Wilson",
    "van Rossum",
    "Borg",
    "Wirth",
];
const COUNTRIES: &[&str] = &["GB", "US", "DE", "FR", "NL", "JP", "BR", "IN"];

/// SplitMix64: a few lines, good enough to make sample data, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One user row.
struct User {
    email: String,
    phone: Option<String>,
    first_name: &'static str,
    last_name: &'static str,
    country: &'static str,
    ltv: f64,
}

fn user(id: u32, rng: &mut Rng) -> User {
    let (first_name, last_name) = (rng.pick(FIRST), rng.pick(LAST));
    let local = format!("{}.{}{id}", first_name, last_name.replace([' ', '-'], ""));
    // One in eight typed by hand: mixed case and stray spaces, which `normalize = "email"` undoes.
    let email = if rng.below(8) == 0 {
        format!("  {local}@Example.COM ")
    } else {
        format!("{}@example.com", local.to_lowercase())
    };
    let n = rng.below(10_000);
    let phone = match rng.below(5) {
        0 => None,
        1 => Some(format!("+44 20 7946 {n:04}")),
        2 => Some(format!("+1 (555) 01{:02}-{n:04}", id % 100)),
        3 => Some(format!("0049 30 901{n:04}")),
        _ => Some(format!("+33 1 99 00 {:02} {:02}", n / 100, n % 100)),
    };
    // Lifetime values from 0 to 250: about 60% are over 100, in the model.
    let ltv = rng.below(25_000) as f64 / 100.0;
    User { email, phone, first_name, last_name, country: rng.pick(COUNTRIES), ltv }
}

/// Creates the database at `path` (which must not exist) with `users` sample users, ids 1 to
/// `users`.
pub fn create(path: &Path, users: u32) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT,
            phone TEXT,
            first_name TEXT,
            last_name TEXT,
            country TEXT,
            ltv REAL NOT NULL,
            updated_at TEXT NOT NULL
        )",
    )?;
    insert(&mut conn, 1, users, &mut Rng(SEED))
}

/// Inserts users `first..first + count`.
fn insert(conn: &mut Connection, first: u32, count: u32, rng: &mut Rng) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO users (id, email, phone, first_name, last_name, country, ltv, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let now = crate::warehouse::now_utc();
        for id in first..first + count {
            let u = user(id, rng);
            stmt.execute(params![id, u.email, u.phone, u.first_name, u.last_name, u.country, u.ltv, now])?;
        }
    }
    tx.commit()
}

/// What [`change`] did to the users, and what the next sync should therefore send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Members whose e-mail address changed: updates.
    pub emails_changed: u64,
    /// Users deleted, of whom `members_deleted` were in the model: removes.
    pub users_deleted: u64,
    /// Deleted users who were in the model: removes.
    pub members_deleted: u64,
    /// Members whose lifetime value fell to 100 or less, leaving the model: removes.
    pub left_model: u64,
    /// Users whose lifetime value rose over 100, joining the model: adds.
    pub joined_model: u64,
    /// New users, of whom `new_members` are in the model: adds.
    pub users_inserted: u64,
    /// New users who are in the model: adds.
    pub new_members: u64,
    /// What the next sync should send.
    pub expected: Expected,
}

/// Records a sync should send, per action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Records to add.
    pub add: u64,
    /// Records to update.
    pub update: u64,
    /// Records to remove.
    pub remove: u64,
}

/// A day in the life of a user table: some members change their e-mail address, some users are
/// deleted, some leave the model and some join it, new users sign up. The sets do not overlap,
/// so that what the next sync must send is known exactly. `users` is how many [`create`] made.
pub fn change(path: &Path, users: u32) -> rusqlite::Result<Changes> {
    let mut conn = Connection::open(path)?;
    let count = |conn: &Connection, sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64);
    let now = crate::warehouse::now_utc();
    let mut c = Changes::default();
    {
        let tx = conn.transaction()?;
        // Deleted: every 23rd user.
        c.members_deleted = count(&tx, "SELECT count(*) FROM users WHERE id % 23 = 0 AND ltv > 100")?;
        c.users_deleted = tx.execute("DELETE FROM users WHERE id % 23 = 0", [])? as u64;
        // Leaving the model: every 29th member (none of them deleted: 23 and 29 are prime, and
        // their multiples in common were deleted above).
        c.left_model =
            tx.execute("UPDATE users SET ltv = 50, updated_at = ?1 WHERE id % 29 = 0 AND ltv > 100", [&now])? as u64;
        // Joining the model: every 31st non-member (not one that just left it).
        c.joined_model = tx.execute(
            "UPDATE users SET ltv = ltv + 150, updated_at = ?1 WHERE id % 31 = 0 AND id % 29 != 0 AND ltv <= 100",
            [&now],
        )? as u64;
        // A new e-mail address: every 17th member still in the model and not one that joined.
        c.emails_changed = tx.execute(
            "UPDATE users SET email = replace(lower(trim(email)), '@example.com', '@example.org'), updated_at = ?1
             WHERE id % 17 = 0 AND id % 31 != 0 AND ltv > 100",
            [&now],
        )? as u64;
        tx.commit()?;
    }
    let before = count(&conn, "SELECT count(*) FROM users WHERE ltv > 100")?;
    insert(&mut conn, users + 1, NEW_USERS, &mut Rng(SEED ^ u64::from(users)))?;
    c.users_inserted = u64::from(NEW_USERS);
    c.new_members = count(&conn, "SELECT count(*) FROM users WHERE ltv > 100")? - before;
    c.expected = Expected {
        add: c.joined_model + c.new_members,
        update: c.emails_changed,
        remove: c.members_deleted + c.left_model,
    };
    Ok(c)
}

/// The ids of the model's rows, as the API keys its members (decimal text).
pub fn model_ids(path: &Path) -> rusqlite::Result<BTreeSet<String>> {
    let conn = Connection::open(path)?;
    let mut stmt = conn.prepare(&format!("SELECT id FROM ({MODEL})"))?;
    stmt.query_map([], |r| r.get::<_, i64>(0))?.map(|id| id.map(|id| id.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_the_same_every_time() {
        let a: Vec<String> = (1..50).map(|id| user(id, &mut Rng(SEED + u64::from(id))).email).collect();
        let b: Vec<String> = (1..50).map(|id| user(id, &mut Rng(SEED + u64::from(id))).email).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn changes_are_exact() {
        let dir = std::env::temp_dir().join(format!("audience-demo-data-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("warehouse.db");
        create(&db, 2000).unwrap();
        let before = model_ids(&db).unwrap();
        let c = change(&db, 2000).unwrap();
        let after = model_ids(&db).unwrap();
        assert_eq!(after.difference(&before).count() as u64, c.expected.add);
        assert_eq!(before.difference(&after).count() as u64, c.expected.remove);
        assert!(c.expected.add > 0 && c.expected.update > 0 && c.expected.remove > 0, "{c:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
