//! A SQLite model read from a table by its `INTEGER PRIMARY KEY`: its key is unique by
//! construction, so runs leave out the duplicate check; they must send exactly what a model
//! without that guarantee would.

mod sync_support;

use sync_support::{Kind, Receiver, Settings, Warehouse, sync, write_config};

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
