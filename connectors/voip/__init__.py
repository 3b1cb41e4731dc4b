"""VoIP provisioning directories: handset configuration files and phonebooks."""
