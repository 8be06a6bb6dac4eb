"""Scenarios about state: quiescent, fallback, failure counts, maintenance, reloads, stop, restart.

Same placeholders as scenarios_checks. The lab's hosts run nginx (:80) and proftpd (:21).
"""

from __future__ import annotations

from tests.compat import differences as d
from tests.compat.model import TERM, Action, Scenario, Step
from tests.compat.scenarios_checks import (
    BOTH,
    CHURN,
    HEAD,
    ONLY_RS2,
    V1,
    lab_virtual,
    start,
    stop_start,
    term,
)

QUIESCED = f"{V1}\n-> {{rs1}}:80 Masq 0\n-> {{rs2}}:80 Masq 2"
FALLBACK = f"{V1}\n-> 10.0.2.9:80 Masq 1"
V2 = "TCP {vip2}:21 wrr"
V2_TABLE = f"{V2}\n-> {{rs1}}:21 Masq 1"
V1_V2 = f"{BOTH}\n{V2_TABLE}"
TWO_VIRTUALS = lab_virtual("\tchecktype=connect\n") + (
    "virtual={vip2}:21\n\treal={rs1}:21 masq 1\n\tchecktype=connect\n")
RELOAD = (d.RELOAD_KEEPS_STATE,)

SCENARIOS = (
    Scenario("quiescent-yes", lab_virtual("\tchecktype=connect\n\tquiescent=yes\n"),
             (start(BOTH), *stop_start(gone=QUIESCED), term()), CHURN),
    Scenario("quiescent-no-explicit", lab_virtual("\tchecktype=connect\n\tquiescent=no\n"),
             (start(BOTH), *stop_start(), term()), CHURN),
    Scenario("readdquiescent",
             # readdquiescent is global only in the original
             "readdquiescent=yes\n" + lab_virtual("\tchecktype=connect\n\tquiescent=yes\n"),
             (start(BOTH),
              Step("removed-by-hand", Action.IPVSADM, ONLY_RS2, "-d -t {vip}:80 -r {rs1}:80"),
              Step("stop-rs1", Action.STOP, QUIESCED, "rs1:http"),
              Step("start-rs1", Action.START, BOTH, "rs1:http"), term()), CHURN),
    Scenario("fallback", lab_virtual("\tchecktype=connect\n\tfallback=10.0.2.9:80 masq\n"),
             (start(BOTH), Step("stop-all", Action.STOP, FALLBACK, "rs1:http,rs2:http"),
              Step("start-rs2", Action.START, ONLY_RS2, "rs2:http"),
              Step("start-rs1", Action.START, BOTH, "rs1:http"), term()), CHURN),
    Scenario("fallbackcommand",
             lab_virtual("\tchecktype=connect\n\tfallbackcommand={work}/fallback.sh\n"),
             (start(BOTH), Step("stop-all", Action.STOP, V1, "rs1:http,rs2:http"),
              Step("start-rs1", Action.START, f"{V1}\n-> {{rs1}}:80 Masq 1", "rs1:http"),
              term()), (*CHURN, d.FALLBACKCOMMAND_AT_START), watch="state/fallback.log"),
    Scenario("failurecount", lab_virtual("\tchecktype=connect\n\tfailurecount=3\n"),
             (start(BOTH), *stop_start(), term()), CHURN),
    Scenario("maintenancedir",
             "maintenancedir={work}/maint\n" + lab_virtual("\tchecktype=connect\n"),
             (start(BOTH), Step("maint-rs1", Action.TOUCH, ONLY_RS2, "maint/{rs1}:80"),
              Step("unmaint-rs1", Action.REMOVE, BOTH, "maint/{rs1}:80"), term()), CHURN),
    Scenario("reload-add-virtual", lab_virtual("\tchecktype=connect\n"),
             (start(BOTH), Step("reload-add", Action.RELOAD, V1_V2, TWO_VIRTUALS),
              term()), (*CHURN, *RELOAD)),
    Scenario("reload-remove-virtual", TWO_VIRTUALS,
             (start(V1_V2),
              Step("reload-remove", Action.RELOAD, BOTH, lab_virtual("\tchecktype=connect\n")),
              term()), (*CHURN, *RELOAD)),
    Scenario("reload-reals", lab_virtual("\tchecktype=connect\n"),
             (start(BOTH),
              Step("reload-reals", Action.RELOAD,
                   f"{V1}\n-> {{rs1}}:80 Masq 1\n-> {{rs1}}:21 Masq 1",
                   f"{HEAD}virtual={{vip}}:80\n\treal={{rs1}}:80 masq 1\n\treal={{rs1}}:21 masq 1\n"
                   "\tchecktype=connect\n"),
              term()), (*CHURN, *RELOAD)),
    Scenario("cleanstop-no", lab_virtual("\tchecktype=connect\n\tcleanstop=no\n"),
             (start(BOTH), term(BOTH)), CHURN),
    Scenario("cleanstop-yes-quiesced",
             lab_virtual("\tchecktype=connect\n\tcleanstop=yes\n\tquiescent=yes\n"),
             (start(BOTH), Step("stop-rs1", Action.STOP, QUIESCED, "rs1:http"), term()), CHURN),
    Scenario("populated-start", lab_virtual("\tchecktype=connect\n"),
             (start(f"{BOTH}\nTCP {{vip2}}:80 rr"), term("TCP {vip2}:80 rr")), CHURN,
             initial=(("-A", "-t", "{vip}:80", "-s", "wrr"),
                      ("-a", "-t", "{vip}:80", "-r", "{rs1}:80", "-m", "-w", "1"),
                      ("-a", "-t", "{vip}:80", "-r", "10.0.1.99:80", "-m", "-w", "1"),
                      ("-A", "-t", "{vip2}:80", "-s", "rr"))),
)

assert all(s.steps[-1].name == TERM for s in SCENARIOS)
