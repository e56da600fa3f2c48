from egsu.db.migrations import run_env
from egsu.ingest.models import metadata

run_env(metadata)
