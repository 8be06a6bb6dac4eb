"""Protocol health checkers: one module per service, each exposing one check coroutine."""
