"""The privacy desk: a register of requests with deadlines, an audit log and a web console.

Everything lives in one store (SQLite under the data directory, or PostgreSQL for a
team) so that the command line and the console see the same requests. Nothing here
is imported by ``discover --help``: the commands import it when they run.
"""
