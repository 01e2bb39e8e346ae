//! Federation edge cases end to end: a real gateway over fixture supergraphs (the planner's
//! `tests/fixtures/<name>`, composed from their `subgraphs/`), in front of stub subgraphs that
//! validate every operation against their own schema, as a real subgraph does, and answer it
//! from fixed data.

mod common;

use std::sync::Arc;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema, executable};
use axum::{Json, Router, routing};
use serde_json::{Map, Value, json};

use common::{free_ports, post, serve_in_background, spawn_gateway};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../planner/tests/fixtures");

/// The federation definitions a subgraph schema gets on top of its SDL.
const FEDERATION: &str = r#"
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @shareable on OBJECT | FIELD_DEFINITION
directive @external on OBJECT | FIELD_DEFINITION
directive @requires(fields: String!) on FIELD_DEFINITION
directive @provides(fields: String!) on FIELD_DEFINITION
directive @interfaceObject on OBJECT
scalar _Any
"#;

/// A subgraph answering from `root` (root fields by name, `name(arg:value)` for arguments) and
/// resolving each `_entities` representation with `resolve`.
struct Stub {
    schema: Valid<Schema>,
    root: Value,
    resolve: fn(&Value) -> Value,
}

/// Serves the stub of `fixture`'s `subgraph`; returns its port.
fn stub(fixture: &str, subgraph: &str, root: Value, resolve: fn(&Value) -> Value) -> u16 {
    let path = format!("{FIXTURES}/{fixture}/subgraphs/{subgraph}.graphql");
    let sdl = std::fs::read_to_string(&path).expect("the fixture's subgraph SDL");
    let schema = Schema::parse_and_validate(with_federation(&sdl), &path).expect("a valid schema");
    let stub = Arc::new(Stub {
        schema,
        root,
        resolve,
    });
    let app = Router::new().route(
        "/graphql",
        routing::post(move |Json(body): Json<Value>| async move { Json(stub.answer(&body)) }),
    );
    serve_in_background(app)
}

/// The subgraph's SDL with federation's definitions and `_entities` over its entity types.
fn with_federation(sdl: &str) -> String {
    let body: Vec<&str> = sdl
        .lines()
        .filter(|l| !l.starts_with("extend schema"))
        .collect();
    let entities: Vec<&str> = body
        .iter()
        .filter_map(|l| l.strip_prefix("type "))
        .filter(|l| l.contains("@key"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let query = match sdl.contains("type Query") {
        true => "extend type Query",
        false => "type Query",
    };
    format!(
        "{FEDERATION}\n{}\nunion _Entity = {}\n{query} {{ _entities(representations: [_Any!]!): [_Entity]! }}\n",
        body.join("\n"),
        entities.join(" | ")
    )
}

impl Stub {
    fn answer(&self, body: &Value) -> Value {
        let text = body["query"].as_str().unwrap_or_default();
        let document = match ExecutableDocument::parse_and_validate(&self.schema, text, "op") {
            Ok(document) => document,
            Err(e) => {
                return json!({ "data": null, "errors": [{ "message": e.errors.to_string() }] });
            }
        };
        let operation = document.operations.iter().next().expect("one operation");
        let mut data = Map::new();
        for selection in &operation.selection_set.selections {
            let executable::Selection::Field(field) = selection else {
                continue;
            };
            let value = match field.name.as_str() {
                "_entities" => body["variables"]["representations"]
                    .as_array()
                    .map(|all| all.iter().map(self.resolve).collect())
                    .unwrap_or_default(),
                _ => self.root[lookup(field)].clone(),
            };
            let key = field.response_key().to_string();
            data.insert(key, self.project(&value, &field.selection_set));
        }
        json!({ "data": data })
    }

    /// `value` as `set` selects it: by response key, fragments applied by `__typename` (and the
    /// subgraph's own interfaces and unions).
    fn project(&self, value: &Value, set: &executable::SelectionSet) -> Value {
        match value {
            Value::Array(items) => items.iter().map(|item| self.project(item, set)).collect(),
            Value::Object(object) if !set.selections.is_empty() => {
                let mut out = Map::new();
                self.fill(object, set, &mut out);
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn fill(
        &self,
        object: &Map<String, Value>,
        set: &executable::SelectionSet,
        out: &mut Map<String, Value>,
    ) {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(f) => {
                    let value = object.get(&lookup(f)).cloned().unwrap_or(Value::Null);
                    out.insert(
                        f.response_key().to_string(),
                        self.project(&value, &f.selection_set),
                    );
                }
                executable::Selection::InlineFragment(f) => {
                    let typename = object.get("__typename").and_then(Value::as_str);
                    let applies = |t: &apollo_compiler::Name| {
                        Some(t.as_str()) == typename
                            || typename.is_some_and(|o| self.schema.is_subtype(t, o))
                    };
                    if f.type_condition.as_ref().is_none_or(applies) {
                        self.fill(object, &f.selection_set, out);
                    }
                }
                executable::Selection::FragmentSpread(_) => {}
            }
        }
    }
}

/// Where a field's value is in the stub's data: its name, with its arguments if it has any.
fn lookup(field: &executable::Field) -> String {
    if field.arguments.is_empty() {
        return field.name.to_string();
    }
    let arguments: Vec<String> = field
        .arguments
        .iter()
        .map(|a| format!("{}:{}", a.name, a.value))
        .collect();
    format!("{}({})", field.name, arguments.join(","))
}

/// A gateway over `fixture`'s supergraph with the given subgraph URLs; returns its port.
async fn gateway(fixture: &str, subgraphs: &[(&str, u16)]) -> (common::Process, u16) {
    let port = free_ports();
    let mut args: Vec<String> = vec![
        "gateway".into(),
        "--supergraph".into(),
        format!("{FIXTURES}/{fixture}/supergraph.graphql"),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    for (name, port) in subgraphs {
        let url = format!("{name}=http://127.0.0.1:{port}/graphql");
        args.extend(["--subgraph-url".into(), url]);
    }
    (spawn_gateway(&args, port).await, port)
}

/// The data of `fixture`'s `operation` (a file under its `operations/`), asserting no errors.
async fn run(port: u16, fixture: &str, operation: &str) -> Value {
    let path = format!("{FIXTURES}/{fixture}/operations/{operation}.graphql");
    let query = std::fs::read_to_string(path).expect("the fixture operation");
    let (status, body) = post(port, json!({ "query": query }), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"].clone()
}

fn no_entities(_: &Value) -> Value {
    Value::Null
}

#[tokio::test]
async fn fields_whose_types_clash_across_union_members_are_aliased_and_named_back() {
    let fixture = "type-clash-across-members";
    let catalog = json!({ r#"search(text:"rust")"#: [
        { "__typename": "Article", "slug": "intro", "title": "Intro", "related": [
            { "__typename": "Video", "slug": "demo" },
            { "__typename": "Article", "slug": "intro" },
        ] },
        { "__typename": "Video", "slug": "demo" },
    ] });
    let catalog = stub(fixture, "catalog", catalog, no_entities);
    // The stub refuses what the subgraph would: one key, two types in one selection set.
    let naive = r#"{ search(text: "rust") { ... on Article { slug } ... on Video { slug } } }"#;
    let (_, refused) = post(catalog, json!({ "query": naive }), &[]).await;
    assert_eq!(refused["data"], Value::Null, "{refused}");
    let (_gateway, port) = gateway(fixture, &[("catalog", catalog)]).await;
    let data = run(port, fixture, "clashing_types_are_aliased").await;
    assert_eq!(
        data["search"],
        json!([
            { "slug": "intro", "title": "Intro", "related": [{ "slug": "demo" }, { "slug": "intro" }] },
            { "slug": "demo" },
        ])
    );
}

/// Each requirement's representation carries the `price` asked with its own arguments.
fn shipping(representation: &Value) -> Value {
    let number = |field: &str| representation[field].as_i64().unwrap_or_default();
    let cost = number("price") * number("weight");
    let landed = number("price") + number("tariff");
    json!({ "__typename": "Item", "shippingUSD": cost, "shippingEUR": cost, "landedUSD": landed })
}

#[tokio::test]
async fn requirements_with_different_arguments_each_get_their_own_value() {
    let fixture = "requires-with-arguments";
    let pricing = json!({ "items": [{
        "__typename": "Item", "sku": "s1", "title": "Lamp", "weight": 2,
        r#"price(currency:"USD")"#: 10, r#"price(currency:"EUR")"#: 20, r#"price(currency:"GBP")"#: 30,
        r#"tariff(region:"US")"#: 3,
    }] });
    let subgraphs = [
        ("pricing", stub(fixture, "pricing", pricing, no_entities)),
        ("shipping", stub(fixture, "shipping", json!({}), shipping)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "requirements_with_arguments_are_aliased").await;
    assert_eq!(
        data["items"],
        json!([{ "sku": "s1", "title": "Lamp", "price": 30, "shippingUSD": 20, "shippingEUR": 40 }])
    );
    // Requirements that agree on `price`'s arguments share one representation (and fetch).
    let data = run(port, fixture, "agreeing_requirements_share_a_fetch").await;
    assert_eq!(
        data["items"],
        json!([{ "sku": "s1", "shippingUSD": 20, "landedUSD": 13, "shippingEUR": 40 }])
    );
}

/// The order's address, as only geo knows it, found by the order's whole key.
fn geo(representation: &Value) -> Value {
    let known = representation["id"] == "o1" && representation["region"] == "eu";
    let geo = known.then(|| json!({ "lat": 45.76, "lon": 4.83 }));
    json!({ "__typename": "Order", "address": { "geo": geo } })
}

#[tokio::test]
async fn a_value_type_without_a_key_is_fetched_through_its_parent_entity() {
    let fixture = "parent-entity-call";
    let shop = json!({ "orders": [
        { "__typename": "Order", "id": "o1", "region": "eu", "address": { "city": "Lyon" } },
    ] });
    let subgraphs = [
        ("shop", stub(fixture, "shop", shop, no_entities)),
        ("geo", stub(fixture, "geo", json!({}), geo)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "below_an_entity_in_the_fetch").await;
    assert_eq!(
        data["orders"],
        json!([{ "id": "o1", "address": { "city": "Lyon", "geo": { "lat": 45.76, "lon": 4.83 } } }])
    );
}

/// Badges knows every person as a `Person` (`@interfaceObject`).
fn badge(representation: &Value) -> Value {
    assert_eq!(representation["__typename"], "Person", "{representation}");
    json!({ "__typename": "Person", "id": representation["id"], "badge": "gold" })
}

#[tokio::test]
async fn a_field_only_an_interface_object_has_is_fetched_when_asked_on_the_object() {
    let fixture = "interface-object-field-on-object";
    let people = json!({ "people": [{ "__typename": "Employee", "id": "e1", "salary": 100 }] });
    let subgraphs = [
        ("people", stub(fixture, "people", people, no_entities)),
        ("badges", stub(fixture, "badges", json!({}), badge)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "selected_on_the_object").await;
    assert_eq!(data["people"], json!([{ "salary": 100, "badge": "gold" }]));
}

/// People knows employee `e1` only.
fn employee(representation: &Value) -> Value {
    match representation["id"].as_str() {
        Some("e1") => json!({ "__typename": "Employee", "id": "e1", "name": "Ada" }),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn an_interface_object_whose_type_the_interface_home_cannot_tell_reads_null() {
    let fixture = "interface-object-field-on-object";
    let featured = json!({ "featured": [
        { "__typename": "Person", "id": "e1", "badge": "gold" },
        { "__typename": "Person", "id": "x9", "badge": "none" },
    ] });
    let subgraphs = [
        ("people", stub(fixture, "people", json!({}), employee)),
        ("badges", stub(fixture, "badges", featured, no_entities)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "typed_by_the_interface_home").await;
    // `Person` is an interface: no object is of that type, so the unknown one is null.
    assert_eq!(
        data["featured"],
        json!([{ "__typename": "Employee", "id": "e1", "badge": "gold", "name": "Ada" }, null])
    );
}

/// Store knows shelf `s1`'s own box, holding a book and a mug.
fn store_shelf(representation: &Value) -> Value {
    let items = json!([
        { "__typename": "Book", "title": "Dune" },
        { "__typename": "Mug", "color": "blue" },
    ]);
    json!({ "__typename": "Shelf", "id": representation["id"], "storeBox": { "items": items } })
}

#[tokio::test]
async fn union_members_below_a_shareable_path_are_those_every_candidate_subgraph_has() {
    let fixture = "partial-union-below-shareable";
    let book = json!({ "__typename": "Book", "title": "Dune", "label": "SF" });
    let warehouse = json!({ "warehouseShelf": { "__typename": "Shelf", "id": "s1", "box": {
        "items": [book, { "__typename": "Lamp", "watts": 60, "label": "desk" }],
    } } });
    let store = json!({ "storeShelf": { "__typename": "Shelf", "id": "s2", "box": {
        "items": [book, { "__typename": "Mug", "color": "blue" }],
    } } });
    let subgraphs = [
        (
            "warehouse",
            stub(fixture, "warehouse", warehouse, no_entities),
        ),
        ("store", stub(fixture, "store", store, store_shelf)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    // Store could resolve `box.items` too, and has no `Lamp`: its `watts` is not asked.
    let data = run(port, fixture, "below_a_warehouse_root").await;
    assert_eq!(
        data["warehouseShelf"]["box"]["items"],
        json!([{ "__typename": "Book", "title": "Dune" }, { "__typename": "Lamp", "watts": null }])
    );
    // `storeBox` is store's alone: after the hop, store's members are asked.
    let data = run(port, fixture, "after_an_entity_hop").await;
    assert_eq!(
        data["warehouseShelf"]["storeBox"]["items"],
        json!([{ "__typename": "Book", "title": "Dune" }, { "__typename": "Mug", "color": "blue" }])
    );
    // Store has no `Labelled`; its `Book` is one in the supergraph, so it is asked as a `Book`.
    let data = run(port, fixture, "an_interface_the_store_lacks").await;
    assert_eq!(
        data["storeShelf"]["box"]["items"],
        json!([{ "__typename": "Book", "label": "SF" }, { "__typename": "Mug" }])
    );
    // Warehouse has it, implemented by both of its members: asked as is.
    let data = run(port, fixture, "an_interface_of_the_warehouse").await;
    assert_eq!(
        data["warehouseShelf"]["box"]["items"],
        json!([{ "__typename": "Book", "label": "SF" }, { "__typename": "Lamp", "label": "desk" }])
    );
}

/// A port nothing listens on: a subgraph the plan must not reach.
fn unreachable() -> u16 {
    common::free_ports()
}

#[tokio::test]
async fn a_root_whose_provides_covers_a_member_fragment_answers_alone() {
    let fixture = "provides-on-union";
    let feed = json!({ "feed": [
        { "__typename": "Article", "id": "a1", "headline": "Federation" },
        { "__typename": "Video", "id": "v1" },
    ] });
    let subgraphs = [
        ("listing", unreachable()),
        ("digest", stub(fixture, "digest", feed, no_entities)),
        ("articles", unreachable()),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "provided_in_a_member_fragment").await;
    assert_eq!(
        data["feed"],
        json!([{ "id": "a1", "headline": "Federation" }, { "id": "v1" }])
    );
}

/// Tags knows every tag's label.
fn tag(representation: &Value) -> Value {
    json!({ "__typename": "Tag", "id": representation["id"], "label": "from tags" })
}

#[tokio::test]
async fn a_shared_mutation_field_runs_where_it_needs_no_entity_fetch() {
    let fixture = "shared-mutation-field";
    let tags = json!({
        r#"addTag(name:"rust")"#: { "__typename": "Tag", "id": "t9", "label": "rust" },
        r#"addTag(name:"a")"#: { "__typename": "Tag", "id": "t1", "label": "a" },
    });
    let ledger = json!({
        r#"archive(id:"t1")"#: true,
        r#"addTag(name:"b")"#: { "__typename": "Tag", "id": "t2" },
    });
    let (_gateway, port) = gateway(
        fixture,
        &[
            ("ledger", unreachable()),
            ("tags", stub(fixture, "tags", tags.clone(), tag)),
        ],
    )
    .await;
    let data = run(port, fixture, "from_the_subgraph_needing_no_jump").await;
    assert_eq!(data["addTag"], json!({ "id": "t9", "label": "rust" }));
    // Between fields of another subgraph, each field runs where the order puts it.
    let (_gateway, port) = gateway(
        fixture,
        &[
            ("ledger", stub(fixture, "ledger", ledger, no_entities)),
            ("tags", stub(fixture, "tags", tags, tag)),
        ],
    )
    .await;
    let data = run(port, fixture, "in_order_between_other_fields").await;
    assert_eq!(
        data,
        json!({
            "first": { "id": "t1", "label": "a" },
            "archive": true,
            "second": { "id": "t2", "label": "from tags" },
        })
    );
}

/// Shelter knows book `b1`'s pets.
fn shelter_book(representation: &Value) -> Value {
    let pets = json!([{ "__typename": "Cat", "id": "c1", "age": 3 }, { "__typename": "Dog", "id": "d1", "age": 5 }]);
    json!({ "__typename": "Book", "id": representation["id"], "pets": pets })
}

#[tokio::test]
async fn a_shared_field_is_fetched_where_its_members_can_be_keyed() {
    let fixture = "shareable-field-with-unkeyable-members";
    let book = json!({ "book": { "__typename": "Book", "id": "b1" } });
    let subgraphs = [
        ("library", stub(fixture, "library", book, no_entities)),
        ("shelter", stub(fixture, "shelter", json!({}), shelter_book)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "fetched_where_its_members_are_keyed").await;
    assert_eq!(data["book"]["pets"], json!([{ "age": 3 }, {}]));
}

/// Regions and prices know item `i1`; prices needs its region in the representation.
fn region(representation: &Value) -> Value {
    json!({ "__typename": "Item", "id": representation["id"], "region": "eu" })
}

fn price(representation: &Value) -> Value {
    let price = (representation["region"] == "eu").then_some(42);
    json!({ "__typename": "Item", "id": representation["id"], "region": "eu", "price": price })
}

#[tokio::test]
async fn a_key_field_only_another_subgraph_has_is_fetched_from_it_first() {
    let fixture = "shareable-field-beyond-a-key";
    let list = json!({ "topList": { "__typename": "Shortlist", "id": "l1", "first": {
        "__typename": "Item", "id": "i1", "name": "Kettle",
    } } });
    let subgraphs = [
        ("lists", stub(fixture, "lists", list, no_entities)),
        ("regions", stub(fixture, "regions", json!({}), region)),
        ("prices", stub(fixture, "prices", json!({}), price)),
    ];
    let (_gateway, port) = gateway(fixture, &subgraphs).await;
    let data = run(port, fixture, "fetched_where_the_rest_is_reachable").await;
    assert_eq!(
        data["topList"]["first"],
        json!({ "price": 42, "name": "Kettle" })
    );
}
