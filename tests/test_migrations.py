"""The migrations build exactly the schema the models describe, so a deployment matches the code."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from checkin.db import Base, make_engine
from migrations import upgrade


def test_migrated_schema_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrated_test_database_matches_models(database_url):
    # The session's test database was built by the migrations: PostgreSQL wherever it is reachable.
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
