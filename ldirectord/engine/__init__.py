"""The pure decision core: health transitions, the desired table, and the diff to reach it."""
