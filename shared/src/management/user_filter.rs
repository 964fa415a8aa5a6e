//! The SCIM filter subset PingOne's users list takes (PING-MGMT §7.3): `eq` and `sw` on
//! `username`, `email`, `name.given`, `name.family`, `population.id`, joined by `and` / `or`
//! (`and` binding tighter), values in double quotes, compared case-insensitively.

use serde_json::json;

use super::{ApiError, ApiResult};
use crate::error::ErrorDetail;
use crate::model::User;

pub const ATTRIBUTES: [&str; 5] = ["username", "email", "name.given", "name.family", "population.id"];
pub const OPERATORS: [&str; 4] = ["eq", "sw", "and", "or"];

#[derive(Debug, PartialEq, Eq)]
struct Condition {
    attribute: &'static str,
    starts_with: bool,
    value: String,
}

/// A parsed filter: any of the groups matches when all of its conditions do.
#[derive(Debug, PartialEq, Eq)]
pub struct Filter(Vec<Vec<Condition>>);

fn invalid(message: String) -> ApiError {
    ApiError::invalid(vec![ErrorDetail {
        code: "INVALID_FILTER",
        target: Some("filter"),
        message,
        inner_error: Some(json!({ "supportedAttributes": ATTRIBUTES, "supportedOperators": OPERATORS })),
    }])
}

/// Splits a filter into words, a quoted value being one word (with `\"` and `\\` escapes).
fn words(text: &str) -> ApiResult<Vec<(bool, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => {
                        value.push(chars.next().ok_or_else(|| invalid("The filter ends inside a value.".into()))?)
                    }
                    Some(ch) => value.push(ch),
                    None => return Err(invalid("A quoted value in the filter is not closed.".into())),
                }
            }
            out.push((true, value));
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '"' {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            out.push((false, word));
        }
    }
    Ok(out)
}

impl Filter {
    pub fn parse(text: &str) -> ApiResult<Filter> {
        if text.len() > 2048 {
            return Err(invalid("The filter is longer than 2048 characters.".into()));
        }
        let words = words(text)?;
        let mut groups = vec![Vec::new()];
        let mut i = 0;
        loop {
            let (Some((false, attribute)), Some((false, op)), Some((true, value))) =
                (words.get(i), words.get(i + 1), words.get(i + 2))
            else {
                return Err(invalid("Write the filter as: attribute eq|sw \"value\" [and|or ...].".into()));
            };
            let Some(attribute) = ATTRIBUTES.iter().find(|a| a.eq_ignore_ascii_case(attribute)) else {
                return Err(invalid(format!("The filter cannot use the attribute '{}'.", shorten(attribute))));
            };
            let starts_with = match op.to_ascii_lowercase().as_str() {
                "eq" => false,
                "sw" => true,
                _ => return Err(invalid(format!("The filter cannot use the operator '{}'.", shorten(op)))),
            };
            if let Some(group) = groups.last_mut() {
                group.push(Condition { attribute, starts_with, value: value.to_lowercase() });
            }
            i += 3;
            match words.get(i) {
                None => return Ok(Filter(groups)),
                Some((false, joiner)) if joiner.eq_ignore_ascii_case("and") => {}
                Some((false, joiner)) if joiner.eq_ignore_ascii_case("or") => groups.push(Vec::new()),
                Some(_) => return Err(invalid("Join filter conditions with and / or.".into())),
            }
            i += 1;
        }
    }

    /// Whether `user` matches (`default_population`: the id users without one belong to).
    pub fn matches(&self, user: &User, default_population: &str) -> bool {
        self.0.iter().any(|group| group.iter().all(|c| c.matches(user, default_population)))
    }
}

impl Condition {
    fn matches(&self, user: &User, default_population: &str) -> bool {
        let population = if user.population_id.is_empty() { default_population } else { &user.population_id };
        let actual = match self.attribute {
            "username" => Some(user.username.as_str()),
            "email" => user.email.as_deref(),
            "name.given" => user.given_name.as_deref(),
            "name.family" => user.family_name.as_deref(),
            _ => Some(population),
        };
        actual.map(str::to_lowercase).is_some_and(|a| {
            if self.starts_with {
                a.starts_with(&self.value)
            } else {
                a == self.value
            }
        })
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: &str, email: &str, population: &str) -> User {
        let mut u = User::new("env", username, username, None);
        u.email = Some(email.into());
        u.population_id = population.into();
        u
    }

    #[test]
    fn filters_match_as_pingone_documents() {
        let alice = user("Alice", "alice@example.com", "p1");
        let bob = user("bob", "bob@corp.example", "");
        let f = Filter::parse(r#"username eq "alice""#).unwrap();
        assert!(f.matches(&alice, "p0") && !f.matches(&bob, "p0"));
        let f = Filter::parse(r#"email sw "BOB@" or population.id eq "p1""#).unwrap();
        assert!(f.matches(&alice, "p0") && f.matches(&bob, "p0"));
        let f = Filter::parse(r#"population.id eq "p0" and username sw "b""#).unwrap();
        assert!(!f.matches(&alice, "p0") && f.matches(&bob, "p0"), "no population: the default one");
        let f = Filter::parse(r#"username eq "a \"quoted\" name""#).unwrap();
        assert!(f.matches(&user("a \"quoted\" name", "x@y", ""), ""));
    }

    #[test]
    fn bad_filters_say_what_is_supported() {
        for bad in [
            "",
            "username",
            r#"username eq alice"#,
            r#"username co "a""#,
            r#"password eq "x""#,
            r#"username eq "a" xor email eq "b""#,
            r#"username eq "a"#,
            r#"username eq "a" and"#,
        ] {
            let err = Filter::parse(bad).unwrap_err().error;
            assert_eq!(
                (err.status.as_u16(), err.code, err.details[0].code),
                (400, "INVALID_DATA", "INVALID_FILTER"),
                "{bad}"
            );
            assert!(err.details[0].inner_error.as_ref().unwrap()["supportedAttributes"].is_array());
        }
    }
}
