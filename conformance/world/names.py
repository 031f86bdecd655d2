"""Fixed names and identifiers of the simulated world, shared by both backends so the same
scenario produces the same ARNs everywhere."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
MAPPING_UUID = "6f2b8e3a-1c4d-4e5f-9a7b-0c1d2e3f4a5b"
FUNCTION_NAME = "conformance-function"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/conformance-function-role"
STREAM_NAME = "conformance-stream"
KINESIS_STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{STREAM_NAME}"
TABLE_NAME = "conformance-table"
QUEUE_NAME = "conformance-on-failure"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{QUEUE_NAME}"
TOPIC_NAME = "conformance-on-failure"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{TOPIC_NAME}"
BUCKET_NAME = "conformance-on-failure"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET_NAME}"

DESTINATION_ARNS = {"sqs": QUEUE_ARN, "sns": TOPIC_ARN, "s3": BUCKET_ARN}

# The queue subscribed to the SNS topic, so that the notification envelope SNS wraps around a
# published document can be read back (both backends create it with the topic).
SNS_SUBSCRIBER_QUEUE_NAME = "conformance-on-failure-sns-subscriber"
SNS_SUBSCRIBER_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{SNS_SUBSCRIBER_QUEUE_NAME}"

# DynamoDB: the table's hash key, and the stream view type the stream is created with.
TABLE_HASH_KEY = "id"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
