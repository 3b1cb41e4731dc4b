"""Spreadsheets and flat files (CSV, XLSX, Parquet) read with polars."""
