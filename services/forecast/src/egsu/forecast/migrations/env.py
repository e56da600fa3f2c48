from egsu.db.migrations import run_env
from egsu.forecast.models import metadata

run_env(metadata)
