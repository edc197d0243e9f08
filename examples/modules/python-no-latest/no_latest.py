"""A sealbox policy step: every container image in the manifests under /in
must name a tag other than `latest`, or a digest.

The step contract v1 (guest-sdk/README.md): one JSON request on stdin, one
JSON response on stdout, the tree to check at /in (read-only). Diagnostics
point at the file and line of each offending `image:` value.

Granted the documents view (`documents: true`), it reads the manifests from
there (sealbox_view, no YAML library): decoded as Kubernetes decodes them,
merge keys applied, so a container that gets its image through `<<: *base`
is checked too. Without the view it reads the YAML itself with PyYAML's
nodes (with the column of each finding), which keeps `sealbox module run`
and steps without the grant working; that reading does not apply merge keys.
"""

import json
import os
import sys

import sealbox_view
import yaml

API_VERSION = "sealbox.dev/step/v1"
RULE = "no-latest"
INPUT_DIR = "/in"
# The keys of a pod spec that hold containers, wherever a pod template sits
# (Pod, Deployment, CronJob's jobTemplate, …).
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def image_problem(image):
    """Why `image` is not pinned, or None when it names a tag or a digest."""
    if "@" in image:
        return None
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return "has no tag, so it means `latest`"
    tag = name.rsplit(":", 1)[1]
    if tag == "latest":
        return "uses the `latest` tag"
    return None


def view_images(value, path=()):
    """Yields (path, image) of every container image below `value`, a
    document of the view (JSON)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in CONTAINER_LISTS and isinstance(child, list):
                for i, container in enumerate(child):
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        yield path + (key, i, "image"), container["image"]
            yield from view_images(child, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from view_images(item, path + (i,))


def check_view(documents, errors):
    """The diagnostics for the documents of the view."""
    out = [diagnostic("error", f"not valid YAML: {e.message}", e.file, line=e.line) for e in errors]
    for document in documents:
        for path, image in view_images(document.value):
            problem = image_problem(image)
            if problem is not None:
                message = f"image {image!r} {problem}; pin a version tag or a digest"
                out.append(diagnostic("error", message, document.file, line=document.line_of(*path)))
    return out


def scalar(node):
    return node.value if isinstance(node, yaml.ScalarNode) else None


def container_images(node):
    """Yields the `image` scalar node of every container below `node`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if scalar(key) in CONTAINER_LISTS and isinstance(value, yaml.SequenceNode):
                for container in value.value:
                    if isinstance(container, yaml.MappingNode):
                        for ckey, cvalue in container.value:
                            if scalar(ckey) == "image" and isinstance(cvalue, yaml.ScalarNode):
                                yield cvalue
            yield from container_images(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from container_images(item)


def diagnostic(severity, message, path, mark=None, line=None):
    d = {"severity": severity, "message": message, "file": path, "rule": RULE}
    if line is not None:
        d["line"] = line
    if mark is not None:
        # PyYAML counts from 0; diagnostics count from 1.
        d["line"] = mark.line + 1
        d["column"] = mark.column + 1
    return d


def check_file(path, text):
    """The diagnostics for one YAML file (path relative to /in)."""
    out = []
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        message = f"not valid YAML: {e.problem or e.context}"
        return [diagnostic("error", message, path, e.problem_mark or e.context_mark)]
    except yaml.YAMLError as e:
        return [diagnostic("error", f"not valid YAML: {e}", path)]
    for document in documents:
        if document is None:
            continue
        for image in container_images(document):
            problem = image_problem(image.value)
            if problem is not None:
                message = f"image {image.value!r} {problem}; pin a version tag or a digest"
                out.append(diagnostic("error", message, path, image.start_mark))
    return out


def yaml_files(request):
    """(path, where to read it under /in) of each YAML file to check, sorted
    by path. The request lists the tree; a bare request means: walk /in."""
    entries = request.get("files") or []
    if entries:
        found = [(e["path"], e["path"]) for e in entries if e.get("kind") == "file"]
    else:
        found = []
        for root, dirs, files in os.walk(INPUT_DIR):
            rel = os.path.relpath(root, INPUT_DIR)
            found += [(p, p) for p in (name if rel == "." else f"{rel}/{name}" for name in files)]
    return sorted(f for f in found if f[0].endswith((".yaml", ".yml")))


def evaluate(request):
    view = sealbox_view.read_view()
    if view is not None:
        diagnostics = check_view(*view)
        failed = any(d["severity"] == "error" for d in diagnostics)
        return {"apiVersion": API_VERSION, "status": "failure" if failed else "success", "diagnostics": diagnostics}
    diagnostics = []
    for path, source in yaml_files(request):
        try:
            with open(os.path.join(INPUT_DIR, source), encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            diagnostics.append(diagnostic("error", f"cannot read: {e}", path))
            continue
        diagnostics += check_file(path, text)
    failed = any(d["severity"] == "error" for d in diagnostics)
    return {"apiVersion": API_VERSION, "status": "failure" if failed else "success", "diagnostics": diagnostics}


def main():
    request = json.loads(sys.stdin.read() or "{}")
    response = evaluate(request)
    sys.stdout.write(json.dumps(response, sort_keys=True) + "\n")
    sys.stdout.flush()
