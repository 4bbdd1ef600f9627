#!/usr/bin/env python3
"""Helm releases against a cluster with Helm's own engine (helm-python-sdk: the Helm v4 Go SDK behind a C ABI), for
mir's install tests and the README's install transcript. Answers JSON on stdout; the Swift tests decide.

  helm_release.py install   --kubeconfig FILE --chart DIR --name mir --namespace mir-system [--values JSON] [--create-namespace]
  helm_release.py upgrade   --kubeconfig FILE --chart DIR --name mir --namespace mir-system [--values JSON]
  helm_release.py rollback  --kubeconfig FILE --name mir --namespace mir-system [--revision N]
  helm_release.py uninstall --kubeconfig FILE --name mir --namespace mir-system
  helm_release.py history   --kubeconfig FILE --name mir --namespace mir-system
      → {"ok": true, "release": {"name", "namespace", "version", "status", "chart", "appVersion"}, "history": [...]}
        or {"ok": false, "errorType": "HelmReleaseError"|…, "error": message}   (a failed action is an answer)

With --transcript, prints what `helm` would print instead of JSON (the README's transcript; not used by tests).
--storage-driver secret|configmap|memory chooses Helm's release storage (default secret, as helm does).
"""
import argparse
import json
import sys


def summary(release):
    """The fields of a release summary (helm-python-sdk's: name, namespace, revision, status, chart_name, …)."""
    release = release or {}
    return {"name": release.get("name"), "namespace": release.get("namespace"), "version": release.get("revision"),
            "status": release.get("status"), "chart": release.get("chart_name"), "chartVersion": release.get("chart_version"),
            "appVersion": release.get("app_version"), "notes": release.get("notes") or ""}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["install", "upgrade", "rollback", "uninstall", "history"])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--chart")
    parser.add_argument("--name", default="mir")
    parser.add_argument("--namespace", default="mir-system")
    parser.add_argument("--values", default="{}")
    parser.add_argument("--revision", type=int)
    parser.add_argument("--create-namespace", action="store_true")
    parser.add_argument("--transcript", action="store_true")
    parser.add_argument("--storage-driver", default="secret", choices=["secret", "configmap", "memory"],
                        help="Helm's release storage (default: Secrets of type helm.sh/release.v1, as helm does)")
    args = parser.parse_args()

    import helm_python as helm

    values = json.loads(args.values)
    answer = {"ok": True}
    try:
        with helm.Config(kubeconfig_path=args.kubeconfig, namespace=args.namespace, storage_driver=args.storage_driver) as cfg:
            if args.action == "install":
                answer["release"] = summary(cfg.install(args.chart, args.name, values, namespace=args.namespace,
                                                        create_namespace=args.create_namespace, timeout=120))
            elif args.action == "upgrade":
                answer["release"] = summary(cfg.upgrade(args.chart, args.name, values, namespace=args.namespace, timeout=120))
            elif args.action == "rollback":
                cfg.rollback(args.name, version=args.revision, timeout=120)
            elif args.action == "uninstall":
                result = cfg.uninstall(args.name, timeout=120)
                answer["info"] = result.get("info") if isinstance(result, dict) else None
            if args.action != "uninstall":
                answer["history"] = [summary(r) for r in cfg.history(args.name)]
    except helm.HelmError as error:
        answer = {"ok": False, "errorType": type(error).__name__, "error": str(error)}
    if args.transcript:
        if not answer["ok"]:
            print(f"Error: {answer['error']}")
            return 1
        release = answer.get("release") or (answer.get("history") or [{}])[-1]
        if args.action in ("install", "upgrade"):
            print(f"NAME: {release['name']}\nNAMESPACE: {release['namespace']}\nSTATUS: {release['status']}\n"
                  f"REVISION: {release['version']}\nNOTES:\n{release['notes']}")
        elif args.action == "uninstall":
            print(f'release "{args.name}" uninstalled')
        else:
            print(json.dumps(answer, indent=2))
        return 0
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
