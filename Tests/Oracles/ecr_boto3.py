#!/usr/bin/env python3
"""ECR as boto3 sees it, for mir's tests against moto: a client independent of mir's own ECR adapter.

Usage:
  ecr_boto3.py ENDPOINT describe REPOSITORY
      prints {"exists": false}, or {"exists": true, "uri": str, "tags": {key: value},
      "lifecyclePolicy": str|null, "imageTags": [str]}
  ecr_boto3.py ENDPOINT put-lifecycle-policy REPOSITORY POLICY_TEXT
      prints {}
Credentials are moto's conventional test keys; the region is us-east-1.
"""
import json
import sys

try:
    import boto3
    from botocore.config import Config
except ImportError as error:  # pragma: no cover
    sys.stderr.write(f"boto3 is missing ({error}); run scripts/setup\n")
    sys.exit(3)


def client(endpoint):
    return boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 3}))


def describe(ecr, name):
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        return {"exists": False}
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    try:
        policy = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        policy = None
    images = ecr.list_images(repositoryName=name)["imageIds"]
    return {"exists": True, "uri": repository["repositoryUri"], "tags": {t["Key"]: t["Value"] for t in tags},
            "lifecyclePolicy": policy, "imageTags": sorted(i["imageTag"] for i in images if "imageTag" in i)}


def main(argv):
    endpoint, command, name = argv[1], argv[2], argv[3]
    ecr = client(endpoint)
    if command == "describe":
        result = describe(ecr, name)
    elif command == "put-lifecycle-policy":
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=argv[4])
        result = {}
    else:
        sys.stderr.write(f"unknown command {command}\n")
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
