"""JUnit XML: one ``<testcase>`` per check (classname ``sselab.check``).

``fail`` becomes ``<failure>``, ``error`` becomes ``<error>``, ``skip`` ``<skipped>``; ``warn``
passes and says why in ``<system-out>``, which also carries the measurements as JSON.
"""

from __future__ import annotations

import json
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .model import Report

SUITE = "sselab check"


def to_xml(report: Report) -> str:
    counts = report.counts()
    attrs = {"name": SUITE, "tests": str(len(report.results)),
             "failures": str(counts["fail"]), "errors": str(counts["error"]),
             "skipped": str(counts["skip"]), "time": f"{report.duration:.3f}"}
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", {
        **attrs, "name": f"{SUITE}: {report.endpoint}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(report.started_at)),
        "hostname": socket.gethostname()})
    props = ET.SubElement(suite, "properties")
    for name, value in (("endpoint", report.endpoint), ("upstream", report.upstream),
                        ("stream_shape", report.shape or ""),
                        ("preflight", report.preflight or "ok")):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for r in report.results:
        case = ET.SubElement(suite, "testcase", {"classname": "sselab.check", "name": r.name,
                                                 "time": f"{r.duration:.3f}"})
        body = "\n".join(r.details)
        if r.verdict == "fail":
            ET.SubElement(case, "failure", {"message": r.message, "type": "StreamingCheckFailed"}
                          ).text = body or r.message
        elif r.verdict == "error":
            ET.SubElement(case, "error", {"message": r.message, "type": "CheckError"}
                          ).text = body or r.message
        elif r.verdict == "skip":
            ET.SubElement(case, "skipped", {"message": r.message})
        out = f"{r.verdict.upper()}: {r.title}: {r.message}\n" \
              f"measurements: {json.dumps(r.measurements, default=str)}"
        ET.SubElement(case, "system-out").text = out
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def write(report: Report, path: str | Path) -> None:
    Path(path).write_text(to_xml(report) + "\n", encoding="utf-8")
