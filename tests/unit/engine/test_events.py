"""The exact log text (SPEC B §5.4, §4.3), e-mail subjects and reminders of every event kind."""

from __future__ import annotations

import pytest

from ldirectord.config.model import Forwarding, IpvsProtocol
from ldirectord.config.model import IpvsProtocol as P
from ldirectord.engine import Event, FallbackAction, FallbackCommand, Tag
from ldirectord.engine.events import (
    DestChange,
    DestEvent,
    Reminder,
    Role,
    ServiceChange,
    ServiceEvent,
    SoftFailure,
    SoftFailureReset,
    service_display,
)
from ldirectord.ipvs.model import DelDest, DelService, DestKey, ServiceKey

from .factories import real, tcp, virtual

V = virtual((real("10.0.0.2"),))
V6 = virtual(address="2001:db8::1", ipv6=True)
FWM = virtual(fwmark=7)
KEY = tcp()


def dest(change: DestChange, server: str = "10.0.0.2:80", at: DestKey | None = None,
         role: Role = Role.REAL, weight: int = 1, tag: Tag = Tag.START) -> DestEvent:
    host, port = server.rsplit(":", 1)
    where = at or DestKey(host, int(port))
    return DestEvent(change, role, V, KEY, where, server, weight, DelDest(KEY, where), tag)


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (dest(DestChange.ADDED, weight=3),
         "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 3)"),
        (dest(DestChange.RESTORED, weight=1),
         "Restored real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)"),
        (dest(DestChange.QUIESCED, weight=0),
         "Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)"),
        (dest(DestChange.READDED, weight=0),
         "Readd Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)"),
        (dest(DestChange.DELETED), "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"),
        (dest(DestChange.ADDED, "127.0.0.1:80", role=Role.FALLBACK),
         "Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)"),
        (dest(DestChange.RESTORED, "127.0.0.1:80", role=Role.FALLBACK),
         "Restored fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)"),
        (dest(DestChange.DELETED, "127.0.0.1:80", role=Role.FALLBACK),
         "Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)"),
        (dest(DestChange.QUIESCED, "10.0.0.2:8080", DestKey("10.0.0.2", 80), weight=0),
         "Quiescent real server: 10.0.0.2:80 mapped from 10.0.0.2:8080 (10.0.0.1:80) "
         "(Weight set to 0)"),
        (dest(DestChange.DELETED, "10.0.0.2:8080", DestKey("10.0.0.2", 80)),
         "Deleted real server: 10.0.0.2:80 mapped from 10.0.0.2:8080 (10.0.0.1:80)"),
        (dest(DestChange.DELETED, "10.0.0.2:0", DestKey("10.0.0.2", 80)),
         "Deleted real server: 10.0.0.2:80 mapped from 10.0.0.2:0 (10.0.0.1:80)"),
        (dest(DestChange.PURGED, "10.0.0.7:80"),
         "Purged real server (start): 10.0.0.7:80 (10.0.0.1:80)"),
        (dest(DestChange.PURGED, tag=Tag.STOP),
         "Purged real server (stop): 10.0.0.2:80 (10.0.0.1:80)"),
        (ServiceEvent(ServiceChange.ADDED, KEY, DelService(KEY)),
         "Added virtual server: 10.0.0.1:80"),
        (ServiceEvent(ServiceChange.CHANGED, KEY, DelService(KEY)),
         "Changed virtual server: 10.0.0.1:80"),
        (ServiceEvent(ServiceChange.PURGED, KEY, DelService(KEY)),
         "Purged virtual server (start): 10.0.0.1:80"),
        (ServiceEvent(ServiceChange.PURGED, KEY, DelService(KEY), Tag.STOP),
         "Purged virtual server (stop): 10.0.0.1:80"),
        (SoftFailure(V, "10.0.0.2:80", 1, 3),
         "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.1:80) failure 1/3"),
        (SoftFailureReset(V, "10.0.0.2:80"),
         "Resetting soft failure count: 10.0.0.2:80 (tcp:10.0.0.1:80)"),
        (SoftFailure(V6, "[2001:db8::2]:80", 2, 3),
         "Soft failure real server: [2001:db8::2]:80 (tcp:[2001:db8::1]:80) failure 2/3"),
        (SoftFailureReset(FWM, "10.0.0.2:0"),
         "Resetting soft failure count: 10.0.0.2:0 (fwm:7)"),
    ],
)
def test_log_text(event: DestEvent | ServiceEvent | SoftFailure | SoftFailureReset,
                  text: str) -> None:
    assert event.message == text


def test_ipv6_and_fwmark_service_names() -> None:
    assert service_display(ServiceKey(P.TCP, "2001:db8::1", 80, None, True)) == (
        "[2001:db8::1]:80")
    assert service_display(ServiceKey(P.FWM, None, 0, 7)) == "7"
    assert service_display(ServiceKey(P.FWM, None, 0, 7, True)) == "7"
    key6 = ServiceKey(P.TCP, "2001:db8::1", 80, None, True)
    event = DestEvent(DestChange.ADDED, Role.REAL, V6, key6, DestKey("2001:db8::2", 80),
                      "[2001:db8::2]:80", 1, None)
    assert event.message == (
        "Added real server: [2001:db8::2]:80 ([2001:db8::1]:80) (Weight set to 1)")


def test_mail_subjects() -> None:
    # every real/fallback change is mailed; a re-add's subject says Quiescent (SPEC B §5.6)
    assert dest(DestChange.READDED, weight=0).mail_subject == (
        "Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)")
    for change in DestChange:
        if change is not DestChange.READDED:
            event = dest(change)
            assert event.mail_subject == event.message
    for service_change in ServiceChange:
        assert ServiceEvent(service_change, KEY, DelService(KEY)).mail_subject is None
    assert SoftFailure(V, "10.0.0.2:80", 1, 2).mail_subject is None
    assert SoftFailureReset(V, "10.0.0.2:80").mail_subject is None


def test_what_the_runtime_reads_of_every_event() -> None:
    purge = DelService(KEY)
    deleted = dest(DestChange.DELETED)
    unmailed: list[Event] = [ServiceEvent(ServiceChange.PURGED, KEY, purge),
                             SoftFailure(V, "10.0.0.2:80", 1, 2),
                             SoftFailureReset(V, "10.0.0.2:80"),
                             FallbackCommand(V, "/usr/local/bin/sorry", FallbackAction.START)]
    assert [(e.op, e.virtual) for e in [deleted, *unmailed]] == [
        (DelDest(KEY, DestKey("10.0.0.2", 80)), V), (purge, None), (None, V), (None, V),
        (None, V)]
    assert {(e.mail_subject, e.reminder) for e in unmailed} == {(None, Reminder.NONE)}


@pytest.mark.parametrize(
    ("change", "role", "reminder"),
    [
        (DestChange.QUIESCED, Role.REAL, Reminder.START),
        (DestChange.READDED, Role.REAL, Reminder.START),
        (DestChange.DELETED, Role.REAL, Reminder.START),
        (DestChange.ADDED, Role.REAL, Reminder.CLEAR),
        (DestChange.RESTORED, Role.REAL, Reminder.CLEAR),
        (DestChange.PURGED, Role.REAL, Reminder.CLEAR),
        (DestChange.DELETED, Role.FALLBACK, Reminder.CLEAR),
        (DestChange.ADDED, Role.FALLBACK, Reminder.CLEAR),
    ],
)
def test_reminders(change: DestChange, role: Role, reminder: Reminder) -> None:
    event = dest(change, role=role)
    assert event.reminder is reminder
    assert event.reminder_key == (KEY, DestKey("10.0.0.2", 80))


def test_reminder_subject_names_the_kernel_entry() -> None:
    event = dest(DestChange.DELETED, "10.0.0.2:8080", DestKey("10.0.0.2", 80))
    assert event.reminder_subject == "Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)"
    assert dest(DestChange.DELETED).reminder_subject == (
        "Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)")


@pytest.mark.parametrize(
    ("v", "action", "args"),
    [
        (V, FallbackAction.START, ("start", "10.0.0.1:80", "tcp")),
        (virtual(protocol=IpvsProtocol.UDP, port=53), FallbackAction.STOP,
         ("stop", "10.0.0.1:53", "udp")),
        (V6, FallbackAction.START, ("start", "[2001:db8::1]:80", "tcp")),
        (FWM, FallbackAction.START, ("start", ":0", "fwm")),
    ],
)
def test_fallback_command_arguments(v: object, action: FallbackAction,
                                    args: tuple[str, str, str]) -> None:
    assert isinstance(v, type(V))
    event = FallbackCommand(v, "/usr/local/bin/sorry", action)
    assert event.arguments == args
    assert event.message is None
    assert event.mail_subject is None


def test_dest_event_forwarding_irrelevant_to_text() -> None:
    # the text never names the forwarding method
    gate = virtual((real("10.0.0.2", 80, Forwarding.GATE),))
    event = DestEvent(DestChange.ADDED, Role.REAL, gate, KEY, DestKey("10.0.0.2", 80),
                      "10.0.0.2:80", 1, None)
    assert "gate" not in event.message and "Route" not in event.message
