"""Sets up IAM on a running moto server for a test, then turns enforcement on.

Reads JSON on stdin: {"endpoint": url, "roles": {name: [statement, ...]}}.
Creates an administrator user (for the test's own setup and checks) and one
role per name with the statements as its inline policy, assumes each role as
Lambda would, asks moto to check every later request against IAM
(/moto-api/reset-auth), and prints the credentials as JSON on stdout:
{"admin": {...}, "roles": {name: {"AccessKeyId", "SecretAccessKey", "SessionToken"}}}.
"""
import json
import sys
import urllib.request

import boto3

spec = json.load(sys.stdin)
endpoint = spec["endpoint"]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam = boto3.client("iam", **kw)
sts = boto3.client("sts", **kw)

iam.create_user(UserName="test-admin")
iam.put_user_policy(UserName="test-admin", PolicyName="everything", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="test-admin")["AccessKey"]
out = {"admin": {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}, "roles": {}}

trust = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
for name, statements in spec["roles"].items():
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="template", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=name + "-session",
                        DurationSeconds=43200)["Credentials"]
    out["roles"][name] = {k: c[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                             headers={"Content-Type": "text/plain"})
urllib.request.urlopen(req).read()
json.dump(out, sys.stdout)
