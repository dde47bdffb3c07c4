"""Skill-based routing: models, pure policy, Redis store, router loop, staffing math."""
