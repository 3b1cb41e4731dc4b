"""Helpers shared by tests and benchmarks (throwaway servers)."""
