"""IPVS backends: the typed table model and the netlink, ipvsadm and in-memory backends."""
