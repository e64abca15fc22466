"""Template tags of the annotations app."""
