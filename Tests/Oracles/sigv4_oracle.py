#!/usr/bin/env python3
"""SigV4 oracle for mir's tests: signs requests with botocore's SigV4Auth.

Reads a JSON array of cases on stdin. Each case:
  {"id": str, "method": str, "url": str (no query), "params": [[key, value], ...] (raw, unencoded),
   "headers": [[name, value], ...] (order kept, repeats allowed), "body_hex": str,
   "access_key": str, "secret_key": str, "token": str|null, "region": str, "service": str,
   "timestamp": "YYYYMMDDTHHMMSSZ"}
Writes a JSON array of {"id", "canonical_request", "string_to_sign", "signature", "authorization"} on stdout.
For service "s3" the path is left as it is (S3SigV4Auth._normalize_url_path), everything else is plain SigV4Auth.
"""
import datetime
import json
import sys

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:  # pragma: no cover
    sys.stderr.write(f"botocore is missing ({error}); run scripts/setup\n")
    sys.exit(3)


class RecordingSigV4Auth(botocore.auth.SigV4Auth):
    """Plain SigV4Auth that remembers the intermediate values add_auth computed."""

    def canonical_request(self, request):
        self.recorded_canonical_request = super().canonical_request(request)
        return self.recorded_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.recorded_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.recorded_string_to_sign

    def signature(self, string_to_sign, request):
        self.recorded_signature = super().signature(string_to_sign, request)
        return self.recorded_signature


class S3PathSigV4Auth(RecordingSigV4Auth):
    def _normalize_url_path(self, path):
        return path


def sign(case):
    stamp = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda *args, **kwargs: stamp
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    auth_class = S3PathSigV4Auth if case["service"] == "s3" else RecordingSigV4Auth
    auth = auth_class(credentials, case["service"], case["region"])
    request = AWSRequest(method=case["method"], url=case["url"], data=bytes.fromhex(case["body_hex"]))
    if case.get("params"):
        request.params = [(key, value) for key, value in case["params"]]
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends repeated names
    auth.add_auth(request)
    return {
        "id": case["id"],
        "canonical_request": auth.recorded_canonical_request,
        "string_to_sign": auth.recorded_string_to_sign,
        "signature": auth.recorded_signature,
        "authorization": request.headers["Authorization"],
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([sign(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
