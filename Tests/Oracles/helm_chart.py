#!/usr/bin/env python3
"""The Helm chart oracle for mir's tests: Helm's own engine (helm-python-sdk: the Helm v4 Go SDK behind a C ABI)
and the official Kubernetes schemas (kubernetes-validate). Answers JSON on stdout; the Swift tests decide.

  helm_chart.py lint CHART [--kube-version v1.29.0]
      → {"messages": [{"severity", "path", "error"}], "errors": [...]}
  helm_chart.py render CHART [--values JSON] [--name mir] [--namespace mir-system]
      → {"ok": true, "objects": [{"template": path, "object": {...}}], "notes": text}
        or {"ok": false, "errorType": "HelmValuesError"|…, "error": message}   (a failed render is an answer)
  helm_chart.py schema CHART --values JSON
      → {"ok": bool, "errorType", "error"}   (values.schema.json checked by Helm)
  helm_chart.py validate --versions 1.29.0,1.30.0 OBJECTS.json   (a JSON list of objects)
      → [{"kind", "name", "version", "result": "valid"|"invalid"|"no-schema", "error"}]
  helm_chart.py readme CHART
      → the values table (Markdown) generated from values.yaml's `# --` comments, on stdout (not JSON)
  helm_chart.py undocumented CHART
      → ["a.b.c", …]: values with no `# --` comment of their own or of an ancestor
"""
import argparse
import json
import re
import sys

import yaml


def fail_json(kind, message):
    return {"ok": False, "errorType": kind, "error": message}


def cmd_lint(args):
    import helm_python as helm
    report = helm.lint(args.chart, None, strict=True, kube_version=args.kube_version)
    return {"messages": report.get("messages") or [], "errors": report.get("errors") or []}


def cmd_render(args):
    import helm_python as helm
    values = json.loads(args.values) if args.values else {}
    try:
        with helm.Chart.load(args.chart) as chart:
            rendered = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    except helm.HelmError as error:
        return fail_json(type(error).__name__, str(error))
    objects, notes = [], ""
    for template in sorted(rendered):
        text = rendered[template]
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append({"template": template, "object": document})
    return {"ok": True, "objects": objects, "notes": notes}


def cmd_schema(args):
    import helm_python as helm
    try:
        with helm.Chart.load(args.chart) as chart:
            chart.validate_schema(json.loads(args.values))
    except helm.HelmError as error:
        return fail_json(type(error).__name__, str(error))
    return {"ok": True}


def cmd_validate(args):
    import kubernetes_validate as kv
    with open(args.objects, encoding="utf-8") as f:
        objects = json.load(f)
    results = []
    for version in args.versions.split(","):
        for obj in objects:
            entry = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                     "name": (obj.get("metadata") or {}).get("name"), "version": version}
            try:
                kv.validate(obj, version, True)
                entry["result"] = "valid"
            except kv.SchemaNotFoundError as error:
                entry["result"], entry["error"] = "no-schema", str(error) or "no schema"
            except kv.ValidationError as error:
                entry["result"], entry["error"] = "invalid", error.message + " at " + "/".join(map(str, error.absolute_path))
            results.append(entry)
    return results


KEY = re.compile(r'^(\s*)("[^"]+"|[A-Za-z0-9_.-]+):(\s|$)')


def documented_values(chart):
    """(path, description, default) for each key of values.yaml, in file order; description None when the key has
    no `# --` comment. A `# --` comment runs to the first line that is not a comment."""
    lines = open(f"{chart}/values.yaml", encoding="utf-8").read().splitlines()
    values = yaml.safe_load("\n".join(lines)) or {}
    entries, stack, pending = [], [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("- "):
            pending = None if not stripped else pending
            continue
        indent, key = len(match.group(1)), match.group(2).strip('"')
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack] + [key]
        stack.append((indent, key))
        default = values
        for k in path:
            default = default.get(k) if isinstance(default, dict) else None
        entries.append((".".join(path), " ".join(pending) if pending else None, default))
        pending = None
    return entries


def cmd_undocumented(args):
    entries = documented_values(args.chart)
    documented = {path for path, description, _ in entries if description}
    missing = []
    for path, description, default in entries:
        parts = path.split(".")
        if isinstance(default, dict) and default:
            continue  # a mapping is documented through its keys
        if not any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1)):
            missing.append(path)
    return missing


def cmd_readme(args):
    chart = yaml.safe_load(open(f"{args.chart}/Chart.yaml", encoding="utf-8"))
    out = [f"# The `{chart['name']}` Helm chart",
           "",
           chart["description"].strip(),
           "",
           f"Chart version {chart['version']}, mir (appVersion) {chart['appVersion']}, Kubernetes `{chart['kubeVersion']}`.",
           "Install and IRSA setup: the top-level README, section \"Install\".",
           "",
           "This file is generated from `values.yaml`'s `# --` comments:",
           "`python3 Tests/Oracles/helm_chart.py readme Charts/mir > Charts/mir/README.md` (a test keeps it in sync).",
           "`values.schema.json` checks every value's type and rejects unknown keys.",
           "",
           "## Values",
           "",
           "| Key | Default | Description |",
           "|---|---|---|"]
    for path, description, default in documented_values(args.chart):
        if not description:
            continue
        shown = json.dumps(default, sort_keys=False, ensure_ascii=False)
        if len(shown) > 80:
            shown = "see values.yaml"
        out.append(f"| `{path}` | `{shown}` | {description.replace('|', '&#124;')} |")
    print("\n".join(out))
    return None


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("lint"); p.add_argument("chart"); p.add_argument("--kube-version", default=None)
    p = sub.add_parser("render"); p.add_argument("chart"); p.add_argument("--values")
    p.add_argument("--name", default="mir"); p.add_argument("--namespace", default="mir-system")
    p = sub.add_parser("schema"); p.add_argument("chart"); p.add_argument("--values", required=True)
    p = sub.add_parser("validate"); p.add_argument("--versions", required=True); p.add_argument("objects")
    p = sub.add_parser("readme"); p.add_argument("chart")
    p = sub.add_parser("undocumented"); p.add_argument("chart")
    args = parser.parse_args()
    result = globals()["cmd_" + args.command](args)
    if result is not None:
        json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
