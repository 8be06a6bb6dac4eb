"""Benchmark: 10,000 destination weight edits through netlink and through ipvsadm.

Needs a kernel with IPVS and root; on a machine without IPVS run it in the VM:

    bash tests/vm/ipvs-vm -- .venv/bin/python bench/ipvs_apply.py
    bash tests/vm/ipvs-vm -- .venv/bin/python bench/ipvs_apply.py --ipvsadm-edits 10000

The table is 10 services x 100 destinations. Netlink always makes all 10,000 edits.
ipvsadm makes `--ipvsadm-edits` of them (default 300: one process per edit is slow under
emulation) and its time is extrapolated to 10,000, which the output says. Each edit is
one `EditDest` operation, applied in order; the table is flushed before and after.
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ldirectord.config.model import IpvsProtocol
from ldirectord.ipvs.ipvsadm import IpvsadmBackend
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DestAttrs,
    DestKey,
    EditDest,
    Method,
    Op,
    ServiceAttrs,
    ServiceKey,
)
from ldirectord.ipvs.netlink import NetlinkBackend

SERVICES, DESTS, EDITS = 10, 100, 10_000


def layout() -> list[tuple[ServiceKey, DestKey]]:
    pairs = []
    for s in range(SERVICES):
        key = ServiceKey(IpvsProtocol.TCP, f"10.200.{s}.1", 80)
        pairs += [(key, DestKey(f"10.201.{s}.{d + 1}", 80)) for d in range(DESTS)]
    return pairs


def setup_ops(pairs: list[tuple[ServiceKey, DestKey]]) -> list[Op]:
    ops: list[Op] = [AddService(key, ServiceAttrs("wrr"))
                     for key in dict.fromkeys(k for k, _ in pairs)]
    ops += [AddDest(k, d, DestAttrs(Method.MASQ, 1)) for k, d in pairs]
    return ops


def edits(pairs: list[tuple[ServiceKey, DestKey]], count: int, offset: int) -> list[Op]:
    return [EditDest(pairs[i % len(pairs)][0], pairs[i % len(pairs)][1],
                     DestAttrs(Method.MASQ, 2 + (i + offset) % 50)) for i in range(count)]


async def main(ipvsadm_edits: int) -> None:
    pairs = layout()
    netlink = await NetlinkBackend.open()
    ipvsadm = await IpvsadmBackend.open()
    try:
        await netlink.flush()
        await netlink.apply(setup_ops(pairs))

        ops = edits(pairs, EDITS, 0)
        start = time.perf_counter()
        await netlink.apply(ops)
        nl_time = time.perf_counter() - start

        ops = edits(pairs, ipvsadm_edits, 1)
        start = time.perf_counter()
        await ipvsadm.apply(ops)
        adm_time = time.perf_counter() - start
        table = await netlink.read()
        assert sum(len(e.dests) for e in table.values()) == SERVICES * DESTS
    finally:
        await netlink.flush()
        await netlink.close()
        await ipvsadm.close()

    adm_total = adm_time * EDITS / ipvsadm_edits
    print(f"table: {SERVICES} services x {DESTS} destinations")
    print(f"netlink: {EDITS} edits in {nl_time:.3f} s "
          f"({nl_time / EDITS * 1e6:.0f} us per edit)")
    note = "" if ipvsadm_edits == EDITS else (
        f" (measured {ipvsadm_edits} edits in {adm_time:.3f} s, extrapolated)")
    print(f"ipvsadm: {EDITS} edits in {adm_total:.3f} s "
          f"({adm_total / EDITS * 1e6:.0f} us per edit){note}")
    print(f"ratio: netlink is {adm_total / nl_time:.0f}x faster than ipvsadm")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ipvsadm-edits", type=int, default=300,
                        help="edits to time through ipvsadm (extrapolated to 10,000)")
    asyncio.run(main(parser.parse_args().ipvsadm_edits))
