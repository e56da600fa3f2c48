from egsu.audit.models import metadata
from egsu.db.migrations import run_env

run_env(metadata)
