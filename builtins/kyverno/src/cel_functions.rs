//! Kyverno's CEL libraries that work offline: `resource.Get/List` (and
//! the camelCase aliases) and `image.GetMetadata` served from a test's
//! `context:` file, `parseServiceAccount`, and Kubernetes' list `sum()`.
//!
//! The interpreter's functions are plain `fn`s, so the data they serve
//! travels in the receiver: `resource` and `image` are bound to maps
//! holding the context's resources and images under private keys.

use cel::common::types::{DYN_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{ExecutionError, Value};
use serde_json::{Value as Json, json};

use crate::cel::{json_to_val, to_json};

/// The key under which `resource` carries the context's resources.
const RESOURCES: &str = "__sealbox_context_resources";
/// The key under which `image` carries the context's images.
const IMAGES: &str = "__sealbox_context_images";
/// The key under which `globalContext` carries the test's entries.
const GLOBAL: &str = "__sealbox_global_entries";
/// The key under which `http` carries the test's mocked responses.
const HTTP: &str = "__sealbox_http_responses";

/// The value bound to `globalContext`: the test's entries by name.
pub fn global_binding(entries: &std::collections::BTreeMap<String, Json>) -> Json {
    json!({ GLOBAL: entries })
}

/// The value bound to `http`: the test's `apiCallResponses`.
pub fn http_binding(responses: &[Json]) -> Json {
    json!({ HTTP: responses })
}

/// The value bound to `resource`: the context file's `spec.resources`.
pub fn resource_binding(context: &Json) -> Json {
    json!({ RESOURCES: context.pointer("/spec/resources").cloned().unwrap_or(json!([])) })
}

/// The value bound to `image`: the context file's `spec.images`.
pub fn image_binding(context: &Json) -> Json {
    json!({ IMAGES: context.pointer("/spec/images").cloned().unwrap_or(json!([])) })
}

type Result<T> = std::result::Result<T, ExecutionError>;

/// Declares the functions on `env`; called once when the environment is built.
pub fn register(env: &mut cel::Env) -> std::result::Result<(), cel::DeclarationError> {
    for (name, id) in [("Get", "kyverno_resource_get"), ("get", "kyverno_resource_get_alias")] {
        env.add_member_overload(
            name,
            id,
            MAP_TYPE,
            vec![STRING_TYPE, STRING_TYPE, STRING_TYPE, STRING_TYPE],
            resource_get,
        )?;
    }
    for (name, id) in [("List", "kyverno_resource_list"), ("list", "kyverno_resource_list_alias")] {
        env.add_member_overload(name, id, MAP_TYPE, vec![STRING_TYPE, STRING_TYPE, STRING_TYPE], resource_list)?;
    }
    env.add_member_overload("GetMetadata", "kyverno_image_get_metadata", MAP_TYPE, vec![STRING_TYPE], image_metadata)?;
    env.add_member_overload("Get", "kyverno_global_get", MAP_TYPE, vec![STRING_TYPE, STRING_TYPE], global_get)?;
    env.add_member_overload("Get", "kyverno_http_get", MAP_TYPE, vec![STRING_TYPE], http_get)?;
    env.add_member_overload("Post", "kyverno_http_post", MAP_TYPE, vec![STRING_TYPE, DYN_TYPE], http_post)?;
    env.add_member_overload(
        "Post",
        "kyverno_http_post_headers",
        MAP_TYPE,
        vec![STRING_TYPE, DYN_TYPE, MAP_TYPE],
        http_post,
    )?;
    env.add_overload("parseServiceAccount", "kyverno_parse_service_account", vec![STRING_TYPE], parse_sa)?;
    env.add_member_overload("sum", "k8s_list_sum", LIST_TYPE, vec![], list_sum)?;
    Ok(())
}

fn json_args(name: &str, args: &[CowVal<'_, '_>]) -> Result<Vec<Json>> {
    args.iter()
        .map(|a| Value::try_from(a.as_ref()).map(|v| to_json(&v)).map_err(|e| ExecutionError::function_error(name, e)))
        .collect()
}

fn text(v: &Json) -> &str {
    v.as_str().unwrap_or("")
}

fn owned<'b, 'v>(v: &Json) -> CowVal<'b, 'v> {
    let val: Box<dyn Val> = json_to_val(v);
    CowVal::Owned(val)
}

/// Resources of the context with `apiVersion`, plural `resource` and, when
/// not empty, `namespace`.
fn select<'a>(store: &'a Json, api: &str, resource: &str, namespace: &str) -> impl Iterator<Item = &'a Json> {
    let items = store.get(RESOURCES).and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]);
    items.iter().filter(move |r| {
        let kind = r.get("kind").and_then(Json::as_str).unwrap_or("");
        let ns = r.pointer("/metadata/namespace").and_then(Json::as_str).unwrap_or("");
        r.get("apiVersion").and_then(Json::as_str) == Some(api)
            && crate::cel_match::resource_of_kind(kind) == resource
            && (namespace.is_empty() || ns == namespace)
    })
}

fn resource_get<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("resource.Get", &args)?;
    let (api, res, ns, name) = (text(&a[1]), text(&a[2]), text(&a[3]), text(&a[4]));
    let found = select(&a[0], api, res, ns).find(|r| r.pointer("/metadata/name").and_then(Json::as_str) == Some(name));
    match found {
        Some(r) => Ok(owned(r)),
        None => Err(ExecutionError::function_error("resource.Get", format!("{res} \"{name}\" not found"))),
    }
}

fn resource_list<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("resource.List", &args)?;
    let items: Vec<Json> = select(&a[0], text(&a[1]), text(&a[2]), text(&a[3])).cloned().collect();
    Ok(owned(&json!({"apiVersion": "v1", "kind": "List", "items": items})))
}

/// `globalContext.Get(name, projection)`: the entry, or one of its
/// projections when `projection` is not empty.
fn global_get<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("globalContext.Get", &args)?;
    let (name, projection) = (text(&a[1]), text(&a[2]));
    let entry = a[0].get(GLOBAL).and_then(|g| g.get(name)).ok_or_else(|| {
        ExecutionError::function_error("globalContext.Get", format!("global context entry {name:?} is not in the test"))
    })?;
    match projection {
        "" => Ok(owned(entry)),
        p => entry.get(p).map(owned).ok_or_else(|| {
            ExecutionError::function_error("globalContext.Get", format!("entry {name:?} has no projection {p:?}"))
        }),
    }
}

/// The mocked response (`{body, statusCode}`) to `method` on `url`.
fn mocked_response<'b, 'v>(what: &str, store: &Json, method: &str, url: &str) -> Result<CowVal<'b, 'v>> {
    let responses = store.get(HTTP).and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let found = responses.iter().find(|r| {
        r.get("method").and_then(Json::as_str).unwrap_or("GET").eq_ignore_ascii_case(method)
            && r.get("url").and_then(Json::as_str) == Some(url)
    });
    match found.and_then(|r| r.get("response")) {
        Some(response) => Ok(owned(response)),
        None => Err(ExecutionError::function_error(what, format!("no mocked response for {method} {url}"))),
    }
}

fn http_get<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("http.Get", &args)?;
    mocked_response("http.Get", &a[0], "GET", text(&a[1]))
}

fn http_post<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("http.Post", &args)?;
    mocked_response("http.Post", &a[0], "POST", text(&a[1]))
}

fn image_metadata<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("image.GetMetadata", &args)?;
    let reference = text(&a[1]);
    let images = a[0].get(IMAGES).and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]);
    match images.iter().find(|i| i.get("image").and_then(Json::as_str) == Some(reference)) {
        Some(i) => Ok(owned(i)),
        None => Err(ExecutionError::function_error(
            "image.GetMetadata",
            format!("image {reference:?} is not in the test's context"),
        )),
    }
}

/// `system:serviceaccount:NS:NAME` -> `{Namespace, Name}`.
fn parse_sa<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let a = json_args("parseServiceAccount", &args)?;
    let user = text(&a[0]);
    let (ns, name) = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
        .unwrap_or(("", ""));
    Ok(owned(&json!({"Namespace": ns, "Name": name})))
}

/// Kubernetes' `list.sum()`: ints add as ints, doubles as doubles; mixed
/// or other elements are an error.
fn list_sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>> {
    let list = Value::try_from(args[0].as_ref())?;
    let Value::List(items) = list else { return Err(ExecutionError::function_error("sum", "not a list")) };
    let (mut ints, mut floats, mut any_float) = (0i64, 0f64, false);
    for v in items.iter() {
        match v {
            Value::Int(i) => {
                ints = ints.checked_add(*i).ok_or_else(|| ExecutionError::function_error("sum", "overflow"))?
            }
            Value::Float(f) => {
                any_float = true;
                floats += f;
            }
            other => return Err(ExecutionError::function_error("sum", format!("cannot sum {:?}", other.type_of()))),
        }
    }
    if any_float && ints != 0 {
        return Err(ExecutionError::function_error("sum", "mixed int and double elements"));
    }
    Ok(if any_float { owned(&json!(floats)) } else { owned(&json!(ints)) })
}
