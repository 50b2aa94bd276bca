//! Validation tests of what names one record: `id_format`, and the paths that must name one
//! place (`id`, `version`, the timestamps, a member's or a group's id in a list item).

use super::*;
use crate::mapping::fixture::{GROUPS, GROUPS_ENDPOINTS, GROUPS_USER_ATTRIBUTE};

fn with_format(format: &str) -> String {
    with(
        "  id: $.id\n",
        &format!("  id: $.id\n  id_format: {format}\n"),
    )
}

#[test]
fn an_id_format_is_compiled_and_names_which_ids_exist() {
    let m = load_str(SOURCE, &with_format("integer")).unwrap();
    for (id, ok) in [
        ("42", true),
        ("0", true),
        ("042", false),
        ("42abc", false),
        ("", false),
    ] {
        assert_eq!(m.users.accepts_id(id), ok, "{id:?}");
    }
    let m = load_str(SOURCE, &with_format("uuid")).unwrap();
    assert!(m.users.accepts_id("8dded348-3c5b-4c2e-9d1a-0f6f1b2c3d4e"));
    assert!(!m.users.accepts_id("8dded348"));
    // A pattern matches the whole id, anchored or not, alternatives included.
    for pattern in ["'^p_[0-9]{4}$'", "'p_[0-9]{4}'", "'p_[0-9]{4}|x'"] {
        let m = load_str(SOURCE, &with_format(&format!("{{ pattern: {pattern} }}"))).unwrap();
        assert!(m.users.accepts_id("p_0001"), "{pattern}");
        for other in ["p_0001x", "xp_0001", "p_01", "p_0001/activate"] {
            assert!(!m.users.accepts_id(other), "{pattern} accepts {other:?}");
        }
    }
    // Without one, any id may name a record.
    assert!(load_str(SOURCE, BASE).unwrap().users.accepts_id("anything"));
    // Groups have their own.
    let yaml = format!(
        "{BASE}{}{GROUPS_ENDPOINTS}",
        GROUPS.replacen(
            "  id: $.id\n",
            "  id: $.id\n  id_format: { pattern: 't_[0-9]+' }\n",
            1
        )
    );
    let m = load_str(SOURCE, &yaml).unwrap();
    let g = &m.groups.unwrap().resource;
    assert!(g.accepts_id("t_01") && !g.accepts_id("01"));
}

#[test]
fn a_bad_id_format_is_refused_with_a_fix() {
    let p = expect(
        &with_format("integr"),
        "id_format",
        "\"integr\" is not an id format",
        "did you mean integer?",
    );
    assert_eq!(p.at, "users.id_format");
    expect(
        &with_format("{ pattern: 'p_[0-9' }"),
        "id_format",
        "\"p_[0-9\" is not a valid regular expression (unclosed character class)",
        "{ pattern: '^p_[0-9]+$' }",
    );
    expect(
        &with_format("{ patern: 'p_[0-9]+' }"),
        "id_format",
        "unknown field `patern`, expected `pattern`",
        "id_format: integer",
    );
    expect(
        &with_format("{ pattern: '' }"),
        "id_format",
        "`pattern` needs a regular expression",
        "",
    );
    expect(
        &with_format("7"),
        "id_format",
        "7 is not an id format",
        "uuid",
    );
    // A misspelt key gets the closest one.
    let yaml = with("  id: $.id\n", "  id: $.id\n  id_fromat: integer\n");
    expect(
        &yaml,
        "id_fromat",
        "unknown field `id_fromat`",
        "did you mean `id_format`?",
    );
}

#[test]
fn an_id_path_must_name_one_place() {
    for (key, path) in [
        ("id", "$..id"),
        ("id", "$.*"),
        ("version", "$.versions[*]"),
        ("created", "$.history[0:1].at"),
        ("last_modified", "$.log[?(@.kind == 'change')].at"),
    ] {
        let line = format!("  {key}: \"{path}\"\n");
        let yaml = if key == "id" {
            with("  id: $.id\n", &line)
        } else {
            with("  id: $.id\n", &format!("  id: $.id\n{line}"))
        };
        let p = expect(
            &yaml,
            path,
            "can match more than one value, so it does not name one place",
            "e.g. $.id or $.user.id",
        );
        assert_eq!(p.at, format!("users.{key}"));
    }
    // Names and indexes name one place.
    let yaml = with(
        "  id: $.id\n",
        "  id: $.data[0]['user id']\n  version: $.meta.rev\n",
    );
    load_str(SOURCE, &yaml).unwrap();
}

#[test]
fn a_member_or_group_id_in_a_list_item_must_name_one_place() {
    let base = format!("{BASE}{GROUPS}{GROUPS_ENDPOINTS}");
    let yaml = base.replacen("member: $.user_id", "member: $..user_id", 1);
    let p = expect(
        &yaml,
        "member: $..user_id",
        "does not name one place",
        "$.id",
    );
    assert_eq!(p.at, "groups.membership.endpoints.list.member");
    let yaml = base.replacen("group: $.id", "group: $.*", 1);
    expect(&yaml, "group: $.*", "does not name one place", "$.id");
    let yaml = format!("{BASE}{GROUPS}{GROUPS_USER_ATTRIBUTE}").replacen(
        "if_match: $.meta.version",
        "if_match: $..version",
        1,
    );
    expect(&yaml, "if_match", "does not name one place", "$.id");
}
