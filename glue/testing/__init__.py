"""Support for the tests and the benchmarks, not product code.

One place for what tests/ and bench/ share: fresh names (names), the fake exchange in a thread, ingest runs and
the real captures (ingest, captures), Coinbase envelope builders (fixtures), the YAML fixture runner of the SQL
objects (sqltest), record streams and featurize runs (featurize, streams, books), seeded SQL-landing inputs (landing),
the synthetic training-view frame and a quickly trained model (synthetic, models), project commands as child
processes (processes) and a bandwidth-capping TCP proxy (throttle).
Free loopback ports are `glue.net.free_port` (product code uses them too).

Product modules (everything in glue/ outside glue/testing) never import this package: tests/unit/test_testing_
package.py checks it. It may import test-only libraries (hypothesis); each module imports what it needs itself,
so `import glue.testing` is cheap.
"""
