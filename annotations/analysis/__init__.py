"""A study's results: options, the pure computation over judgment arrays, the cache, figures."""
