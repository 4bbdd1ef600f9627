#!/usr/bin/env python3
"""The BASELINE for mir's ECR benchmark: a straightforward boto3 reconciler, as a team would write it by hand.

Desired state: repositories PREFIX + "img-<i>" for i < --images, each with the lifecycle policy in --policy.
One pass: list the repositories under the prefix (paginated), create the missing ones (with an ownership tag) and
put their policy, read the policy of the existing ones and put it when it differs, and delete repositories under
the prefix that carry the ownership tag but are not desired. It checks less than mir does (no image listing, no
ownership check of desired repositories, no deletion guard); it is what mir's calls are compared against.

Prints one JSON object: {"calls": {operation: count}, "total": n, "seconds": wall time}.
"""
import argparse
import json
import time
from collections import Counter

import boto3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--policy", required=True, help="lifecycle policy JSON file")
    args = parser.parse_args()

    policy = json.load(open(args.policy))
    calls = Counter()
    ecr = boto3.client("ecr", endpoint_url=args.endpoint_url, region_name=args.region)
    ecr.meta.events.register("before-call.ecr.*", lambda model, **_: calls.update([model.name]))

    started = time.monotonic()
    desired = {f"{args.prefix}img-{i}" for i in range(args.images)}
    existing = {}
    for page in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1000}):
        for repo in page["repositories"]:
            if repo["repositoryName"].startswith(args.prefix):
                existing[repo["repositoryName"]] = repo["repositoryArn"]
    text = json.dumps(policy, sort_keys=True)
    for name in sorted(desired):
        if name not in existing:
            ecr.create_repository(repositoryName=name, tags=[{"Key": "managed-by", "Value": "baseline"}])
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)
            continue
        try:
            current = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
        except ecr.exceptions.LifecyclePolicyNotFoundException:
            current = None
        if current != policy:
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)
    for name, arn in sorted(existing.items()):
        if name in desired:
            continue
        tags = ecr.list_tags_for_resource(resourceArn=arn)["tags"]
        if {"Key": "managed-by", "Value": "baseline"} in tags:
            ecr.delete_repository(repositoryName=name)
    seconds = time.monotonic() - started
    print(json.dumps({"calls": dict(calls), "total": sum(calls.values()), "seconds": seconds}))


if __name__ == "__main__":
    main()
