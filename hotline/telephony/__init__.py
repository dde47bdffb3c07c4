"""Asterisk adapters (ARI, AMI), typed events and the per-call state machine."""
