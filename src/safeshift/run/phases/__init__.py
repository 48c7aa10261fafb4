"""The phases of a run, one module each, in the order they run:

preflight → snapshot → backup → [rehearse] → [approve] → maintenance on → apply → verify →
maintenance off → cutover (smoke + watch); on failure after apply: rollback → prove.
"""
