"""Test probe: the ids the student's CharTokenizer gives a word after fitting on a text."""


def ids(ns, request):
    return ns["CharTokenizer"]().fit(request["text"]).encode(request["word"])


CASES = {"ids": ids}
