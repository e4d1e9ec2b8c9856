#!/usr/bin/env python3
"""Adds up test cases from meson's test logs and prints "N passed, N failed".

Arguments are meson testlog.json files, or text files whose last "N passed, N failed" line is
taken as it is (the end-to-end test's and the fuzzers' results).

Each meson test is a doctest binary whose own summary gives the counts. A binary that failed
without saying so (a crash, a sanitizer abort, a timeout) counts as one more failure.
Exits non-zero when anything failed or no test ran at all.
"""
import json
import re
import sys

PLAIN = re.compile(r"(\d+) passed, (\d+) failed")
SUMMARY = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")


def count(log_path):
    passed = failed = 0
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            summaries = SUMMARY.findall(entry.get("stdout", "") or "")
            case_passed = sum(int(s[1]) for s in summaries)
            case_failed = sum(int(s[2]) for s in summaries)
            if entry.get("result") != "OK" and case_failed == 0:
                print(f"{log_path}: {entry.get('name')} ended {entry.get('result')} without a failed case",
                      file=sys.stderr)
                case_failed = 1
            passed += case_passed
            failed += case_failed
    return passed, failed


def count_text(path):
    try:
        with open(path, encoding="utf-8") as text:
            found = PLAIN.findall(text.read())
    except OSError:
        found = []
    if not found:
        print(f"{path}: no results", file=sys.stderr)
        return 0, 1
    return int(found[-1][0]), int(found[-1][1])


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        p, f = count(path) if path.endswith(".json") else count_text(path)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
