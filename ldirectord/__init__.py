"""ldirectord: health-checking daemon keeping a Linux IPVS table in the shape of ldirectord.cf."""

__version__ = "0.1.0"
#: The original ldirectord release whose behaviour this one reproduces.
COMPAT_VERSION = "Linux Director v1.186-ha"
