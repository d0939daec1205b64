//! The JavaScript surface from one source, the op table (src/core/ops.rs): the tables
//! of pkg-template/surface.js and the call block of pkg-template/index.d.ts are
//! written from it, and the compatibility harness's list of the 1.58.2 surface
//! (tests/harness/api-surface/expected.json) is held to it. A generated block that
//! differs from what the table gives fails; `UPDATE_SURFACE=1 cargo test -p
//! chatkitty-wasm --lib surface` rewrites it.

use std::path::PathBuf;

use serde_json::Value;

use super::*;

const COMMAND: &str = "UPDATE_SURFACE=1 cargo test -p chatkitty-wasm --lib surface";
const BEGIN: &str = "----- generated from src/core/ops.rs by `";
const END: &str = "----- end of generated code -----";

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `Function.length` of a call: 0 for `name()`, else 1 (a call takes one request).
fn arity(js: &JsMethod) -> u64 {
    if js.signature[js.name().len()..].starts_with("()") {
        0
    } else {
        1
    }
}

/// The JSDoc lines of a row (its doc comment, less the space after `///`).
fn doc(js: &JsMethod) -> Vec<&'static str> {
    js.doc
        .iter()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect()
}

/// The observers surface.js numbers: the current user's three (src/wasm/mod.rs,
/// `Observed`), then the instance observers in `UserEvent::ALL` order.
fn observers() -> Vec<String> {
    let mut names: Vec<String> = ["Changed", "Online", "Offline"]
        .iter()
        .map(|n| format!("onCurrentUser{n}"))
        .collect();
    names.extend(UserEvent::ALL.iter().map(|k| format!("on{k:?}")));
    names
}

/// surface.js's tables.
fn surface_block() -> String {
    let calls: Vec<String> = JS
        .iter()
        .zip(OPS.iter())
        .map(|(js, spec)| {
            let nas = if spec.needs_session() { "*" } else { "" };
            let none = if arity(js) == 0 { "()" } else { "" };
            format!("{nas}{}{none}", js.name())
        })
        .collect();
    let aliases: Vec<String> = JS
        .iter()
        .flat_map(|js| js.aliases.iter().map(move |a| format!("{a} {}", js.name())))
        .collect();
    format!(
        "// The API calls, each at its op number; `*`: it needs a session (NAS, docs/api.md\n\
         // §2.3); `()`: it takes no argument.\n\
         const OPS = '{}';\n\
         // Observers, numbered as in src/wasm/mod.rs (`Observed`) and core::UserEvent::ALL.\n\
         const OBSERVERS = '{}';\n\
         // The 2.x names of docs/api.md §12.1, as [alias, name].\n\
         const ALIASES = '{}';\n",
        calls.join(" "),
        observers().join(" "),
        aliases.join(" "),
    )
}

/// The call block of index.d.ts's class: each call with its JSDoc, then its aliases.
fn dts_block() -> String {
    let mut out = String::new();
    for js in &JS {
        match doc(js).as_slice() {
            [line] => out.push_str(&format!("  /** {line} */\n")),
            lines => {
                out.push_str("  /**\n");
                for l in lines {
                    out.push_str(format!("   * {l}").trim_end());
                    out.push('\n');
                }
                out.push_str("   */\n");
            }
        }
        out.push_str(&format!("  {};\n", js.signature));
        let rest = &js.signature[js.name().len()..];
        for alias in js.aliases {
            let name = js.name();
            out.push_str(&format!(
                "  /** 2.x alias of `{name}`. */\n  {alias}{rest};\n"
            ));
        }
    }
    out
}

/// `text` with the lines between its BEGIN and END marker lines replaced by `block`.
fn splice(file: &str, text: &str, block: &str) -> String {
    let begin = text
        .find(BEGIN)
        .unwrap_or_else(|| panic!("{file} has no line with `{BEGIN}`"));
    let body = begin + text[begin..].find('\n').expect("a line") + 1;
    let end = text[body..]
        .find(END)
        .map(|i| body + i)
        .unwrap_or_else(|| panic!("{file} has no `{END}` after `{BEGIN}`"));
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    format!("{}{block}{}", &text[..body], &text[end..])
}

/// Fails when the generated block of `file` is not `block`, or writes it with
/// UPDATE_SURFACE set.
fn ensure(file: &str, block: &str) {
    let text = read(file);
    let want = splice(file, &text, block);
    if want == text {
        return;
    }
    if std::env::var_os("UPDATE_SURFACE").is_some() {
        std::fs::write(path(file), want).unwrap();
        return;
    }
    let line = text
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .map_or(want.lines().count(), |i| i + 1);
    panic!(
        "{file} differs from what src/core/ops.rs generates (from line {line}): edit the \
         op table, not the file, and run `{COMMAND}`"
    );
}

#[test]
fn surface_js_tables_are_written_from_the_op_table() {
    ensure("pkg-template/surface.js", &surface_block());
}

#[test]
fn index_d_ts_declares_each_call_as_the_op_table_says() {
    ensure("pkg-template/index.d.ts", &dts_block());
}

/// The harness's expected list is the official class's surface (its `--self-test`
/// checks it against chatkitty@1.58.2), plus our extensions: the table must name
/// exactly its calls, with their arities and aliases.
#[test]
fn the_harness_expects_the_table_s_calls_aliases_and_extensions() {
    let expected: Value =
        serde_json::from_str(&read("tests/harness/api-surface/expected.json")).unwrap();
    let listed = |key: &str| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = expected[key]
            .as_object()
            .unwrap_or_else(|| panic!("expected.json has no `{key}`"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        v.sort();
        v
    };
    let mut official = Vec::new();
    let mut extensions = Vec::new();
    let mut aliases = Vec::new();
    for js in &JS {
        let row = (js.name().to_owned(), arity(js));
        if js.extension {
            assert!(
                js.aliases.is_empty(),
                "{}: extensions have no 2.x names",
                row.0
            );
            extensions.push(row);
        } else {
            official.push(row);
        }
        aliases.extend(js.aliases.iter().map(|a| (a.to_string(), arity(js))));
    }
    let methods = listed("methods");
    for call in &official {
        assert!(methods.contains(call), "expected.json lacks {call:?}");
    }
    for (name, _) in &methods {
        assert!(
            !extensions.iter().any(|e| &e.0 == name),
            "{name} is official in expected.json but an extension in the table"
        );
    }
    extensions.sort();
    aliases.sort();
    assert_eq!(listed("extensions"), extensions);
    assert_eq!(listed("aliases"), aliases);
}

/// Every method the harness expects, the ones outside the table included
/// (`startSession`, the observers…), is declared in index.d.ts's class.
#[test]
fn index_d_ts_declares_every_method_the_harness_expects() {
    let dts = read("pkg-template/index.d.ts");
    let class = &dts[dts.find("export declare class ChatKitty {").unwrap()..];
    let class = &class[..class.find("\n}\n").unwrap()];
    let expected: Value =
        serde_json::from_str(&read("tests/harness/api-surface/expected.json")).unwrap();
    for key in ["methods", "aliases", "extensions"] {
        for name in expected[key].as_object().unwrap().keys() {
            assert!(
                class.contains(&format!("\n  {name}(")),
                "index.d.ts's class does not declare {name}"
            );
        }
    }
}

/// A call's JSDoc says it throws `NoActiveSessionError` exactly when it does.
#[test]
fn the_jsdoc_of_each_call_says_whether_it_needs_a_session() {
    for (js, spec) in JS.iter().zip(OPS.iter()) {
        let says = js.doc.iter().any(|l| l.contains("`NoActiveSessionError`"));
        assert_eq!(says, spec.needs_session(), "{}'s JSDoc", js.name());
    }
}

#[test]
fn observer_numbers_follow_user_event_all() {
    for (i, k) in UserEvent::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
    }
}
