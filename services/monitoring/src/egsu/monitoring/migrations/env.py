from egsu.db.migrations import run_env
from egsu.monitoring.models import metadata

run_env(metadata)
