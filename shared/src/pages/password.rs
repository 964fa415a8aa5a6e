//! The "Change your password" page: a flow in PingOne's `MUST_CHANGE_PASSWORD` status (PING-COMPAT
//! §1.6; an admin set the password with `forceChange: true`) asks for the current password and a
//! new one, twice, and lists what the password policy needs (`passwords::policy_failures`). The
//! post is the flow's `password.reset` action.

use http::StatusCode;

use super::html::{alert, esc, hidden, list, page};
use super::Pages;
use crate::flows::FlowAction;
use crate::http::{Params, Response};
use crate::store::FlowRecord;

/// The form's step name (`pages::act`).
pub const STEP: &str = "password";

/// The page, with `error` (already in words for the person) above the form when there is one.
pub fn change_page(pages: &Pages<'_>, flow: &FlowRecord, error: Option<&str>, status: StatusCode) -> Response {
    let t = pages.text;
    let described = if error.is_some() { " aria-describedby=\"error\"" } else { "" };
    let fields = format!(
        "{step}{current}{new}{confirm}",
        step = hidden("step", STEP),
        current = password_input("current_password", t.current_password_label, "current-password", described, true),
        new =
            password_input("new_password", t.new_password_label, "new-password", " aria-describedby=\"rules\"", false),
        confirm = password_input("confirm_password", t.confirm_password_label, "new-password", "", false),
    );
    let body = format!(
        "<p>{intro}</p>{alert}<div id=\"rules\">{rules}</div>{form}",
        intro = esc(t.change_password_intro),
        alert = alert(error),
        rules = list(t.password_rules_intro, "rules", t.password_rules),
        form = pages.form(
            &flow.flow_id,
            &fields,
            &format!("<button type=\"submit\">{}</button>", esc(t.change_password_button)),
        ),
    );
    page(t, pages.env, status, t.change_password_title, &body)
}

fn password_input(name: &str, label: &str, autocomplete: &str, extra: &str, autofocus: bool) -> String {
    format!(
        "<label for=\"{name}\">{label}</label><input type=\"password\" id=\"{name}\" name=\"{name}\" \
         autocomplete=\"{autocomplete}\" maxlength=\"255\" required{extra}{focus}>",
        name = esc(name),
        label = esc(label),
        focus = if autofocus { " autofocus" } else { "" },
    )
}

/// The action a posted form asks for, or the words of why it cannot be sent (the two new
/// passwords differ: a typing mistake the flow need not see).
pub fn action(pages: &Pages<'_>, form: &Params) -> Result<FlowAction, &'static str> {
    let field = |name: &str| form.get(name).unwrap_or_default().to_owned();
    let new_password = field("new_password");
    if new_password != field("confirm_password") {
        return Err(pages.text.passwords_differ);
    }
    Ok(FlowAction::PasswordReset { current_password: field("current_password"), new_password })
}
