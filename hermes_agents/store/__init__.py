"""The profile store: what each app has been observed doing, in one SQLite file.

Learned PDGraphs are not stored as graphs: each finished run is one row (its ``Visit``
records as JSON), next to an optional structural prior per app, and an app's learner is
rebuilt by replaying its most recent runs. Rows are only ever appended (and old ones pruned), so
any number of processes can write to the file at once without losing each other's data.

- ``ProfileStore``: open (or create) the store; ``record_run``, ``learner``, ``save_prior``, ...
- ``ProfileStoreError``: the file is not a profile store this version can use (not SQLite,
  another application's, a newer schema, damaged), or SQLite failed; it names the file and the
  fix, and the file is never modified to make it fit.
- ``encode_run`` / ``decode_run``: the JSON form of one run.

See ``docs/profiles.md`` for the schema and how to inspect or reset the file.
"""

from hermes_agents.store.profiles import FILE_NAME, AppProfile, ProfileStore
from hermes_agents.store.runjson import decode_run, encode_run
from hermes_agents.store.sqlitefile import APPLICATION_ID, SCHEMA_VERSION, ProfileStoreError

__all__ = [
    "APPLICATION_ID",
    "FILE_NAME",
    "SCHEMA_VERSION",
    "AppProfile",
    "ProfileStore",
    "ProfileStoreError",
    "decode_run",
    "encode_run",
]
