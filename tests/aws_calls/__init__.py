"""The policy test's machinery (issue 12 §2): record every AWS call the app makes under test, as the IAM request it is
(function, action, resource), and check each against that function's policy in policies/.

- ``recorder``: hooks botocore's ``BaseClient._make_api_call`` (boto3, PynamoDB and Powertools all end there) and
  names the Lambda function whose code path made the call, from the entry point on the stack.
- ``actions``: an API operation as the IAM requests AWS authorises it as, the test's resource names normalised to the
  deployed stack's.
- ``policy``: the policy files, rendered for a partition, region, account and stack; a small evaluator; the lint.
- ``plugin``: the pytest plugin (loaded from tests/conftest.py): the functional suite records, each xdist worker writes
  test-artifacts/aws-calls/<worker>.json, and the session's end checks them all (test-artifacts/policy-report.md).
"""
