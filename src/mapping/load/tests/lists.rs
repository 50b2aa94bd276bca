//! Validation tests of what the gateway is told about a legacy list: an unpaged list
//! (`pagination: { style: none }`), the attributes its items carry (`carries`), loose filters
//! (`filters[].match`) and whether deleted records are listed (`deleted.listed`).

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS};
use crate::scim::path::AttrPath;

const PAGED: &str = "pagination: { style: page, page_param: page, size_param: per_page }";

#[test]
fn an_unpaged_list_takes_no_other_pagination_key() {
    let m = load_str(SOURCE, &with(PAGED, "pagination: { style: none }")).unwrap();
    assert_eq!(m.users.endpoints.list.pagination, Pagination::None);
    // A group's member list may be unpaged too.
    let yaml = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}").replacen(
        "pagination: { style: page, page_param: page, size_param: per_page, max_page_size: 200 }",
        "pagination: { style: none }",
        1,
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let Membership::Endpoints { list, .. } = &m.groups.unwrap().membership else {
        panic!("member endpoints expected");
    };
    assert_eq!(list.pages.pagination, Pagination::None);

    let yaml = with(PAGED, "pagination: { style: none, page_param: page }");
    let p = expect(
        &yaml,
        "style: none",
        "`page_param` is not used with style: none",
        "the legacy API answers the whole list at once",
    );
    assert_eq!(p.at, "users.endpoints.list.pagination.page_param");
    let yaml = with(PAGED, "pagination: { style: non }");
    expect(
        &yaml,
        "style: non",
        "is not a pagination style",
        "did you mean none?",
    );
}

fn carrying(list: &str) -> String {
    with(PAGED, &format!("{PAGED}\n      carries: {list}"))
}

#[test]
fn carries_lists_attributes_that_entries_read() {
    let m = load_str(
        SOURCE,
        &carrying(
            "[userName, name, 'emails', id, urn:ietf:params:scim:schemas:core:2.0:User:active]",
        ),
    )
    .unwrap();
    let list = &m.users.endpoints.list;
    assert!(!list.carries_everything());
    let path = |s: &str| AttrPath::parse(s).unwrap();
    for carried in [
        "userName",
        "USERNAME",
        "name.givenName",
        "emails.value",
        "active",
        "id",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    ] {
        assert!(list.carries(&path(carried)), "{carried}");
    }
    let m = load_str(SOURCE, &carrying("[name.givenName]")).unwrap();
    let list = &m.users.endpoints.list;
    assert!(list.carries(&path("name.givenName")));
    assert!(!list.carries(&path("name")));
    assert!(!list.carries(&path("userName")));
    // Without the key, items carry every mapped attribute.
    let m = load_str(SOURCE, BASE).unwrap();
    assert!(m.users.endpoints.list.carries_everything());
    assert!(m.users.endpoints.list.carries(&path("emails.value")));
}

#[test]
fn carries_refuses_what_no_entry_reads() {
    let yaml = carrying("[userName, title]");
    let p = expect(
        &yaml,
        "carries:",
        "title is not read from the legacy API by any attribute, so no list item can carry it",
        "list only attributes that an attributes entry reads",
    );
    assert_eq!(p.at, "users.endpoints.list.carries[1]");
    expect(
        &carrying("[userNme]"),
        "carries:",
        "\"userNme\" is not an attribute of the SCIM User",
        "did you mean userName?",
    );
    expect(
        &carrying("[name.familyName]"),
        "carries:",
        "name.familyName is not read",
        "",
    );
}

#[test]
fn a_filter_is_exact_unless_it_says_loose() {
    let m = load_str(SOURCE, BASE).unwrap();
    assert!(m.users.plan.filters[0].exact);
    let yaml = with(
        "{ scim: userName, op: eq, param: login }",
        "{ scim: userName, op: eq, param: login, match: loose }",
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    assert!(!m.users.plan.filters[0].exact);
    let yaml = with(
        "{ scim: userName, op: eq, param: login }",
        "{ scim: userName, op: eq, param: login, match: lose }",
    );
    let p = expect(
        &yaml,
        "match: lose",
        "\"lose\" is not exact or loose",
        "did you mean loose?",
    );
    assert_eq!(p.at, "users.filters[0].match");
}

#[test]
fn deleted_records_are_listed_unless_the_marker_says_not() {
    let marked = |listed: &str| {
        with(
            "  on_delete: deactivate\n",
            &format!(
                "  on_delete: deactivate\n  deleted: {{ legacy: $.gone, value: true{listed} }}\n"
            ),
        )
    };
    assert!(load_str(SOURCE, &marked("")).unwrap().users.lists_deleted());
    assert!(!load_str(SOURCE, &marked(", listed: false"))
        .unwrap()
        .users
        .lists_deleted());
    assert!(!load_str(SOURCE, BASE).unwrap().users.lists_deleted());
    expect(
        &marked(", listed: nope"),
        "deleted:",
        "invalid boolean",
        "true or false",
    );
}
