"""The 80020 exchange file ("макет 80020"): what the registry, ingest and the simulator share.

A measuring point of the file is named by its 15-digit code as issued in the market; each of its
measuring channels by a two-digit code. The registry gives a metering point its 80020 code and,
where its channels differ from the usual ones, its own channel map; ingest reads both from the
point index. Values are written in kWh (active) and kvarh (reactive), one per period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CODE = re.compile(r"^\d{15}$")
CHANNEL = re.compile(r"^\d{2}$")

# What channels 01–04 carry unless a point's own map says otherwise.
DEFAULT_CHANNELS: dict[str, str] = {
    "01": "active_import",
    "02": "active_export",
    "03": "reactive_import",
    "04": "reactive_export",
}
# The unit the file's values are written in, by the quantity's dimension.
FILE_UNITS: dict[str, str] = {"energy_active": "kWh", "energy_reactive": "kvarh"}


def channel_map(own: Mapping[str, str] | None) -> dict[str, str]:
    """The channels of a point: the usual four, with the point's own entries over them."""
    return {**DEFAULT_CHANNELS, **(own or {})}
