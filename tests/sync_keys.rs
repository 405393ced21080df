//! SQLite models whose keys need care: one read from a table by its `INTEGER PRIMARY KEY` (its
//! key is unique by construction, so runs leave out the duplicate check; they must send exactly
//! what a model without that guarantee would), and one whose key column has a collation of its
//! own (keys are told apart by their bytes all the same).

mod sync_support;

use sync_support::{Kind, Receiver, Settings, Warehouse, edit_config, set_up, sync, write_config};

#[test]
fn a_rowid_key_model_mirrors_like_any_other() {
    let w = Warehouse::new(Kind::Sqlite, "rowid_key_model");
    w.exec("DROP TABLE users; CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)");
    let r = Receiver::start();
    w.add_users(1..=40);
    let config = write_config(&w, &r, &Settings::default());

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["invalid"].as_u64()), (Some(40), Some(0)));
    assert_eq!(r.members(), w.expected_members());

    w.exec("UPDATE users SET name = 'changed' WHERE id % 10 = 0");
    w.exec("DELETE FROM users WHERE id > 35");
    w.add_users(41..=45);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["deleted"].as_u64()), (Some(5), Some(3), Some(5)));
    assert_eq!(r.members(), w.expected_members());
}

#[test]
fn a_key_column_with_a_nocase_collation_still_tells_keys_apart_by_their_bytes() {
    let w = Warehouse::new(Kind::Sqlite, "nocase_key_model");
    w.exec("DROP TABLE users; CREATE TABLE users (id bigint, email TEXT COLLATE NOCASE, name text)");
    // Under NOCASE, 'a@x', 'A@x', 'a@x' is a sorted order: the two 'a@x' rows are no neighbours.
    w.exec("INSERT INTO users VALUES (1, 'a@x', 'A1'), (2, 'A@x', 'A2'), (3, 'a@x', 'A3'), (4, 'b@x', 'B')");
    let r = Receiver::start();
    let config = write_config(&w, &r, &Settings::default());
    edit_config(&config, &[("primary_key = \"id\"", "primary_key = \"email\"")]);

    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "the duplicate rows are invalid: {s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["invalid"].as_u64()), (Some(2), Some(2)), "{s}");
    let mut sent: Vec<i64> = r.members().keys().copied().collect();
    sent.sort_unstable();
    assert_eq!(sent, [2, 4]);

    // The next run finds the two members and sends nothing.
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "{s}\n{err}");
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64(), s["requests"].as_u64()), (Some(0), Some(0), Some(0)));
}

#[test]
fn a_mapped_column_named_rowid_is_refused_with_a_way_out() {
    let (_w, r, config) = set_up(Kind::Sqlite, "rowid_named_column", 1..=3);
    edit_config(
        &config,
        &[
            ("query = \"SELECT id, email, name FROM users\"", "query = \"SELECT id, email, name AS rowid FROM users\""),
            ("name = \"name\" }", "name = \"rowid\" }"),
        ],
    );
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 1, "{s}\n{err}");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains("column rowid is mapped") && error.contains("AS row_id"), "{error}");
    assert!(r.requests().is_empty());

    // As the key alone (not mapped), the name is no trouble.
    edit_config(
        &config,
        &[
            ("name AS rowid", "id AS rowid, name"),
            ("name = \"rowid\" }", "name = \"name\" }"),
            ("primary_key = \"id\"", "primary_key = \"rowid\""),
        ],
    );
    let (code, s, err) = sync(&config, &[]);
    assert_eq!((code, s["inserted"].as_u64()), (0, Some(3)), "{s}\n{err}");
}
