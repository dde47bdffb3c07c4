"""The web side: health, metrics, the operator/supervisor REST API (desk UI to come)."""
