//! Every parser of untrusted input, fed random and half-valid text, answers
//! or refuses: none panics, and every refusal can be printed. The build
//! context (Kubefile, `.sealboxignore`, pipeline file), module binaries and
//! their metadata, and references and digests read from registries and
//! images are all written by someone the host does not trust.

use proptest::prelude::*;

use crate::kubefile::{self, BaseImage, BaseRef, Ignore, PlanOptions};

/// Text that parsers meet in hostile input: multi-byte and wide characters,
/// controls, quotes, escapes, expansion syntax, and long runs.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,80}",
        "[-a-zA-Z0-9_./:@=$ {}\\[\\]\"'\\\\`#,*?!~^]{0,80}",
        "[日🦀é\u{202e}\u{0}\u{1b}\u{7f}\u{9b}\n\r\t $\\\\{}\"'=/.:@-]{0,60}",
        Just("\u{1b}[2J".repeat(50)),
        Just("日".repeat(400)),
    ]
}

/// A Kubefile line: an instruction, maybe with flags, over hostile text.
fn kubefile_line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "FROM",
        "ARG",
        "ENV",
        "LABEL",
        "MAINTAINER",
        "COPY",
        "ADD",
        "RUN",
        "APP",
        "APPENV",
        "APPCMDS",
        "CNI",
        "CSI",
        "KUBEVERSION",
        "LAUNCH",
        "CMDS",
        "CMD",
        "# escape=",
        "#",
        "",
        "copy --chown=",
    ]);
    let flag = prop::sample::select(vec!["", "--module=", "--from=", "--chmod=", "--checksum=", "--link "]);
    (keyword, flag, hostile_text(), prop::sample::select(vec!["", " \\", "\\"]))
        .prop_map(|(k, f, rest, cont)| format!("{k} {f}{rest}{cont}"))
}

fn kubefile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(kubefile_line(), 0..8).prop_map(|lines| {
        let mut text = String::from("FROM scratch\n");
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        text
    })
}

/// A pipeline file whose fields hold hostile text.
fn pipeline_text() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec!["name", "stage", "module", "digest", "kind", "config", "grants"]);
    let grant = prop::sample::select(vec!["tree", "env", "timeout", "memoryMib"]);
    (field, grant, hostile_text(), hostile_text()).prop_map(|(field, grant, a, b)| {
        format!(
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: a\n    stage: after-render\n    \
             module: builtin:render\n    kind: transform\n    {field}: {a:?}\n    grants:\n      {grant}: {b}\n"
        )
    })
}

/// A context directory holding a few files the Kubefile may name.
fn context() -> (tempfile::TempDir, cap_std::fs::Dir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("rootfs/etc")).expect("mkdir");
    std::fs::write(tmp.path().join("rootfs/etc/a.yaml"), "a: 1\n").expect("write");
    std::fs::write(tmp.path().join("日本.txt"), "x").expect("write");
    let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("open");
    (tmp, dir)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn kubefiles_parse_and_plan_or_are_refused(text in kubefile_text()) {
        let (_tmp, ctx) = context();
        if let Ok(parsed) = kubefile::parse("Kubefile", text.as_bytes()) {
            let platform = kubefile::parse_platform("linux/amd64").expect("platform");
            let mut resolve = |_: &BaseRef, _: Option<&str>| Ok(BaseImage::default());
            if let Err(e) = kubefile::plan("Kubefile", &parsed, &ctx, &PlanOptions::new(platform), &mut resolve) {
                let _ = crate::text::escape_for_terminal(e.to_string().as_bytes());
            }
        }
    }

    #[test]
    fn kubefile_bytes_of_any_kind_are_refused_or_parsed(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = kubefile::parse("Kubefile", &bytes);
    }

    #[test]
    fn ignore_files_parse_or_are_refused(text in hostile_text(), path in hostile_text()) {
        if let Ok(ignore) = Ignore::parse(&text) {
            let _ = ignore.is_excluded(std::path::Path::new(&path));
        }
    }

    #[test]
    fn pipeline_files_parse_or_are_refused(text in pipeline_text(), raw in hostile_text()) {
        let tmp = tempfile::tempdir().expect("tempdir");
        for content in [text, raw] {
            let path = tmp.path().join("sealbox.yaml");
            std::fs::write(&path, content).expect("write");
            let _ = crate::pipeline::Pipeline::read(&path);
        }
    }

    #[test]
    fn references_digests_platforms_and_sizes_parse_or_are_refused(text in hostile_text()) {
        let _ = crate::registry::Reference::parse(&text);
        let _ = crate::oci::Digest::parse(&text);
        let _ = kubefile::parse_platform(&text);
        let _ = crate::sandbox::parse_size(&text);
        let _ = crate::sandbox::parse_duration(&text);
    }

    #[test]
    fn module_binaries_with_any_metadata_parse_or_are_refused(
        metadata in prop_oneof![
            hostile_text(),
            hostile_text().prop_map(|name| {
                serde_json::json!({"name": name, "version": "0.1.0", "kind": "transform"}).to_string()
            }),
        ],
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        // An empty core module, a `sealbox.module` custom section holding
        // `metadata`, then random bytes.
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        let section_name = sealbox_guest::METADATA_SECTION.as_bytes();
        let mut payload = vec![section_name.len() as u8];
        payload.extend_from_slice(section_name);
        payload.extend_from_slice(metadata.as_bytes());
        bytes.push(0);
        let mut len = payload.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            bytes.push(if len == 0 { byte } else { byte | 0x80 });
            if len == 0 {
                break;
            }
        }
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&tail);
        if let Ok(binary) = crate::sandbox::ModuleBinary::parse(bytes)
            && let Some(m) = &binary.metadata
        {
            prop_assert!(!crate::text::escape_line(&m.name).chars().any(char::is_control));
            let _ = binary.imports();
        }
    }
}
