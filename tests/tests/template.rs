//! `template.yaml` matches the route table: every route of `shared::routes::ROUTES` (both
//! dialects) is an HttpApi event of the function serving its endpoint, and nothing else is; every
//! function's `Binary` exists; the runtime, architecture and TTL are the ones the code assumes.

use std::collections::BTreeSet;
use std::path::Path;

use shared::routes::ROUTES;
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    YamlLoader::load_from_str(&text).expect("template.yaml is YAML").remove(0)
}

fn s(y: &Yaml) -> &str {
    y.as_str().unwrap_or_default()
}

#[test]
fn template_routes_equal_the_route_table() {
    let t = template();
    let mut in_template = BTreeSet::new();
    let resources = t["Resources"].as_hash().expect("Resources");
    for (name, resource) in resources {
        if s(&resource["Type"]) != "AWS::Serverless::Function" {
            continue;
        }
        let name = s(name);
        assert_eq!(s(&resource["Metadata"]["BuildMethod"]), "rust-cargolambda", "{name}");
        let binary = s(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../functions/src/bin/{binary}.rs"));
        assert!(source.exists(), "{name}: Binary {binary} has no functions/src/bin/{binary}.rs");
        for (_, event) in resource["Properties"]["Events"].as_hash().expect("Events") {
            assert_eq!(s(&event["Type"]), "HttpApi");
            let props = &event["Properties"];
            in_template.insert((s(&props["Method"]).to_owned(), s(&props["Path"]).to_owned(), binary.to_owned()));
        }
    }
    let in_code: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.verb.as_str().to_owned(), r.path.to_owned(), r.endpoint.function_name().to_owned()))
        .collect();
    let missing: Vec<_> = in_code.difference(&in_template).collect();
    let extra: Vec<_> = in_template.difference(&in_code).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing from template: {missing:?}\nnot in ROUTES: {extra:?}");
}

#[test]
fn runtime_architecture_and_ttl_are_what_the_code_assumes() {
    let t = template();
    let function = &t["Globals"]["Function"];
    assert_eq!(s(&function["Runtime"]), "provided.al2023");
    assert_eq!(s(&function["Handler"]), "bootstrap");
    assert_eq!(function["Architectures"][0].as_str(), Some("arm64"));
    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(s(&table["TimeToLiveSpecification"]["AttributeName"]), shared::store::dynamodb::TTL_ATTRIBUTE);
    assert_eq!(s(&table["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
}

/// `cargo lambda watch` routes (workspace metadata) equal the route table too.
#[test]
fn lambda_watch_router_equals_the_route_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().expect("Cargo.toml");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("router table");
    let mut configured = BTreeSet::new();
    for (path, target) in router {
        match target {
            toml::Value::String(function) => {
                for r in ROUTES.iter().filter(|r| r.path == path) {
                    configured.insert((r.verb.as_str().to_owned(), path.clone(), function.clone()));
                }
            }
            toml::Value::Array(entries) => {
                for e in entries {
                    let method = e["method"].as_str().unwrap().to_owned();
                    configured.insert((method, path.clone(), e["function"].as_str().unwrap().to_owned()));
                }
            }
            other => panic!("{path}: unexpected {other}"),
        }
    }
    let in_code: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.verb.as_str().to_owned(), r.path.to_owned(), r.endpoint.function_name().to_owned()))
        .collect();
    assert_eq!(configured, in_code);
    assert_eq!(router.len(), in_code.iter().map(|(_, p, _)| p).collect::<BTreeSet<_>>().len(), "every path once");
}
