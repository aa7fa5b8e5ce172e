"""Recipe study scripts and their results (training only)."""
