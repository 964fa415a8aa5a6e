//! Request bodies of the management API: the media type, JSON, and a property checker that
//! gathers one PingOne error detail per failed property (`target` = the property's name), so a
//! client learns every mistake of a request at once.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::{ApiError, ApiResult};
use crate::error::ErrorDetail;
use crate::http::Request;

/// A JSON object sent to the management API.
pub struct Body {
    map: Map<String, Value>,
}

impl Body {
    /// The request's body as a JSON object, if its media type is one of `accepted`
    /// (415 `INVALID_REQUEST` otherwise; 400 for malformed JSON or a non-object).
    pub fn parse(req: &Request, accepted: &[&str]) -> ApiResult<Body> {
        let media = req.content_type().unwrap_or_default();
        if !accepted.contains(&media.as_str()) {
            return Err(ApiError::invalid_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "The request could not be completed. Send the body as {} (Content-Type).",
                    accepted.join(" or ")
                ),
            ));
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(map)) => Ok(Body { map }),
            Ok(_) => Err(ApiError::invalid_request(
                StatusCode::BAD_REQUEST,
                "The request could not be completed. The body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::invalid_request(
                StatusCode::BAD_REQUEST,
                format!("The request could not be completed. The body is not valid JSON: {e}."),
            )),
        }
    }

    /// An empty body (a `POST` that may carry none).
    pub fn empty() -> Body {
        Body { map: Map::new() }
    }

    /// The request's JSON body, or an empty one when there is none at all.
    pub fn parse_optional(req: &Request, accepted: &[&str]) -> ApiResult<Body> {
        if req.body.iter().all(u8::is_ascii_whitespace) {
            Ok(Body::empty())
        } else {
            Body::parse(req, accepted)
        }
    }

    /// A property's value; JSON `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Checks properties of a body, gathering what fails.
pub struct Check<'a> {
    pub body: &'a Body,
    details: Vec<ErrorDetail>,
}

impl<'a> Check<'a> {
    pub fn new(body: &'a Body) -> Self {
        Self { body, details: Vec::new() }
    }

    pub fn fail(&mut self, code: &'static str, target: &'static str, message: String, inner: Option<Value>) {
        self.details.push(ErrorDetail { code, target: Some(target), message, inner_error: inner });
    }

    fn required(&mut self, name: &'static str) {
        self.fail("REQUIRED_VALUE", name, format!("{name} is required."), None);
    }

    /// A string of 1..=`max` characters (trimmed ones are kept as sent).
    pub fn string(&mut self, name: &'static str, required: bool, max: usize) -> Option<String> {
        self.string_at(self.body.get(name), name, required, max)
    }

    fn string_at(&mut self, value: Option<&Value>, name: &'static str, required: bool, max: usize) -> Option<String> {
        match value {
            None if required => {
                self.required(name);
                None
            }
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                if required {
                    self.fail("EMPTY_VALUE", name, format!("{name} must not be empty."), None);
                }
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                let inner = json!({ "maximumValue": max });
                self.fail("INVALID_VALUE", name, format!("{name} must be at most {max} characters."), Some(inner));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail("INVALID_VALUE", name, format!("{name} must be a string."), None);
                None
            }
        }
    }

    /// A string inside an object property: `population.id`, `name.given`.
    pub fn nested_string(
        &mut self,
        parent: &str,
        child: &str,
        target: &'static str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let value = match self.body.get(parent) {
            None => None,
            Some(Value::Object(map)) => map.get(child).filter(|v| !v.is_null()),
            Some(_) => {
                self.fail("INVALID_VALUE", target, format!("{parent} must be an object."), None);
                return None;
            }
        };
        self.string_at(value, target, required, max)
    }

    pub fn boolean(&mut self, name: &'static str, default: bool) -> bool {
        match self.body.get(name) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.fail("INVALID_VALUE", name, format!("{name} must be true or false."), None);
                default
            }
        }
    }

    /// An integer in `min..=max` (PingOne's range detail).
    pub fn int(&mut self, name: &'static str, min: i64, max: i64, default: i64) -> i64 {
        let inner = json!({ "rangeMinimumValue": min, "rangeMaximumValue": max });
        match self.body.get(name) {
            None => default,
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => n,
                _ => {
                    let message = format!("{name} must be an integer from {min} to {max}.");
                    self.fail("INVALID_VALUE", name, message, Some(inner));
                    default
                }
            },
        }
    }

    /// One of `options` by its PingOne name.
    pub fn choice<T: Copy>(&mut self, name: &'static str, options: &[(&str, T)], required: bool) -> Option<T> {
        match self.body.get(name) {
            None => {
                if required {
                    self.required(name);
                }
                None
            }
            Some(Value::String(s)) => match options.iter().find(|(n, _)| n == s) {
                Some((_, v)) => Some(*v),
                None => {
                    self.bad_choice(name, options);
                    None
                }
            },
            Some(_) => {
                self.bad_choice(name, options);
                None
            }
        }
    }

    fn bad_choice<T>(&mut self, name: &'static str, options: &[(&str, T)]) {
        let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let message = format!("{name} must be one of {}.", allowed.join(", "));
        self.fail("INVALID_VALUE", name, message, Some(json!({ "allowedValues": allowed })));
    }

    /// A list of `options` (duplicates dropped); `None` when absent.
    pub fn choices<T: Copy + PartialEq>(&mut self, name: &'static str, options: &[(&str, T)]) -> Option<Vec<T>> {
        let items = self.strings(name, 20, |_| Ok(()))?;
        let mut out = Vec::new();
        for item in items {
            match options.iter().find(|(n, _)| *n == item) {
                Some((_, v)) if !out.contains(v) => out.push(*v),
                Some(_) => {}
                None => {
                    self.bad_choice(name, options);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A list of at most `max_items` strings, each passing `valid`; `None` when absent.
    pub fn strings(
        &mut self,
        name: &'static str,
        max_items: usize,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Option<Vec<String>> {
        let value = self.body.get(name)?;
        let Some(list) = value.as_array() else {
            self.fail("INVALID_VALUE", name, format!("{name} must be an array of strings."), None);
            return None;
        };
        if list.len() > max_items {
            let message = format!("{name} holds at most {max_items} values.");
            self.fail("INVALID_VALUE", name, message, Some(json!({ "maximumValue": max_items })));
            return None;
        }
        let mut out = Vec::new();
        for item in list {
            let Some(s) = item.as_str() else {
                self.fail("INVALID_VALUE", name, format!("{name} must be an array of strings."), None);
                return None;
            };
            if let Err(why) = valid(s) {
                self.fail("INVALID_VALUE", name, why, None);
                return None;
            }
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        Some(out)
    }

    /// `Ok` when every property passed, else 400 `INVALID_DATA` with every failure.
    pub fn finish(self) -> ApiResult<()> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.details))
        }
    }
}
