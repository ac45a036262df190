"""Storage: one relational model on embedded SQLite or PostgreSQL (SQLAlchemy 2, Alembic migrations)."""
