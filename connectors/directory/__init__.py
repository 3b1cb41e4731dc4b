"""Directories: a live LDAP server (``ldap``) and an LDIF export of one (``ldif``).

Both kinds read the same directory mapping and build the same records.
"""
