use super::*;

fn f(name: &str) -> Field {
    Field::column(name)
}

fn field(name: &str, alias: Option<&str>, cast: Option<&str>) -> SelectItem {
    SelectItem::Field {
        alias: alias.map(str::to_owned),
        field: f(name),
        cast: cast.map(str::to_owned),
    }
}

#[test]
fn select_columns_aliases_casts_and_star() {
    let items = parse_select("select", "id, full_name:name,amount::text,*").unwrap();
    assert_eq!(
        items,
        vec![
            field("id", None, None),
            field("name", Some("full_name"), None),
            field("amount", None, Some("text")),
            SelectItem::Star
        ]
    );
    assert_eq!(parse_select("select", "").unwrap(), vec![SelectItem::Star]);
}

#[test]
fn select_json_paths_name_the_result_after_the_last_key() {
    let items = parse_select("select", "data->a->>b,x:data->0").unwrap();
    let SelectItem::Field { field, .. } = &items[0] else {
        panic!()
    };
    assert_eq!(field.name, "data");
    assert_eq!(
        field.path,
        vec![
            JsonStep {
                as_text: false,
                key: JsonKey::Name("a".into())
            },
            JsonStep {
                as_text: true,
                key: JsonKey::Name("b".into())
            },
        ]
    );
    assert_eq!(field.output_name(), "b");
    let SelectItem::Field { alias, field, .. } = &items[1] else {
        panic!()
    };
    assert_eq!(alias.as_deref(), Some("x"));
    assert_eq!(field.path[0].key, JsonKey::Index(0));
    // An index names no key: the last key before it, else the column (as PostgREST).
    let items = parse_select("select", "data->0,data->a->1").unwrap();
    let names: Vec<String> = items
        .iter()
        .map(|i| match i {
            SelectItem::Field { field, .. } => field.output_name(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(names, ["data", "a"]);
}

#[test]
fn select_embeds_with_hints_inner_joins_spread_and_nesting() {
    let items = parse_select("select", "id,owner:profiles!leads_owner_fkey(id,email),deals!inner(id,stage:pipeline_stages(name)),...companies(name)").unwrap();
    assert_eq!(items.len(), 4);
    let SelectItem::Embed {
        alias,
        relation,
        hint,
        join,
        items: inner,
        ..
    } = &items[1]
    else {
        panic!()
    };
    assert_eq!(
        (alias.as_deref(), relation.as_str(), hint.as_deref(), *join),
        (
            Some("owner"),
            "profiles",
            Some("leads_owner_fkey"),
            Join::Left
        )
    );
    assert_eq!(inner.len(), 2);
    let SelectItem::Embed {
        join, items: inner, ..
    } = &items[2]
    else {
        panic!()
    };
    assert_eq!(*join, Join::Inner);
    assert!(
        matches!(&inner[1], SelectItem::Embed { relation, .. } if relation == "pipeline_stages")
    );
    assert!(matches!(&items[3], SelectItem::Embed { spread: true, .. }));
}

#[test]
fn select_quoted_names_keep_reserved_characters() {
    let items = parse_select("select", r#""weird,name","with \"quote\"""#).unwrap();
    assert_eq!(
        items,
        vec![
            field("weird,name", None, None),
            field("with \"quote\"", None, None)
        ]
    );
}

#[test]
fn select_errors_point_at_the_bad_part() {
    let e = parse_select("select", "id,deals(id").unwrap_err();
    assert_eq!(e.message, "failed to parse select parameter (id,deals(id)");
    assert!(e.details.contains("end of input"), "{}", e.details);
    assert!(parse_select("select", "id,,name").is_err());
    assert!(parse_select("select", "id::text;drop").is_err());
    assert!(parse_select("select", "id::1abc").is_err());
    assert_eq!(
        parse_select("select", "count()").unwrap_err().message,
        "Use of aggregate functions is not allowed"
    );
    assert_eq!(
        parse_select("select", "amount.sum()").unwrap_err().message,
        "Use of aggregate functions is not allowed"
    );
}

#[test]
fn select_nesting_depth_is_limited() {
    let deep = format!("{}id{}", "a(".repeat(20), ")".repeat(20));
    assert!(parse_select("select", &deep).is_err());
}

fn filt(value: &str) -> Filter {
    parse_filter("age", f("age"), value).unwrap()
}

#[test]
fn every_operator_parses() {
    for (text, op) in [
        ("eq", Op::Eq),
        ("neq", Op::Neq),
        ("gt", Op::Gt),
        ("gte", Op::Gte),
        ("lt", Op::Lt),
        ("lte", Op::Lte),
        ("like", Op::Like),
        ("ilike", Op::Ilike),
        ("match", Op::Match),
        ("imatch", Op::Imatch),
        ("isdistinct", Op::IsDistinct),
        ("fts", Op::Fts),
        ("plfts", Op::Plfts),
        ("phfts", Op::Phfts),
        ("wfts", Op::Wfts),
        ("cs", Op::Cs),
        ("cd", Op::Cd),
        ("ov", Op::Ov),
        ("sl", Op::Sl),
        ("sr", Op::Sr),
        ("nxr", Op::Nxr),
        ("nxl", Op::Nxl),
        ("adj", Op::Adj),
    ] {
        let parsed = filt(&format!("{text}.x.y"));
        assert_eq!(parsed.op, op, "{text}");
        assert_eq!(
            parsed.operand,
            Operand::Value("x.y".into()),
            "the value keeps its dots"
        );
    }
    assert_eq!(
        filt("in.(1,2,\"a,b\")").operand,
        Operand::List(vec!["1".into(), "2".into(), "a,b".into()])
    );
    assert_eq!(filt("in.()").operand, Operand::List(vec![]));
    assert_eq!(filt("is.NULL").operand, Operand::Is("null"));
    assert_eq!(filt("is.not_null").operand, Operand::Is("not_null"));
    assert!(parse_filter("age", f("age"), "is.maybe").is_err());
    assert!(parse_filter("age", f("age"), "between.1").is_err());
    assert!(parse_filter("age", f("age"), "eq").is_err());
}

#[test]
fn negation_quantifiers_and_fts_config() {
    let n = filt("not.in.(1,2)");
    assert!(n.negate);
    assert_eq!(n.op, Op::In);
    let q = filt("like(any).{a*,b*}");
    assert_eq!(q.quantifier, Some(Quantifier::Any));
    assert_eq!(q.operand, Operand::List(vec!["a*".into(), "b*".into()]));
    let t = filt("fts(english).cat & dog");
    assert_eq!(t.fts_config.as_deref(), Some("english"));
    assert_eq!(t.operand, Operand::Value("cat & dog".into()));
    assert!(
        parse_filter("age", f("age"), "neq(any).x").is_err(),
        "neq takes no quantifier"
    );
    assert!(parse_filter("age", f("age"), "eq(english).x").is_err());
}

#[test]
fn logic_trees_nest_and_quote() {
    let tree = parse_logic(
        "or",
        LogicOp::Or,
        false,
        "(age.lt.18,and(age.gt.21,active.is.true),name.eq.\"a,b)\",not.and(x.eq.1,y.not.eq.2))",
    )
    .unwrap();
    let Logic::Tree { op, children, .. } = tree else {
        panic!()
    };
    assert_eq!(op, LogicOp::Or);
    assert_eq!(children.len(), 4);
    assert!(
        matches!(&children[1], Logic::Tree { op: LogicOp::And, negate: false, children } if children.len() == 2)
    );
    let Logic::Filter(quoted) = &children[2] else {
        panic!()
    };
    assert_eq!(quoted.operand, Operand::Value("a,b)".into()));
    let Logic::Tree {
        negate: true,
        children: inner,
        ..
    } = &children[3]
    else {
        panic!()
    };
    assert!(matches!(
        &inner[1],
        Logic::Filter(Filter { negate: true, .. })
    ));
}

#[test]
fn logic_values_may_hold_braces_and_in_lists() {
    let tree = parse_logic(
        "or",
        LogicOp::Or,
        false,
        "(tags.cs.{a,b},id.in.(1,2),data->>k.eq.v)",
    )
    .unwrap();
    let Logic::Tree { children, .. } = tree else {
        panic!()
    };
    let Logic::Filter(cs) = &children[0] else {
        panic!()
    };
    assert_eq!(cs.operand, Operand::Value("{a,b}".into()));
    let Logic::Filter(json) = &children[2] else {
        panic!()
    };
    assert_eq!(json.field.output_name(), "k");
    assert!(parse_logic("or", LogicOp::Or, false, "(a.eq.1").is_err());
    assert!(parse_logic("or", LogicOp::Or, false, "a.eq.1").is_err());
    assert!(
        parse_logic("or", LogicOp::Or, false, "(andrew.eq.1)").is_ok(),
        "a column may start with and"
    );
}

#[test]
fn order_terms_with_direction_and_nulls() {
    let terms = parse_order("order", "created_at.desc.nullslast,name,data->>k.asc").unwrap();
    assert_eq!(terms.len(), 3);
    assert!(terms[0].desc);
    assert_eq!(terms[0].nulls, Some(Nulls::Last));
    assert!(!terms[1].desc && terms[1].nulls.is_none());
    assert_eq!(terms[2].field.output_name(), "k");
    assert!(parse_order("order", "name.sideways").is_err());
    assert!(parse_order("order", "").is_err());
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    /// How postgrest-js quotes an `in` value: in double quotes when it holds a reserved character.
    fn quote(v: &str) -> String {
        if v.contains([',', '(', ')', '"', '\\', '.', ':']) || v.trim() != v || v.is_empty() {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v.to_owned()
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_any_input(s in ".{0,64}") {
            let _ = parse_select("select", &s);
            let _ = parse_order("order", &s);
            let _ = parse_filter("x", Field::column("x"), &s);
            let _ = parse_logic("or", LogicOp::Or, false, &s);
        }

        #[test]
        fn in_lists_round_trip_whatever_the_values(values in proptest::collection::vec(".{0,12}", 1..6)) {
            let text = format!("in.({})", values.iter().map(|v| quote(v)).collect::<Vec<_>>().join(","));
            let parsed = parse_filter("x", Field::column("x"), &text).unwrap();
            prop_assert_eq!(parsed.operand, Operand::List(values));
        }

        #[test]
        fn quoted_column_names_round_trip(name in "[^\"\\\\\\x00]{1,20}") {
            let items = parse_select("select", &format!("\"{name}\"")).unwrap();
            prop_assert_eq!(items, vec![SelectItem::Field { alias: None, field: Field::column(&name), cast: None }]);
        }

        #[test]
        fn plain_filter_values_are_kept_verbatim(v in "[^\\x00]{0,40}") {
            let parsed = parse_filter("x", Field::column("x"), &format!("eq.{v}")).unwrap();
            prop_assert_eq!(parsed.operand, Operand::Value(v));
        }
    }
}
