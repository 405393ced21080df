//! Delivery throughput to a loopback sink: records per second at batch 5,000 with concurrency 1,
//! 4 and 16, against rendering the same bodies without sending them (the ratio is what to read:
//! machines here are shared and noisy).
//!
//! A plain timed harness, not criterion: one measurement is a whole run of tens of requests over
//! real sockets, and criterion's sampling would take minutes. Each figure is the best of
//! `ROUNDS` runs.
//!
//! ```text
//! cargo bench --bench delivery
//! ```

#[path = "../tests/support_http/mod.rs"]
mod support_http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audience::delivery::{
    Action, ActionContext, DeliveryClient, DeliverySettings, Endpoint, Header, Progress, RenderBatch, StopToken,
    TemplateBatch,
};
use audience::template::{Connection, RecordBatch, Template};
use support_http::Server;

/// The performance page's T2.
const T2: &str = r#"{ "audienceId": $number($$.connection.audienceId), "users": [$$.records.{ "email": email, "user_id": user_id }] }"#;
const BATCH: usize = 5_000;
const BATCHES: usize = 40;
const ROUNDS: usize = 3;

fn batches(template: &Arc<Template>, connection: &Arc<Connection>) -> Vec<TemplateBatch> {
    (0..BATCHES)
        .map(|b| {
            let mut records = RecordBatch::new(template.fields().len());
            let mut keys = Vec::with_capacity(BATCH);
            for i in 0..BATCH {
                let id = b * BATCH + i;
                records.push_record();
                records.set_str(0, &format!("user{id}@example.com"));
                records.set_i64(1, id as i64);
                keys.push(id.to_string());
            }
            TemplateBatch::new(template.clone(), connection.clone(), records, keys)
        })
        .collect()
}

async fn deliver(server: &Server, concurrency: u32, batches: Vec<TemplateBatch>) -> Duration {
    let settings = DeliverySettings { max_concurrency: concurrency, ..DeliverySettings::default() };
    let client = DeliveryClient::new(settings, Vec::<String>::new()).expect("client");
    let context = ActionContext {
        sync: "bench".into(),
        run_id: 1,
        action: Action::Add,
        endpoint: Endpoint {
            method: "POST".into(),
            url: server.url("/members"),
            headers: vec![Header::new("Content-Type", "application/json", false)],
        },
        batch_size: BATCH,
        progress: Progress::hidden(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let mut sender = client.action(context, StopToken::new(), tx).expect("action");
    for batch in batches {
        sender.send(batch).await;
    }
    let summary = sender.finish().await;
    let elapsed = start.elapsed();
    drain.await.expect("drain");
    assert_eq!(summary.succeeded, (BATCH * BATCHES) as u64);
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let template = Arc::new(Template::compile(T2).expect("T2 compiles"));
    let connection = Arc::new(Connection { audience_id: "1234567890".into(), audience_name: "bench".into() });
    let records = (BATCH * BATCHES) as f64;

    // The reference in the same run: rendering the same bodies, sending nothing.
    let mut render_best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let input = batches(&template, &connection);
        let start = Instant::now();
        let mut body = Vec::new();
        bytes = 0;
        for batch in &input {
            body.clear();
            batch.render(0..batch.len(), &mut body).expect("renders");
            bytes += body.len();
        }
        render_best = render_best.min(start.elapsed());
    }
    println!(
        "delivery bench: {BATCHES} requests of {BATCH} records (T2, {:.0} KB per body), best of {ROUNDS}",
        bytes as f64 / BATCHES as f64 / 1e3
    );
    println!("{:<24} {:>12} {:>10}", "", "records/s", "vs render");
    let render_rate = records / render_best.as_secs_f64();
    println!("{:<24} {:>12.0} {:>10}", "render only", render_rate, "1.00");

    runtime.block_on(async {
        let server = Server::sink().await;
        for concurrency in [1, 4, 16] {
            let mut best = Duration::MAX;
            for _ in 0..ROUNDS {
                best = best.min(deliver(&server, concurrency, batches(&template, &connection)).await);
            }
            let rate = records / best.as_secs_f64();
            println!(
                "{:<24} {:>12.0} {:>10.2}",
                format!("deliver, concurrency {concurrency}"),
                rate,
                rate / render_rate
            );
        }
    });
}
