"""procviz engine: runs pools, measures workers and tasks, records timelines. Never imports Qt."""
