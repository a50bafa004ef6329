"""Analytics stream Lambda: the campaign table's changes as the analytics dataset's rows."""

from exotel_webhooks.analytics.dataset import Dataset, dataset_handler
from exotel_webhooks.analytics.delivery import DatasetDelivery
from exotel_webhooks.aws import firehose_client
from exotel_webhooks.settings import AnalyticsSettings

settings = AnalyticsSettings.from_environment()
handler = dataset_handler(
    Dataset(
        DatasetDelivery(firehose_client(), settings.delivery_stream_name),
        settings.rules.local_timezone,
    )
)
