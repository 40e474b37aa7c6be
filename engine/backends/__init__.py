"""Backends: one module per way of running tasks, all behind engine.backends.base.Backend."""
