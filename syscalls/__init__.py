"""syscalls: a system-call conformance suite (tables -> cffi bindings -> pytest suites)."""
