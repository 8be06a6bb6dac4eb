"""ldirectord.cf parsing: text -> frozen Config, every problem reported with file:line."""
