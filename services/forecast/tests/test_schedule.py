"""The information cut: a forecast never uses what was not known when it was issued."""

from __future__ import annotations

from datetime import time

import numpy as np
import pandas as pd

from egsu.forecast.features import HolidayCalendar, build_features
from egsu.forecast.schedule import Schedule
from egsu.forecast.series import Panel
from egsu.forecast.synthetic import synthetic_panel


def test_day_ahead_windows_are_whole_local_days_issued_at_noon_the_day_before() -> None:
    panel = synthetic_panel(days=21, step="30min")
    windows = Schedule.day_ahead().windows(panel.index)

    assert len(windows) == 20  # the first day has no day before it
    for window in windows:
        targets = panel.index[window.targets]
        assert len(targets) == 48
        assert targets[0] == targets[0].normalize()
        assert window.origin == targets[0] - pd.Timedelta(hours=12)
        # The last known reading is the half hour 11:30–12:00 of the day before.
        assert panel.index[window.cut - 1] == window.origin - pd.Timedelta(minutes=30)


def test_a_daily_series_issued_at_noon_does_not_know_the_current_day() -> None:
    panel = synthetic_panel(days=30, step="1D")
    windows = Schedule.day_ahead(time(12)).windows(panel.index)
    for window in windows:
        assert window.targets.tolist() == [window.cut + 1]


def test_rolling_windows_with_a_lead() -> None:
    panel = synthetic_panel(days=10, step="1h")
    schedule = Schedule(horizon=pd.Timedelta("6h"), lead=pd.Timedelta("2h"))
    windows = schedule.windows(panel.index)
    assert windows[-1].targets[-1] == panel.n_steps - 1
    for window in windows:
        assert len(window.targets) == 6
        assert window.targets[0] - window.cut == 2


def test_features_of_a_window_do_not_change_when_the_future_changes() -> None:
    panel = synthetic_panel(days=35, step="1h")
    schedule = Schedule.day_ahead()
    calendar = HolidayCalendar("KZ")
    cuts = schedule.cuts(panel.index)
    window = schedule.windows(panel.index)[25]
    before = build_features(panel, cuts, calendar)

    changed_load = panel.load.copy()
    changed_load[:, window.cut :] *= 3.0  # everything after the noon cut
    changed = Panel(index=panel.index, load=changed_load, exog=panel.exog, ids=panel.ids)
    after = build_features(changed, cuts, calendar)

    rows = window.targets
    np.testing.assert_array_equal(before.x[:, rows], after.x[:, rows])
    np.testing.assert_array_equal(before.scale[:, rows], after.scale[:, rows])
    # ... while the load just before the cut does move them.
    moved_load = panel.load.copy()
    moved_load[:, window.cut - 1] *= 3.0
    moved = build_features(
        Panel(index=panel.index, load=moved_load, exog=panel.exog, ids=panel.ids), cuts, calendar
    )
    assert not np.array_equal(before.x[:, rows], moved.x[:, rows], equal_nan=True)
