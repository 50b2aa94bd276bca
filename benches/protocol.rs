//! Criterion benchmarks of the pure SCIM protocol core (`scim::filter`, `scim::patch`,
//! `scim::list`) on the requests identity providers send (docs/idp/): Entra's `userName eq`
//! match, a complex filter, Entra's 6-operation PATCH, a no-path replace, group member adds, and
//! response projection. No I/O, no mapping: `benches/mapping.rs` measures the translation and
//! `benches/load/run` the whole gateway over HTTP.
//!
//! `cargo bench --bench protocol` measures; `cargo test --benches` runs each benchmark once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use serde_json::{json, Value};

use scim_gateway::scim::filter::{self, Filter};
use scim_gateway::scim::list::{self, ListQuery};
use scim_gateway::scim::patch::{self, PatchRequest};
use scim_gateway::scim::schema::ResourceSchema;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const EMPLOYEE_NUMBER: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";

/// Entra's match query (docs/idp/entra.md), as the gateway receives it after query decoding.
const ENTRA_MATCH: &str =
    r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@contoso.com""#;

/// Value paths, `and`, `or`, `not`, grouping, a dotted attribute and a URN-qualified one.
const COMPLEX: &str = concat!(
    r#"(emails[type eq "work" and value co "@example.com"] or userName sw "j") "#,
    r#"and not (active eq false) and meta.lastModified gt "2011-01-01T00:00:00Z" "#,
    r#"and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Tour Operations""#
);

/// A SCIM user with every attribute the Acme HR mapping stores filled in.
fn full_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane",
                 "honorificPrefix": "Ms."},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"},
            {"value": "555-555-3333", "type": "fax"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "USA",
             "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA"},
            {"type": "other", "formatted": "Building 4, room 210"}
        ],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3\""}
    })
}

/// Entra's "replace multiple attributes" PATCH without the feature flag: six `Replace` ops
/// (docs/idp/entra.md, "The `aadOptscim062020` flag").
fn entra_six_ops() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value",
             "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": EMPLOYEE_NUMBER, "value": "Eqpj"}
        ]
    })
}

/// The same change with the `aadOptscim062020` flag: one value-path op and one `replace`
/// without a path whose keys are dotted and URN-qualified.
fn no_path_replace() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value",
             "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                EMPLOYEE_NUMBER: "Aklq",
                "active": "False"
            }}
        ]
    })
}

/// Entra's member add (with `$ref: null`), `n` members in one operation.
fn member_add(n: usize) -> Value {
    let members: Vec<Value> = (0..n)
        .map(|i| json!({"$ref": null, "value": format!("new-member-{i}")}))
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": members}]
    })
}

fn group(members: usize) -> Value {
    let members: Vec<Value> = (0..members)
        .map(|i| json!({"value": format!("member-{i}"), "display": format!("Member {i}")}))
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": members,
        "meta": {"resourceType": "Group"}
    })
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn filters(c: &mut Criterion) {
    let schema = ResourceSchema::user();
    // Each benchmark measures the success path: check it once first.
    let entra = Filter::parse(ENTRA_MATCH).expect("Entra's filter parses");
    let complex = Filter::parse(COMPLEX).expect("the complex filter parses");
    filter::validate(&complex, schema).expect("the complex filter is valid for User");
    let user = full_user();
    assert!(
        filter::matches(&complex, &user, schema),
        "the complex filter matches"
    );
    assert!(!filter::matches(&entra, &user, schema));
    let mut g = c.benchmark_group("filter");
    g.bench_function("parse/entra_userName_eq", |b| {
        b.iter(|| Filter::parse(black_box(ENTRA_MATCH)))
    });
    g.bench_function("parse/complex", |b| {
        b.iter(|| Filter::parse(black_box(COMPLEX)))
    });
    g.bench_function("validate/complex", |b| {
        b.iter(|| filter::validate(black_box(&complex), schema))
    });
    g.bench_function("matches/complex_full_user", |b| {
        b.iter(|| filter::matches(black_box(&complex), black_box(&user), schema))
    });
    g.finish();
}

fn patches(c: &mut Criterion) {
    let user_schema = ResourceSchema::user();
    let group_schema = ResourceSchema::group();
    let user = full_user();
    let mut g = c.benchmark_group("patch");

    let six = entra_six_ops();
    g.bench_function("parse/entra_6_ops", |b| {
        b.iter(|| PatchRequest::parse(black_box(&six)))
    });
    let six = PatchRequest::parse(&six).expect("Entra's 6-op PATCH parses");
    patch::apply(&mut user.clone(), &six, user_schema).expect("Entra's 6-op PATCH applies");
    g.bench_function("apply/entra_6_ops", |b| {
        b.iter_batched_ref(
            || user.clone(),
            |u| patch::apply(u, &six, user_schema),
            BatchSize::SmallInput,
        )
    });

    let no_path = PatchRequest::parse(&no_path_replace()).expect("the no-path PATCH parses");
    patch::apply(&mut user.clone(), &no_path, user_schema).expect("the no-path PATCH applies");
    g.bench_function("apply/no_path_replace", |b| {
        b.iter_batched_ref(
            || user.clone(),
            |u| patch::apply(u, &no_path, user_schema),
            BatchSize::SmallInput,
        )
    });

    let add_10 = PatchRequest::parse(&member_add(10)).expect("the member add parses");
    let group_1k = group(1_000);
    let mut check = group_1k.clone();
    patch::apply(&mut check, &add_10, group_schema).expect("the member add applies");
    assert_eq!(check["members"].as_array().map(Vec::len), Some(1_010));
    g.bench_function("apply/add_10_members_to_1k", |b| {
        b.iter_batched_ref(
            || group_1k.clone(),
            |grp| patch::apply(grp, &add_10, group_schema),
            BatchSize::SmallInput,
        )
    });

    // docs/performance.md, Targets: adding one member to a group of 100,000 must not need the
    // member list. `member_changes` is that path (its cost does not depend on the group);
    // applying to the full list is shown for contrast.
    let add_1 = PatchRequest::parse(&member_add(1)).expect("the member add parses");
    let delta = patch::member_changes(&add_1).expect("a member add is a delta");
    assert_eq!(delta.add, ["new-member-0"]);
    g.bench_function("member_changes/add_1", |b| {
        b.iter(|| patch::member_changes(black_box(&add_1)))
    });
    g.finish();

    // Tens of milliseconds per iteration: ten single-iteration samples.
    let group_100k = group(100_000);
    let mut g = c.benchmark_group("patch_100k");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.bench_function("apply/add_1_member_to_100k", |b| {
        b.iter_batched_ref(
            || group_100k.clone(),
            |grp| patch::apply(grp, &add_1, group_schema),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn projection(c: &mut Criterion) {
    let schema = ResourceSchema::user();
    let user = full_user();
    let mut g = c.benchmark_group("list");
    let none = ListQuery::from_query_string("", 200).expect("an empty query");
    g.bench_function("project/default", |b| {
        b.iter(|| {
            list::project(
                black_box(&user),
                &none.attributes,
                &none.excluded_attributes,
                schema,
            )
        })
    });
    let some = ListQuery::from_query_string(
        "attributes=userName,name.givenName,emails,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        200,
    )
    .expect("an attributes query");
    g.bench_function("project/attributes", |b| {
        b.iter(|| {
            list::project(
                black_box(&user),
                &some.attributes,
                &some.excluded_attributes,
                schema,
            )
        })
    });
    let excluded = ListQuery::from_query_string("excludedAttributes=addresses,phoneNumbers", 200)
        .expect("an excludedAttributes query");
    g.bench_function("project/excluded", |b| {
        b.iter(|| {
            list::project(
                black_box(&user),
                &excluded.attributes,
                &excluded.excluded_attributes,
                schema,
            )
        })
    });
    let page: Vec<Value> = (0..100).map(|_| user.clone()).collect();
    g.bench_function("project/page_of_100", |b| {
        b.iter(|| {
            page.iter()
                .map(|u| list::project(u, &none.attributes, &none.excluded_attributes, schema))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("query_string/entra_match", |b| {
        b.iter(|| {
            ListQuery::from_query_string(
                black_box("filter=userName+eq+%22Test_User_00aa00aa%40contoso.com%22"),
                200,
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = filters, patches, projection
}
criterion_main!(benches);
