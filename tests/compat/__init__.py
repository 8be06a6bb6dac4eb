"""Side-by-side runs of the Perl ldirectord and ours (see test_side_by_side.py)."""
