//! SQLite's re-sync diff takes one of two paths: merges (the baseline in (key, fingerprint)
//! order, keys of one type) or a probe per row (a baseline of the earlier column order). Both
//! must send exactly the same; the merge path must find a member that left even when the model
//! has as many keys as before, and leave the delete merge out only when no member left.

mod sync_support;

use sync_support::{Kind, Receiver, Warehouse, first_synced, sync};

/// The counts of a summary: inserted, updated, deleted.
fn counts(s: &serde_json::Value) -> (u64, u64, u64) {
    (s["inserted"].as_u64().unwrap(), s["updated"].as_u64().unwrap(), s["deleted"].as_u64().unwrap())
}

/// The name of the baseline's second column.
fn second_column(w: &Warehouse) -> Vec<Vec<Option<String>>> {
    w.rows("SELECT name FROM pragma_table_info('_audience_baseline_members') WHERE cid = 1")
}

/// Runs three re-syncs over the same changes and checks each against the receiver.
fn three_resyncs(w: &Warehouse, r: &Receiver, config: &std::path::Path) {
    // One run: it succeeds with `expected` counts and leaves the receiver mirroring the model.
    let mirrored = |expected: (u64, u64, u64)| {
        let (code, s, err) = sync(config, &[]);
        assert_eq!(code, 0, "{s}\n{err}");
        assert_eq!(counts(&s), expected);
        assert_eq!(r.members(), w.expected_members());
    };

    // Updates and inserts only: every member is still in the model.
    w.exec("UPDATE users SET name = 'changed' WHERE id IN (3, 7)");
    w.add_users(21..=22);
    mirrored((2, 2, 0));

    // As many keys as before, but one member left and a new key came: the delete is found.
    w.exec("DELETE FROM users WHERE id = 4");
    w.add_users(23..=23);
    mirrored((1, 0, 1));

    // Nothing changed.
    mirrored((0, 0, 0));
}

#[test]
fn the_merge_path_sends_exactly_the_changes() {
    let (w, r, config) = first_synced(Kind::Sqlite, "diff_merge_path", 1..=20);
    assert_eq!(second_column(&w), vec![vec![Some("_audience_fp".to_owned())]], "the fingerprint follows the key");
    three_resyncs(&w, &r, &config);
}

#[test]
fn a_baseline_of_the_earlier_column_order_diffs_by_probes_alike() {
    let (w, r, config) = first_synced(Kind::Sqlite, "diff_probe_path", 1..=20);
    // The earlier layout: the images first, the fingerprint and configuration last.
    let columns: Vec<String> = w
        .rows("SELECT name FROM pragma_table_info('_audience_baseline_members') ORDER BY cid")
        .into_iter()
        .map(|c| c[0].clone().unwrap())
        .collect();
    let images: Vec<&str> =
        columns.iter().map(String::as_str).filter(|c| !matches!(*c, "_audience_fp" | "_audience_config")).collect();
    let order = format!("{}, \"_audience_fp\", \"_audience_config\"", images.join(", "));
    w.exec(&format!(
        "CREATE TABLE old_layout AS SELECT {order} FROM _audience_baseline_members; \
         DROP TABLE _audience_baseline_members; \
         CREATE TABLE _audience_baseline_members (\"_audience_key\" INT PRIMARY KEY, {rest}, \
         \"_audience_fp\" INTEGER, \"_audience_config\" INTEGER) WITHOUT ROWID; \
         INSERT INTO _audience_baseline_members SELECT * FROM old_layout; DROP TABLE old_layout",
        rest = images[1..].join(", ")
    ));
    assert_ne!(second_column(&w), vec![vec![Some("_audience_fp".to_owned())]]);
    three_resyncs(&w, &r, &config);
}

#[test]
fn duplicate_keys_do_not_hide_a_member_that_left() {
    let (w, r, config) = first_synced(Kind::Sqlite, "diff_merge_duplicates", 1..=10);

    // Key 2 turns duplicate (as many rows as members, then), and member 9 leaves.
    w.exec("INSERT INTO users (id, email, name) VALUES (2, 'twice@example.com', 'dup')");
    w.exec("DELETE FROM users WHERE id = 9");
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 3, "invalid rows: {s}\n{err}");
    assert_eq!(counts(&s), (0, 0, 1));
    assert!(r.members().contains_key(&2), "a member whose key turned duplicate stays");
    assert!(!r.members().contains_key(&9));
}

#[test]
fn a_member_a_full_resync_could_not_send_is_an_add_next_run() {
    let (_w, r, config) = first_synced(Kind::Sqlite, "diff_merge_full_resync", 1..=10);

    // The full resync sends every member as an add; the API rejects member 3's request.
    r.reject(&[3]);
    let (code, s, err) = sync(&config, &["--full-resync"]);
    assert_eq!((code, s["failed"].as_u64()), (3, Some(1)), "{s}\n{err}");
    assert_eq!(counts(&s), (9, 0, 0));

    // Nothing changed in the model, yet member 3 is still to be sent under this configuration:
    // as an add, and only it.
    r.reject(&[]);
    r.clear_log();
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(counts(&s), (1, 0, 0));
    assert_eq!(r.ids("POST"), vec![3]);
    let (code, s, err) = sync(&config, &[]);
    assert_eq!(code, 0, "{s}\n{err}");
    assert_eq!(counts(&s), (0, 0, 0));
}
