//! Loading and checking every shipped runbook happens on each start, so it must
//! stay fast (target: under 20 ms). Planning is measured beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use criterion::{Criterion, criterion_group, criterion_main};
use stepwise::plan::{Request, plan};
use stepwise::runbook::Version;
use stepwise::runbook::load::{build, embedded_files};

fn load_all(c: &mut Criterion) {
    c.bench_function("load and validate all shipped runbooks", |b| {
        b.iter(|| build(embedded_files()).expect("shipped runbooks are valid"))
    });
    let catalog = build(embedded_files()).expect("shipped runbooks are valid");
    let request = Request {
        product: "nginx-service-mesh".into(),
        from: Some(Version::new(1, 6, 0)),
        to: "1.7.0".into(),
        ..Request::default()
    };
    c.bench_function("plan nginx-service-mesh 1.6.0 -> 1.7.0", |b| b.iter(|| plan(&catalog, &request).expect("plan")));
}

criterion_group!(benches, load_all);
criterion_main!(benches);
