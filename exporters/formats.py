"""The names of the package formats, apart from the code that writes them.

The command line names the formats in its help and checks ``--format`` before any
exporter is needed; this module imports nothing, so that doing so loads no data
library.
"""

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx")
