"""Host plumbing every backend stands on: namespaces, processes, run identity and reaping,
capabilities. Depends on nothing else of the package."""
