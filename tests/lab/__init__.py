"""A lab of real servers in network namespaces, for end-to-end runs against a real IPVS table.

Run it as root where network namespaces work (inside tests/vm/ipvs-vm). Topology: one
bridge in the root namespace (default `ldlab0`, 10.0.1.1/24: the director's side); every
real server host is a network namespace `<prefix>-<name>` joined to the bridge by a veth
pair, with its own address (10.0.1.11, .12, ...) and a default route back through the
bridge, so the director reaches it as a remote machine. Real server programs run inside
the namespaces:

* HTTP: Debian's nginx, serving `/index.html` with `HTTP_PAGE` ("Test Page"), as the
  sample ldirectord.cf's negotiate check expects;
* FTP: Debian's proftpd with anonymous login (any password) and `/welcome.msg` readable.

Typical use (the e2e tests, the side-by-side runs with the Perl ldirectord):

    from tests.lab import Kind, Lab

    with Lab() as lab:
        rs1, rs2 = lab.add_host("rs1"), lab.add_host("rs2")   # 10.0.1.11, 10.0.1.12
        for h in (rs1, rs2):
            lab.start(h, Kind.HTTP)          # nginx on :80, returns once it accepts
            lab.start(h, Kind.FTP)           # proftpd on :21
        lab.stop(rs1, Kind.HTTP)             # connection refused from now on
        lab.start(rs1, Kind.HTTP)
        lab.blackhole(rs2)                   # its replies to the director vanish
        lab.unblackhole(rs2)
    # leaving the block stops every server and deletes the namespaces and the bridge

Black-holing adds a `blackhole` route to the director (a /32) inside the host's
namespace: the server still receives SYNs but its replies vanish, so a client sees a
silent drop (a connect that times out), never a refusal. Only traffic to `Lab.director`
(the bridge address, the source of every check) is dropped; `ip link` state and neighbour
entries stay as they were, so undoing it is immediate. `AnyIPHost` (see `add_anyip_host`)
answers on a whole prefix with one listener, for benchmarks with thousands of reals.

Everything the lab creates carries its prefix (default `ldlab`), and `Lab.cleanup_stale()`
removes leftovers of an earlier run that was killed. No iptables or nftables is needed.
"""

from tests.lab.core import AnyIPHost, Host, Kind, Lab, LabError
from tests.lab.servers import FTP_PASSWORD, FTP_USER, HTTP_PAGE

__all__ = ["FTP_PASSWORD", "FTP_USER", "HTTP_PAGE", "AnyIPHost", "Host", "Kind", "Lab",
           "LabError"]
