"""IPVS backends: the typed table model and the netlink, ipvsadm and in-memory backends.

Public entry points:

- `ldirectord.ipvs.select.open_backend(prefer=None)` (async): netlink, else ipvsadm, else
  `IPVSUnavailable`; `LDIRECTORD_IPVS=netlink|ipvsadm|memory` forces one.
- `ldirectord.ipvs.memory.MemoryBackend(table=None)` and the pure
  `apply_ops(table, ops)`: a table that refuses what the kernel refuses.
- `ldirectord.ipvs.ipvsadm.ipvsadm_args(op)` / `ipvsadm_command(op)`: an operation as the
  original's ipvsadm command line (dry-run and debug output).
- `ldirectord.ipvs.listing.format_table(table, version)` / `parse_tables(...)`: the table
  as `ipvsadm -Ln` prints it, and back.
"""
