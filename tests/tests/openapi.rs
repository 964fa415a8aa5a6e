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

/// The management API (`/v1/...`): every operation takes the worker's bearer token
/// (`bearerAuth`, and no other scheme), documents 401 and 503, answers its resources as
/// `application/hal+json;charset=UTF-8` and its errors as `application/json;charset=UTF-8`
/// (`management::hal`, `crate::http::json`); no other operation takes `bearerAuth`.
#[test]
fn management_operations_take_the_worker_token_and_answer_hal() {
    let doc = openapi();
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")));
    let resolve = |response: &Yaml| -> Yaml {
        match response["$ref"].as_str() {
            Some(r) => {
                let name = r.strip_prefix("#/components/responses/").expect("a response $ref");
                doc["components"]["responses"][name].clone()
            }
            None => response.clone(),
        }
    };
    let mut management = 0;
    for (path, item) in doc["paths"].as_hash().expect("paths") {
        let path = path.as_str().unwrap_or_default();
        for (method, operation) in item.as_hash().expect("a path item") {
            let id = operation["operationId"].as_str().unwrap_or_default();
            let schemes: Vec<&str> = operation["security"]
                .as_vec()
                .map(|list| {
                    list.iter().filter_map(|s| s.as_hash()).flat_map(|h| h.keys()).filter_map(Yaml::as_str).collect()
                })
                .unwrap_or_default();
            if !path.starts_with("/v1/") {
                assert!(!schemes.contains(&"bearerAuth"), "{id}: bearerAuth is the management API's");
                continue;
            }
            management += 1;
            assert_eq!(schemes, ["bearerAuth"], "{method:?} {path}: the worker's token only");
            let responses = operation["responses"].as_hash().expect("responses");
            for status in ["401", "503"] {
                assert!(responses.contains_key(&Yaml::String(status.into())), "{id}: documents {status}");
            }
            for (status, response) in responses {
                let status = status.as_str().unwrap_or_default();
                let content = resolve(response)["content"].clone();
                let media: Vec<&str> =
                    content.as_hash().map(|h| h.keys().filter_map(Yaml::as_str).collect()).unwrap_or_default();
                let expected: &[&str] = match status {
                    "204" => &[],
                    s if s.starts_with('2') => &["application/hal+json;charset=UTF-8"],
                    _ => &["application/json;charset=UTF-8"],
                };
                assert_eq!(media, expected, "{id} {status}");
            }
        }
    }
    assert_eq!(
        management,
        ROUTES.iter().filter(|r| r.endpoint.management_family().is_some()).count(),
        "every management route"
    );
}
