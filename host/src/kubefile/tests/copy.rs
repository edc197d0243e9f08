//! Planner tests: `COPY` and `ADD`: destinations, sources, wildcards, links, refusals, archives.

use super::*;

#[test]
fn copy_destinations_follow_docker_rules() {
    let ctx = Context::new(&[
        ("rootfs/etc/kubeadm.yml", "k"),
        ("rootfs/manifests/", ""),
        ("app.yaml", "a"),
        ("imageList", "i"),
        ("one", "1"),
    ]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nCOPY rootfs .\nCOPY app.yaml manifests/\nCOPY imageList manifests\nCOPY one /renamed\nCOPY one etc\nCOPY . /all/",
    );
    let entries: Vec<_> = plan.steps.iter().map(|s| layer(s).entries.clone()).collect();
    assert_eq!(
        entries,
        [
            vec![entry("rootfs", EntryKind::Dir, "")],
            vec![entry("app.yaml", EntryKind::File, "manifests/app.yaml")],
            // `manifests` exists: the first COPY brought it from rootfs/manifests.
            vec![entry("imageList", EntryKind::File, "manifests/imageList")],
            vec![entry("one", EntryKind::File, "renamed")],
            vec![entry("one", EntryKind::File, "etc/one")],
            vec![entry("", EntryKind::Dir, "all")],
        ]
    );
    let summary: Vec<_> = plan.steps.iter().map(|s| layer(s).created_by("abc")).collect();
    assert_eq!(summary[0], "/bin/sh -c #(nop) COPY dir:abc in . ");
    assert_eq!(summary[1], "/bin/sh -c #(nop) COPY file:abc in manifests/ ");
    assert_eq!(summary[3], "/bin/sh -c #(nop) COPY file:abc in /renamed ");
}

#[test]
fn copy_keeps_every_source_in_order() {
    let ctx = Context::new(&[("b", ""), ("a", ""), ("d/x", "")]);
    let plan = plan_ok(&ctx, "FROM scratch\nCOPY b a d dest/\nCOPY [\"a\", \"b\", \"json/\"]");
    assert_eq!(
        layer(&plan.steps[0]).entries,
        [
            entry("b", EntryKind::File, "dest/b"),
            entry("a", EntryKind::File, "dest/a"),
            entry("d", EntryKind::Dir, "dest")
        ]
    );
    assert_eq!(layer(&plan.steps[0]).created_by("f00"), "/bin/sh -c #(nop) COPY multi:f00 in dest/ ");
    assert_eq!(layer(&plan.steps[1]).entries.len(), 2);
}

#[test]
fn copy_wildcards_and_arch_per_platform() {
    let ctx = Context::new(&[
        ("amd64/bin/kubectl", "x86"),
        ("arm64/bin/kubectl", "arm"),
        ("m/a.yaml", ""),
        ("m/b.yml", ""),
        ("m/c.txt", ""),
    ]);
    let text = "FROM scratch\nCOPY ${ARCH}/bin bin\nCOPY m/*.y*ml manifests/\nCOPY $ARCH/* .";
    let amd = plan_ok(&ctx, text);
    let arm =
        plan_with(&ctx, text, &PlanOptions::new(parse_platform("linux/arm64").unwrap()), BaseImage::default()).unwrap();
    assert_eq!(layer(&amd.steps[0]).entries, [entry("amd64/bin", EntryKind::Dir, "bin")]);
    assert_eq!(layer(&arm.steps[0]).entries, [entry("arm64/bin", EntryKind::Dir, "bin")]);
    assert_eq!(
        layer(&amd.steps[1]).entries,
        [entry("m/a.yaml", EntryKind::File, "manifests/a.yaml"), entry("m/b.yml", EntryKind::File, "manifests/b.yml")]
    );
    assert_eq!(layer(&arm.steps[2]).entries, [entry("arm64/bin", EntryKind::Dir, "")]);
}

#[test]
fn copy_symlinks_inside_the_context_are_resolved() {
    let ctx = Context::new(&[("real/dir/f", "f"), ("real/file", "x")]);
    ctx.symlink("real/dir", "dirlink");
    ctx.symlink("../file", "real/dir/up");
    let plan = plan_ok(&ctx, "FROM scratch\nCOPY dirlink/up d/\nCOPY dirlink e");
    // The file lands under the name it was asked for; its content comes from the resolved path.
    assert_eq!(layer(&plan.steps[0]).entries, [entry("real/file", EntryKind::File, "d/up")]);
    assert_eq!(layer(&plan.steps[1]).entries, [entry("real/dir", EntryKind::Dir, "e")]);
}

#[test]
fn copy_refuses_sources_outside_the_context() {
    let ctx = Context::new(&[("in/file", "x")]);
    std::fs::write(ctx.tmp.path().join("secret"), "s").unwrap();
    ctx.symlink("../secret", "out");
    ctx.symlink("/etc", "abs");
    ctx.symlink("../../", "in/up");
    for (source, shown) in [
        ("../x", "../x"),
        ("/etc/passwd", "/etc/passwd"),
        ("out", "out"),
        ("abs/passwd", "abs/passwd"),
        ("in/up/secret", "in/up/secret"),
        ("o*", "o*"),
    ] {
        assert_eq!(
            plan_err(&ctx, &format!("FROM scratch\nCOPY {source} dest/")),
            format!("Kubefile:2: COPY source \"{shown}\" is outside the build context")
        );
    }
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nARG UP=..\nCOPY $UP/secret dest/"),
        "Kubefile:3: COPY source \"../secret\" is outside the build context"
    );
}

#[test]
fn every_error_is_reported_in_line_order() {
    let ctx = Context::new(&[("a.yaml", "")]);
    // A planning error (line 2) before a line that is no instruction (line 3), then an APP that fails
    // and the LAUNCH naming it (no second error for the same app), then a good COPY.
    let text = "FROM scratch\nCOPY\nFROBNICATE x\nAPP web local://missing\nCOPY a.yaml manifests/\nLAUNCH web";
    let kubefile = parse_all("Kubefile", text.as_bytes()).unwrap();
    assert_eq!(kubefile.errors.len(), 1);
    let mut resolve = |_: &BaseRef, _: Option<&str>| Ok(BaseImage::default());
    let err = plan("Kubefile", &kubefile, &ctx.dir, &amd64(), &mut resolve).unwrap_err();
    let lines: Vec<usize> = [err.line].into_iter().chain(err.more.iter().map(|e| e.line)).collect();
    assert_eq!(lines, [2, 3, 4], "{err}");
    assert_eq!(
        err.to_string(),
        "Kubefile:2: COPY: expected at least one source and a destination; usage: COPY SRC... DEST\n\
         Kubefile:3: unknown instruction \"FROBNICATE\"\n\
         Kubefile:4: APP source \"missing\" does not exist in the build context"
    );
    // `parse` alone refuses the file, naming every line that is no instruction.
    let err = parse("Kubefile", b"FROM scratch\nFOO a\nCOPY a b\nBAR b\n").unwrap_err();
    assert_eq!(err.to_string(), "Kubefile:2: unknown instruction \"FOO\"\nKubefile:4: unknown instruction \"BAR\"");
    // A FROM that fails stops planning: what follows would only fail for want of it.
    let err = plan_err(&ctx, "FROM scratch extra\nCOPY a.yaml x\nCOPY\n");
    assert!(err.starts_with("Kubefile:1: FROM") && !err.contains('\n'), "{err}");
}

#[test]
fn copy_errors() {
    let ctx = Context::new(&[("a", ""), ("b", "")]);
    let cases = [
        ("COPY nope d/", "COPY source \"nope\" does not exist in the build context"),
        ("COPY a/x d/", "COPY source \"a/x\" does not exist in the build context"),
        ("COPY *.json d/", "COPY source \"*.json\" matches no file in the build context"),
        ("COPY a b dest", "COPY with more than one source needs a destination directory ending in /, not \"dest\""),
        ("COPY * dest", "COPY with more than one source needs a destination directory ending in /, not \"dest\""),
        ("COPY a ../../x", "COPY destination \"../../x\" is outside the image root"),
        ("COPY a", "COPY: expected at least one source and a destination; usage: COPY SRC... DEST"),
        ("COPY", "COPY: expected at least one source and a destination; usage: COPY SRC... DEST"),
        (
            "COPY --from=builder /x /y",
            "COPY does not support the flag --from; sealbox builds a single stage: put the files in the build context instead",
        ),
        (
            "COPY --chown=1:1 a b",
            "COPY does not support the flag --chown; every file in a sealbox layer is owned by uid 0 and gid 0",
        ),
        (
            "COPY --chmod=644 a b",
            "COPY does not support the flag --chmod; files keep the modes they have in the build context",
        ),
        ("COPY --link a b", "COPY does not support the flag --link"),
        ("COPY [\"a\" b", "COPY source \"[a\" is not a valid wildcard pattern"),
        ("COPY [c] b", "COPY source \"[c]\" matches no file in the build context"),
        ("COPY a[ b", "COPY source \"a[\" is not a valid wildcard pattern"),
    ];
    for (line, message) in cases {
        assert_eq!(plan_err(&ctx, &format!("FROM scratch\n{line}")), format!("Kubefile:2: {message}"), "{line}");
    }
    let remote = plan_err(&ctx, "FROM scratch\nCOPY https://example.com/x.yaml d/");
    assert_eq!(
        remote,
        "Kubefile:2: COPY source \"https://example.com/x.yaml\" is remote: sealbox has no network during a build, \
         and a download is not reproducible; download it into the build context first and COPY it by its path there"
    );
}

#[test]
fn copy_refuses_special_files() {
    let ctx = Context::new(&[]);
    let fifo = ctx.root().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nCOPY fifo d/"),
        "Kubefile:2: COPY source \"fifo\" is not a regular file or directory"
    );
}

#[test]
fn add_unpacks_local_archives_and_refuses_urls() {
    let mut tar = vec![0u8; 1024];
    tar[257..262].copy_from_slice(b"ustar");
    let ctx = Context::new(&[("plain.txt", "text"), ("bin.tgz", "")]);
    std::fs::write(ctx.root().join("bin.tgz"), [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    std::fs::write(ctx.root().join("raw.tar"), &tar).unwrap();
    let plan = plan_ok(&ctx, "FROM scratch\nADD bin.tgz raw.tar plain.txt /opt/\nADD plain.txt /x");
    assert_eq!(
        layer(&plan.steps[0]).entries,
        [
            entry("bin.tgz", EntryKind::Archive, "opt"),
            entry("raw.tar", EntryKind::Archive, "opt"),
            entry("plain.txt", EntryKind::File, "opt/plain.txt")
        ]
    );
    assert_eq!(layer(&plan.steps[1]).created_by("1"), "/bin/sh -c #(nop) ADD file:1 in /x ");
    assert!(
        plan_err(&ctx, "FROM scratch\nADD http://example.com/a.tgz /")
            .ends_with("download it into the build context first and ADD it by its path there")
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nADD --chown=0 a b"),
        "Kubefile:2: ADD does not support the flag --chown; every file in a sealbox layer is owned by uid 0 and gid 0"
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nADD x"),
        "Kubefile:2: ADD: expected at least one source and a destination; usage: ADD SRC... DEST"
    );
}
