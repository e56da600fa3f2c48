from egsu.db.migrations import run_env
from egsu.registry.models import metadata

run_env(metadata)
