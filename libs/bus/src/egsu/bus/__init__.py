"""The message bus: NATS JetStream."""

from egsu.bus.bus import Bus, BusUnavailable, Consumer, Delivery
from egsu.bus.envelope import Envelope

__all__ = ["Bus", "BusUnavailable", "Consumer", "Delivery", "Envelope"]
