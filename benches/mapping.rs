//! Criterion benchmarks of the mapping engine with the shipped `mappings/acme-hr.yaml`: a full
//! enterprise user translated legacy → SCIM and SCIM → legacy (create and update), the update
//! body, filter pushdown, and a 1,000-user list page translated to SCIM. No I/O after loading the
//! mapping: `benches/load/run` measures the whole gateway over HTTP.
//!
//! `cargo bench --bench mapping` measures; `cargo test --benches` runs each benchmark once.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};

use scim_gateway::mapping::{self, Mapping};
use scim_gateway::scim::filter::Filter;
use scim_gateway::scim::patch::{self, PatchRequest};
use scim_gateway::scim::schema::ResourceSchema;

fn acme_hr() -> Mapping {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/acme-hr.yaml");
    match mapping::load_file(&file) {
        Ok(m) => m,
        Err(e) => panic!("the shipped mapping does not load: {e}"),
    }
}

/// An Acme HR user with every field filled, as `GET /api/v1/users/{id}` renders it.
fn legacy_user(id: u64) -> Value {
    json!({
        "id": id,
        "login": format!("user{id}@example.com"),
        "external_ref": format!("ext-{id}"),
        "display_name": format!("User {id}"),
        "nickname": "Babs",
        "first_name": "Barbara",
        "last_name": format!("Jensen{id}"),
        "middle_name": "Jane",
        "salutation": "Ms.",
        "job_title": "Tour Guide",
        "employment_type": "Employee",
        "language": "en-US",
        "locale": "en-US",
        "time_zone": "America/Los_Angeles",
        "status": "enabled",
        "email": format!("user{id}@example.com"),
        "personal_email": "babs@jensen.org",
        "work_phone": "555-555-5555",
        "mobile_phone": "555-555-4444",
        "fax": "555-555-3333",
        "address": {"street": "100 Universal City Plaza", "city": "Hollywood", "state": "CA",
                    "zip": "91608", "country": "USA",
                    "label": "100 Universal City Plaza\nHollywood, CA 91608 USA"},
        "office_address": {"street": "1 Studio Way", "city": "Burbank", "state": "CA",
                           "zip": "91521", "country": "USA", "label": "Building 4, room 210"},
        "employee_no": format!("E{id:06}"),
        "department": "Tour Operations",
        "cost_center": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "manager_id": "26118915",
        "source": "scim",
        "created_at": "2024-01-23T04:56:22.000Z",
        "updated_at": "2024-05-13T04:42:34.120Z",
        "version": 3
    })
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn translation(c: &mut Criterion) {
    let m = acme_hr();
    let users = &m.users;
    let legacy = legacy_user(2819);
    let scim = users
        .to_scim(&legacy)
        .expect("a full Acme HR user translates");
    let mut g = c.benchmark_group("mapping");
    g.bench_function("to_scim/full_user", |b| {
        b.iter(|| users.to_scim(black_box(&legacy)))
    });
    g.bench_function("to_legacy/create", |b| {
        b.iter(|| users.to_legacy(black_box(&scim), None))
    });
    g.bench_function("to_legacy/update", |b| {
        b.iter(|| users.to_legacy(black_box(&scim), Some(&legacy)))
    });
    // Each benchmark measures the success path: check it once first.
    assert_eq!(scim["userName"], "user2819@example.com");
    assert_eq!(scim["addresses"].as_array().map(Vec::len), Some(2));
    let round_trip = users
        .to_legacy(&scim, Some(&legacy))
        .expect("the user translates back");
    assert_eq!(round_trip["office_address"], legacy["office_address"]);
    users.to_legacy(&scim, None).expect("a create translates");
    let mut changed = scim.clone();
    changed["title"] = json!("Senior Tour Guide");
    let new_legacy = users
        .to_legacy(&changed, Some(&legacy))
        .expect("the changed user translates");
    // The update's body as the bytes sent.
    g.bench_function("update_body", |b| {
        b.iter(|| {
            let mut sent = Vec::new();
            users
                .update_body(black_box(&legacy), black_box(&new_legacy))
                .write_json(&mut sent);
            sent
        })
    });

    // The gateway's PATCH, minus the two HTTP calls: translate the fetched user, apply the
    // PATCH, translate back against the fetched record, write the update body, translate the
    // answer (the record written).
    let replace_title = PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Senior Tour Guide"}]
    }))
    .expect("the PATCH parses");
    let schema = ResourceSchema::user();
    let mut check = scim.clone();
    patch::apply(&mut check, &replace_title, schema).expect("the PATCH applies");
    assert_eq!(check["title"], "Senior Tour Guide");
    g.bench_function("patch_pipeline/replace_title", |b| {
        b.iter(|| {
            let mut user = users.to_scim(black_box(&legacy))?;
            if patch::apply(&mut user, &replace_title, schema).is_err() {
                return Ok(Value::Null);
            }
            let new = users.to_legacy(&user, Some(&legacy))?;
            let mut sent = Vec::new();
            users.update_body(&legacy, &new).write_json(&mut sent);
            black_box(sent.len());
            users.to_scim(&new)
        })
    });

    let entra = Filter::parse(r#"userName eq "user2819@example.com""#).expect("filter parses");
    g.bench_function("pushdown/userName_eq", |b| {
        b.iter(|| users.pushdown(black_box(&entra)))
    });
    let work_email = Filter::parse(r#"emails[type eq "work"].value eq "user2819@example.com""#)
        .expect("filter parses");
    assert!(users.pushdown(&entra).complete && users.pushdown(&work_email).complete);
    g.bench_function("pushdown/work_email_eq", |b| {
        b.iter(|| users.pushdown(black_box(&work_email)))
    });
    g.finish();
}

fn list_page(c: &mut Criterion) {
    let m = acme_hr();
    let users = &m.users;
    let page: Vec<Value> = (1..=1_000).map(legacy_user).collect();
    let body = json!({"data": page, "meta": {"page": 1, "per_page": 1000, "total": 1000}});
    let mut g = c.benchmark_group("mapping_list");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("to_scim/page_of_1000", |b| {
        b.iter(|| {
            page.iter()
                .map(|u| users.to_scim(u))
                .collect::<Result<Vec<_>, _>>()
        })
    });
    // The same page as the gateway receives it: bytes parsed, items extracted (`$.data`),
    // translated.
    let bytes = serde_json::to_vec(&body).expect("serialises");
    assert_eq!(
        users.endpoints.list.items(&body).map(|i| i.len()).ok(),
        Some(1_000)
    );
    g.bench_function("parse_and_to_scim/page_of_1000", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| -> Result<Vec<Value>, Box<dyn std::error::Error>> {
                let body: Value = serde_json::from_slice(&bytes)?;
                let items = users.endpoints.list.items(&body)?;
                Ok(items
                    .iter()
                    .map(|u| users.to_scim(u))
                    .collect::<Result<Vec<_>, _>>()?)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = translation, list_page
}
criterion_main!(benches);
