#!/usr/bin/env python3
"""Prints line coverage per project (cobertura "package") from coverlet's report(s), merged by
taking, per file and line, the highest hit count, then the least covered source files (40 lines
or more). Generated sources (obj/: the JSON source generator) are left out.
Usage: coverage-summary.py REPORT.xml..."""
import sys
import xml.etree.ElementTree as ET

lines = {}  # (package, file, line) -> hits
for path in sys.argv[1:]:
    for package in ET.parse(path).getroot().iter("package"):
        name = package.get("name")
        for cls in package.iter("class"):
            if "/obj/" in cls.get("filename").replace("\\", "/"):
                continue
            for line in cls.iter("line"):
                key = (name, cls.get("filename"), int(line.get("number")))
                lines[key] = max(lines.get(key, 0), int(line.get("hits")))

totals = {}
for (package, _, _), hits in lines.items():
    covered, count = totals.get(package, (0, 0))
    totals[package] = (covered + (hits > 0), count + 1)
all_covered = sum(c for c, _ in totals.values())
all_count = sum(n for _, n in totals.values())
for package, (covered, count) in sorted(totals.items()):
    print(f"coverage: {package:28} {100 * covered / count:5.1f}% of {count} lines")
if all_count:
    print(f"coverage: {'total':28} {100 * all_covered / all_count:5.1f}% of {all_count} lines")

files = {}
for (package, file, _), hits in lines.items():
    covered, count = files.get(file, (0, 0))
    files[file] = (covered + (hits > 0), count + 1)
weakest = sorted((covered / count, count, file) for file, (covered, count) in files.items() if count >= 40)[:12]
print("coverage: least covered files:")
for share, count, file in weakest:
    print(f"coverage:   {100 * share:5.1f}% of {count:4} lines  {file}")
