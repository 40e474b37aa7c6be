"""Scenarios: the tutorials' cooperating-process programs (Queue, Pipe, Lock, Manager, ...), measured.

A scenario is a small set of processes with a role each. Task 0 is the tutorial's main program:
it runs in the engine's process (on its own thread lane), creates the shared objects, starts one
Process per role and joins them, then checks the tutorial's expected outcome and reports it as
its result. Every role is a task on its own process lane, run through the same measured wrapper
as pool tasks; the instrumented primitives of :mod:`procviz.engine.worker.primitives` add wait spans saying what
each process was blocked on.

The catalogue of scenarios (names, sizes) is :data:`procviz.engine.specs.SCENARIO_SPECS`; ``backend`` runs one.
"""
