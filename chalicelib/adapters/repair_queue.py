"""The deployed repair queue (the ``RepairQueue`` port, services/repairs.py): SQS, with a dead-letter queue.

Why SQS: a repair must outlive the callback's Lambda and wait minutes (WeCom's 45009 blocks a caller for up to an
hour), per message, without a table scan; SQS gives each message its own visibility (the backoff is
ChangeMessageVisibility), counts receives (ApproximateReceiveCount) and moves a message that keeps coming back to the
DLQ by itself (the queue's redrive policy: a Lambda that dies mid-repair cannot loop an item for ever). An item the
job gives up on is sent to the DLQ by the job with its reason, then deleted. The backstop polls the queue
every five minutes (chalicelib/jobs/repairs.py) rather than an SQS event source, so the same drain runs locally,
where the queue is in the table (adapters/dynamodb/repairs.py).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.repairs import RepairDelivery, RepairFormatError, RepairItem
from chalicelib.errors import UpstreamError
from chalicelib.settings import Settings

LEASE_SECONDS = 120  # visibility of a received message: a run that dies gives it back after this
MAX_DELAY_SECONDS = 900  # SendMessage's DelaySeconds limit
MAX_VISIBILITY_SECONDS = 12 * 3600  # ChangeMessageVisibility's limit
BATCH = 10  # ReceiveMessage's limit


class SqsRepairQueue:
    def __init__(self, client: Any, *, queue_url: str, dlq_url: str | None) -> None:
        self._client = client
        self.queue_url = queue_url
        self.dlq_url = dlq_url

    @classmethod
    def for_settings(cls, settings: Settings) -> SqsRepairQueue:
        """The stage's queue; the boto3 client is built on first use (most callbacks queue nothing)."""

        def client() -> Any:
            import boto3

            return boto3.client("sqs", region_name=settings.region)

        if not settings.repair_queue_url:
            raise ValueError("SQS repair queue without SIYU_REPAIR_QUEUE_URL")
        return cls(client, queue_url=settings.repair_queue_url, dlq_url=settings.repair_dlq_url)

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "send_message"):
            self._client = self._client()
        return self._client

    def put(self, item: RepairItem, *, delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        self._call("send_message", QueueUrl=self.queue_url, MessageBody=item.to_json(), DelaySeconds=delay)

    def receive(self, limit: int) -> list[RepairDelivery]:
        answer = self._call(
            "receive_message",
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(BATCH, limit)),
            VisibilityTimeout=LEASE_SECONDS,
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount"],
        )
        out = []
        for message in answer.get("Messages") or []:
            body = str(message.get("Body", ""))
            try:
                item: RepairItem | None = RepairItem.from_json(body)
            except RepairFormatError:
                item = None
            receives = int((message.get("Attributes") or {}).get("ApproximateReceiveCount") or 1)
            out.append(RepairDelivery(item, str(message["ReceiptHandle"]), receives, body))
        return out

    def done(self, delivery: RepairDelivery) -> None:
        self._call("delete_message", QueueUrl=self.queue_url, ReceiptHandle=delivery.receipt)

    def retry(self, delivery: RepairDelivery, *, delay_seconds: int, reason: str) -> None:
        """Hidden for ``delay_seconds`` (SQS keeps no reason: the job's log line has it)."""
        visibility = max(0, min(MAX_VISIBILITY_SECONDS, delay_seconds))
        self._call(
            "change_message_visibility",
            QueueUrl=self.queue_url,
            ReceiptHandle=delivery.receipt,
            VisibilityTimeout=visibility,
        )

    def dead(self, delivery: RepairDelivery, *, reason: str) -> None:
        """To the DLQ with its reason and receive count, then off the queue (without a DLQ: left for the redrive
        policy, which moves it after the queue's maxReceiveCount)."""
        if self.dlq_url is None:
            return
        letter = {"reason": reason, "receives": delivery.receives, "body": delivery.body}
        self._call(
            "send_message",
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(letter, ensure_ascii=False),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
        )
        self.done(delivery)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamError(f"the repair queue failed ({operation})") from exc
