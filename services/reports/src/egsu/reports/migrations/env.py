from egsu.db.migrations import run_env
from egsu.reports.models import metadata

run_env(metadata)
