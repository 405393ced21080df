//! Rendering a batch allocates nothing once its buffers have grown: the sync runner renders
//! millions of records through the same `RecordBatch` and output buffer.

use audience::template::{Connection, Expression, RecordBatch, Template};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations of each thread, so that tests running side by side do not mix.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T1: &str = r#"{
  "audience_id": $$.connection.audienceId,
  "elements": [$$.records.{
    "userIds": [
      {"idType": "SHA256_EMAIL", "idValue": sha256_email},
      {"idType": "GOOGLE_AID", "idValue": google_aid}
    ],
    "firstName": first_name,
    "lastName": last_name,
    "nested": { "org": "static_value" }
  }]
}"#;

const T2: &str = r#"{ "audienceId": $number($$.connection.audienceId), "users": [$$.records.{ "email": email, "user_id": user_id }] }"#;

fn fill(batch: &mut RecordBatch, template: &Template, n: usize) {
    batch.clear();
    for i in 0..n {
        batch.push_record();
        for (slot, field) in template.fields().iter().enumerate() {
            match field.name.as_str() {
                "user_id" => batch.set_i64(slot, i as i64),
                // One record in ten misses a field: omitted keys must not allocate either.
                _ if i % 10 == 3 => {}
                name => batch.set_str(slot, &format!("{name}-{i}-\"é\"")),
            }
        }
    }
}

#[test]
fn rendering_a_batch_again_allocates_nothing() {
    let connection = Connection { audience_id: "1234567890".into(), audience_name: "High value".into() };
    for src in [T1, T2] {
        let template = Template::compile(src).unwrap();
        let mut batch = RecordBatch::new(template.fields().len());
        let mut out = Vec::new();
        fill(&mut batch, &template, 1000);
        template.render(&batch, &connection, &mut out).unwrap();
        let first = out.clone();
        out.clear();
        let before = allocations();
        template.render(&batch, &connection, &mut out).unwrap();
        let after = allocations();
        assert_eq!(after - before, 0, "render allocated {} times for {src}", after - before);
        assert_eq!(out, first);
    }
}

#[test]
fn evaluating_a_json_document_again_allocates_once_per_batch_at_most() {
    let template = Template::compile(T1).unwrap();
    let records: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            serde_json::json!({"sha256_email": format!("{i:064x}"), "google_aid": "a", "first_name": "F", "last_name": "L"})
        })
        .collect();
    let doc = serde_json::json!({"records": records, "connection": {"audienceId": "1", "audienceName": "n"}});
    let expr = Expression::compile(T1).unwrap();
    let mut out = Vec::new();
    expr.evaluate(Some(&doc), &mut out).unwrap();
    out.clear();
    let before = allocations();
    expr.evaluate(Some(&doc), &mut out).unwrap();
    template.evaluate(Some(&doc), &mut out).unwrap();
    let after = allocations();
    // The field table of the block (one per batch) and the wrapper of the root: not per record.
    assert!(after - before <= 8, "evaluate allocated {} times for 1000 records", after - before);
}
