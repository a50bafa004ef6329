"""AWS list prices used by `make bench` to turn measured requests and bytes into money.

us-east-1, on-demand, after the free tier; PRICES_AS_OF is when they were read. DynamoDB's are
the on-demand prices after AWS's 2024-11-01 cut. Check the pricing pages before quoting them.
"""

PRICES_AS_OF = "2025-07-21"
PRICES_REGION = "us-east-1"

HTTP_API_PER_MILLION_REQUESTS = 1.00  # API Gateway HTTP API, first 300 million a month
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
SQS_STANDARD_PER_MILLION_REQUESTS = 0.40  # each 64 KiB of a request is one request
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625  # on-demand write request units
DYNAMODB_PER_MILLION_READ_UNITS = 0.125  # on-demand read request units
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25  # standard table class
DYNAMODB_PITR_PER_GB_MONTH = 0.20  # continuous backups
EVENTBRIDGE_PER_MILLION_EVENTS = 1.00  # custom events, 64 KiB each
CLOUDWATCH_LOGS_PER_GB_INGESTED = 0.50  # standard log class
XRAY_PER_MILLION_TRACES_RECORDED = 5.00

# Not measurable here: how long an AWS API call takes from Lambda in the same region. Billed
# Lambda time is taken as this per call, plus the handler's own CPU time measured warm.
ASSUMED_MS_PER_AWS_CALL = 6.0
