"""What template.yaml must keep true (the contract's routes, durability and least privilege)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_lambda_powertools.shared.constants import LAMBDA_ADVANCED_LOGGING_LEVELS

from localaws.emulation import REGION, Deployment
from localaws.template import Template

CONTRACT_ROUTES = {
    "POST /webhooks/exotel/call-status",
    "POST /webhooks/exotel/call-schedule",
    "POST /webhooks/exotel/campaign-status",
}
FOURTEEN_DAYS = 14 * 24 * 3600


def test_functions_run_python_3_13_on_arm64(template: Template) -> None:
    globals_ = template.sam["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    for function in template.resources_of_type("AWS::Serverless::Function").values():
        assert "Runtime" not in function["Properties"]


def test_the_http_api_serves_exactly_the_contract_webhook_routes(template: Template) -> None:
    receiver = template.resources["ReceiverFunction"]["Properties"]
    routes = {
        f"{event['Properties']['Method']} {event['Properties']['Path']}"
        for event in receiver["Events"].values()
    }
    assert routes == CONTRACT_ROUTES
    for event in receiver["Events"].values():
        assert event["Type"] == "HttpApi"
        assert event["Properties"]["PayloadFormatVersion"] == "2.0"
        assert event["Properties"]["ApiId"] == {"Ref": "WebhookApi"}
    throttle = template.resources["WebhookApi"]["Properties"]["DefaultRouteSettings"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(throttle)


def queues(template: Template) -> dict[str, dict[str, Any]]:
    return template.resources_of_type("AWS::SQS::Queue")


def test_every_callback_queue_redrives_to_a_dead_letter_queue(template: Template) -> None:
    all_queues = queues(template)
    main = {name: q for name, q in all_queues.items() if "RedrivePolicy" in q["Properties"]}
    assert set(main) == {
        "CallStatusQueue",
        "CallScheduleQueue",
        "CampaignStatusQueue",
        "ReportQueue",
        "CallDetailsQueue",
        "RecordingQueue",
    }
    for queue in main.values():
        policy = queue["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] >= 5
        dead_letter = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert all_queues[dead_letter]["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
        # A weekend outage (Friday evening to Monday morning) must not expire messages
        assert queue["Properties"]["MessageRetentionPeriod"] >= 4 * 24 * 3600


def test_every_queue_is_encrypted(template: Template) -> None:
    for queue in queues(template).values():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") or properties.get("KmsMasterKeyId")


def test_quarantine_bucket_is_private_encrypted_tls_only_and_expires(template: Template) -> None:
    bucket = template.resources["QuarantineBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]
    policies = template.resources_of_type("AWS::S3::BucketPolicy").values()
    denials = [
        statement
        for policy in policies
        if policy["Properties"]["Bucket"] == {"Ref": "QuarantineBucket"}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in denials
    )


def allowed_actions(cloudformation: dict[str, Any]) -> dict[str, set[str]]:
    """Function logical id -> every action its role allows (inline statements)."""
    resources = cloudformation["Resources"]
    actions: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        actions[logical_id] = {
            action
            for policy in role.get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow"
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        }
    return actions


def test_only_the_receiver_may_read_the_webhook_secret(
    template: Template, cloudformation: dict[str, Any]
) -> None:
    readers = {
        function
        for function, actions in allowed_actions(cloudformation).items()
        if any(action.startswith("secretsmanager:") for action in actions)
    }
    # the sweeper, the call details and recording functions read the Exotel account's API
    # secret, and that one only
    assert readers == {
        "ReceiverFunction",
        "SweepFunction",
        "CallDetailsFunction",
        "RecordingFunction",
    }
    sweeper = template.resources["SweepFunction"]["Properties"]["Policies"][0]["Statement"]
    roles = [
        template.resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        for role in ("CallDetailsRole", "RecordingRole")
    ]
    for statements in (sweeper, *roles):
        secret_statements = [
            s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"
        ]
        assert [s["Resource"] for s in secret_statements] == [{"Ref": "ExotelApiSecretArn"}]
    secret = template.resources["WebhookSecret"]["Properties"]["GenerateSecretString"]
    assert secret["ExcludePunctuation"]  # it travels in a URL query string


def test_receiver_may_write_only_under_the_quarantine_prefix(template: Template) -> None:
    policies = template.resources["ReceiverFunction"]["Properties"]["Policies"]
    statements = [s for p in policies if "Statement" in p for s in p["Statement"]]
    s3_statements = [s for s in statements if str(s["Action"]).startswith("s3:")]
    assert [s["Action"] for s in s3_statements] == ["s3:PutObject"]
    assert s3_statements[0]["Resource"] == {"Fn::Sub": "${QuarantineBucket.Arn}/quarantine/*"}


def sqs_triggers(template: Template) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(function properties, SQS event properties) for every SQS-triggered function."""
    return [
        (function["Properties"], event["Properties"])
        for function in template.resources_of_type("AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_queue_consumers_report_item_failures_and_outlast_their_function(
    template: Template,
) -> None:
    triggers = sqs_triggers(template)
    assert len(triggers) == 6
    default_timeout = template.sam["Globals"]["Function"]["Timeout"]
    for function, event in triggers:
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = template.resources[event["Queue"]["Fn::GetAtt"][0]]["Properties"]
        # AWS's guidance: visibility at least 6x the function timeout, so retries of a slow
        # batch never overlap a still-running invocation
        assert queue["VisibilityTimeout"] >= 6 * function.get("Timeout", default_timeout)


def test_read_routes_require_iam_and_webhook_routes_do_not(template: Template) -> None:
    assert template.resources["WebhookApi"]["Properties"]["Auth"]["EnableIamAuthorizer"]
    for function in template.resources_of_type("AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            auth = event["Properties"].get("Auth", {}).get("Authorizer")
            reading = event["Properties"]["Method"] == "GET"
            assert auth == ("AWS_IAM" if reading else None), event["Properties"]["Path"]


def test_campaign_table_is_on_demand_recoverable_and_protected_in_prod(template: Template) -> None:
    table = template.resources["CampaignTable"]
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert properties["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert properties["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert table["DeletionPolicy"] == "Retain"


def test_no_function_may_scan_the_table(cloudformation: dict[str, Any]) -> None:
    for actions in allowed_actions(cloudformation).values():
        assert "dynamodb:Scan" not in actions
        assert not any(a.endswith("*") for a in actions if a.startswith("dynamodb"))


def test_each_consumer_may_read_only_its_own_queue_or_stream(
    cloudformation: dict[str, Any],
) -> None:
    resources = cloudformation["Resources"]
    for mapping in resources.values():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        function = resources[mapping["Properties"]["FunctionName"]["Ref"]]["Properties"]
        role = resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]
        stream = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
        reading = "dynamodb:GetRecords" if stream else "sqs:ReceiveMessage"
        receiving = [
            statement["Resource"]
            for policy in role["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]
            if reading in statement["Action"]
        ]
        assert receiving == [mapping["Properties"]["EventSourceArn"]]
        assert not any("SQSQueueExecutionRole" in str(arn) for arn in role["ManagedPolicyArns"])


def test_the_deployed_report_allow_list_is_the_templates(stack: Deployment) -> None:
    # A list parameter once reached the function as single characters (one of them "*")
    deployed = stack.functions["ReportFetcherFunction"].environment["REPORT_URL_ALLOWED_HOSTS"]
    hosts = deployed.split(",")
    assert "s3.amazonaws.com" in hosts
    assert "*.exotel.com" in hosts
    assert all(len(host) > 3 for host in hosts)


def test_every_function_logs_to_its_own_log_group_with_retention(template: Template) -> None:
    # Given each function's LoggingConfig (not Lambda's /aws/lambda/<name> convention)
    functions = template.resources_of_type("AWS::Serverless::Function")
    groups = template.resources_of_type("AWS::Logs::LogGroup")
    logged = {function: template.log_group_of(function) for function in functions}

    # Then each names a log group of the stack, its own, kept LogRetentionDays
    assert set(logged.values()) <= set(groups)
    assert len(set(logged.values())) == len(functions)
    assert all(
        group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        for group in groups.values()
    )


def test_every_alarm_notifies_the_encrypted_alarm_topic(template: Template) -> None:
    alarms = template.resources_of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 8
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
    topic = template.resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
    subscription = template.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"


def test_every_dead_letter_queue_has_an_alarm(template: Template) -> None:
    alarmed = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in template.resources_of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    dead_letter_queues = {
        q for q in template.resources_of_type("AWS::SQS::Queue") if "DeadLetter" in q
    }
    assert alarmed == dead_letter_queues


def test_functions_log_at_the_configured_level(template: Template) -> None:
    globals_ = template.sam["Globals"]["Function"]
    variables = globals_["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}


def test_stored_reports_expire_after_the_report_retention(template: Template) -> None:
    # Reports hold phone numbers (personal data): they never outlive ReportRetentionDays
    rules = template.resources["ReportBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    assert expiring == [
        {
            "Id": "ExpireReports",
            "Status": "Enabled",
            "Prefix": "reports/",
            "ExpirationInDays": {"Ref": "ReportRetentionDays"},
        },
        {  # recordings (a subscriber's voice) never outlive RecordingRetentionDays
            "Id": "ExpireRecordings",
            "Status": "Enabled",
            "Prefix": "recordings/",
            "ExpirationInDays": {"Ref": "RecordingRetentionDays"},
        },
        {  # Athena's answers hold no number, and are kept a week
            "Id": "ExpireQueryResults",
            "Status": "Enabled",
            "Prefix": "athena-results/",
            "ExpirationInDays": 7,
        },
    ]
    assert template.sam["Parameters"]["ReportRetentionDays"]["Default"] == 90
    fetcher = template.resources["ReportFetcherFunction"]["Properties"]
    assert fetcher["Environment"]["Variables"]["DATA_RETENTION_DAYS"] == {
        "Ref": "DataRetentionDays"
    }


def test_functions_get_an_aws_endpoint_only_when_sam_local_asks_for_one(
    template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack deployed as in AWS (LocalAwsEndpoint empty), and with it set
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    deployed = template.to_cloudformation("code", {})
    local = template.to_cloudformation("code", {"LocalAwsEndpoint": "http://172.17.0.1:4566"})

    def endpoints(cloudformation: dict[str, Any]) -> set[Any]:
        return {
            json.dumps(resource["Properties"]["Environment"]["Variables"].get("AWS_ENDPOINT_URL"))
            for resource in cloudformation["Resources"].values()
            if resource["Type"] == "AWS::Lambda::Function"
        }

    # Then every function's variable is the condition on that parameter (AWS::NoValue: absent
    # unless set), and the parameter accepts only empty or an http:// endpoint
    condition = {
        "Fn::If": ["UsesLocalAwsEndpoint", {"Ref": "LocalAwsEndpoint"}, {"Ref": "AWS::NoValue"}]
    }
    assert endpoints(deployed) == endpoints(local) == {json.dumps(condition)}
    assert deployed["Conditions"]["UsesLocalAwsEndpoint"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LocalAwsEndpoint"}, ""]}]
    }
    # and a deployment that sets it is refused by a rule (CloudFormation checks it)
    [assertion] = template.sam["Rules"]["LocalAwsEndpointStaysEmptyInAws"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "LocalAwsEndpoint"}, ""]}
    pattern = re.compile(template.parameter("LocalAwsEndpoint")["AllowedPattern"])
    assert [bool(pattern.fullmatch(v)) for v in ("", "http://172.17.0.1:4566", "https://evil")] == [
        True,
        True,
        False,
    ]


def test_a_deployment_without_the_local_endpoint_gives_no_function_one(stack: Deployment) -> None:
    # Given the stack as deployed with the template's defaults (moto resolves the condition)
    # Then no function has AWS_ENDPOINT_URL: in AWS, boto3 finds AWS's own endpoints
    assert all("AWS_ENDPOINT_URL" not in f.environment for f in stack.functions.values())


def test_functions_log_json_without_platform_lines_at_the_stacks_level(
    template: Template,
) -> None:
    # Given every function as SAM's globals and its own properties make it
    functions = template.resources_of_type("AWS::Serverless::Function")
    globals_ = template.sam["Globals"]["Function"]["LoggingConfig"]

    # Then its lines are JSON, Lambda's START/END/REPORT lines (INFO) are not written, and the
    # application's lines are filtered at the LogLevel parameter's level
    assert globals_["LogFormat"] == "JSON"
    assert globals_["SystemLogLevel"] == "WARN"
    assert globals_["ApplicationLogLevel"] == {
        "Fn::FindInMap": ["LambdaLogLevels", {"Ref": "LogLevel"}, "Level"]
    }
    assert all("LogFormat" not in f["Properties"]["LoggingConfig"] for f in functions.values())
    # And each LogLevel maps to the Lambda level Powertools reads as the same level, so its
    # logger and Lambda's filter agree (no mismatch warning, no line lost between them)
    levels = template.sam["Mappings"]["LambdaLogLevels"]
    assert set(levels) == set(template.parameter("LogLevel")["AllowedValues"])
    for log_level, mapped in levels.items():
        assert LAMBDA_ADVANCED_LOGGING_LEVELS[mapped["Level"]] == log_level


def test_tracing_is_off_unless_asked_for(template: Template) -> None:
    # Given the Tracing parameter, Then X-Ray traces nothing by default and Active is one choice
    assert template.sam["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}
    assert template.parameter("Tracing")["Default"] == "PassThrough"
    assert set(template.parameter("Tracing")["AllowedValues"]) == {"PassThrough", "Active"}
