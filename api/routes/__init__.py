"""The /api/v1 resources, one blueprint per area."""
