"""The differences from the Perl ldirectord that SPEC Part A decides, as the scenarios declare them.

docs/compat.md lists the same names with the Part A item each one is; a scenario may excuse
a difference only by naming one of these.
"""

from __future__ import annotations

from tests.compat.model import START, Declared

_TRANSITIONS = (r"^(Added|Deleted|Restored) (real|fallback) server: ",
                r"^(Quiescent|Readd Quiescent) real server: ",
                r"^Resetting soft failure count: ")

COLD_START_CHURN = Declared(
    "cold-start-churn", 2,
    "At start the original adds every real, takes the ones not yet known good out again, "
    "flaps the fallback and edits every virtual; then the first good check logs a soft "
    "failure reset. Ours adds a real when its first check succeeds and edits a virtual "
    "only when its attributes differ. With readdquiescent=yes the original re-adds every "
    "real at weight 0 and restores its weight at the first good check, where ours adds it "
    "once.",
    perl_only=(*_TRANSITIONS, r"^Changed virtual server: "),
    ours_only=(r"^Added real server: ",),
    steps=(START,))

RELOAD_KEEPS_STATE = Declared(
    "reload-keeps-state", 4,
    "On a successful reload the original rebuilds its state from the table (every virtual "
    "edited, reals not at full weight re-added and taken out, soft failure counts reset); "
    "ours keeps the health of every real in both files and writes only what changed.",
    perl_only=(*_TRANSITIONS, r"^Changed virtual server: "),
    steps=("reload",))

OFF_ACTIVATES_NOTHING = Declared(
    "off-activates-nothing", 8,
    "checktype=off: the original still adds the fallback server (and takes its reals out "
    "once more at stop); ours activates nothing, as the original documents.",
    perl_only=(r"^Added fallback server: ", r"^Deleted (fallback|real) server: ",
               r"^Purged real server \(stop\): "))

SLASH_REQUEST_KEEPS_RECEIVE = Declared(
    "slash-request-keeps-receive", 5,
    "A per-real request written with a leading '/' loses its receive string in the "
    "original (so the virtual's receive is used); ours keeps it.",
    perl_only=(r"^Added real server: ", r"^Purged real server \(stop\): "))

FALLBACKCOMMAND_AT_START = Declared(
    "fallbackcommand-start-churn", 2,
    "The original runs fallbackcommand 'start' at every startup, before any check, and "
    "'stop' once a real is up; ours runs it only when no real of the virtual is up after "
    "their first checks.",
    perl_only=(r"^fallback\.log: (start|stop) ",),
    steps=(START,))

HTTPS_NO_VERIFY = Declared(
    "https-no-verify", 6,
    "HTTPS checks: the original's libraries verify the certificate chain, so a real with a "
    "self-signed certificate is never up; ours does not verify by default (the original's "
    "intent).",
    perl_only=(), ours_only=(r"^Added real server: ", r"^Purged real server \(stop\): "))

ALL = (COLD_START_CHURN, RELOAD_KEEPS_STATE, OFF_ACTIVATES_NOTHING,
       SLASH_REQUEST_KEEPS_RECEIVE, FALLBACKCOMMAND_AT_START, HTTPS_NO_VERIFY)
