"""Discovery: which places of a source hold personal data, and whether the mapping covers them.

:mod:`discover.discovery.detect` judges sampled values, :mod:`discover.discovery.scan`
samples every source of a sources file (through :mod:`connectors.sampling`) and
reports findings with coverage, :mod:`discover.discovery.scaffold` writes a first
mapping from what a scan found.
"""
