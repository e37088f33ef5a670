"""Test probe: whatever the notebook's `attack()` returns, then a case that shows the child went on."""


def attack(ns, request):
    return ns["attack"]()


def after(ns, request):
    return "still running"


CASES = {"attack": attack, "after": after}
