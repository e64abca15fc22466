"""Hand-written SQL of the rater hot path: prepared statements, one round trip."""
