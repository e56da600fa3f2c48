from egsu.db.migrations import run_env
from egsu.measurements.models import metadata

run_env(metadata)
