"""SQL databases (PostgreSQL, MariaDB/MySQL, SQLite …) through SQLAlchemy."""
