"""Shipped mappings, the processing register and the JSON Schemas of every input file."""
