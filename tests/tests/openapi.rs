//! `infra/openapi.yaml` describes exactly the JSON routes of the route table: the same (method,
//! path) pairs, each with an `operationId` and its described answers. schemathesis
//! checks the server against it in the test command (`infra/scripts/fuzz.sh`).

use std::collections::BTreeSet;
use std::path::Path;

use shared::routes::ROUTES;
use yaml_rust2::{Yaml, YamlLoader};

fn openapi() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("infra/openapi.yaml");
    YamlLoader::load_from_str(&text).expect("infra/openapi.yaml is YAML").remove(0)
}

#[test]
fn openapi_operations_equal_the_json_routes() {
    let doc = openapi();
    assert!(doc["openapi"].as_str().unwrap_or_default().starts_with("3.1"), "OpenAPI 3.1");
    let mut described = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_hash().expect("paths") {
        for (method, operation) in item.as_hash().expect("a path item") {
            let method = method.as_str().unwrap_or_default();
            if !["get", "post", "put", "patch", "delete"].contains(&method) {
                continue;
            }
            described.insert((method.to_uppercase(), path.as_str().unwrap_or_default().to_owned()));
            let id = operation["operationId"].as_str().expect("every operation has an operationId");
            assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
            let responses = operation["responses"].as_hash().expect("every operation has responses");
            assert!(responses.keys().any(|k| k.as_str().is_some_and(|s| s.starts_with('2'))), "{id}: its success");
            for (status, response) in responses {
                let described = response["description"].as_str().is_some() || response["$ref"].as_str().is_some();
                assert!(described, "{id} {status:?}: every answer is described");
            }
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.endpoint.answers_json())
        .map(|r| (r.verb.as_str().to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = routes.difference(&described).collect();
    let extra: Vec<_> = described.difference(&routes).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in openapi.yaml: {missing:?}; not JSON routes: {extra:?}");
}
